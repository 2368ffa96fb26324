"""TikTok's publishing caps for the Content Posting API (Direct Post).

- Per creator: "the daily post cap from the API is reached for the current user" is the error
  ``spam_risk_too_many_posts``; TikTok does not publish the number
  (https://developers.tiktok.com/doc/content-posting-api-reference-direct-post, error codes).
- Per client before its audit: "Unaudited API Clients can allow up to 5 users to post in a 24 hour
  window" (``reached_active_user_cap``) and post ``SELF_ONLY``
  (https://developers.tiktok.com/doc/content-sharing-guidelines/).
- Per access token: 6 ``video/init`` requests a minute (the Direct Post reference), a rate limit
  rather than a cap. All read 6 Dec 2026.
"""

from __future__ import annotations

from datetime import date, timedelta

from core.platforms.caps import CapScope, PublishingCap

DIRECT_POST = "https://developers.tiktok.com/doc/content-posting-api-reference-direct-post"

CREATOR = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=None,
    counts="posts",
    zone=None,
    window=timedelta(hours=24),
    error="spam_risk_too_many_posts",
    source=DIRECT_POST,
    read_on=date(2026, 12, 6),
    note="TikTok does not publish the number; the post waits a day when it is reached",
)
UNAUDITED_USERS = PublishingCap(
    scope=CapScope.PROJECT,
    limit=5,
    counts="creators posting (unaudited clients only)",
    zone=None,
    window=timedelta(hours=24),
    error="reached_active_user_cap",
    source="https://developers.tiktok.com/doc/content-sharing-guidelines/",
    read_on=date(2026, 12, 6),
    note="lifted by TikTok's audit of the client",
)
CAPS = (CREATOR, UNAUDITED_USERS)
