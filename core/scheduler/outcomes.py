"""Writing publish outcomes back to the queue, many posts per transaction.

Outcomes that finish while a write is in progress wait and go together in the next one (group
commit), so a busy worker spends one transaction per few dozen posts rather than one per post, while
a single outcome on a quiet worker is written at once. The write itself, fenced by the claim's lease
so a worker whose lease was taken over cannot overwrite the new owner's row, is the queue's
(core/store/queue.py): ``write`` resolves to whether the row was ours.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from core.store.queue import TRANSIENT_ERRORS, Outcome, PostQueue

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    outcome: Outcome
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class OutcomeWriter:
    def __init__(self, queue: PostQueue) -> None:
        self.queue = queue
        self.worker_id = queue.worker_id
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0

    async def write(self, outcome: Outcome) -> bool:
        """Store ``outcome``; True if the row was still this worker's and now says so."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"outcomes-{self.worker_id}")
        pending = _Pending(outcome)
        self._pending.append(pending)
        self._wakeup.set()
        # Shielded: a publish task cancelled now must not tear a half-written batch apart.
        return await asyncio.shield(pending.done)

    async def close(self) -> None:
        """Finish outstanding writes and stop."""
        if self._task is None:
            return
        while self._pending:
            await asyncio.sleep(0.01)
            if self._task.done():
                break
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                applied = await self._flush_with_retries([p.outcome for p in batch])
            except Exception as exc:
                log.exception("writing outcomes failed", extra={"count": len(batch)})
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
                continue
            for p in batch:
                if not p.done.done():
                    p.done.set_result(p.outcome.post_id in applied)

    async def _flush_with_retries(self, outcomes: list[Outcome]) -> set[int]:
        # A database blip must not turn a finished publish into a re-publish after the lease.
        for delay in (0.05, 0.25, 1.0):
            try:
                return await self._flush(outcomes)
            except TRANSIENT_ERRORS as exc:
                log.warning("outcome write failed, retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(delay)
        return await self._flush(outcomes)

    async def _flush(self, outcomes: list[Outcome]) -> set[int]:
        applied = await self.queue.record(outcomes)
        self.flushes += 1
        return applied
