"""Facebook's publishing cap: API-published reels per Page per rolling 24 hours.

"Reels API is limited to 30 API-published posts within a 24-hour moving period. This limit is
enforced on the POST /{page_id}/video_reels endpoint when attempting to publish a reel. Meta
recommends that your app also enforces the publishing rate limit"
(https://developers.facebook.com/docs/video-api/guides/reels-publishing#rate-limit, read 6 Dec
2026). The page documents the number and the endpoint, not the error it answers with; the publisher
takes a refused publish step for the cap and waits an hour (core/platforms/facebook/publisher.py).
Page videos (``/{page-id}/videos``) have no documented cap of their own, only the Graph API's
rate limits (codes 4, 17, 32, 613; https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
"""

from __future__ import annotations

from datetime import date, timedelta

from core.platforms.caps import CapScope, PublishingCap

REELS_PER_DAY = 30

REELS = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=REELS_PER_DAY,
    counts="API-published reels",
    zone=None,
    window=timedelta(hours=24),
    error="a refused upload_phase=finish on /{page-id}/video_reels",
    source="https://developers.facebook.com/docs/video-api/guides/reels-publishing#rate-limit",
    read_on=date(2026, 12, 6),
    note="per Page; a video that is not a reel goes through the Video API and does not count",
)
CAPS = (REELS,)
