"""X's publishing caps on ``POST /2/tweets``.

"200 requests per 15 min per user" and "300 requests per 3-hour window per user, per app", shared
with reposts (https://docs.x.com/x-api/posts/manage-tweets/migrate/overview, read 6 Dec 2026). X's
access tiers add 24-hour caps per user and per app whose numbers depend on the tier and are shown
in the developer console rather than fixed here (https://docs.x.com/x-api/fundamentals/rate-limits).
X answers a spent cap 429. Responses to ``POST /2/tweets`` also carry ``x-user-limit-24hour-*`` and
``x-app-limit-24hour-*`` headers; X's rate-limit page documents only the ``x-rate-limit-*`` ones,
so postbot reads the 24-hour headers as a best-effort hint for when to come back
(core/platforms/x/publisher.py) and falls back to ``x-rate-limit-reset`` without them.
"""

from __future__ import annotations

from datetime import date, timedelta

from core.platforms.caps import CapScope, PublishingCap

MANAGE_POSTS = "https://docs.x.com/x-api/posts/manage-tweets/migrate/overview"

PER_USER_3H = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=300,
    counts="posts and reposts",
    zone=None,
    window=timedelta(hours=3),
    error="429 Too Many Requests",
    source=MANAGE_POSTS,
    read_on=date(2026, 12, 6),
)
PER_APP_3H = PublishingCap(
    scope=CapScope.PROJECT,
    limit=300,
    counts="posts and reposts",
    zone=None,
    window=timedelta(hours=3),
    error="429 Too Many Requests",
    source=MANAGE_POSTS,
    read_on=date(2026, 12, 6),
)
DAILY = PublishingCap(
    scope=CapScope.ACCOUNT,
    limit=None,
    counts="posts (per user and per app)",
    zone=None,
    window=timedelta(hours=24),
    error="429 Too Many Requests",
    source="https://docs.x.com/x-api/fundamentals/rate-limits",
    read_on=date(2026, 12, 6),
    note=(
        "set by the app's access tier (developer console); the x-*-limit-24hour-* headers are "
        "undocumented, read as a hint"
    ),
)
CAPS = (PER_USER_3H, PER_APP_3H, DAILY)
