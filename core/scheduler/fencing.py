"""Lease fencing: a worker that lost a post's lease must not touch the post again.

Every claim bumps ``scheduled_posts.lease_version``, and the claiming worker keeps the version it got
(its :class:`Lease`). Each later write of that worker about the post (a progress checkpoint, a lease
renewal, the outcome) matches the row only while ``claimed_by`` and ``lease_version`` are still what it
was handed. A write that matches no row means another worker took the post over (after this one
stalled past its lease: a SIGSTOP, a long GC pause, a frozen VM), and the stalled worker must stop at
once instead of carrying on with an upload the new owner is also doing.

The worker id alone is not a fence: the same worker can claim a post again after its own lease lapsed
(a renewal that failed on a database blip), and its stale task must lose to the new claim.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import ScheduledPost
from core.domain import PostStatus


class LeaseLost(Exception):
    """This worker's claim on the post is gone: stop publishing it and write nothing about it."""

    def __init__(self, post_id: int) -> None:
        super().__init__(f"post #{post_id} was taken over by another worker")
        self.post_id = post_id


@dataclass(frozen=True)
class Lease:
    """What a claim handed a worker: the post, who claimed it, and the claim's fencing version."""

    post_id: int
    worker_id: str
    version: int


def held(lease: Lease) -> ColumnElement[bool]:
    """The row condition under which ``lease`` is still the post's current claim."""
    return and_(
        ScheduledPost.id == lease.post_id,
        ScheduledPost.claimed_by == lease.worker_id,
        ScheduledPost.lease_version == lease.version,
        ScheduledPost.status == PostStatus.RUNNING.value,
    )


async def save_checkpoint(session: AsyncSession, lease: Lease, state: dict[str, Any]) -> None:
    """Store upload progress under ``lease``; raises :class:`LeaseLost` when the row is not ours."""
    result = await session.execute(
        update(ScheduledPost)
        .where(held(lease))
        .values(upload_state=state)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(lease.post_id)


async def renew(session: AsyncSession, leases: Collection[Lease], *, until: datetime) -> set[int]:
    """Extend every lease in one statement; returns the ids still held (the rest were taken over)."""
    if not leases:
        return set()
    worker_ids = {lease.worker_id for lease in leases}
    if len(worker_ids) != 1:
        raise ValueError("renew one worker's leases at a time")
    result = await session.execute(
        update(ScheduledPost)
        .where(
            tuple_(ScheduledPost.id, ScheduledPost.lease_version).in_(
                [(lease.post_id, lease.version) for lease in leases]
            ),
            ScheduledPost.claimed_by == worker_ids.pop(),
            ScheduledPost.status == PostStatus.RUNNING.value,
        )
        .values(lease_until=until)
        .returning(ScheduledPost.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars().all())
