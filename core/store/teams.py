"""Turning a chat context into team and user rows (created on first sight), and reading them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Team, User
from core.domain import ChatContext


async def ensure_team(session: AsyncSession, ctx: ChatContext, default_tz: str) -> Team:
    query = select(Team).where(Team.chat == ctx.chat.value, Team.external_id == ctx.team_id)
    team = (await session.execute(query)).scalar_one_or_none()
    if team is not None:
        if ctx.team_name and team.name != ctx.team_name:
            team.name = ctx.team_name
        return team
    try:
        async with session.begin_nested():
            team = Team(chat=ctx.chat.value, external_id=ctx.team_id, name=ctx.team_name, timezone=default_tz)
            session.add(team)
    except IntegrityError:
        # Another process created it between our read and our insert.
        team = (await session.execute(query)).scalar_one()
    return team


async def ensure_user(session: AsyncSession, team: Team, ctx: ChatContext) -> User:
    query = select(User).where(User.team_id == team.id, User.external_id == ctx.user_id)
    user = (await session.execute(query)).scalar_one_or_none()
    if user is None:
        try:
            async with session.begin_nested():
                user = User(team_id=team.id, external_id=ctx.user_id)
                session.add(user)
        except IntegrityError:
            user = (await session.execute(query)).scalar_one()
    # The chat platform is the authority on names, zones and roles: refresh them on every command.
    if ctx.user_name:
        user.display_name = ctx.user_name
    if ctx.user_tz:
        user.timezone = ctx.user_tz
    user.is_admin = ctx.is_admin
    return user


async def ensure_team_user(session: AsyncSession, ctx: ChatContext, default_tz: str) -> tuple[Team, User]:
    team = await ensure_team(session, ctx, default_tz)
    user = await ensure_user(session, team, ctx)
    await session.flush()
    return team, user


async def stored_zones(session: AsyncSession, ctx: ChatContext) -> tuple[str | None, str | None]:
    """The zones stored for ``ctx``'s user and team (None where unknown), read without creating rows."""
    user_row = and_(User.team_id == Team.id, User.external_id == ctx.user_id)
    query = (
        select(User.timezone, Team.timezone)
        .select_from(Team)
        .outerjoin(User, user_row)
        .where(Team.chat == ctx.chat.value, Team.external_id == ctx.team_id)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else (None, None)


@dataclass(frozen=True)
class Member:
    """A chat context as stored: the row ids the other stores key on, and the zone its times are read
    and shown in (the chat's own say, else the user's, else the team's, else the default)."""

    team_id: int
    user_id: int
    zone: str


async def member(session: AsyncSession, ctx: ChatContext, default_tz: str) -> Member:
    """``ctx``'s team and user, created on first sight and refreshed from the chat."""
    team, user = await ensure_team_user(session, ctx, default_tz)
    return Member(team.id, user.id, ctx.user_tz or user.timezone or team.timezone or default_tz)


async def set_zone(
    session: AsyncSession, ctx: ChatContext, zone: str, *, team_wide: bool, default_tz: str
) -> None:
    """Store ``zone`` as ``ctx``'s user's own zone, or (``team_wide``) the team's default."""
    team, user = await ensure_team_user(session, ctx, default_tz)
    if team_wide:
        team.timezone = zone
    else:
        user.timezone = zone


async def find(session: AsyncSession, ctx: ChatContext) -> int | None:
    """The id of ``ctx``'s team if it has one here, read without creating it."""
    query = select(Team.id).where(Team.chat == ctx.chat.value, Team.external_id == ctx.team_id)
    return (await session.execute(query)).scalar_one_or_none()
