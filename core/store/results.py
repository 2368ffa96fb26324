"""Results reads in the database (``post_results``): one row per published post and checkpoint.

Rows are made when their checkpoint comes due (``seed_due``, idempotent: the unique (post,
checkpoint) pair and INSERT ... ON CONFLICT DO NOTHING let every worker seed at once), then claimed
the way due posts are (core/store/queue.py): ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's
single writer elsewhere, a lease that a vanished worker's claims run out of, and a ``lease_version``
every later write must still match, so two workers never read the same checkpoint twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import PostResult, ScheduledPost, SocialAccount
from core.db.types import as_utc
from core.domain import MessageRef, Platform, PostingAccount, PostNumbers, PostStatus, PostView
from core.store.accounts import posting_account
from core.store.posts import Viewer, _with_relations, seen_by, to_view

DUE, CLAIMED, READ, UNAVAILABLE, FAILED = "due", "claimed", "read", "unavailable", "failed"


@dataclass(frozen=True)
class ClaimedRead:
    id: int
    lease_version: int
    checkpoint_s: int
    attempts: int
    post_id: int
    platform: Platform
    remote_id: str
    account: PostingAccount
    # The scopes the account's token was granted, as the platform said at linking.
    scopes: str | None


async def seed_due(
    session: AsyncSession,
    *,
    checkpoints_s: Sequence[int],
    platforms: Collection[Platform],
    now: datetime,
    catch_up: timedelta,
) -> int:
    """Make the rows of checkpoints that came due within ``catch_up``; returns how many are new."""
    if not checkpoints_s or not platforms:
        return 0
    oldest = now - timedelta(seconds=max(checkpoints_s)) - catch_up
    newest = now - timedelta(seconds=min(checkpoints_s))
    posts = (
        await session.execute(
            select(ScheduledPost.id, ScheduledPost.published_at).where(
                ScheduledPost.status == PostStatus.PUBLISHED.value,
                ScheduledPost.remote_id.is_not(None),
                ScheduledPost.platform.in_([p.value for p in platforms]),
                ScheduledPost.published_at >= oldest,
                ScheduledPost.published_at <= newest,
            )
        )
    ).all()
    rows: list[dict[str, Any]] = []
    for post_id, published_at in posts:
        if published_at is None:
            continue
        for checkpoint in checkpoints_s:
            due = as_utc(published_at) + timedelta(seconds=checkpoint)
            if due <= now and now - due <= catch_up:
                rows.append({"post_id": post_id, "checkpoint_s": checkpoint, "due_at": due})
    if not rows:
        return 0
    have = set(
        (
            await session.execute(
                select(PostResult.post_id, PostResult.checkpoint_s).where(
                    PostResult.post_id.in_({r["post_id"] for r in rows})
                )
            )
        ).all()
    )
    rows = [r for r in rows if (r["post_id"], r["checkpoint_s"]) not in have]
    if not rows:
        return 0
    values = [r | {"state": DUE, "attempts": 0, "lease_version": 0} for r in rows]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Another worker seeding the same checkpoint at the same moment: its row wins, this one is dropped.
    statement = (
        insert(PostResult).values(values).on_conflict_do_nothing(index_elements=["post_id", "checkpoint_s"])
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(PostResult.state == DUE, PostResult.due_at <= now),
        and_(PostResult.state == CLAIMED, PostResult.lease_until < now),
    )


async def claim(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedRead]:
    # The same shape as claim_statement in core/store/queue.py, for the same reasons (MATERIALIZED).
    candidates = (
        select(PostResult.id)
        .where(_claimable(now))
        .order_by(PostResult.due_at, PostResult.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    statement = (
        update(PostResult)
        .where(PostResult.id.in_(select(candidates.c.id)), _claimable(now))
        .values(
            state=CLAIMED,
            claimed_by=worker_id,
            lease_until=now + lease,
            lease_version=PostResult.lease_version + 1,
        )
        .returning(PostResult.id)
        .execution_options(synchronize_session=False)
    )
    ids = list((await session.execute(statement)).scalars().all())
    if not ids:
        return []
    rows = (
        await session.execute(
            select(PostResult, ScheduledPost.platform, ScheduledPost.remote_id, SocialAccount)
            .join(ScheduledPost, PostResult.post_id == ScheduledPost.id)
            .join(SocialAccount, ScheduledPost.account_id == SocialAccount.id)
            .where(PostResult.id.in_(ids))
        )
    ).all()
    claimed = [
        ClaimedRead(
            r.id,
            r.lease_version,
            r.checkpoint_s,
            r.attempts,
            r.post_id,
            Platform(platform),
            str(remote),
            posting_account(account),
            account.scopes,
        )
        for r, platform, remote, account in rows
    ]
    orphans = set(ids) - {c.id for c in claimed}
    if orphans:
        # The account was unlinked since: nobody can read these.
        await session.execute(
            update(PostResult)
            .where(PostResult.id.in_(orphans))
            .values(state=UNAVAILABLE, note="the account was unlinked", claimed_by=None)
        )
    return claimed


@dataclass(frozen=True)
class Finished:
    """What became of one claimed read."""

    read: ClaimedRead
    state: str
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    note: str | None = None
    # For a read to try again (state DUE): when, and whether it spent an attempt.
    due_at: datetime | None = None
    spent: bool = False


async def finish(
    session: AsyncSession, done: Sequence[Finished], *, worker_id: str, now: datetime, settle_s: int
) -> int:
    """Write outcomes, each only while this worker's claim still holds; returns how many held."""
    kept = 0
    for f in done:
        values: dict[str, Any] = {"state": f.state, "note": f.note, "claimed_by": None, "lease_until": None}
        if f.state == READ:
            values |= {"views": f.views, "likes": f.likes, "comments": f.comments, "read_at": now}
        if f.state == DUE:
            values["due_at"] = f.due_at or now
        if f.spent:
            values["attempts"] = PostResult.attempts + 1
        result = await session.execute(
            update(PostResult)
            .where(
                PostResult.id == f.read.id,
                PostResult.claimed_by == worker_id,
                PostResult.lease_version == f.read.lease_version,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        held = bool(getattr(result, "rowcount", 0))
        kept += held
        if held and f.state == READ and f.read.checkpoint_s == settle_s:
            # The post's own columns keep the settled reading that slot suggestions learn from
            # (core/slots/history.py).
            await session.execute(
                update(ScheduledPost)
                .where(ScheduledPost.id == f.read.post_id)
                .values(views=f.views, likes=f.likes, comments=f.comments, metrics_fetched_at=now)
                .execution_options(synchronize_session=False)
            )
    return kept


async def readings(session: AsyncSession, post_id: int) -> list[PostResult]:
    rows = await session.execute(
        select(PostResult).where(PostResult.post_id == post_id).order_by(PostResult.checkpoint_s)
    )
    return list(rows.scalars().all())


class ResultReads:
    """The one object the results collector talks to (it never sees SQL or ORM rows)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self.sessions = sessions
        self.worker_id = worker_id

    async def seed(
        self,
        *,
        checkpoints_s: Sequence[int],
        platforms: Collection[Platform],
        now: datetime,
        catch_up: timedelta,
    ) -> int:
        async with self.sessions.begin() as session:
            return await seed_due(
                session, checkpoints_s=checkpoints_s, platforms=platforms, now=now, catch_up=catch_up
            )

    async def claim(self, *, now: datetime, lease: timedelta, limit: int) -> list[ClaimedRead]:
        async with self.sessions.begin() as session:
            return await claim(session, worker_id=self.worker_id, now=now, lease=lease, limit=limit)

    async def finish(self, done: Sequence[Finished], *, now: datetime, settle_s: int) -> int:
        async with self.sessions.begin() as session:
            return await finish(session, done, worker_id=self.worker_id, now=now, settle_s=settle_s)

    async def messages(self, post_ids: Collection[int]) -> list[ReadingsMessage]:
        async with self.sessions() as session:
            return await readings_messages(session, post_ids)

    async def remember_message(self, post_id: int, ref: MessageRef) -> None:
        async with self.sessions.begin() as session:
            await remember_message(session, post_id, ref)


async def team_numbers(
    session: AsyncSession,
    team_id: int,
    *,
    since: datetime,
    until: datetime,
    platform: Platform | None,
    viewer: Viewer | None = None,
) -> list[PostNumbers]:
    """The team's posts published in [since, until), each with its latest reading (None numbers when
    none was read); for ``viewer``, only those they may see (core/store/posts.seen_by)."""
    query = select(
        ScheduledPost.id,
        ScheduledPost.platform,
        ScheduledPost.remote_url,
        ScheduledPost.published_at,
    ).where(
        ScheduledPost.team_id == team_id,
        ScheduledPost.status == PostStatus.PUBLISHED.value,
        ScheduledPost.published_at >= since,
        ScheduledPost.published_at < until,
    )
    if platform is not None:
        query = query.where(ScheduledPost.platform == platform.value)
    if viewer is not None:
        query = query.where(seen_by(viewer))
    posts = (await session.execute(query)).all()
    if not posts:
        return []
    latest: dict[int, PostResult] = {}
    rows = await session.execute(
        select(PostResult)
        .where(PostResult.post_id.in_([p.id for p in posts]), PostResult.state == READ)
        .order_by(PostResult.checkpoint_s)
    )
    for row in rows.scalars():
        latest[row.post_id] = row
    out = []
    for post_id, name, url, published_at in posts:
        if published_at is None:
            continue
        r = latest.get(post_id)
        out.append(
            PostNumbers(
                post_id,
                Platform(name),
                url,
                as_utc(published_at),
                r.views if r else None,
                r.likes if r else None,
                r.comments if r else None,
            )
        )
    return out


@dataclass(frozen=True)
class ReadingsMessage:
    """What the chat shows for one post's results: the post, where to answer, what to edit."""

    post: PostView
    reply: MessageRef | None
    message: MessageRef | None
    # (checkpoint_s, views, likes, comments) of every checkpoint read so far, in order.
    readings: list[tuple[int, int | None, int | None, int | None]]


async def readings_messages(session: AsyncSession, post_ids: Collection[int]) -> list[ReadingsMessage]:
    if not post_ids:
        return []
    posts = (
        await session.execute(
            _with_relations(select(ScheduledPost)).where(ScheduledPost.id.in_(list(post_ids)))
        )
    ).scalars()
    out = []
    for post in posts:
        rows = await readings(session, post.id)
        read = [(r.checkpoint_s, r.views, r.likes, r.comments) for r in rows if r.state == READ]
        ref = next((r for r in rows if r.message_id), None)
        reply = (
            MessageRef(post.reply_channel, post.reply_message)
            if post.reply_channel and post.reply_message
            else None
        )
        message = MessageRef(str(ref.message_channel), str(ref.message_id)) if ref else None
        out.append(ReadingsMessage(to_view(post), reply, message, read))
    return out


async def remember_message(session: AsyncSession, post_id: int, ref: MessageRef) -> None:
    await session.execute(
        update(PostResult)
        .where(PostResult.post_id == post_id)
        .values(message_channel=ref.channel_id, message_id=ref.message_id)
        .execution_options(synchronize_session=False)
    )
