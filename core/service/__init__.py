"""The facade every chat adapter calls. It reads commands, applies the rules and queues posts;
adapters only translate chat payloads into these calls and the results back into chat.

Adapters import this package, core.domain, core.errors and the wording in core.render, nothing else
(tests/test_adapter_imports.py), and from this package only what this file exports: ``Postbot`` and
the types and helpers that cross it. A chat command is read once and written in one transaction:
what only reads (the user's zone, a recently shared file) reads without writing, and a video the
command carries is fetched after the command was read and before that transaction opens.

One capability, one module:

- ``scheduling.py``: /schedule, /post, /suggest, the time preview; queueing a checked post
- ``batches.py``: several videos with one command (``next``, or ``--every 2d`` from a start)
- ``queue.py``: /queue, the Home tab, /cancel, /reschedule
- ``accounts.py``: /link and its OAuth round trip, /unlink, /accounts, a channel's default account
- ``operations.py``: /pause, /resume, /status, /health and fleet metrics (admins, operators)
- ``results.py``: /results and its chart
- ``media.py``: videos and images the chats hand over, signed /media/ links, reply threads
- ``timezones.py``: /timezone and zone autocomplete
- ``approval.py``: /approval (per channel), /approve, /reject, ✅ on a scheduling answer
- ``reading.py``: how a /schedule or /post command and a chat form are read (no I/O)
- ``schedule.py``: a channel's posting schedule (/postbot slots) and its next free slots
- ``slot_picking.py``: free slots for ``best``, a day without a time, and moves
- ``base.py``: ``ServiceBase``, the state they share (settings, sessions, media store, clock, the
  hooks bot/wiring.py sets) and the shared checks (the caller's zone, admin and author rights)

Adding a capability (``approval.py``, say): write a mixin ``class Approval(ServiceBase)`` in its own
module (subclass ``SlotPicking`` instead if it needs free slots), with its public methods taking a
``ChatContext`` first like the others; add it to ``Postbot``'s bases below and export from here the
types an adapter needs. A mixin keeps no state of its own beyond what ``ServiceBase.__init__`` sets
(add a field there, with the hook that sets it, if it must), so ``Postbot(settings, sessions, ...)``
stays the one constructor. Another capability's methods are reached through ``self`` only where a
base declares them (mypy checks each mixin against its bases alone), so what two capabilities share
goes into ``base.py`` or a shared mixin like ``slot_picking.py``, never a call from one sibling
mixin to another.
"""

from __future__ import annotations

from core.config import Settings
from core.domain import AttachedImage
from core.service.accounts import NO_LINKING, Accounts
from core.service.approval import Approval, RequestCloser
from core.service.base import Preflight, Waker, platform_infos, utcnow
from core.service.batches import Batches, BatchItem, BatchOutcome
from core.service.media import Media, first_link, image_read_cap, read_image, split_url_flag
from core.service.operations import LAST_ERRORS_PER_PLATFORM, Operations
from core.service.queue import Queue, parse_post_id
from core.service.reading import Form, image_help, option_help
from core.service.results import Results
from core.service.schedule import PostingSchedule
from core.service.scheduling import MediaSource, ScheduleOutcome, Scheduling, SuggestOutcome, conversion_note
from core.service.timezones import Timezones, zone_choices

# The settings type adapters see through ``Postbot.settings`` (which keys a chat reads: its own table).
__all__ = [
    "LAST_ERRORS_PER_PLATFORM",
    "NO_LINKING",
    "AttachedImage",
    "BatchItem",
    "BatchOutcome",
    "Form",
    "MediaSource",
    "Postbot",
    "Preflight",
    "RequestCloser",
    "ScheduleOutcome",
    "Settings",
    "SuggestOutcome",
    "Waker",
    "conversion_note",
    "first_link",
    "image_help",
    "image_read_cap",
    "option_help",
    "parse_post_id",
    "platform_infos",
    "read_image",
    "split_url_flag",
    "utcnow",
    "zone_choices",
]


class Postbot(
    Batches, Scheduling, Queue, Accounts, Operations, Results, Media, Timezones, Approval, PostingSchedule
):
    """Every user-facing action is one method of one capability mixin (see this package's
    docstring); built once by bot/wiring.py (or a test) as ``Postbot(settings, sessions, ...)``."""
