"""The weekly results digest: at the day and time an admin set for a channel (in the team's zone),
the last 7 days' results and the chart go to that channel, once per week across every process.

Every scheduler process runs ``send_due`` every ``results.digest_poll_s``. For each channel's digest
it works out the latest slot that has passed; a slot still within ``results.digest_catch_up_h`` (the
process was down at the time) is claimed in the database (core/store/digests.py: one row per team,
channel and ISO week, so of several workers exactly one sends it, and a sent week is never sent again),
drawn and sent through the chat's notifier. A slot older than that is that week's digest skipped,
not a late one; a slot from before the digest was set is not sent at all.

What a digest shows is what everyone in that channel may see: the posts scheduled from it
(ChatContext.visible_channels' rule, with the channel as the only viewer).

A digest whose channel became unreachable (postbot removed, the channel archived or deleted, a
permission taken away) would otherwise stop arriving without anyone knowing: the admin who set it is
told by DM, or if that fails the chat's admins the way alerts reach them (core/alerts.py), once per
breakage. The week's claim makes one worker the sender; the setting's ``told_at`` (core/store/
digests.py) makes the breakage's first failing week the only one told. A send or setting the digest
again clears it. The digest is not switched off: postbot invited back, the next week's goes out
with nothing for the admin to redo, and a refused send a week costs one API call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.config import ResultsSettings
from core.domain import ChatKind, ResultsReport
from core.errors import ChannelUnreachable, ChatRateLimited
from core.render import digest_failure_text, digest_unreachable_text
from core.store.digests import RETRY, SENT, DigestClaim, DigestSetting, DigestStore
from core.store.queue import Sessions

log = logging.getLogger(__name__)

DIGEST_DAYS = 7
# How long a claim holds: drawing and uploading one chart takes seconds; a worker gone for longer
# than this lost its claim to the next.
LEASE = timedelta(minutes=5)
RETRY_BASE = timedelta(minutes=2)


class DigestSink(Protocol):
    def reaches(self, chat: ChatKind) -> bool: ...

    async def digest(
        self, chat: ChatKind, team_id: str, channel_id: str, report: ResultsReport, chart: bytes | None
    ) -> None: ...

    async def dm(self, chat: ChatKind, team_id: str, user_id: str, text: str) -> None: ...


class AdminRoute(Protocol):
    """The way alerts reach a chat's admins (core.alerts.Alerter): its ops channel, or else its
    admins by DM. True: someone got it."""

    async def deliver(self, chat: ChatKind, team_id: str, text: str) -> bool: ...


def last_slot(now: datetime, *, tz: str, weekday: int, minute: int) -> datetime:
    """The latest moment at or before ``now`` that is ``weekday`` at ``minute`` past midnight in ``tz``."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    at = time(minute // 60, minute % 60)
    slot = datetime.combine(day, at, tzinfo=zone)
    if slot > now:
        slot = datetime.combine(day - timedelta(days=7), at, tzinfo=zone)
    return slot.astimezone(UTC)


def week_of(slot: datetime, tz: str) -> str:
    """The digest's period: the ISO week of its slot in the team's zone ("2026-W50"). One send per
    week, so an admin who moves the digest to a later day of a week it already went out in does not
    get a second one that week."""
    year, week, _ = slot.astimezone(ZoneInfo(tz)).isocalendar()
    return f"{year}-W{week:02d}"


def due_slot(setting: DigestSetting, now: datetime, catch_up: timedelta) -> datetime | None:
    slot = last_slot(now, tz=setting.tz, weekday=setting.weekday, minute=setting.minute)
    if slot < setting.since or now - slot > catch_up:
        return None
    return slot


def draw_chart(report: ResultsReport) -> bytes | None:
    """The chart's PNG, or None when no post of the period has views to draw."""
    if not any(p.views is not None for p in report.posts):
        return None
    from core.charts import png, views_figure

    return png(views_figure(report.posts, days=report.days, tz=report.tz))


def _reason(exc: Exception) -> str:
    """Why the chat refused a digest, short enough for /digest to show."""
    # Slack's SDK error carries the API's code ("internal_error"); its text has the URL and the
    # whole response in it.
    lookup = getattr(getattr(exc, "response", None), "get", None)
    code = lookup("error") if callable(lookup) else None
    if isinstance(code, str):
        return code
    text = str(exc).strip()
    return text.splitlines()[0][:150] if text else type(exc).__name__


class DigestJob:
    def __init__(
        self,
        sessions: Sessions,
        worker_id: str,
        sink: DigestSink,
        settings: ResultsSettings,
        *,
        admins: AdminRoute | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = DigestStore(sessions, worker_id)
        self.sink = sink
        self.settings = settings
        self.admins = admins
        self.clock = clock

    async def send_due(self) -> int:
        """Send every digest whose slot came due; returns how many this process sent."""
        now = self.clock()
        catch_up = timedelta(hours=self.settings.digest_catch_up_h)
        sent = 0
        for setting in await self.store.settings():
            slot = due_slot(setting, now, catch_up)
            # A process that can't reach the chat leaves the digest to one that can.
            if slot is None or not self.sink.reaches(setting.chat):
                continue
            period = week_of(slot, setting.tz)
            claimed = await self.store.claim(
                setting, period, now=now, lease=LEASE, max_attempts=self.settings.digest_max_attempts
            )
            if claimed is None:
                continue
            sent += await self._send(setting, slot, claimed)
        return sent

    async def report(self, setting: DigestSetting, until: datetime) -> ResultsReport:
        return await self.store.report(setting, until=until, days=DIGEST_DAYS)

    async def _send(self, setting: DigestSetting, slot: datetime, claimed: DigestClaim) -> int:
        where = {"team_id": setting.team_id, "channel_id": setting.channel_id}
        try:
            report = await self.report(setting, slot)
            # Drawing takes tens of milliseconds of CPU: off the event loop.
            chart = await asyncio.to_thread(draw_chart, report)
            await self.sink.digest(setting.chat, setting.team_external_id, setting.channel_id, report, chart)
        except ChannelUnreachable as exc:
            log.warning("digest channel unreachable", extra=where | {"error": str(exc)})
            tell = await self.store.failed(
                claimed,
                setting,
                now=self.clock(),
                slot=slot,
                note=str(exc),
                failure=digest_failure_text(exc.what, exc.fix),
                unreachable=True,
            )
            if tell:
                await self._tell(setting, slot, exc)
            return 0
        except Exception as exc:
            wait = exc.retry_after_s if isinstance(exc, ChatRateLimited) else None
            final = claimed.attempts >= self.settings.digest_max_attempts
            log.warning("digest not sent", extra=where | {"attempt": claimed.attempts}, exc_info=True)
            later = self.clock() + (
                timedelta(seconds=wait) if wait is not None else RETRY_BASE * 2 ** (claimed.attempts - 1)
            )
            note = f"{type(exc).__name__}: {exc}"[:500]
            if final:
                failure = f"the chat refused it {claimed.attempts} times ({_reason(exc)})."
                await self.store.failed(
                    claimed,
                    setting,
                    now=self.clock(),
                    slot=slot,
                    note=note,
                    failure=failure,
                    unreachable=False,
                )
            else:
                await self.store.finish(claimed, RETRY, now=self.clock(), note=note, retry_at=later)
            return 0
        if not await self.store.finish(claimed, SENT, now=self.clock(), setting=setting):
            log.warning("digest sent after its claim ran out", extra=where)
        return 1

    async def _tell(self, setting: DigestSetting, slot: datetime, exc: ChannelUnreachable) -> None:
        """The admin who set the digest by DM; failing that, the chat's admins as alerts reach them.
        Failures are logged, never raised: the week is settled either way."""
        where = {"team_id": setting.team_id, "channel_id": setting.channel_id}
        due = slot.astimezone(ZoneInfo(setting.tz))
        text = digest_unreachable_text(setting.channel_id, due, exc.what, exc.fix)
        try:
            await self.sink.dm(setting.chat, setting.team_external_id, setting.set_by, text)
            log.info("told the digest's admin its channel is unreachable", extra=where)
            return
        except Exception:
            # Left the workspace, closed their DMs: the other admins can mend it as well.
            log.warning(
                "the digest's admin could not be told; telling the admins", extra=where, exc_info=True
            )
        if self.admins is not None and await self.admins.deliver(
            setting.chat, setting.team_external_id, text
        ):
            return
        log.error("nobody could be told that a digest's channel is unreachable", extra=where)
        await self.store.untell(setting)
