"""Which linked platform accounts a team can post with, as the facade asks it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import SocialAccount
from core.domain import AccountStatus, Platform, PostingAccount


async def linked_platforms(session: AsyncSession, team_id: int) -> list[Platform]:
    """Platforms with an active account, in the platforms' display order."""
    query = select(SocialAccount.platform).where(
        SocialAccount.team_id == team_id, SocialAccount.status == AccountStatus.ACTIVE.value
    )
    names = {row[0] for row in await session.execute(query)}
    return [p for p in Platform if p.value in names]


async def active_account_ids(
    session: AsyncSession, team_id: int, platforms: tuple[Platform, ...]
) -> dict[Platform, int]:
    """The account each platform's posts go out as: the most recently updated active one."""
    query = (
        select(SocialAccount.platform, SocialAccount.id)
        .where(
            SocialAccount.team_id == team_id,
            SocialAccount.platform.in_([p.value for p in platforms]),
            SocialAccount.status == AccountStatus.ACTIVE.value,
        )
        .order_by(SocialAccount.updated_at.desc())
    )
    found: dict[Platform, int] = {}
    for platform, account_id in await session.execute(query):
        found.setdefault(Platform(platform), account_id)
    return found


def posting_account(row: SocialAccount) -> PostingAccount:
    """A social_accounts row as the token sources take it."""
    return PostingAccount(row.id, Platform(row.platform), row.remote_account_id)
