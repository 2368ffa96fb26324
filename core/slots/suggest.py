"""Ranking candidate times per platform: priors, audience zones and own history, minus conflicts."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import Platform, Slot
from core.slots import history as history_mod
from core.slots import occupancy as occupancy_mod
from core.slots.audience import AudienceZone, parse_audience
from core.slots.priors import prior

HORIZON = timedelta(days=7)
# A slot needs time for the upload to be queued and processed before it is due.
LEAD = timedelta(minutes=20)
STEP = timedelta(minutes=30)
# Among equally good slots the sooner one wins, by a little: a week-away peak still beats a trough.
DECAY_PER_DAY = 0.015


@dataclass(frozen=True)
class _Scored:
    at: datetime
    score: float
    prior: float
    label: str | None
    label_share: float
    boost: float
    boost_posts: float
    # The team's own posts on this platform published in this hour's bucket.
    own_posts: int = 0


def _candidates(
    now: datetime, tz: ZoneInfo, window: tuple[datetime, datetime] | None = None
) -> list[datetime]:
    """Every half hour (on the user's wall clock) from `now + LEAD` for HORIZON, or within `window`."""
    start, end = (
        (now + LEAD, now + LEAD + HORIZON) if window is None else (max(window[0], now + LEAD), window[1])
    )
    local = start.astimezone(tz)
    # Round up to the next :00 or :30 of the user's wall clock.
    first = local.replace(minute=30 if local.minute < 30 else 0, second=0, microsecond=0)
    if local.minute >= 30:
        first += timedelta(hours=1)
    if local.minute in (0, 30) and local.second == 0 and local.microsecond == 0:
        first = local
    at = first.astimezone(UTC)
    found = []
    while at < end:
        found.append(at)
        at += STEP
    return found


def _score(
    platform: Platform,
    at: datetime,
    now: datetime,
    audience: Sequence[AudienceZone],
    history: history_mod.History,
) -> _Scored:
    total = 0.0
    labels: dict[str, float] = {}
    for zone in audience:
        weight, label = prior(platform, at.astimezone(zone.tzinfo))
        total += zone.share * weight
        if label is not None:
            labels[label] = labels.get(label, 0.0) + zone.share
    local = at.astimezone(audience[0].tzinfo)
    boost, posts = history.adjust(local)
    decay = 1 - DECAY_PER_DAY * ((at - now) / timedelta(days=1))
    label, share = max(labels.items(), key=lambda kv: kv[1]) if labels else (None, 0.0)
    return _Scored(at, total * boost * decay, total, label, share, boost, posts, history.posts_at(local))


def _reason(platform: Platform, s: _Scored, audience: Sequence[AudienceZone]) -> str:
    if s.label is None:
        why = f"outside {platform.label}'s documented peaks, but free"
    elif len(audience) == 1:
        why = f"{platform.label} {s.label} ({audience[0].zone})"
    else:
        why = f"{platform.label} {s.label} for {s.label_share:.0%} of your audience"
    if s.boost_posts >= 1 and abs(s.boost - 1) >= 0.1:
        direction = "better" if s.boost > 1 else "worse"
        if s.own_posts:
            many = f"{s.own_posts} {platform.label} post{'s' if s.own_posts != 1 else ''}"
            why += f"; your {many} at this hour did {s.boost:.1f}x your median ({direction})"
        else:
            why += f"; your posts around this hour did {s.boost:.1f}x your median ({direction})"
    # No time here: every chat shows the slot's time itself, in the reader's zone and with it.
    return why


async def suggest(
    session: AsyncSession,
    team_id: int,
    platforms: Iterable[Platform],
    now: datetime,
    tz: str,
    n: int = 3,
    *,
    audience_timezones: Sequence[str] = (),
    exclude_posts: Collection[int] = (),
) -> dict[Platform, list[Slot]]:
    """The best `n` free slots per platform in the coming week, best first, each with a reason.

    `tz` is the asking user's zone (how times and reasons are shown, and the audience when no
    `audience_timezones` are configured). `exclude_posts`: posts being moved, whose current
    times must not block their new slot.
    """
    platforms = list(dict.fromkeys(platforms))
    user_zone = ZoneInfo(tz)
    audience = parse_audience(audience_timezones, tz)
    main_zone = audience[0].tzinfo
    candidates = _candidates(now, user_zone)
    until = now + HORIZON + LEAD
    taken = await occupancy_mod.load(session, team_id, platforms, now, until, main_zone, exclude_posts)
    result: dict[Platform, list[Slot]] = {}
    for platform in platforms:
        past = await history_mod.load(session, team_id, platform, now, main_zone)
        ranked = sorted(
            (_score(platform, at, now, audience, past) for at in candidates),
            key=lambda s: (-s.score, s.at),
        )
        occupancy = taken[platform]
        chosen: list[Slot] = []
        for scored in ranked:
            if len(chosen) >= n:
                break
            if occupancy.conflict(scored.at) is not None:
                continue
            # Suggestions are alternatives, not a plan, but spacing them like posts keeps them
            # from being three neighbouring half hours of the same peak.
            occupancy.take(scored.at)
            reason = _reason(platform, scored, audience)
            chosen.append(Slot(scored.at, round(scored.score, 3), reason))
        result[platform] = chosen
    return result


async def best_common_slot(
    session: AsyncSession,
    team_id: int,
    platforms: Iterable[Platform],
    now: datetime,
    tz: str,
    *,
    audience_timezones: Sequence[str] = (),
    exclude_posts: Collection[int] = (),
    between: tuple[datetime, datetime] | None = None,
) -> Slot | None:
    """One time for a whole batch (`/schedule best yt,ig ...`): free on every platform, best on
    average. `between` (start inclusive, end exclusive) narrows it, e.g. to the day a user named
    without a time. None when no candidate half hour is free everywhere."""
    platforms = list(dict.fromkeys(platforms))
    if not platforms:
        return None
    user_zone = ZoneInfo(tz)
    audience = parse_audience(audience_timezones, tz)
    main_zone = audience[0].tzinfo
    until = now + HORIZON + LEAD if between is None else max(between[1], now)
    taken = await occupancy_mod.load(session, team_id, platforms, now, until, main_zone, exclude_posts)
    pasts = {p: await history_mod.load(session, team_id, p, now, main_zone) for p in platforms}
    best: tuple[float, datetime, list[_Scored]] | None = None
    for at in _candidates(now, user_zone, between):
        if any(taken[p].conflict(at) is not None for p in platforms):
            continue
        scored = [_score(p, at, now, audience, pasts[p]) for p in platforms]
        mean = sum(s.score for s in scored) / len(scored)
        if best is None or mean > best[0]:
            best = (mean, at, scored)
    if best is None:
        return None
    mean, at, scored = best
    # The reason speaks for the platform that gains most from this time.
    lead_platform, lead = max(zip(platforms, scored, strict=True), key=lambda ps: ps[1].score)
    reason = _reason(lead_platform, lead, audience)
    if len(platforms) > 1:
        reason += f" (free on all {len(platforms)} platforms)"
    return Slot(at, round(mean, 3), reason)
