"""Instagram's publishing cap: API-published posts per account per rolling 24 hours.

Meta's pages disagree on the number: the content-publishing guide says 100 API-published posts
per 24-hour moving period (https://developers.facebook.com/docs/instagram-platform/content-publishing
#rate-limit), the content_publishing_limit reference's example answers ``quota_total: 50``
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/
content_publishing_limit), both read 6 Dec 2026. So postbot does not write either
down: the publisher asks ``GET /{ig-user-id}/content_publishing_limit`` (``config.quota_total``,
``quota_usage``) before it publishes and waits when it is spent.
"""

from __future__ import annotations

from datetime import date, timedelta

from core.platforms.caps import CapScope, PublishingCap

POSTS = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=None,
    counts="API-published posts",
    zone=None,
    window=timedelta(hours=24),
    error="code 9, subcode 2207042",
    source="https://developers.facebook.com/docs/instagram-platform/content-publishing#rate-limit",
    read_on=date(2026, 12, 6),
    note=(
        "read from content_publishing_limit (config.quota_total) before each publish: "
        "Meta's pages say 100 and 50"
    ),
)
CAPS = (POSTS,)
