"""Publishing pauses (/pause, /resume): which of a team's platforms are held.

The scheduler's claim (core/store/queue.py) leaves a paused team's due posts queued; lifting
the pause is all it takes for the next round to pick them up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ALL_PLATFORMS, PublishingPause
from core.domain import Platform


async def paused(session: AsyncSession, team_id: int) -> set[Platform] | None:
    """The team's paused platforms; None when everything is paused."""
    names = set(
        (await session.execute(select(PublishingPause.platform).where(PublishingPause.team_id == team_id)))
        .scalars()
        .all()
    )
    if ALL_PLATFORMS in names:
        return None
    return {Platform(n) for n in names}


async def pause(
    session: AsyncSession, team_id: int, platform: Platform | None, *, by: str, at: datetime
) -> bool:
    """Hold ``platform`` (None: all). False when it was held already."""
    name = platform.value if platform is not None else ALL_PLATFORMS
    existing = await session.scalar(
        select(PublishingPause.id).where(PublishingPause.team_id == team_id, PublishingPause.platform == name)
    )
    if existing is not None:
        return False
    session.add(PublishingPause(team_id=team_id, platform=name, paused_by=by, paused_at=at))
    await session.flush()
    return True


async def resume(session: AsyncSession, team_id: int, platform: Platform | None) -> list[str]:
    """Lift the pause on ``platform`` (None: every pause of the team); the names lifted."""
    query = delete(PublishingPause).where(PublishingPause.team_id == team_id)
    if platform is not None:
        query = query.where(PublishingPause.platform == platform.value)
    result = await session.execute(query.returning(PublishingPause.platform))
    return sorted(result.scalars().all())
