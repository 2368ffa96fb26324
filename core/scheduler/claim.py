"""Claiming due posts with a lease, safely across several worker processes.

One UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) ... RETURNING per batch: on
PostgreSQL concurrent workers skip each other's rows instead of waiting or double-claiming; SQLite
has a single writer, so the same statement is atomic there (it simply has no FOR UPDATE).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import ScheduledPost
from core.domain import PostStatus


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(ScheduledPost.status == PostStatus.QUEUED.value, ScheduledPost.due_at <= now),
        # A running post whose lease ran out belongs to a worker that died: take it over.
        and_(ScheduledPost.status == PostStatus.RUNNING.value, ScheduledPost.lease_until < now),
    )


async def claim_due(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[int]:
    candidates = (
        select(ScheduledPost.id)
        .where(_due(now))
        .order_by(ScheduledPost.due_at, ScheduledPost.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id.in_(candidates), _due(now))
        .values(
            status=PostStatus.RUNNING.value,
            claimed_by=worker_id,
            lease_until=now + lease,
            attempts=ScheduledPost.attempts + 1,
        )
        .returning(ScheduledPost.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars().all())


async def extend_lease(session: AsyncSession, *, post_id: int, worker_id: str, until: datetime) -> bool:
    """Keep a long upload's claim alive; False means another worker took the post over."""
    result = await session.execute(
        update(ScheduledPost)
        .where(
            ScheduledPost.id == post_id,
            ScheduledPost.claimed_by == worker_id,
            ScheduledPost.status == PostStatus.RUNNING.value,
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_claims(session: AsyncSession, *, worker_id: str) -> int:
    """On a graceful stop hand our running posts back so another worker needn't wait for the lease."""
    result = await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.claimed_by == worker_id, ScheduledPost.status == PostStatus.RUNNING.value)
        .values(
            status=PostStatus.QUEUED.value,
            claimed_by=None,
            lease_until=None,
            # The interrupted attempt did not fail; don't let it count against the post.
            attempts=func.greatest(ScheduledPost.attempts - 1, 0)
            if session.get_bind().dialect.name == "postgresql"
            else func.max(ScheduledPost.attempts - 1, 0),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def next_due_at(session: AsyncSession) -> datetime | None:
    queued = await session.scalar(
        select(func.min(ScheduledPost.due_at)).where(ScheduledPost.status == PostStatus.QUEUED.value)
    )
    leased = await session.scalar(
        select(func.min(ScheduledPost.lease_until)).where(ScheduledPost.status == PostStatus.RUNNING.value)
    )
    times = [t for t in (queued, leased) if t is not None]
    return _as_utc(min(times)) if times else None


def _as_utc(value: datetime | str) -> datetime:
    # Aggregates bypass the column type, so SQLite hands back a naive string.
    from core.db.types import UTCDateTime

    result = UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    assert result is not None
    return result
