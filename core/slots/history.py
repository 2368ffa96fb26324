"""The team's own results: hours whose posts beat the team's usual reach count for more.

Each published post with metrics gets an engagement figure (views + 5·likes + 10·comments, so a
reaction counts for more than a glance) divided by the team's median for that platform. Posts are
grouped by (weekday or weekend, hour) in the audience's main zone, with a neighbouring hour
counting half. A group's multiplier is shrunk towards 1 with a prior of SHRINK pseudo-posts, so two
lucky posts do not move the suggestions much, and clipped to [0.5, 2].
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ScheduledPost
from core.domain import Platform, PostStatus

SHRINK = 3.0
MIN_POSTS = 3  # below this a median means nothing
LOOKBACK = timedelta(days=180)

Bucket = tuple[bool, int]  # (weekend?, hour)


def engagement(views: int | None, likes: int | None, comments: int | None) -> float:
    return float((views or 0) + 5 * (likes or 0) + 10 * (comments or 0))


def bucket(local: datetime) -> Bucket:
    return local.weekday() >= 5, local.hour


@dataclass(frozen=True)
class History:
    multipliers: dict[Bucket, tuple[float, float]]  # bucket → (multiplier, posts behind it)
    # Posts published in the bucket itself (neighbours not counted), for the reason's wording.
    counts: dict[Bucket, int] = field(default_factory=dict)

    def adjust(self, local: datetime) -> tuple[float, float]:
        return self.multipliers.get(bucket(local), (1.0, 0.0))

    def posts_at(self, local: datetime) -> int:
        return self.counts.get(bucket(local), 0)

    @classmethod
    def from_posts(cls, posts: list[tuple[datetime, float]], zone: ZoneInfo) -> History:
        if len(posts) < MIN_POSTS:
            return cls({})
        median = statistics.median(e for _, e in posts) or 1.0
        sums: dict[Bucket, float] = defaultdict(float)
        weights: dict[Bucket, float] = defaultdict(float)
        counts: dict[Bucket, int] = defaultdict(int)
        for at, value in posts:
            weekend, hour = bucket(at.astimezone(zone))
            counts[(weekend, hour)] += 1
            ratio = value / median
            for offset, w in ((0, 1.0), (-1, 0.5), (1, 0.5)):
                key = (weekend, (hour + offset) % 24)
                sums[key] += w * ratio
                weights[key] += w
        return cls(
            {
                key: (min(2.0, max(0.5, (sums[key] + SHRINK) / (weights[key] + SHRINK))), weights[key])
                for key in sums
            },
            dict(counts),
        )


async def load(
    session: AsyncSession, team_id: int, platform: Platform, now: datetime, zone: ZoneInfo
) -> History:
    rows = await session.execute(
        select(
            ScheduledPost.published_at, ScheduledPost.views, ScheduledPost.likes, ScheduledPost.comments
        ).where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.platform == platform.value,
            ScheduledPost.status == PostStatus.PUBLISHED.value,
            ScheduledPost.metrics_fetched_at.is_not(None),
            # Settled without numbers (the post is gone from the platform): nothing to learn.
            ScheduledPost.views.is_not(None),
            ScheduledPost.published_at >= now - LOOKBACK,
        )
    )
    posts = [(at, engagement(v, lk, c)) for at, v, lk, c in rows if at is not None]
    return History.from_posts(posts, zone)
