"""A channel's weekly slots, and claiming the next free one for a post.

Free means no post of that channel and platform waits at that instant (queued, running, or awaiting
approval), whether it was placed with ``next`` or given that time by hand. Two commands at once may
both read a slot as free: the claim's unique key decides, so the second one's insert fails (inside
a savepoint, so its transaction goes on) and it takes the next free slot instead. A claim whose post
was cancelled, failed or moved holds nothing and is dropped by the next claim of its slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import PostingSlot, ScheduledPost, SlotClaim
from core.domain import Platform
from core.schedule.week import Occurrence, occurrences

# Statuses of a post that still holds its slot. "awaiting" is a post held for approval (issue 24,
# item 1): it will go out at its time once approved, so its slot is not free.
HOLDING = ("queued", "running", "awaiting")


def channel_key(channel: str | None) -> str:
    """The channel a schedule belongs to; "" where the chat has none (the console)."""
    return channel or ""


@dataclass(frozen=True)
class Claimed:
    platform: Platform
    at: datetime
    note: str | None
    claim_id: int


async def weekly(
    session: AsyncSession, team_id: int, channel: str, platform: Platform | None = None
) -> dict[Platform, list[tuple[int, int]]]:
    """The channel's slots per platform, (weekday, minute) in week order."""
    query = select(PostingSlot.platform, PostingSlot.weekday, PostingSlot.minute).where(
        PostingSlot.team_id == team_id, PostingSlot.channel_id == channel
    )
    if platform is not None:
        query = query.where(PostingSlot.platform == platform.value)
    found: dict[Platform, list[tuple[int, int]]] = {}
    for name, weekday, minute in (await session.execute(query)).all():
        try:
            key = Platform(name)
        except ValueError:
            continue  # a platform this build no longer has
        found.setdefault(key, []).append((weekday, minute))
    return {p: sorted(s) for p, s in found.items()}


async def scheduled_channels(session: AsyncSession, team_id: int, channels: Sequence[str]) -> set[str]:
    """Which of ``channels`` have any weekly slot."""
    if not channels:
        return set()
    query = (
        select(PostingSlot.channel_id)
        .where(PostingSlot.team_id == team_id, PostingSlot.channel_id.in_(list(channels)))
        .distinct()
    )
    return set((await session.execute(query)).scalars().all())


async def add(
    session: AsyncSession,
    team_id: int,
    channel: str,
    platform: Platform,
    slots: Sequence[tuple[int, int]],
    *,
    by: str,
) -> int:
    """Add weekly slots; those the channel has already are left as they are. How many were new."""
    have = set((await weekly(session, team_id, channel, platform)).get(platform, []))
    new = [s for s in dict.fromkeys(slots) if s not in have]
    for weekday, minute in new:
        try:
            # Two admins adding the same slot at once: the second one's row is simply not needed.
            async with session.begin_nested():
                session.add(
                    PostingSlot(
                        team_id=team_id,
                        channel_id=channel,
                        platform=platform.value,
                        weekday=weekday,
                        minute=minute,
                        created_by=by,
                    )
                )
        except IntegrityError:
            pass
    return len(new)


async def clear(session: AsyncSession, team_id: int, channel: str, platform: Platform | None) -> int:
    """Remove the channel's slots (of one platform); how many there were. Posts already placed in
    them stay where they are."""
    query = delete(PostingSlot).where(PostingSlot.team_id == team_id, PostingSlot.channel_id == channel)
    if platform is not None:
        query = query.where(PostingSlot.platform == platform.value)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


async def remove(
    session: AsyncSession, team_id: int, channel: str, platform: Platform, slots: Sequence[tuple[int, int]]
) -> int:
    """Remove some weekly slots; how many the channel had."""
    removed = 0
    for weekday, minute in dict.fromkeys(slots):
        result = await session.execute(
            delete(PostingSlot).where(
                PostingSlot.team_id == team_id,
                PostingSlot.channel_id == channel,
                PostingSlot.platform == platform.value,
                PostingSlot.weekday == weekday,
                PostingSlot.minute == minute,
            )
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


def _origin(channel: str) -> ColumnElement[bool]:
    return ScheduledPost.origin_channel.is_(None) if not channel else ScheduledPost.origin_channel == channel


async def taken(
    session: AsyncSession,
    team_id: int,
    channel: str,
    platform: Platform,
    after: datetime,
    until: datetime,
) -> set[datetime]:
    """Instants between ``after`` and ``until`` where a post of the channel and platform waits."""
    # Equivalent mutant: either bound left out, or ``>=`` for ``>``: the answer is only asked about
    # slot occurrences, which are strictly after ``after`` and up to ``until`` (week.occurrences).
    query = select(ScheduledPost.run_at).where(
        ScheduledPost.team_id == team_id,
        _origin(channel),
        ScheduledPost.platform == platform.value,
        ScheduledPost.status.in_(HOLDING),
        ScheduledPost.run_at > after,
        ScheduledPost.run_at <= until,
    )
    return set((await session.execute(query)).scalars().all())


def _alive() -> ColumnElement[bool]:
    """The claim's post still waits at the claimed instant."""
    return exists().where(
        ScheduledPost.id == SlotClaim.post_id,
        ScheduledPost.status.in_(HOLDING),
        ScheduledPost.run_at == SlotClaim.slot_at,
    )


async def _claim(
    session: AsyncSession, team_id: int, channel: str, platform: Platform, at: datetime
) -> int | None:
    """Take ``at`` for a post about to be queued; None when another command holds it."""
    same = and_(
        SlotClaim.team_id == team_id,
        SlotClaim.channel_id == channel,
        SlotClaim.platform == platform.value,
        SlotClaim.slot_at == at,
    )
    # A claim whose post no longer waits there (cancelled, failed, moved) holds nothing. Another
    # command's claim still being made is not visible here; the insert below meets its key instead.
    # This DELETE also opens the transaction before the savepoint: on SQLite a SAVEPOINT that opens
    # it would commit it when released, the claim going out before its post (and without it).
    # Equivalent mutants: the execution options dropped, None or a key misspelt (SQLAlchemy ignores
    # an unknown one): "auto" then also looks for the deleted rows among this session's objects, and
    # the only claims there are this command's own, at other instants or platforms.
    await session.execute(
        delete(SlotClaim).where(same, ~_alive()), execution_options={"synchronize_session": False}
    )
    try:
        async with session.begin_nested():
            row = SlotClaim(team_id=team_id, channel_id=channel, platform=platform.value, slot_at=at)
            session.add(row)
            await session.flush()
            return row.id
    except IntegrityError:
        return None


async def claim_next(
    session: AsyncSession,
    team_id: int,
    channel: str,
    platform: Platform,
    slots: Sequence[tuple[int, int]],
    tz: str,
    *,
    after: datetime,
    until: datetime,
    count: int = 1,
) -> list[Claimed]:
    """Claim the next ``count`` free slots after ``after`` (fewer when the horizon runs out)."""
    busy = await taken(session, team_id, channel, platform, after, until)
    found: list[Claimed] = []
    for occurrence in occurrences(slots, tz, after, until):
        if len(found) == count:
            break
        if occurrence.at in busy:
            continue
        claim_id = await _claim(session, team_id, channel, platform, occurrence.at)
        if claim_id is not None:
            found.append(Claimed(platform, occurrence.at, occurrence.note, claim_id))
    return found


async def attach(session: AsyncSession, claims: dict[int, int]) -> None:
    """Tie each claim (id → post id) to the post queued in it, in the claiming transaction."""
    for claim_id, post_id in claims.items():
        row = await session.get(SlotClaim, claim_id)
        if row is not None:
            row.post_id = post_id
    await session.flush()


async def release(session: AsyncSession, claim_ids: Sequence[int]) -> None:
    """Give back claims nothing was queued in (a redelivered command answered as a duplicate)."""
    if claim_ids:
        # Equivalent mutant: the execution options dropped, None or a key misspelt: "auto" also
        # forgets the released claims in this session, which reads none of them again.
        await session.execute(
            delete(SlotClaim).where(SlotClaim.id.in_(claim_ids)),
            execution_options={"synchronize_session": False},
        )


def free_after(
    slots: Sequence[tuple[int, int]],
    tz: str,
    busy: set[datetime],
    *,
    after: datetime,
    until: datetime,
    n: int,
) -> list[Occurrence]:
    """The next ``n`` slot instants no post waits at (for showing the schedule)."""
    out: list[Occurrence] = []
    for occurrence in occurrences(slots, tz, after, until):
        if len(out) == n:
            break
        if occurrence.at not in busy:
            out.append(occurrence)
    return out
