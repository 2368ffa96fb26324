"""APScheduler drives the processor: a wake-up job at the next due time, plus a slow poll.

The wake-up job makes a post fire within a second of its time without busy polling; the poll is
the safety net for posts another process queued (it cannot wake us) and for expired leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.errors import DISK_FULL, DISK_FULL_HINT, is_disk_full
from core.scheduler.processor import PostProcessor

log = logging.getLogger(__name__)

_WAKE_JOB = "postbot-wake"
_POLL_JOB = "postbot-poll"
_RENOTIFY_EVERY_S = 15.0


class SchedulerRunner:
    def __init__(
        self,
        processor: PostProcessor,
        *,
        poll_interval_s: float,
    ) -> None:
        self.processor = processor
        self.poll_interval_s = poll_interval_s
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._busy = False
        self._again = False
        self._wake_at: datetime | None = None
        self._round: asyncio.Task[None] | None = None
        self._renotified = -_RENOTIFY_EVERY_S

    async def start(self) -> None:
        self._scheduler.start()
        self._scheduler.add_job(
            self._kick,
            "interval",
            seconds=self.poll_interval_s,
            id=_POLL_JOB,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def add_periodic(
        self,
        func: Callable[[], Awaitable[object]],
        *,
        hours: float = 0,
        seconds: float = 0,
        now: bool = False,
    ) -> None:
        """Housekeeping that runs beside publishing (token keep-alive and the like); ``now`` runs it
        once at once too."""
        self._scheduler.add_job(
            func,
            "interval",
            hours=hours,
            seconds=seconds,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **({"next_run_time": datetime.now(UTC)} if now else {}),
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop timing and claiming; uploads in progress get ``grace_s`` to finish (PostProcessor.stop)."""
        if not self._scheduler.running:
            return
        self._scheduler.shutdown(wait=False)
        await self.processor.stop(grace_s)
        if self._round is not None:
            # The processor has stopped, so the round only has its bookkeeping left.
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._round, timeout=10)

    def wake(self, at: datetime) -> None:
        """Make sure a tick runs at ``at`` (or now, if that has passed)."""
        if not self._scheduler.running:
            return
        now = datetime.now(UTC)
        at = max(at, now)
        if self._wake_at is not None and self._wake_at <= at and self._wake_at > now:
            return
        self._wake_at = at
        self._scheduler.add_job(
            self._kick,
            "date",
            run_date=at,
            id=_WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def _kick(self) -> None:
        """What the APScheduler jobs run: start a round and return at once.

        A job that ran the whole round would count as still running, and APScheduler would skip
        (and log) every wake-up and poll that fell due meanwhile.
        """
        if self._busy:
            self._again = True
            return
        self._round = asyncio.create_task(self.tick(), name="scheduler-round")

    async def tick(self) -> None:
        if self._busy:
            # Something became due while we work: run once more when this round ends.
            self._again = True
            return
        self._busy = True
        try:
            while True:
                self._again = False
                await self.processor.run_due()
                if not self._again:
                    break
            # Rejections and missed approvals: their author hears at once, not on the slow beat.
            await self.processor.tell_reviews()
            if time.monotonic() - self._renotified >= _RENOTIFY_EVERY_S:
                # Pending notifications are retried on a slow beat, not on every round.
                self._renotified = time.monotonic()
                await self.processor.renotify()
            next_due = await self.processor.queue.next_due_at()
            self._wake_at = None
            if next_due is not None:
                self.wake(next_due)
        except Exception as exc:
            if is_disk_full(exc):
                # Not a bug to trace on every poll: the operator has to free space; the next tick retries.
                log.error(f"scheduler tick failed: {DISK_FULL} {DISK_FULL_HINT}")
            else:
                log.exception("scheduler tick failed")
        finally:
            self._busy = False

    @property
    def next_wake(self) -> datetime | None:
        return self._wake_at
