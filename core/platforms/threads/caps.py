"""Threads' publishing cap: API-published posts per profile per rolling 24 hours.

"Threads profiles are limited to 250 API-published posts within a 24-hour moving period. Carousels
count as a single post. This limit is enforced on the POST /{threads-user-id}/threads_publish
endpoint when attempting to publish a media container. We recommend that your app also enforces the
publishing rate limit, especially if your app allows app users to schedule posts to be published in
the future" (https://developers.facebook.com/docs/threads/overview#posts, read 2026-12-06). The same
section documents ``GET /{threads-user-id}/threads_publishing_limit?fields=quota_usage,config``
(``config.quota_total`` 250, ``quota_duration`` 86400 in its example): the publisher asks it before
it creates a container and waits while the quota is spent, so a scheduled post never meets the
refusal at ``threads_publish``.
"""

from __future__ import annotations

from datetime import date, timedelta

from core.platforms.caps import CapScope, PublishingCap

POSTS = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=250,
    counts="API-published posts",
    zone=None,
    window=timedelta(hours=24),
    error="threads_publish refused once quota_usage reaches config.quota_total",
    source="https://developers.facebook.com/docs/threads/overview#posts",
    read_on=date(2026, 12, 6),
    note="read from threads_publishing_limit (quota_usage, config.quota_total) before each post",
)
CAPS = (POSTS,)
