"""A post's results on X: ``GET /2/tweets?ids=...&tweet.fields=public_metrics``, up to 100 ids a call
(https://docs.x.com/x-api/posts/get-posts-by-ids, read 2026-12-06).

``public_metrics`` is ``retweet_count, reply_count, like_count, quote_count, bookmark_count,
impression_count`` (https://docs.x.com/x-api/fundamentals/data-dictionary#tweet); it needs only the
``tweet.read`` and ``users.read`` scopes postbot already asks for at linking. ``non_public_metrics``
and ``organic_metrics`` are left alone: they are only served for the author's posts of the last 30
days and would fail the whole call for an older one, while views (``impression_count``) are public.
Reads count against the 15-minute per-user window of the endpoint and the pay-per-use monthly Post
read volume (https://docs.x.com/x-api/fundamentals/rate-limits), which is why ids go 100 at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.results import Metrics, batches, count
from core.platforms.x.publisher import DEFAULT_BASE_URL, _explain
from core.publishers.base import TokenSource
from core.publishers.http import error_for_response, send_authorized

IDS_PER_CALL = 100


class XMetrics:
    platform = Platform.X
    scopes: tuple[str, ...] = ("tweet.read", "users.read")

    def __init__(self, http: httpx.AsyncClient, base_url: str | None = None) -> None:
        self.http = http
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for batch in batches(remote_ids, IDS_PER_CALL):

            async def send(token: str, batch: list[str] = batch) -> httpx.Response:
                return await self.http.get(
                    f"{self.base_url}/2/tweets",
                    params={"ids": ",".join(batch), "tweet.fields": "public_metrics"},
                    headers={"Authorization": f"Bearer {token}"},
                )

            response = await send_authorized(tokens, send)
            if response.status_code != 200:
                raise error_for_response(response, f"X refused to read post metrics: {_explain(response)}")
            # Deleted posts come back in "errors" ("Not Found Error"), the rest in "data".
            for post in response.json().get("data") or []:
                m = post.get("public_metrics") or {}
                found[str(post["id"])] = Metrics(
                    count(m.get("impression_count")), count(m.get("like_count")), count(m.get("reply_count"))
                )
        return found

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> XMetrics:
        return cls(http, conf.base_url)
