"""A published video's results: videos.list part=statistics, 1 quota unit per call of up to 50 ids
(https://developers.google.com/youtube/v3/docs/videos/list)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.results import Metrics, batches, count
from core.platforms.youtube.publisher import DEFAULT_BASE_URL, google_error
from core.publishers.base import TokenSource
from core.publishers.http import send_authorized, transport_error

IDS_PER_CALL = 50


class YouTubeMetrics:
    platform = Platform.YOUTUBE
    # videos.list on one's own videos: youtube.readonly (or youtube) is enough, per the method's
    # Authorization section (https://developers.google.com/youtube/v3/docs/videos/list#auth).
    scopes: tuple[str, ...] = ("https://www.googleapis.com/auth/youtube.readonly",)

    def __init__(self, http: httpx.AsyncClient, base_url: str | None = None) -> None:
        self.http = http
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for batch in batches(remote_ids, IDS_PER_CALL):
            # videos.list by id takes up to 50 ids and no maxResults (that is for myRating/chart).
            async def send(token: str, batch: list[str] = batch) -> httpx.Response:
                return await self.http.get(
                    f"{self.base_url}/youtube/v3/videos",
                    params={"part": "statistics", "id": ",".join(batch)},
                    headers={"Authorization": f"Bearer {token}"},
                )

            try:
                response = await send_authorized(tokens, send)
            except httpx.TransportError as exc:
                raise transport_error(exc) from None
            if response.status_code != 200:
                raise google_error(response, "videos.list")
            for item in response.json().get("items", []):
                stats = item.get("statistics") or {}
                found[str(item["id"])] = Metrics(
                    count(stats.get("viewCount")),
                    count(stats.get("likeCount")),
                    count(stats.get("commentCount")),
                )
        return found

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> YouTubeMetrics:
        return cls(http, conf.base_url)
