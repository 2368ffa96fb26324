"""The chat message that answered the command which queued a post.

A chat side records it once its reply is out; a worker reads it when an upload starts, to show the
upload's progress under that message (core/progress.py).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ScheduledPost
from core.domain import MessageRef


async def remember(session: AsyncSession, team_id: int, post_ids: Collection[int], reply: MessageRef) -> int:
    """Attach ``reply`` to the team's posts ``post_ids``; the number of posts it was attached to."""
    if not post_ids:
        return 0
    result = await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.team_id == team_id, ScheduledPost.id.in_(list(post_ids)))
        .values(reply_channel=reply.channel_id, reply_message=reply.message_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def reply_to(session: AsyncSession, post_id: int) -> MessageRef | None:
    row = (
        await session.execute(
            select(ScheduledPost.reply_channel, ScheduledPost.reply_message).where(
                ScheduledPost.id == post_id
            )
        )
    ).first()
    if row is None or not row.reply_channel or not row.reply_message:
        return None
    return MessageRef(row.reply_channel, row.reply_message)
