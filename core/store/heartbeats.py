"""Worker heartbeats: each scheduler process records in the database when it was last alive.

`/health` (on whichever process serves the web side) reads them, so one endpoint tells whether the
fleet is publishing: it answers 503 when no worker has been seen for ``heartbeat_stale_s``. A worker
that stops on purpose marks its row stopped (it is not deleted), so readers can tell a planned stop
from a worker that died, and the missing-worker alert still waits its grace after either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import WorkerHeartbeat


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerSeen:
    worker_id: str
    seen_at: datetime
    started_at: datetime
    in_flight: int
    completed: int
    stopped_at: datetime | None = None

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None


class Heartbeats:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def beat(
        self, worker_id: str, *, in_flight: int, completed: int, now: datetime | None = None
    ) -> None:
        when = now or utcnow()
        async with self.sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = insert(WorkerHeartbeat).values(
                worker_id=worker_id, started_at=when, seen_at=when, in_flight=in_flight, completed=completed
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[WorkerHeartbeat.worker_id],
                    set_={
                        "seen_at": when,
                        "in_flight": in_flight,
                        "completed": completed,
                        "stopped_at": None,
                    },
                )
            )

    async def stopped(self, worker_id: str, *, completed: int, now: datetime | None = None) -> None:
        """A worker stopping on purpose leaves the fleet at once (it no longer counts as alive) and
        says so: its row stays, marked stopped, with the time it stopped as its last sighting."""
        when = now or utcnow()
        async with self.sessions.begin() as session:
            await session.execute(
                update(WorkerHeartbeat)
                .where(WorkerHeartbeat.worker_id == worker_id)
                .values(seen_at=when, stopped_at=when, in_flight=0, completed=completed)
            )

    async def seen(
        self, *, within: timedelta, now: datetime | None = None, include_stopped: bool = False
    ) -> list[WorkerSeen]:
        """Workers running and seen in the last ``within`` (with ``include_stopped``, those that
        stopped on purpose in that time too), most recent first; older rows are pruned on the way."""
        when = now or utcnow()
        async with self.sessions.begin() as session:
            # A crashed worker's row would stay forever: drop those gone for a day.
            await session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < when - timedelta(days=1))
            )
            query = select(WorkerHeartbeat).where(WorkerHeartbeat.seen_at >= when - within)
            if not include_stopped:
                query = query.where(WorkerHeartbeat.stopped_at.is_(None))
            rows = (await session.execute(query.order_by(WorkerHeartbeat.seen_at.desc()))).scalars()
            return [
                WorkerSeen(r.worker_id, r.seen_at, r.started_at, r.in_flight, r.completed, r.stopped_at)
                for r in rows
            ]
