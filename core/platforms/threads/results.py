"""A published thread's results: ``GET /{threads-media-id}/insights?metric=views,likes,replies``, one
call per post (Threads Insights API, Media Insights,
https://developers.facebook.com/docs/threads/insights, read 2026-12-06).

The page lists ``views`` ("The number of times your post was played or displayed", marked "in
development"), ``likes``, ``replies`` (for a root post, all replies), ``reposts``, ``quotes`` and
``shares``; "Returned metrics do not capture nested replies' metrics". postbot's results hold views,
likes and comments, so it asks for the first three (replies are Threads' comments); reposts and
quotes have nowhere to go yet. Calls need ``threads_basic`` and ``threads_manage_insights`` (same
page, Permissions): an account linked without the latter is not asked (``scopes``) and one whose
grant lacks it is refused with Graph's permission error (10), said as "re-link".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.results import Metrics, count
from core.platforms.threads.publisher import DEFAULT_GRAPH_URL, ERRORS
from core.publishers.base import AuthError, TokenSource
from core.publishers.graph import error_body, insight_values, media_insights

METRICS = ("views", "likes", "replies")
INSIGHTS_SCOPE = "threads_manage_insights"
# Graph's "does not exist, cannot be loaded due to missing permissions" (a post deleted since).
NO_SUCH_OBJECT = 100
PERMISSION = 10


class ThreadsMetrics:
    platform = Platform.THREADS
    scopes: tuple[str, ...] = ("threads_basic", INSIGHTS_SCOPE)

    def __init__(self, http: httpx.AsyncClient, graph_base_url: str = DEFAULT_GRAPH_URL) -> None:
        self.http = http
        self.graph = graph_base_url.rstrip("/")

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for media_id in remote_ids:
            response = await media_insights(self.http, self.graph, tokens, media_id, METRICS)
            if response.status_code == 200:
                found[media_id] = _metrics(response.json())
                continue
            error = error_body(response)
            if error.get("code") == NO_SUCH_OBJECT:
                continue
            if error.get("code") == PERMISSION:
                raise AuthError(
                    f"Threads refused to read insights: {error.get('message') or 'no permission'}",
                    status_code=response.status_code,
                    hint=f"The account must grant {INSIGHTS_SCOPE}: re-link it with /link threads.",
                )
            raise ERRORS.error(response, "read insights")
        return found

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> ThreadsMetrics:
        return cls(http, conf.base_url or DEFAULT_GRAPH_URL)


def _metrics(body: dict[str, Any]) -> Metrics:
    values = insight_values(body)
    return Metrics(count(values.get("views")), count(values.get("likes")), count(values.get("replies")))
