"""A TikTok video's results: ``POST /v2/video/query/?fields=id,view_count,like_count,comment_count``
with ``{"filters": {"video_ids": [...]}}``, at most 20 ids a call, scope ``video.list``
(https://developers.tiktok.com/doc/tiktok-api-v2-video-query, read 2026-12-06). The endpoint allows
600 requests per minute per app (https://developers.tiktok.com/doc/tiktok-api-v2-rate-limit).
Ids the user does not own, or deleted videos, are simply not in ``videos``.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.results import Metrics, batches, count
from core.platforms.tiktok.publisher import DEFAULT_BASE_URL, _token_rejected, tiktok_error
from core.publishers.base import AuthError, TokenSource
from core.publishers.http import send_authorized

IDS_PER_CALL = 20
FIELDS = "id,view_count,like_count,comment_count"


class TikTokMetrics:
    platform = Platform.TIKTOK
    scopes: tuple[str, ...] = ("video.list",)

    def __init__(self, http: httpx.AsyncClient, base_url: str | None = None) -> None:
        self.http = http
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for batch in batches(remote_ids, IDS_PER_CALL):

            async def send(token: str, batch: list[str] = batch) -> httpx.Response:
                return await self.http.post(
                    f"{self.base_url}/v2/video/query/",
                    params={"fields": FIELDS},
                    json={"filters": {"video_ids": batch}},
                    headers={"Authorization": f"Bearer {token}"},
                )

            response = await send_authorized(tokens, send, token_rejected=_token_rejected)
            if response.status_code != 200:
                error = tiktok_error(response, "reading video counts")
                if isinstance(error, AuthError) and "scope" in error.message:
                    error.hint = "Grant the video.list permission: re-link the account with /link tiktok."
                raise error
            for video in (response.json().get("data") or {}).get("videos") or []:
                found[str(video["id"])] = Metrics(
                    count(video.get("view_count")),
                    count(video.get("like_count")),
                    count(video.get("comment_count")),
                )
        return found

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> TikTokMetrics:
        return cls(http, conf.base_url)
