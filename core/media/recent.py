"""Videos people shared in chat, remembered so a later command that carries no file can find one.

Slack slash commands carry no attachments: people upload the video first, then type `/schedule`.
The chat adapter records each shared video here; the command takes the newest one the same user
shared in the same channel within the configured window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import RecentFile, Team
from core.domain import ChatContext, SharedFile, looks_like_video
from core.errors import MediaError
from core.store.teams import ensure_team

# Rows older than this help nobody (the window is minutes); dropping them keeps the table small.
_KEEP = timedelta(days=2)


def _shared(row: RecentFile) -> SharedFile:
    return SharedFile(
        file_id=row.file_id,
        channel_id=row.channel_id,
        user_id=row.user_external_id,
        name=row.name,
        mimetype=row.mimetype,
        size_bytes=row.size_bytes,
        download_url=row.download_url,
        message_ts=row.message_ts,
        shared_at=row.shared_at,
    )


async def remember(
    sessions: async_sessionmaker[AsyncSession],
    ctx: ChatContext,
    *,
    default_tz: str,
    file_id: str,
    name: str | None,
    mimetype: str | None,
    size_bytes: int | None,
    download_url: str | None,
    message_ts: str | None,
    shared_at: datetime | None = None,
) -> bool:
    """Record a file ``ctx.user_id`` shared in ``ctx.channel_id``; False (and nothing stored) if it is
    not a video. The same file reported twice (a message event, then a file_shared event) fills in
    what the first report lacked instead of making a second row."""
    if not looks_like_video(mimetype, name) or ctx.channel_id is None:
        return False
    now = shared_at or datetime.now(UTC)
    async with sessions.begin() as session:
        team = await ensure_team(session, ctx, default_tz)
        await session.flush()
        query = select(RecentFile).where(RecentFile.team_id == team.id, RecentFile.file_id == file_id)
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            try:
                async with session.begin_nested():
                    row = RecentFile(
                        team_id=team.id,
                        channel_id=ctx.channel_id,
                        user_external_id=ctx.user_id,
                        file_id=file_id,
                        shared_at=now,
                    )
                    session.add(row)
            except IntegrityError:
                row = (await session.execute(query)).scalar_one()
        row.name = row.name or name
        row.mimetype = row.mimetype or mimetype
        row.size_bytes = row.size_bytes if row.size_bytes is not None else size_bytes
        row.download_url = row.download_url or download_url
        row.message_ts = row.message_ts or message_ts
        await session.execute(
            delete(RecentFile).where(RecentFile.team_id == team.id, RecentFile.shared_at < now - _KEEP)
        )
    return True


async def latest(
    sessions: async_sessionmaker[AsyncSession],
    ctx: ChatContext,
    *,
    window: timedelta,
    now: datetime | None = None,
) -> SharedFile:
    """The newest video ``ctx.user_id`` shared in ``ctx.channel_id`` within ``window``. Only reads:
    the command that asks writes once, when it queues."""
    now = now or datetime.now(UTC)
    async with sessions() as session:
        team = select(Team.id).where(Team.chat == ctx.chat.value, Team.external_id == ctx.team_id)
        query = (
            select(RecentFile)
            .where(
                RecentFile.team_id == team.scalar_subquery(),
                RecentFile.channel_id == (ctx.channel_id or ""),
                RecentFile.user_external_id == ctx.user_id,
                RecentFile.shared_at >= now - window,
            )
            .order_by(RecentFile.shared_at.desc(), RecentFile.id.desc())
            .limit(1)
        )
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            minutes = max(1, round(window.total_seconds() / 60))
            raise MediaError(
                f"I found no video you shared in this channel in the last {minutes} minutes.",
                hint="Upload the video here first (or use the message shortcut “Schedule this post” "
                "on the message that has it), then run the command again.",
            )
        return _shared(row)


async def latest_group(
    sessions: async_sessionmaker[AsyncSession],
    ctx: ChatContext,
    *,
    window: timedelta,
    now: datetime | None = None,
) -> list[SharedFile]:
    """The videos shared with the newest one: the same message's files, or the same thread's (a file
    is remembered under its thread's root), by ``ctx.user_id`` in ``ctx.channel_id`` within
    ``window``, oldest first. Only reads."""
    newest = await latest(sessions, ctx, window=window, now=now)
    if newest.message_ts is None:
        return [newest]
    now = now or datetime.now(UTC)
    async with sessions() as session:
        team = select(Team.id).where(Team.chat == ctx.chat.value, Team.external_id == ctx.team_id)
        query = (
            select(RecentFile)
            .where(
                RecentFile.team_id == team.scalar_subquery(),
                RecentFile.channel_id == (ctx.channel_id or ""),
                RecentFile.user_external_id == ctx.user_id,
                RecentFile.message_ts == newest.message_ts,
                RecentFile.shared_at >= now - window,
            )
            .order_by(RecentFile.shared_at, RecentFile.id)
        )
        return [_shared(row) for row in (await session.execute(query)).scalars()]
