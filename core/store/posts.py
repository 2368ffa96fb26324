"""Posts as the facade sees them: queue, list, look up, cancel, move. Rows go in and come out as
``PostView``s in the reader's zone; the ORM stays in here.

Every state change is a conditional UPDATE on the current status, so a post a worker has already
claimed cannot be cancelled or moved underneath it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.db.models import MediaAsset, ScheduledPost, SocialAccount, Team, User
from core.db.types import as_utc
from core.domain import MAX_POST_ID, ChatKind, MediaInfo, Platform, PostStatus, PostView, no_such_post
from core.errors import UserError
from core.store.teams import Member


@dataclass(frozen=True)
class NewPost:
    platform: Platform
    caption: str
    title: str | None
    run_at: datetime
    account_id: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


def idempotency_key(chat: str, team: str, request_id: str | None, platform: Platform) -> str:
    if request_id is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{chat}\x00{team}\x00{request_id}\x00{platform.value}".encode()).hexdigest()[:40]


def content_key(channel: str | None, platform: Platform, sha256: str) -> str:
    """What makes two posts the same post: the channel, the platform and the video's bytes."""
    return hashlib.sha256(f"{channel or ''}\x00{platform.value}\x00{sha256}".encode()).hexdigest()


# A post that keeps the same video from being queued again on its platform from its channel: still
# to go out, or out. A cancelled or failed one does not (the person may want it again).
_POSTED_ONCE = [
    PostStatus.QUEUED.value,
    PostStatus.RUNNING.value,
    PostStatus.AWAITING.value,
    PostStatus.PUBLISHED.value,
]


async def already_posted(
    session: AsyncSession,
    member: Member,
    *,
    channel: str | None,
    platforms: Sequence[Platform],
    sha256: str,
    request_id: str | None,
    repeats: Sequence[str] = (),
    tz: str,
) -> list[PostView]:
    """Posts of this video (by its bytes) on ``platforms`` from ``channel`` that are upcoming or
    published, leaving out the ones this very request queued (a redelivery answers with those)."""
    team = await session.get_one(Team, member.team_id)
    own = [
        idempotency_key(team.chat, team.external_id, rid, p)
        for rid in ([request_id, *repeats] if request_id is not None else [])
        for p in platforms
    ]
    query = (
        _with_relations(select(ScheduledPost))
        .join(MediaAsset, MediaAsset.id == ScheduledPost.media_id)
        .where(
            ScheduledPost.team_id == team.id,
            ScheduledPost.origin_channel.is_(None)
            if channel is None
            else ScheduledPost.origin_channel == channel,
            ScheduledPost.platform.in_([p.value for p in platforms]),
            ScheduledPost.status.in_(_POSTED_ONCE),
            MediaAsset.sha256 == sha256,
        )
        .order_by(ScheduledPost.id)
    )
    if own:
        query = query.where(ScheduledPost.idempotency_key.not_in(own))
    return [to_view(row, tz=tz) for row in (await session.execute(query)).scalars()]


async def add_media(session: AsyncSession, team: Team, media: MediaInfo) -> MediaAsset:
    asset = MediaAsset(
        team_id=team.id,
        path=media.storage_key,
        sha256=media.sha256,
        size_bytes=media.size_bytes,
        mime=media.mime,
        original_name=media.original_name,
        duration_s=media.duration_s,
        width=media.width,
        height=media.height,
    )
    session.add(asset)
    await session.flush()
    return asset


async def queue_posts(
    session: AsyncSession,
    *,
    member: Member,
    media: MediaInfo,
    posts: Sequence[NewPost],
    channel: str | None,
    thread: str | None,
    request_id: str | None,
    tz: str,
    repeats: Sequence[str] = (),
    awaiting: bool = False,
    on_approval: bool = False,
    once: bool = False,
) -> tuple[list[PostView], bool]:
    """Queue one post per platform. Returns them and whether the request had been seen before.

    A redelivered chat request (same request id, or one of ``repeats``) returns the posts it created
    the first time. ``awaiting``: they wait for an approver (core/store/approvals.py) instead of
    their time; ``on_approval`` (a /post): when approved, they go out at once. ``once``: each post
    holds its ``content_key`` while upcoming, so a second post of the same video on the same platform
    from the same channel fails on the unique index (the caller checks :func:`already_posted` first;
    the index settles a race between two commands).
    """
    # Loaded in this session by teams.member already: the identity map answers, no query.
    team = await session.get_one(Team, member.team_id)
    author = await session.get_one(User, member.user_id)
    rows, duplicate = await _queue_rows(
        session,
        team=team,
        author=author,
        media=media,
        posts=posts,
        channel=channel,
        thread=thread,
        request_id=request_id,
        repeats=repeats,
        status=PostStatus.AWAITING if awaiting else PostStatus.QUEUED,
        on_approval=awaiting and on_approval,
        once=once,
    )
    return [to_view(row, tz=tz) for row in rows], duplicate


async def _queue_rows(
    session: AsyncSession,
    *,
    team: Team,
    author: User,
    media: MediaInfo,
    posts: Sequence[NewPost],
    channel: str | None,
    thread: str | None,
    request_id: str | None,
    repeats: Sequence[str] = (),
    status: PostStatus = PostStatus.QUEUED,
    on_approval: bool = False,
    once: bool = False,
) -> tuple[list[ScheduledPost], bool]:
    keys = [idempotency_key(team.chat, team.external_id, request_id, p.platform) for p in posts]
    seen = [
        idempotency_key(team.chat, team.external_id, rid, p.platform)
        for rid in ([request_id, *repeats] if request_id is not None else [])
        for p in posts
    ]

    async def earlier() -> list[ScheduledPost]:
        query = _with_relations(select(ScheduledPost)).where(ScheduledPost.idempotency_key.in_(seen))
        return sorted((await session.execute(query)).scalars().all(), key=lambda p: p.id)

    if seen and (existing := await earlier()):
        if not (repeats and all(p.status == PostStatus.CANCELLED.value for p in existing)):
            return existing, True
        # A command run again by hand (``repeats``: Discord, which never redelivers) after its
        # posts were all cancelled is meant: the cancelled posts give up their keys, kept unique
        # but no longer this request's, and the run queues anew. A redelivery (Slack's, no
        # ``repeats``) still meets its cancelled posts, so a cancel is never undone by a retry.
        for post in existing:
            post.idempotency_key = uuid.uuid4().hex
        await session.flush()
    try:
        # A repeated request may run alongside the first (both downloading the same video): the
        # one that commits second meets the first's keys and answers as a duplicate.
        async with session.begin_nested():
            rows = await _insert_rows(
                session,
                team=team,
                author=author,
                media=media,
                posts=posts,
                keys=keys,
                channel=channel,
                thread=thread,
                status=status,
                on_approval=on_approval,
                once=once,
            )
    except IntegrityError:
        if not seen or not (existing := await earlier()):
            raise
        return existing, True
    return rows, False


async def _insert_rows(
    session: AsyncSession,
    *,
    team: Team,
    author: User,
    media: MediaInfo,
    posts: Sequence[NewPost],
    keys: list[str],
    channel: str | None,
    thread: str | None,
    status: PostStatus = PostStatus.QUEUED,
    on_approval: bool = False,
    once: bool = False,
) -> list[ScheduledPost]:
    asset = await add_media(session, team, media)
    batch = uuid.uuid4().hex
    rows = [
        ScheduledPost(
            team_id=team.id,
            author_id=author.id,
            account_id=p.account_id,
            media_id=asset.id,
            batch_id=batch,
            platform=p.platform.value,
            caption=p.caption,
            title=p.title,
            run_at=p.run_at,
            due_at=p.run_at,
            status=status.value,
            on_approval=on_approval,
            idempotency_key=key,
            origin_channel=channel,
            origin_thread=thread,
            upload_state={},
            options=dict(p.options) or None,
            content_key=content_key(channel, p.platform, media.sha256) if once else None,
        )
        for p, key in zip(posts, keys, strict=True)
    ]
    session.add_all(rows)
    await session.flush()
    accounts = {
        a.id: a
        for a in (
            await session.execute(
                select(SocialAccount).where(
                    SocialAccount.id.in_({p.account_id for p in posts if p.account_id})
                )
            )
        ).scalars()
    }
    for row in rows:
        row.team, row.author, row.media = team, author, asset
        row.account = accounts.get(row.account_id) if row.account_id else None
    return rows


def _with_relations(query: Select[Any]) -> Select[Any]:
    return query.options(
        selectinload(ScheduledPost.team),
        selectinload(ScheduledPost.author),
        selectinload(ScheduledPost.media),
        selectinload(ScheduledPost.account),
    )


async def get(session: AsyncSession, team_id: int, post_id: int, *, tz: str) -> PostView:
    return to_view(await _get_row(session, team_id, post_id), tz=tz)


async def get_any(session: AsyncSession, post_id: int) -> PostView:
    """A post by id whatever its team (the scheduler's reads), in its author's zone."""
    query = _with_relations(select(ScheduledPost)).where(ScheduledPost.id == post_id)
    return to_view((await session.execute(query)).scalar_one())


async def _get_row(session: AsyncSession, team_id: int, post_id: int) -> ScheduledPost:
    if not 0 < post_id <= MAX_POST_ID:
        raise no_such_post(post_id)  # out of SQL's range: no row can have it, and asking would overflow
    query = _with_relations(select(ScheduledPost)).where(
        ScheduledPost.id == post_id, ScheduledPost.team_id == team_id
    )
    post = (await session.execute(query)).scalar_one_or_none()
    if post is None:
        raise no_such_post(post_id)
    return post


@dataclass(frozen=True)
class Viewer:
    """Who a listing is for: their user row and the channels they may see (ChatContext.visible_channels).
    No user: a channel's own audience (the weekly digest posted there sees that channel's posts only)."""

    user_id: int | None
    channels: frozenset[str]


def seen_by(viewer: Viewer) -> ColumnElement[bool]:
    """The one rule for what a listing shows a member: posts queued from a channel they are in, and
    their own. In SQL, so a limit counts only what they may see."""
    in_channels = ScheduledPost.origin_channel.in_(sorted(viewer.channels))
    if viewer.user_id is None:
        return in_channels
    return or_(ScheduledPost.author_id == viewer.user_id, in_channels)


async def list_queue(
    session: AsyncSession,
    team_id: int,
    *,
    tz: str,
    channel: str | None = None,
    limit: int = 50,
    viewer: Viewer | None = None,
) -> list[PostView]:
    """What is still to be published (queued, running or awaiting approval), soonest first; for
    ``viewer``, only what they may see (:func:`seen_by`)."""
    query = (
        _with_relations(select(ScheduledPost))
        .where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.status.in_(_UPCOMING),
        )
        .order_by(ScheduledPost.run_at, ScheduledPost.id)
        .limit(limit)
    )
    if channel is not None:
        query = query.where(ScheduledPost.origin_channel == channel)
    if viewer is not None:
        query = query.where(seen_by(viewer))
    return [to_view(row, tz=tz) for row in (await session.execute(query)).scalars()]


async def recent_results(
    session: AsyncSession, team_id: int, *, tz: str, limit: int = 8, viewer: Viewer | None = None
) -> list[PostView]:
    """The team's latest finished posts (published or failed), newest first (the Slack Home tab);
    for ``viewer``, only what they may see (:func:`seen_by`)."""

    def newest(status: PostStatus) -> Select[Any]:
        # One status at a time: each reads the (team, status, updated_at) index backwards and stops
        # after ``limit`` rows. Both at once (status IN ...) would sort the team's whole history.
        query = (
            select(ScheduledPost.id)
            .where(ScheduledPost.team_id == team_id, ScheduledPost.status == status.value)
            .order_by(ScheduledPost.updated_at.desc(), ScheduledPost.id.desc())
            .limit(limit)
        )
        if viewer is not None:
            query = query.where(seen_by(viewer))
        # A subquery each: SQLite takes no ORDER BY or LIMIT on a UNION's parts.
        part = query.subquery()
        return select(part.c.id)

    latest = union_all(newest(PostStatus.PUBLISHED), newest(PostStatus.FAILED)).subquery()
    query = (
        _with_relations(select(ScheduledPost))
        .where(ScheduledPost.id.in_(select(latest.c.id)))
        .order_by(ScheduledPost.updated_at.desc(), ScheduledPost.id.desc())
        .limit(limit)
    )
    return [to_view(row, tz=tz) for row in (await session.execute(query)).scalars()]


async def due_queued(session: AsyncSession, team_id: int, now: datetime) -> dict[Platform, int]:
    """How many of the team's queued posts are due by ``now``, per platform."""
    query = (
        select(ScheduledPost.platform, func.count())
        .where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.status == PostStatus.QUEUED.value,
            ScheduledPost.due_at <= now,
        )
        .group_by(ScheduledPost.platform)
    )
    return {Platform(p): int(n) for p, n in (await session.execute(query)).all()}


_UPCOMING = [PostStatus.QUEUED.value, PostStatus.RUNNING.value, PostStatus.AWAITING.value]
# Posts an author or admin may still cancel or move: not yet claimed, not decided against.
_CHANGEABLE = [PostStatus.QUEUED.value, PostStatus.AWAITING.value]


@dataclass(frozen=True)
class PlatformCounts:
    queued: int = 0
    running: int = 0
    awaiting: int = 0
    next_due: datetime | None = None
    published: int = 0
    failed: int = 0


async def platform_counts(
    session: AsyncSession, team_id: int, *, since: datetime
) -> dict[Platform, PlatformCounts]:
    """Per platform: queued and running posts, the next due time, and outcomes since ``since``."""
    live = (
        select(
            ScheduledPost.platform,
            ScheduledPost.status,
            func.count(),
            func.min(ScheduledPost.due_at),
        )
        .where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.status.in_(_UPCOMING),
        )
        .group_by(ScheduledPost.platform, ScheduledPost.status)
    )
    ended = (
        select(ScheduledPost.platform, ScheduledPost.status, func.count())
        .where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.status.in_([PostStatus.PUBLISHED.value, PostStatus.FAILED.value]),
            ScheduledPost.updated_at >= since,
        )
        .group_by(ScheduledPost.platform, ScheduledPost.status)
    )
    found: dict[Platform, dict[str, Any]] = {}
    for platform, status, count, due in (await session.execute(live)).all():
        entry = found.setdefault(Platform(platform), {})
        if status == PostStatus.QUEUED.value:
            entry.update(queued=int(count), next_due=as_utc(due) if due is not None else None)
        elif status == PostStatus.AWAITING.value:
            entry["awaiting"] = int(count)
        else:
            entry["running"] = int(count)
    for platform, status, count in (await session.execute(ended)).all():
        key = "published" if status == PostStatus.PUBLISHED.value else "failed"
        found.setdefault(Platform(platform), {})[key] = int(count)
    return {p: PlatformCounts(**v) for p, v in found.items()}


async def recent_failures(session: AsyncSession, team_id: int, *, tz: str, limit: int = 5) -> list[PostView]:
    query = (
        _with_relations(select(ScheduledPost))
        .where(ScheduledPost.team_id == team_id, ScheduledPost.status == PostStatus.FAILED.value)
        .order_by(ScheduledPost.updated_at.desc(), ScheduledPost.id.desc())
        .limit(limit)
    )
    return [to_view(row, tz=tz) for row in (await session.execute(query)).scalars()]


async def cancel(session: AsyncSession, team_id: int, post_id: int, *, tz: str) -> PostView:
    post = await _get_row(session, team_id, post_id)
    result = await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id == post_id, ScheduledPost.status.in_(_CHANGEABLE))
        .values(status=PostStatus.CANCELLED.value, claimed_by=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise UserError(_not_changeable(post, "cancelled"))
    await session.refresh(post)
    return to_view(post, tz=tz)


async def reschedule(
    session: AsyncSession, team_id: int, post_id: int, run_at: datetime, *, tz: str
) -> PostView:
    post = await _get_row(session, team_id, post_id)
    result = await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id == post_id, ScheduledPost.status.in_(_CHANGEABLE))
        .values(run_at=run_at, due_at=run_at, revision=ScheduledPost.revision + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise UserError(_not_changeable(post, "moved"))
    await session.refresh(post)
    return to_view(post, tz=tz)


def _not_changeable(post: ScheduledPost, verb: str) -> str:
    status = PostStatus(post.status)
    if status == PostStatus.RUNNING:
        return f"Post #{post.id} is being published right now and can't be {verb}."
    return f"Post #{post.id} is already {status.value} and can't be {verb}."


def to_view(post: ScheduledPost, *, tz: str | None = None) -> PostView:
    team = post.team
    author = post.author
    extra = {"hint": post.error_hint} if post.error_hint else {}
    return PostView(
        id=post.id,
        chat=ChatKind(team.chat),
        team_id=team.external_id,
        platform=Platform(post.platform),
        status=PostStatus(post.status),
        run_at=post.run_at,
        caption=post.caption,
        title=post.title,
        author_id=author.external_id,
        channel_id=post.origin_channel,
        thread_id=post.origin_thread,
        attempts=post.attempts,
        last_error=post.last_error,
        remote_id=post.remote_id,
        remote_url=post.remote_url,
        media_name=post.media.original_name if post.media else None,
        batch_id=post.batch_id,
        published_at=post.published_at,
        tz=tz or author.timezone or team.timezone,
        extra=extra,
        options=dict(post.options or {}),
        account=post.account.display_name or post.account.remote_account_id if post.account else None,
        media_duration_s=post.media.duration_s if post.media else None,
        approved_by=post.approved_by,
        approved_at=post.approved_at,
        rejected_by=post.rejected_by,
        review_note=post.review_note,
        revision=post.revision,
    )


async def unannounced(session: AsyncSession, *, since: datetime, until: datetime) -> list[PostView]:
    """Posts that ended (published or failed) between ``since`` and ``until`` and whose outcome no
    chat has been told yet."""
    query = _with_relations(select(ScheduledPost)).where(
        ScheduledPost.status.in_([PostStatus.PUBLISHED.value, PostStatus.FAILED.value]),
        ScheduledPost.notified_at.is_(None),
        ScheduledPost.updated_at >= since,
        ScheduledPost.updated_at <= until,
    )
    return [to_view(row) for row in (await session.execute(query)).scalars()]


async def is_unfinished(session: AsyncSession, post_id: int) -> bool:
    """Queued or being published: a platform fetching the post's video by link may still need it."""
    status = await session.scalar(select(ScheduledPost.status).where(ScheduledPost.id == post_id))
    return status in _UPCOMING
