"""The scheduler's queue: claiming due posts, keeping their leases, checkpoints and outcomes.

The scheduler (core/scheduler/) decides when and what; this module is the only place its SQL on
``scheduled_posts`` lives, and what crosses between the two is plain dataclasses (:class:`ClaimedPost`,
:class:`Lease`, the outcomes), never ORM rows. :class:`PostQueue` is the one object a worker talks to.

Claiming: one WITH candidates AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING
per batch: on PostgreSQL concurrent workers skip each other's rows instead of waiting or
double-claiming; SQLite has a single writer, so the same statement is atomic there (it simply has no
FOR UPDATE). The claiming transaction also reads everything the publish and the chat notification
need, so a post costs no further reads on its way through the worker.

Lease fencing: every claim bumps ``scheduled_posts.lease_version``, and the claiming worker keeps the
version it got (its :class:`Lease`). Each later write of that worker about the post (a progress
checkpoint, a lease renewal, the outcome) matches the row only while ``claimed_by`` and
``lease_version`` are still what it was handed. A write that matches no row means another worker took
the post over (after this one stalled past its lease: a SIGSTOP, a long GC pause, a frozen VM), and
the stalled worker must stop at once instead of carrying on with an upload the new owner is also
doing. The worker id alone is not a fence: the same worker can claim a post again after its own lease
lapsed (a renewal that failed on a database blip), and its stale task must lose to the new claim.

Outcomes are written many per transaction (core/scheduler/outcomes.py batches them): each write is
fenced the same way, and which rows a write set is told by the ``updated_at`` stamp it wrote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, Update, and_, bindparam, exists, func, or_, select, tuple_, update
from sqlalchemy import exc as exc_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
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
from core.db.types import as_utc
from core.domain import ChatKind, MediaInfo, Platform, PostingAccount, PostStatus, PostView
from core.store import approvals
from core.store import posts as post_store

# The database handle the scheduler passes through without looking inside.
Sessions = async_sessionmaker[AsyncSession]

# What a database blip raises (a dropped connection, a failover): worth retrying the same write.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    exc_.OperationalError,
    exc_.InterfaceError,
)


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


def not_paused() -> ColumnElement[bool]:
    """The post's team has not paused its platform (or all of them) with /pause."""
    return ~exists().where(
        PublishingPause.team_id == ScheduledPost.team_id,
        PublishingPause.platform.in_([ScheduledPost.platform, ALL_PLATFORMS]),
    )


def _due(now: datetime) -> ColumnElement[bool]:
    # Only QUEUED and RUNNING are ever claimed: a post AWAITING approval (or REJECTED) is skipped
    # until an approver's conditional UPDATE makes it QUEUED (core/store/approvals.py).
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
    # The claim's fencing version (core/store/queue.py); 0 for a post never claimed.
    lease_version: int = 0
    # The linked account, read with the claim so a publish needn't fetch it.
    account: PostingAccount | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # What the author set for this platform (core/platforms/options.py), handed to the publisher.
    options: dict[str, Any] = field(default_factory=dict)
    # Who approved it and when (a channel with approval on), shown with its result.
    approved_by: str | None = None
    approved_at: datetime | None = None

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
            approved_by=self.approved_by,
            approved_at=self.approved_at,
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
    ScheduledPost.options,
    ScheduledPost.approved_by,
    ScheduledPost.approved_at,
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
        channel, thread, batch, lease_version, options, approved_by, approved_at = row[9:16]
        path, sha, size, mime, name, duration, width, height = row[16:24]
        chat, team_ext, team_tz, author_ext, author_tz = row[24:]
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
                options=dict(options or {}),
                approved_by=approved_by,
                approved_at=as_utc(approved_at) if approved_at is not None else None,
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
    # Review news (a rejection, a post not approved by its time) needs no wake-up of its own: every
    # round looks for it, and the poll runs a round every few seconds.
    times = [t for t in (queued, leased) if t is not None]
    return min(as_utc(t) for t in times) if times else None


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
    # Equivalent mutant (here and in renew): synchronize_session=None, which SQLAlchemy reads as
    # False (no objects in the session brought up to date; these sessions hold none).
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


_posts: Table = ScheduledPost.__table__  # type: ignore[assignment]

_OUTCOME_VALUES: dict[type, dict[str, Any]] = {
    Published: {
        "status": PostStatus.PUBLISHED.value,
        "remote_id": bindparam("b_remote_id"),
        "remote_url": bindparam("b_remote_url"),
        "published_at": bindparam("b_published_at"),
        "upload_state": bindparam("b_upload_state"),
        "last_error": None,
        "error_hint": None,
    },
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


async def write_outcomes(
    session: AsyncSession, outcomes: Sequence[Outcome], *, worker_id: str, stamp: datetime
) -> set[int]:
    """Write ``outcomes`` (one executemany per kind); returns the ids whose row was still
    ``worker_id``'s claim and now says so. ``stamp`` must be unique to this write."""
    by_kind: dict[type, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[type(outcome)].append(outcome)
    applied: set[int] = set()
    conn = await session.connection()
    guarded: list[int] = []
    for kind, items in by_kind.items():
        if kind is Notified:
            await conn.execute(
                update(_posts).where(_posts.c.id == bindparam("b_id")).values(notified_at=bindparam("b_at")),
                [_params(o) for o in items],
            )
            applied.update(o.post_id for o in items)
            continue
        values = dict(_OUTCOME_VALUES[kind])
        values.update(claimed_by=None, lease_until=None, updated_at=stamp)
        await conn.execute(
            update(_posts)
            .where(
                _posts.c.id == bindparam("b_id"),
                _posts.c.claimed_by == worker_id,
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
    return applied


class PostQueue:
    """One worker's view of the queue: every read and write the scheduler makes on posts."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self.sessions = sessions
        self.worker_id = worker_id
        self._last_stamp = datetime.min.replace(tzinfo=UTC)

    async def claim(self, *, now: datetime, lease: timedelta, limit: int) -> list[ClaimedPost]:
        async with self.sessions.begin() as session:
            return await claim_batch(session, worker_id=self.worker_id, now=now, lease=lease, limit=limit)

    async def renew(self, leases: Collection[Lease], *, until: datetime) -> set[int]:
        async with self.sessions.begin() as session:
            return await renew(session, leases, until=until)

    async def save_checkpoint(self, lease: Lease, state: dict[str, Any]) -> None:
        # Durable before the publisher goes on: its own transaction, committed here.
        async with self.sessions.begin() as session:
            await save_checkpoint(session, lease, state)

    async def record(self, outcomes: Sequence[Outcome]) -> set[int]:
        """Write ``outcomes`` in one transaction; the ids whose row was still ours."""
        stamp = self._stamp()
        async with self.sessions.begin() as session:
            return await write_outcomes(session, outcomes, worker_id=self.worker_id, stamp=stamp)

    async def release(self) -> int:
        async with self.sessions.begin() as session:
            return await release_claims(session, worker_id=self.worker_id)

    async def next_due_at(self) -> datetime | None:
        async with self.sessions() as session:
            return await next_due_at(session)

    async def review_news(self, *, now: datetime) -> list[PostView]:
        """Rejections and posts not approved by their time that no author has heard of, marked as
        told (in their own transaction, before the telling: :meth:`untold` gives one back)."""
        async with self.sessions.begin() as session:
            ids = await approvals.claim_news(session, now=now)
            return [await post_store.get_any(session, pid) for pid in ids]

    async def untold(self, post_id: int, *, at: datetime) -> None:
        async with self.sessions.begin() as session:
            await approvals.release_news(session, [post_id], at=at)

    async def unannounced(self, *, since: datetime, until: datetime) -> list[PostView]:
        async with self.sessions() as session:
            return await post_store.unannounced(session, since=since, until=until)

    def _stamp(self) -> datetime:
        # Strictly increasing per worker, so two writes can never be told apart by the same stamp.
        now = datetime.now(UTC)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now
