"""Bluesky's publishing caps.

- Video: "there are limits on the number of video posts which can be posted per day"
  (https://docs.bsky.app/docs/tutorials/video, read 6 Dec 2026); the numbers are not fixed in the
  docs but served per account by ``app.bsky.video.getUploadLimits`` (``canUpload``,
  ``remainingDailyVideos``, ``remainingDailyBytes``, ``message``), which postbot asks before every
  upload. At launch (September 2024) Bluesky announced 25 videos or 10 GB a day, "subject to
  adjustment" (as reported in https://digitalmarketreports.com/news/25927/bluesky-adds-60-second-video-uploads-to-its-platform/).
- Records: the PDS allows an account 5,000 points per hour and 35,000 per day, a created record
  costing 3: "at most 1,666 records per hour and 11,666 records per day", answered 429
  (https://docs.bsky.app/docs/advanced-guides/rate-limits).
"""

from __future__ import annotations

from datetime import date, timedelta

from core.platforms.caps import CapScope, PublishingCap

VIDEO_DOCS = "https://docs.bsky.app/docs/tutorials/video"
RATE_LIMITS = "https://docs.bsky.app/docs/advanced-guides/rate-limits"

DAILY_VIDEOS = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=None,
    counts="video uploads (and bytes)",
    zone=None,
    window=timedelta(hours=24),
    error="getUploadLimits canUpload false",
    source=VIDEO_DOCS,
    read_on=date(2026, 12, 6),
    note="read from app.bsky.video.getUploadLimits before each upload (25 videos or 10 GB at launch)",
)
RECORDS_PER_HOUR = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=1666,
    counts="records created (posts, likes, follows)",
    zone=None,
    window=timedelta(hours=1),
    error="429 RateLimitExceeded",
    source=RATE_LIMITS,
    read_on=date(2026, 12, 6),
)
RECORDS_PER_DAY = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=11666,
    counts="records created (posts, likes, follows)",
    zone=None,
    window=timedelta(hours=24),
    error="429 RateLimitExceeded",
    source=RATE_LIMITS,
    read_on=date(2026, 12, 6),
)
CAPS = (DAILY_VIDEOS, RECORDS_PER_HOUR, RECORDS_PER_DAY)
