"""Claiming due posts with a lease, safely across several worker processes.

One WITH candidates AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING per batch: on
PostgreSQL concurrent workers skip each other's rows instead of waiting or double-claiming; SQLite
has a single writer, so the same statement is atomic there (it simply has no FOR UPDATE). The
claiming transaction also reads everything the publish and the chat notification need, so a post
costs no further reads on its way through the worker.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import (
    ALL_PLATFORMS,
    MediaAsset,
    PublishingPause,
    ScheduledPost,
    SocialAccount,
    Team,
    User,
)
from core.domain import ChatKind, MediaInfo, Platform, PostingAccount, PostStatus, PostView
from core.scheduler.fencing import Lease


def not_paused() -> ColumnElement[bool]:
    """The post's team has not paused its platform (or all of them) with /pause."""
    return ~exists().where(
        PublishingPause.team_id == ScheduledPost.team_id,
        PublishingPause.platform.in_([ScheduledPost.platform, ALL_PLATFORMS]),
    )


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        # A paused post stays queued, untouched, until /resume (a post already running finishes).
        and_(ScheduledPost.status == PostStatus.QUEUED.value, ScheduledPost.due_at <= now, not_paused()),
        # A running post whose lease ran out belongs to a worker that died: take it over.
        and_(ScheduledPost.status == PostStatus.RUNNING.value, ScheduledPost.lease_until < now),
    )


@dataclass
class ClaimedPost:
    """A snapshot of a claimed post and what its notification shows, read once at claim time."""

    id: int
    platform: Platform
    account_id: int | None
    idempotency_key: str
    caption: str
    title: str | None
    run_at: datetime
    # Including the attempt this claim started.
    attempts: int
    upload_state: dict[str, Any]
    media: MediaInfo
    chat: ChatKind
    team_external_id: str
    author_external_id: str
    tz: str
    origin_channel: str | None
    origin_thread: str | None
    batch_id: str
    # The claim's fencing version (core/scheduler/fencing.py); 0 for a post never claimed.
    lease_version: int = 0
    # The linked account, read with the claim so a publish needn't fetch it.
    account: PostingAccount | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def lease(self, worker_id: str) -> Lease:
        return Lease(self.id, worker_id, self.lease_version)

    def view(
        self,
        status: PostStatus,
        *,
        last_error: str | None = None,
        hint: str | None = None,
        remote_id: str | None = None,
        remote_url: str | None = None,
        published_at: datetime | None = None,
    ) -> PostView:
        return PostView(
            id=self.id,
            chat=self.chat,
            team_id=self.team_external_id,
            platform=self.platform,
            status=status,
            run_at=self.run_at,
            caption=self.caption,
            title=self.title,
            author_id=self.author_external_id,
            channel_id=self.origin_channel,
            thread_id=self.origin_thread,
            attempts=self.attempts,
            last_error=last_error,
            remote_id=remote_id,
            remote_url=remote_url,
            media_name=self.media.original_name,
            batch_id=self.batch_id,
            published_at=published_at,
            tz=self.tz,
            extra={"hint": hint} if hint else {},
        )


def claim_statement(*, worker_id: str, now: datetime, lease: timedelta, limit: int) -> Update:
    # MATERIALIZED: evaluated exactly once. As a plain IN (subquery) PostgreSQL may plan a nested
    # loop semi join that rescans the locking subquery per outer row; each rescan passes over the
    # rows this statement already updated and locks the next ones, so LIMIT 10 claimed all 30 due
    # rows (seen on a fresh, unanalysed table; tests/test_scheduler_claim.py checks it).
    candidates = (
        select(ScheduledPost.id)
        .where(_due(now))
        .order_by(ScheduledPost.due_at, ScheduledPost.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    return (
        update(ScheduledPost)
        .where(ScheduledPost.id.in_(select(candidates.c.id)), _due(now))
        .values(
            status=PostStatus.RUNNING.value,
            claimed_by=worker_id,
            lease_until=now + lease,
            attempts=ScheduledPost.attempts + 1,
            # The new fencing token: every write of an earlier claimant now matches no row.
            lease_version=ScheduledPost.lease_version + 1,
        )
        .returning(ScheduledPost.id)
        .execution_options(synchronize_session=False)
    )


async def claim_due(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[int]:
    statement = claim_statement(worker_id=worker_id, now=now, lease=lease, limit=limit)
    result = await session.execute(statement)
    return sorted(result.scalars().all())


_SNAPSHOT = (
    ScheduledPost.id,
    ScheduledPost.platform,
    ScheduledPost.account_id,
    ScheduledPost.idempotency_key,
    ScheduledPost.caption,
    ScheduledPost.title,
    ScheduledPost.run_at,
    ScheduledPost.attempts,
    ScheduledPost.upload_state,
    ScheduledPost.origin_channel,
    ScheduledPost.origin_thread,
    ScheduledPost.batch_id,
    ScheduledPost.lease_version,
    MediaAsset.path,
    MediaAsset.sha256,
    MediaAsset.size_bytes,
    MediaAsset.mime,
    MediaAsset.original_name,
    MediaAsset.duration_s,
    MediaAsset.width,
    MediaAsset.height,
    Team.chat,
    Team.external_id,
    Team.timezone,
    User.external_id,
    User.timezone,
)


async def load_claimed(session: AsyncSession, ids: Collection[int]) -> list[ClaimedPost]:
    """One joined read of the claimed rows, in due order (plain columns: no ORM identity map)."""
    if not ids:
        return []
    query = (
        select(*_SNAPSHOT)
        .join(MediaAsset, MediaAsset.id == ScheduledPost.media_id)
        .join(Team, Team.id == ScheduledPost.team_id)
        .join(User, User.id == ScheduledPost.author_id)
        .where(ScheduledPost.id.in_(list(ids)))
        .order_by(ScheduledPost.due_at, ScheduledPost.id)
    )
    posts = []
    for row in await session.execute(query):
        pid, platform, account_id, key, caption, title, run_at, attempts, state = row[:9]
        channel, thread, batch, lease_version = row[9:13]
        path, sha, size, mime, name, duration, width, height = row[13:21]
        chat, team_ext, team_tz, author_ext, author_tz = row[21:]
        posts.append(
            ClaimedPost(
                id=pid,
                platform=Platform(platform),
                account_id=account_id,
                idempotency_key=key,
                caption=caption,
                title=title,
                run_at=run_at,
                attempts=attempts,
                upload_state=dict(state or {}),
                media=MediaInfo(
                    path=path,
                    key=path,
                    sha256=sha,
                    size_bytes=size,
                    mime=mime,
                    original_name=name,
                    duration_s=duration,
                    width=width,
                    height=height,
                ),
                chat=ChatKind(chat),
                team_external_id=team_ext,
                author_external_id=author_ext,
                tz=author_tz or team_tz or "UTC",
                origin_channel=channel,
                origin_thread=thread,
                batch_id=batch,
                lease_version=lease_version,
            )
        )
    return posts


async def claim_batch(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedPost]:
    """Claim up to ``limit`` due posts and read them (and their accounts) in one transaction."""
    ids = await claim_due(session, worker_id=worker_id, now=now, lease=lease, limit=limit)
    posts = await load_claimed(session, ids)
    account_ids = {p.account_id for p in posts if p.account_id is not None}
    if account_ids:
        query = select(SocialAccount.id, SocialAccount.platform, SocialAccount.remote_account_id).where(
            SocialAccount.id.in_(account_ids)
        )
        accounts = {
            row_id: PostingAccount(row_id, Platform(platform), remote_id)
            for row_id, platform, remote_id in await session.execute(query)
        }
        for post in posts:
            post.account = accounts.get(post.account_id) if post.account_id is not None else None
    return posts


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
    # Paused posts are left out, or a past due time would wake the scheduler again at once, forever.
    queued = await session.scalar(
        select(func.min(ScheduledPost.due_at)).where(
            ScheduledPost.status == PostStatus.QUEUED.value, not_paused()
        )
    )
    leased = await session.scalar(
        select(func.min(ScheduledPost.lease_until)).where(ScheduledPost.status == PostStatus.RUNNING.value)
    )
    times = [t for t in (queued, leased) if t is not None]
    return _as_utc(min(_as_utc(t) for t in times)) if times else None


def _as_utc(value: datetime | str) -> datetime:
    # Aggregates bypass the column type, so SQLite hands back a naive string.
    from core.db.types import UTCDateTime

    result = UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    assert result is not None
    return result
