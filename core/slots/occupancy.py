"""What is already on the calendar: queued and recent posts that a new slot must not crowd."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ScheduledPost
from core.domain import Platform, PostStatus
from core.platforms.caps import PublishingCap
from core.slots.rules import CADENCE, PROJECT_CAPS

# A failed post still spent quota if it reached the platform (YouTube charges invalid calls too).
# A post awaiting approval keeps its slot: approved, it goes out there.
_LIVE = (
    PostStatus.QUEUED.value,
    PostStatus.RUNNING.value,
    PostStatus.PUBLISHED.value,
    PostStatus.AWAITING.value,
)


@dataclass
class Occupancy:
    """Taken times of one team's platform account, plus the deployment's posts per day of the
    platform's project-wide cap (YouTube's uploads per Pacific day), when it has one.

    Kept sorted with per-day counts, so checking a week of half hours against a long queue stays
    a few bisections per candidate.
    """

    platform: Platform
    day_zone: ZoneInfo  # the audience's main zone: "a day" for the daily cap
    taken: list[datetime] = field(default_factory=list)
    # Posts of every team per day of ``project_cap`` (core/platforms/<name>/caps.py).
    project_days: Counter[date] = field(default_factory=Counter)
    project_cap: PublishingCap | None = None
    _per_day: Counter[date] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.project_cap is None:
            self.project_cap = PROJECT_CAPS[self.platform]

    def conflict(self, at: datetime) -> str | None:
        """Why `at` can't take another post, or None when it can."""
        cadence = CADENCE[self.platform]
        i = bisect.bisect_left(self.taken, at)
        for other in self.taken[max(0, i - 1) : i + 1]:
            if abs(other - at) < cadence.min_gap:
                near = other.astimezone(self.day_zone)
                return f"within {_span(cadence.min_gap)} of a post at {near:%a %H:%M}"
        same_day = self._per_day[at.astimezone(self.day_zone).date()]
        if same_day >= cadence.daily_cap:
            return f"{same_day} posts already that day (cap {cadence.daily_cap})"
        cap = self.project_cap
        if cap is not None and cap.limit is not None and (day := cap.period(at)) is not None:
            if self.project_days[day] >= cap.limit:
                return (
                    f"{self.platform.label} API quota for {day:%d %b} ({cap.zone_label or cap.zone}) "
                    f"already spent on {cap.limit} {cap.counts}"
                )
        return None

    def add_taken(self, at: datetime) -> None:
        """A post of this account (queued or published) that new slots must keep clear of."""
        bisect.insort(self.taken, at)
        self._per_day[at.astimezone(self.day_zone).date()] += 1

    def take(self, at: datetime) -> None:
        """Reserve `at` for a suggestion: later ones keep clear of it and count it in the caps."""
        self.add_taken(at)
        if self.project_cap is not None and (day := self.project_cap.period(at)) is not None:
            self.project_days[day] += 1


def _span(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


async def load(
    session: AsyncSession,
    team_id: int,
    platforms: Iterable[Platform],
    now: datetime,
    until: datetime,
    day_zone: ZoneInfo,
    exclude: Collection[int] = (),
) -> dict[Platform, Occupancy]:
    """`exclude`: posts that are being moved, so their current time is free for them."""
    platforms = list(platforms)
    widest = max((CADENCE[p].min_gap for p in platforms), default=timedelta(0))
    # A day's cap counts posts earlier and later that day, and a gap reaches past either end.
    since = now - max(widest, timedelta(days=1))
    until = until + max(widest, timedelta(days=1))
    rows = await session.execute(
        select(ScheduledPost.platform, ScheduledPost.run_at, ScheduledPost.published_at).where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.platform.in_([p.value for p in platforms]),
            ScheduledPost.status.in_(_LIVE),
            ScheduledPost.run_at >= since,
            ScheduledPost.run_at <= until,
            ScheduledPost.id.not_in(list(exclude)),
        )
    )
    found = {p: Occupancy(p, day_zone) for p in platforms}
    for platform, run_at, published_at in rows:
        found[Platform(platform)].add_taken(published_at or run_at)
    for platform, occupancy in found.items():
        if occupancy.project_cap is not None and occupancy.project_cap.zone is not None:
            occupancy.project_days = await _project_posts(
                session, platform, occupancy.project_cap, since, until, exclude
            )
    return found


async def _project_posts(
    session: AsyncSession,
    platform: Platform,
    cap: PublishingCap,
    since: datetime,
    until: datetime,
    exclude: Collection[int],
) -> Counter[date]:
    """Posts per day of ``cap`` across *all* teams: they share one API project."""
    rows = await session.execute(
        select(ScheduledPost.run_at, ScheduledPost.published_at).where(
            ScheduledPost.platform == platform.value,
            or_(
                ScheduledPost.status.in_(_LIVE),
                (ScheduledPost.status == PostStatus.FAILED.value) & (ScheduledPost.attempts > 0),
            ),
            ScheduledPost.run_at >= since - timedelta(days=1),
            ScheduledPost.run_at <= until,
            ScheduledPost.id.not_in(list(exclude)),
        )
    )
    days: Counter[date] = Counter()
    for run_at, published_at in rows:
        if (day := cap.period(published_at or run_at)) is not None:
            days[day] += 1
    return days


async def project_posts_today(
    session: AsyncSession, platform: Platform, cap: PublishingCap, now: datetime
) -> int:
    """Posts that reached the platform in the day of ``cap`` that holds ``now``, across *all* teams
    (one API project): published, running, or failed after an attempt (YouTube charges those too)."""
    day = cap.period(now)
    start = cap.day_start(now)
    rows = await session.execute(
        select(ScheduledPost.run_at, ScheduledPost.published_at).where(
            ScheduledPost.platform == platform.value,
            or_(
                ScheduledPost.status.in_((PostStatus.RUNNING.value, PostStatus.PUBLISHED.value)),
                (ScheduledPost.status == PostStatus.FAILED.value) & (ScheduledPost.attempts > 0),
            ),
            # A post published today may have been due yesterday (retries, a pause, a backlog).
            ScheduledPost.run_at >= start - timedelta(days=2),
            ScheduledPost.run_at <= now,
        )
    )
    return sum(1 for run_at, published_at in rows if cap.period(published_at or run_at) == day)
