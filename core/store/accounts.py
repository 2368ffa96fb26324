"""Which linked platform accounts a team can post with, as the facade asks it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import AccountDefault, SocialAccount
from core.domain import AccountStatus, Platform, PostingAccount
from core.errors import UserError


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


def handle_key(text: str) -> str:
    """How handles are compared: "@Brand", "brand" and "BRAND" are one account."""
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch in "._-")


def handle_of(row: SocialAccount) -> str:
    """What ``platform@handle`` names an account by: its display name (YouTube's @handle, ...)."""
    return (row.display_name or row.remote_account_id).lstrip("@")


def handle_matches(handle: str, row: SocialAccount) -> bool:
    wanted = handle_key(handle.lstrip("@"))
    return wanted in {handle_key(handle_of(row)), handle_key(row.remote_account_id)}


async def channel_defaults(session: AsyncSession, team_id: int, channel: str | None) -> dict[Platform, int]:
    """The account an admin made the default for each platform in ``channel``."""
    if channel is None:
        return {}
    query = select(AccountDefault.platform, AccountDefault.account_id).where(
        AccountDefault.team_id == team_id, AccountDefault.channel_id == channel
    )
    return {Platform(p): a for p, a in await session.execute(query)}


def _usual(rows: list[SocialAccount], default: int | None) -> SocialAccount | None:
    """The account a post without a handle goes out as: the channel's default while it is active,
    else the most recently (re)linked active one (``rows`` come newest first)."""
    active = [r for r in rows if r.status == AccountStatus.ACTIVE.value]
    return next((r for r in active if r.id == default), active[0] if active else None)


async def usual_accounts(session: AsyncSession, team_id: int, channel: str | None) -> set[int]:
    """Per platform, the id of the account a post from ``channel`` goes to when it names none."""
    rows = await _rows(session, team_id, tuple(Platform))
    defaults = await channel_defaults(session, team_id, channel)
    found = {_usual(r, defaults.get(p)) for p, r in rows.items()}
    return {a.id for a in found if a is not None}


async def _rows(
    session: AsyncSession, team_id: int, platforms: tuple[Platform, ...]
) -> dict[Platform, list[SocialAccount]]:
    query = (
        select(SocialAccount)
        .where(
            SocialAccount.team_id == team_id,
            SocialAccount.platform.in_([p.value for p in platforms]),
        )
        .order_by(SocialAccount.updated_at.desc(), SocialAccount.id.desc())
    )
    rows: dict[Platform, list[SocialAccount]] = {}
    for row in (await session.execute(query)).scalars():
        rows.setdefault(Platform(row.platform), []).append(row)
    return rows


async def set_default(
    session: AsyncSession,
    team_id: int,
    channel: str,
    platform: Platform,
    handle: str,
    *,
    by: str,
    at: datetime,
) -> SocialAccount:
    """Make the account ``platform@handle`` the default for ``channel``; refuses naming the linked ones."""
    rows = (await _rows(session, team_id, (platform,))).get(platform, [])
    match = next((r for r in rows if handle_matches(handle, r)), None)
    if match is None:
        names = ", ".join(f"{platform.value}@{handle_of(r)}" for r in rows) or "none"
        raise UserError(
            f"No {platform.label} account @{handle.lstrip('@')} is linked (linked: {names}).",
            hint=f"An admin links another with /link {platform.value}.",
        )
    current = (
        await session.execute(
            select(AccountDefault).where(
                AccountDefault.team_id == team_id,
                AccountDefault.channel_id == channel,
                AccountDefault.platform == platform.value,
            )
        )
    ).scalar_one_or_none()
    if current is None:
        session.add(
            AccountDefault(
                team_id=team_id,
                channel_id=channel,
                platform=platform.value,
                account_id=match.id,
                set_by=by,
                set_at=at,
            )
        )
    else:
        current.account_id, current.set_by, current.set_at = match.id, by, at
    await session.flush()
    return match


async def choose_accounts(
    session: AsyncSession,
    team_id: int,
    platforms: tuple[Platform, ...],
    handles: dict[Platform, str],
    channel: str | None = None,
) -> tuple[dict[Platform, int], dict[str, list[str]]]:
    """The account each platform's post goes out as, and what is wrong (by platform name).

    A handle picks that account; without one, the channel's default (an admin's choice), else the
    most recently (re)linked active account.
    """
    rows = await _rows(session, team_id, platforms)
    defaults = await channel_defaults(session, team_id, channel)
    found: dict[Platform, int] = {}
    problems: dict[str, list[str]] = {}
    for platform in platforms:
        linked = rows.get(platform, [])
        active = [r for r in linked if r.status == AccountStatus.ACTIVE.value]
        handle = handles.get(platform)
        if handle is None:
            usual = _usual(linked, defaults.get(platform))
            if usual is not None:
                found[platform] = usual.id
            continue
        match = next((r for r in linked if handle_matches(handle, r)), None)
        names = ", ".join(f"{platform.value}@{handle_of(r)}" for r in active) or "none"
        if match is None:
            problems.setdefault(platform.value, []).append(
                f"no {platform.label} account @{handle} is linked (linked: {names})."
            )
        elif match.status != AccountStatus.ACTIVE.value:
            problems.setdefault(platform.value, []).append(
                f"the {platform.label} account @{handle_of(match)} is {match.status}: an admin can link it "
                f"again with /link {platform.value}."
            )
        else:
            found[platform] = match.id
    return found, problems


def posting_account(row: SocialAccount) -> PostingAccount:
    """A social_accounts row as the token sources take it."""
    return PostingAccount(row.id, Platform(row.platform), row.remote_account_id)
