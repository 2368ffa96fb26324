"""The posting schedule as commands use it: show and change a channel's slots, and place posts in
the next free ones. Runs inside the facade's transaction (core/service)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Team
from core.domain import Platform, PlatformSlots, platform_from_alias
from core.errors import UserError
from core.platforms import registry
from core.render import example_platform
from core.schedule import store
from core.schedule.store import channel_key as channel_key
from core.timeparse.weekly import clock, parse_weekly

# One a hour every day: above any platform's documented daily posting cap, yet a schedule that
# /slots can still show in one chat message and /slots add writes in well under a second.
MAX_WEEKLY_SLOTS = 7 * 24
# How far ahead the schedule's free slots are shown (they are claimed up to the scheduling horizon).
SHOW_AHEAD = timedelta(days=28)
_ONE = example_platform(registry.infos())
USAGE = (
    f"/slots shows this channel's schedule; /slots add mon,wed,fri 18:00 {_ONE} adds "
    f"slots; /slots remove fri 18:00 {_ONE} removes some; /slots clear [platform] "
    "removes all (of one platform)."
)


async def team_zone(session: AsyncSession, team_id: int, default_tz: str) -> str:
    """The zone a team's schedule is kept in: the team's, not the person asking."""
    team = await session.get(Team, team_id)
    return (team.timezone if team is not None else None) or default_tz


def _order(platform: Platform) -> int:
    return [i.platform for i in registry.infos()].index(platform)


async def rows(
    session: AsyncSession,
    team_id: int,
    channel: str,
    tz: str,
    now: datetime,
    *,
    n: int = 3,
) -> list[PlatformSlots]:
    """Each platform's weekly slots in the channel and its next ``n`` free instants."""
    found = []
    schedule = await store.weekly(session, team_id, channel)
    until = now + SHOW_AHEAD
    for platform in sorted(schedule, key=_order):
        weekly = schedule[platform]
        busy = await store.taken(session, team_id, channel, platform, now, until)
        free = store.free_after(weekly, tz, busy, after=now, until=until, n=n)
        found.append(PlatformSlots(platform, tuple(weekly), tuple(o.at for o in free)))
    return found


async def channel_rows(
    session: AsyncSession, team_id: int, channels: Sequence[str], tz: str, now: datetime
) -> list[PlatformSlots]:
    """Each of ``channels``' schedules (those that have one) with each platform's next free slot."""
    # One query finds which of a member's (possibly hundreds of) channels have a schedule at all.
    with_slots = await store.scheduled_channels(session, team_id, channels)
    found = []
    for channel in sorted(with_slots):
        found += [
            replace(row, channel=channel) for row in await rows(session, team_id, channel, tz, now, n=1)
        ]
    return found


@dataclass(frozen=True)
class Change:
    """What ``/slots <text>`` asks for."""

    action: str  # show, add, remove, clear
    platforms: tuple[Platform, ...] = ()
    slots: tuple[tuple[int, int], ...] = ()


def read_change(text: str) -> Change:
    words = text.split(maxsplit=1)
    action = words[0].lower() if words else "show"
    rest = words[1] if len(words) > 1 else ""
    if action in ("show", "list"):
        return Change("show")
    if action in ("add", "remove", "delete", "rm"):
        spec = parse_weekly(rest)
        slots = tuple((d, m) for d in spec.days for m in spec.minutes)
        return Change("add" if action == "add" else "remove", spec.platforms, slots)
    if action == "clear":
        named = []
        for word in re.split(r"[\s,]+", rest.strip()):
            if not word or word.lower() in ("all", "everything"):
                continue
            platform = platform_from_alias(word)
            if platform is None:
                raise UserError(f"I don't know the platform {word[:40]!r}.", hint=USAGE)
            named.append(platform)
        return Change("clear", tuple(dict.fromkeys(named)))
    raise UserError(f"'{action[:40]}' is not something slots does.", hint=USAGE)


async def apply(session: AsyncSession, team_id: int, channel: str, change: Change, *, by: str) -> str:
    """Make ``change``; what to tell the person who asked."""
    if change.action == "add":
        schedule = await store.weekly(session, team_id, channel)
        for platform in change.platforms:
            have = set(schedule.get(platform, ()))
            if len(have | set(change.slots)) > MAX_WEEKLY_SLOTS:
                raise UserError(
                    f"This channel has {len(have)} {platform.label} slots; {len(set(change.slots))} "
                    f"more would be over the limit: at most {MAX_WEEKLY_SLOTS} weekly slots per "
                    "platform (one an hour).",
                    hint="Remove some with /slots remove, or add fewer times.",
                )
        added = 0
        for platform in change.platforms:
            added += await store.add(session, team_id, channel, platform, change.slots, by=by)
        labels = " and ".join(p.label for p in change.platforms)
        if not added:
            return f"This channel already has those {labels} slots."
        return f"Added {added} {labels} slot{'s' if added != 1 else ''}."
    if change.action == "remove":
        removed = 0
        for platform in change.platforms:
            removed += await store.remove(session, team_id, channel, platform, change.slots)
        shown = ", ".join(clock(m) for m in sorted({m for _, m in change.slots}))
        if not removed:
            return f"This channel has no such slots ({shown})."
        return f"Removed {removed} slot{'s' if removed != 1 else ''}. Posts already placed in them stay."
    if change.action == "clear":
        removed = 0
        for one in change.platforms or (None,):
            removed += await store.clear(session, team_id, channel, one)
        whose = " and ".join(p.label for p in change.platforms) + " " if change.platforms else ""
        if not removed:
            return f"This channel had no {whose}slots."
        plural = "s" if removed != 1 else ""
        return f"Removed all {removed} {whose}slot{plural}. Posts already placed in them stay."
    return ""


@dataclass
class Placement:
    """Slots claimed for posts about to be queued, tied to them once they are (see settle)."""

    at: dict[Platform, datetime] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    claims: dict[Platform, int] = field(default_factory=dict)


async def place_next(
    session: AsyncSession,
    team_id: int,
    channel: str,
    platforms: Sequence[Platform],
    tz: str,
    *,
    now: datetime,
    horizon: timedelta,
) -> Placement:
    """Claim each platform's next free slot; refused (nothing claimed) when a platform has no
    slots in this channel or none free within the horizon."""
    schedule = await store.weekly(session, team_id, channel)
    missing = [p for p in platforms if not schedule.get(p)]
    if missing:
        labels = " and ".join(p.label for p in missing)
        first = missing[0].value
        raise UserError(
            f"This channel has no posting schedule for {labels}.",
            hint=f"An admin can add one with /slots add mon,wed,fri 18:00 {first}; "
            "or give a time instead of next.",
        )
    placement = Placement()
    for platform in platforms:
        found = await store.claim_next(
            session, team_id, channel, platform, schedule[platform], tz, after=now, until=now + horizon
        )
        if not found:
            raise UserError(
                f"Every {platform.label} slot of this channel is taken for the next {horizon.days} days.",
                hint="Add slots with /slots add, or give a time instead of next.",
            )
        claimed = found[0]
        placement.at[platform] = claimed.at
        placement.claims[platform] = claimed.claim_id
        if claimed.note:
            placement.notes.append(f"{platform.label}: {claimed.note}")
    return placement


PLACED = "Placed in the schedule's next free slot"


def placed_note(placement: Placement, tz: str) -> str:
    """ "Placed in the schedule's next free slot: YouTube Mon 7 Dec 18:00 (Europe/Berlin)." """
    from zoneinfo import ZoneInfo

    def shown(at: datetime) -> str:
        local = at.astimezone(ZoneInfo(tz))
        return f"{local:%a} {local.day} {local:%b} {local:%H:%M}"

    parts = [f"{p.label} {shown(at)}" for p, at in placement.at.items()]
    several = "s" if len(parts) > 1 else ""
    return f"{PLACED}{several}: {', '.join(parts)} ({tz})."


async def settle(
    session: AsyncSession, placement: Placement, posts: dict[Platform, int], duplicate: bool
) -> None:
    """Tie the claims to the posts queued in them, or give them back when nothing was queued."""
    if duplicate:
        await store.release(session, list(placement.claims.values()))
        return
    await store.attach(session, {cid: posts[p] for p, cid in placement.claims.items() if p in posts})
