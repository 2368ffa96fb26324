"""Reading `<when> <platforms> [caption]` the way people type it.

Times: a fast reader for the common shapes (reader.py), dateparser for the rest (fallback.py),
both placed on the calendar with zoneinfo so DST gaps and overlaps are handled and reported
(resolve.py). Documented word times live in vocab.py.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.timeparse.command import PLATFORM_HELP, ParsedCommand, parse_command
from core.timeparse.fallback import warm
from core.timeparse.when import ParsedWhen, day_text, describe, example, parse_when

__all__ = [
    "PLATFORM_HELP",
    "ParsedCommand",
    "ParsedWhen",
    "describe",
    "example",
    "parse_command",
    "parse_when",
    "preview",
    "warm",
]


def preview(text: str, tz: str, now: datetime) -> str:
    """ "tomorrow 6pm → Wed 25 Nov, 18:00 Europe/Berlin" for Discord autocomplete."""
    when = parse_when(text, tz, now)
    shown = " ".join(text.split())
    if when.date_only and when.instant is not None:
        # The service puts a day without a time at that day's best free slot
        # (core/service/slot_picking.py).
        local = when.instant.astimezone(ZoneInfo(when.tz))
        day = day_text(local, now.astimezone(ZoneInfo(when.tz)))
        return f"{shown} → {day}, best free slot that day ({when.tz})"
    line = f"{shown} → {describe(when, now)}"
    return f"{line} ({when.note})" if when.note else line
