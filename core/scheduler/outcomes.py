"""Writing publish outcomes back to the queue, many posts per transaction.

Outcomes that finish while a write is in progress wait and go together in the next one (group
commit), so a busy worker spends one transaction per few dozen posts rather than one per post, while
a single outcome on a quiet worker is written at once. Each write is fenced by ``claimed_by`` and the
claim's ``lease_version`` (core/scheduler/fencing.py): a worker whose lease was taken over cannot
overwrite the new owner's row. ``write`` resolves to whether the row was ours, checked by the
``updated_at`` stamp the write set.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy import exc as exc_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import ScheduledPost
from core.domain import PostStatus

log = logging.getLogger(__name__)

_posts: Table = ScheduledPost.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Published:
    post_id: int
    remote_id: str
    remote_url: str | None
    published_at: datetime
    upload_state: dict[str, Any]
    lease_version: int


@dataclass(frozen=True)
class Failed:
    post_id: int
    message: str
    hint: str | None
    lease_version: int


@dataclass(frozen=True)
class Retry:
    post_id: int
    due_at: datetime
    message: str
    hint: str | None
    lease_version: int


@dataclass(frozen=True)
class Deferred:
    """Back to the queue without spending an attempt (open breaker, rate limit)."""

    post_id: int
    due_at: datetime
    attempts: int
    lease_version: int


@dataclass(frozen=True)
class Notified:
    post_id: int
    at: datetime


Outcome = Published | Failed | Retry | Deferred | Notified

_STATEMENTS: dict[type, dict[str, Any]] = {
    Published: (
        {
            "status": PostStatus.PUBLISHED.value,
            "remote_id": bindparam("b_remote_id"),
            "remote_url": bindparam("b_remote_url"),
            "published_at": bindparam("b_published_at"),
            "upload_state": bindparam("b_upload_state"),
            "last_error": None,
            "error_hint": None,
        }
    ),
    Failed: {
        "status": PostStatus.FAILED.value,
        "last_error": bindparam("b_message"),
        "error_hint": bindparam("b_hint"),
    },
    Retry: {
        "status": PostStatus.QUEUED.value,
        "due_at": bindparam("b_due_at"),
        "last_error": bindparam("b_message"),
        "error_hint": bindparam("b_hint"),
    },
    Deferred: {
        "status": PostStatus.QUEUED.value,
        "due_at": bindparam("b_due_at"),
        "attempts": bindparam("b_attempts"),
    },
}


def _params(outcome: Outcome) -> dict[str, Any]:
    values = {f"b_{k}": v for k, v in vars(outcome).items() if k != "post_id"}
    values["b_id"] = outcome.post_id
    return values


@dataclass
class _Pending:
    outcome: Outcome
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class OutcomeWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self.sessions = sessions
        self.worker_id = worker_id
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_stamp = datetime.min.replace(tzinfo=UTC)
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
            except (OSError, TimeoutError, exc_.OperationalError, exc_.InterfaceError) as exc:
                log.warning("outcome write failed, retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(delay)
        return await self._flush(outcomes)

    def _stamp(self) -> datetime:
        now = datetime.now(UTC)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now

    async def _flush(self, outcomes: list[Outcome]) -> set[int]:
        by_kind: dict[type, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            by_kind[type(outcome)].append(outcome)
        stamp = self._stamp()
        applied: set[int] = set()
        async with self.sessions.begin() as session:
            conn = await session.connection()
            guarded: list[int] = []
            for kind, items in by_kind.items():
                if kind is Notified:
                    await conn.execute(
                        update(_posts)
                        .where(_posts.c.id == bindparam("b_id"))
                        .values(notified_at=bindparam("b_at")),
                        [_params(o) for o in items],
                    )
                    applied.update(o.post_id for o in items)
                    continue
                values = dict(_STATEMENTS[kind])
                values.update(claimed_by=None, lease_until=None, updated_at=stamp)
                await conn.execute(
                    update(_posts)
                    .where(
                        _posts.c.id == bindparam("b_id"),
                        _posts.c.claimed_by == self.worker_id,
                        _posts.c.lease_version == bindparam("b_lease_version"),
                    )
                    .values(**values),
                    [_params(o) for o in items],
                )
                guarded.extend(o.post_id for o in items)
            if guarded:
                # executemany reports no per-row counts; the stamp tells which rows this write set.
                rows = await conn.execute(
                    select(_posts.c.id).where(_posts.c.id.in_(guarded), _posts.c.updated_at == stamp)
                )
                applied.update(rows.scalars().all())
        self.flushes += 1
        return applied
