"""Limits on how often postbot should post: platform quotas and audience fatigue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.domain import Platform

# YouTube Data API: a project has 10,000 units a day, reset at midnight Pacific Time, and
# videos.insert costs 1,600 units (https://developers.google.com/youtube/v3/determine_quota_cost).
# The quota belongs to the Google Cloud project — every team of this deployment shares it.
YOUTUBE_DAILY_UNITS = 10_000
YOUTUBE_UPLOAD_UNITS = 1_600
YOUTUBE_QUOTA_ZONE = "America/Los_Angeles"


def youtube_uploads_per_day(daily_units: int = YOUTUBE_DAILY_UNITS, cost: int = YOUTUBE_UPLOAD_UNITS) -> int:
    return daily_units // cost


@dataclass(frozen=True)
class Cadence:
    """Minimum spacing between two posts of one account, and posts per audience day."""

    min_gap: timedelta
    daily_cap: int


# Spacing keeps a second post from eating the first one's reach. Instagram's own API cap is 50
# API-published posts per rolling 24 h (content_publishing_limit); the caps here are far below it
# because followers tire long before that.
CADENCE: dict[Platform, Cadence] = {
    Platform.YOUTUBE: Cadence(timedelta(hours=4), youtube_uploads_per_day()),
    Platform.INSTAGRAM: Cadence(timedelta(hours=3), 3),
    Platform.TIKTOK: Cadence(timedelta(hours=2), 4),
    Platform.X: Cadence(timedelta(minutes=45), 8),
    Platform.LINKEDIN: Cadence(timedelta(hours=12), 2),
    Platform.SANDBOX: Cadence(timedelta(minutes=30), 24),
}
