"""A published Reel's results: ``GET /{ig-media-id}/insights?metric=views,likes,comments``, one call
per Reel (https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights,
read 2026-12-06).

Which metrics: the reference lists, for REELS, ``comments, ig_reels_avg_watch_time,
ig_reels_video_view_total_time, likes, reach, saved, shares, total_interactions, views``; ``plays``,
``clips_replays_count``, ``ig_reels_aggregated_all_plays_count`` and ``impressions`` were deprecated
for v22.0 and for every version on 2025-04-21, and ``video_views`` before them, so asking for one of
those fails the whole call. ``views`` replaces them. With Instagram Login the token needs
``instagram_business_basic`` and ``instagram_business_manage_insights`` (same page, Requirements).
"Data used to calculate metrics can be delayed up to 48 hours", and a metric with no data yet comes
back absent rather than 0, so an absent number stays None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.instagram.publisher import DEFAULT_GRAPH_URL, ERRORS, GRAPH_HOST, GRAPH_VERSION
from core.platforms.results import Metrics, count
from core.publishers.base import AuthError, TokenSource
from core.publishers.graph import error_body, insight_values, media_insights

METRICS = ("views", "likes", "comments")
INSIGHTS_SCOPE = "instagram_business_manage_insights"
# Graph's "does not exist, cannot be loaded due to missing permissions" (a Reel deleted since).
NO_SUCH_OBJECT = 100
# (#10) is both "Application does not have permission for this action" and, on a Reel few people
# saw, "Not enough viewers for the media to show insights" (the reference's Limitations).
PERMISSION_OR_TOO_FEW = 10


class InstagramMetrics:
    platform = Platform.INSTAGRAM
    scopes: tuple[str, ...] = ("instagram_business_basic", INSIGHTS_SCOPE)

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
            code = error.get("code")
            message = str(error.get("message") or "")
            if code == NO_SUCH_OBJECT:
                continue
            if code == PERMISSION_OR_TOO_FEW and "permission" not in message.lower():
                # Too few viewers yet: no numbers this time, a later checkpoint asks again.
                found[media_id] = Metrics(None, None, None)
                continue
            if code == PERMISSION_OR_TOO_FEW:
                raise AuthError(
                    f"Instagram refused to read insights: {message}",
                    status_code=response.status_code,
                    hint=f"The account must grant {INSIGHTS_SCOPE}: re-link it with /link instagram.",
                )
            raise ERRORS.error(response, "read insights")
        return found

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> InstagramMetrics:
        return cls(http, conf.base_url or f"{GRAPH_HOST}/{conf.api_version or GRAPH_VERSION}")


def _metrics(body: dict[str, Any]) -> Metrics:
    values = insight_values(body)
    return Metrics(count(values.get("views")), count(values.get("likes")), count(values.get("comments")))
