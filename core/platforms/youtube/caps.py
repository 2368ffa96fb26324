"""YouTube's publishing caps.

"Projects that enable the YouTube Data API have a default quota allocation of 100 search.list
calls, 100 videos.insert calls, and 10,000 units per day combined for all other endpoints ...
The search.list and videos.insert methods have their own quota buckets. Each of these methods has a
default daily limit of 100 per day. The quota cost is 1 per call." Daily quotas reset at midnight
Pacific Time (https://developers.google.com/youtube/v3/determine_quota_cost, read 6 Dec 2026).
The quota belongs to the Google Cloud project, so every team of this deployment shares it.
Thumbnails (50 units) and statistics (1 unit per 50 videos)
come out of the 10,000 units, far from reach at 100 uploads.
"""

from __future__ import annotations

from datetime import date, timedelta

from core.platforms.caps import CapScope, PublishingCap

UPLOADS_PER_DAY = 100
QUOTA_ZONE = "America/Los_Angeles"
SOURCE = "https://developers.google.com/youtube/v3/determine_quota_cost"

UPLOADS = PublishingCap(
    scope=CapScope.PROJECT,
    limit=UPLOADS_PER_DAY,
    counts="uploads",
    zone=QUOTA_ZONE,
    zone_label="Pacific time",
    window=timedelta(days=1),
    error="403 quotaExceeded",
    source=SOURCE,
    read_on=date(2026, 12, 6),
    note="videos.insert calls, 1 each, in their own bucket (the default); invalid calls count too",
)
# A channel may also hit YouTube's own per-channel upload limit (uploadLimitExceeded), whose number
# YouTube does not publish (https://developers.google.com/youtube/v3/docs/videos/insert#errors).
CHANNEL = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=None,
    counts="uploads",
    zone=None,
    window=timedelta(days=1),
    error="400 uploadLimitExceeded",
    source="https://developers.google.com/youtube/v3/docs/videos/insert#errors",
    read_on=date(2026, 12, 6),
    note="YouTube does not publish the number; postbot waits a day when it is reached",
)
CAPS = (UPLOADS, CHANNEL)
