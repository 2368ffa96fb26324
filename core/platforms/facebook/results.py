"""A published reel's or Page video's results: views, likes and comments, two Graph calls per video.

- Views: ``GET /{video-id}/video_insights`` ("Send a GET request to the /<VIDEO_ID>/video_insights
  endpoint to get total insights", https://developers.facebook.com/docs/video-api/guides/insights,
  read 6 Dec 2026). Asked without ``metric``, it answers every lifetime metric the video has, so a
  metric Meta renames costs a missing number, not a failed call. A Page video's views are
  ``total_video_views`` ("Total number of times your video was viewed for 3 seconds or viewed to the
  end", same page); a reel's are its plays, ``blue_reels_play_count`` (the Reels metrics of the Video
  Insights API, https://developers.facebook.com/blog/post/2022/12/15/introducing-reels-metrics-api/,
  and https://developers.facebook.com/docs/graph-api/reference/video/video_insights).
- Likes and comments: ``GET /{video-id}?fields=likes.summary(true).limit(0),comments.summary(true)
  .limit(0)``, whose ``summary.total_count`` counts them without listing anyone
  (https://developers.facebook.com/docs/graph-api/reference/object/likes and .../object/comments).

Both need the Page token with ``pages_read_engagement`` and the ANALYZE task (the insights guide's
Requirements); a video deleted since answers code 100 and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.facebook.publisher import DEFAULT_GRAPH_URL, ERRORS, GRAPH_HOST, GRAPH_VERSION
from core.platforms.results import Metrics, count
from core.publishers.base import AuthError, TokenSource
from core.publishers.graph import error_body, token_rejected
from core.publishers.http import send_authorized

ENGAGEMENT_SCOPE = "pages_read_engagement"
VIEWS = ("total_video_views", "blue_reels_play_count", "fb_reels_total_plays")
COUNTS = "likes.summary(true).limit(0),comments.summary(true).limit(0)"
NO_SUCH_OBJECT = 100
PERMISSION = 10


class FacebookMetrics:
    platform = Platform.FACEBOOK
    scopes: tuple[str, ...] = (ENGAGEMENT_SCOPE,)

    def __init__(self, http: httpx.AsyncClient, graph_base_url: str = DEFAULT_GRAPH_URL) -> None:
        self.http = http
        self.graph = graph_base_url.rstrip("/")

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for video_id in remote_ids:
            insights = await self._get(tokens, f"{video_id}/video_insights", {})
            if insights is None:
                continue
            counts = await self._get(tokens, video_id, {"fields": COUNTS})
            if counts is None:
                continue
            found[video_id] = Metrics(_views(insights), _total(counts, "likes"), _total(counts, "comments"))
        return found

    async def _get(self, tokens: TokenSource, path: str, params: dict[str, str]) -> dict[str, Any] | None:
        url = f"{self.graph}/{path}"

        async def send(token: str) -> httpx.Response:
            return await self.http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})

        response = await send_authorized(tokens, send, token_rejected=token_rejected)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        error = error_body(response)
        if error.get("code") == NO_SUCH_OBJECT:
            return None
        if error.get("code") == PERMISSION:
            raise AuthError(
                "Facebook refused to read the video's results: "
                f"{error.get('message') or response.status_code}",
                status_code=response.status_code,
                hint=f"The Page must grant {ENGAGEMENT_SCOPE}: re-link it with /link facebook.",
            )
        raise ERRORS.error(response, "read the video's results")

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> FacebookMetrics:
        return cls(http, conf.base_url or f"{GRAPH_HOST}/{conf.api_version or GRAPH_VERSION}")


def _views(body: dict[str, Any]) -> int | None:
    # {"data": [{"name": "total_video_views", "period": "lifetime", "values": [{"value": 89}]}, ...]}
    values: dict[str, object] = {}
    for entry in body.get("data") or []:
        points = entry.get("values") or []
        if points:
            values[str(entry.get("name"))] = points[-1].get("value")
    return next((n for name in VIEWS if (n := count(values.get(name))) is not None), None)


def _total(body: dict[str, Any], edge: str) -> int | None:
    summary = (body.get(edge) or {}).get("summary") or {}
    return count(summary.get("total_count"))
