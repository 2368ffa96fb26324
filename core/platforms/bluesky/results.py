"""A post's results on Bluesky: ``GET https://public.api.bsky.app/xrpc/app.bsky.feed.getPosts?uris=...``,
at most 25 AT-URIs a call (lexicons/app/bsky/feed/getPosts.json, ``maxLength: 25``), answered with
each post's view: ``likeCount``, ``repostCount``, ``replyCount``, ``quoteCount``
(lexicons/app/bsky/feed/defs.json ``postView``). Read 6 Dec 2026.

Bluesky counts no views, so views stay "not available"; likes are ``likeCount`` and comments
``replyCount`` (reposts and quotes have no place in postbot's results yet). The public AppView
"do[es] not support authentication" and is "cached" for this kind of read
(https://docs.bsky.app/docs/advanced-guides/rate-limits#bluesky-appview-limits), so no token is
spent and no scope is needed. Posts that were deleted are simply absent from the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.bluesky.publisher import _explain
from core.platforms.results import Metrics, batches, count
from core.publishers.base import TokenSource
from core.publishers.http import error_for_response, transport_error

DEFAULT_APPVIEW = "https://public.api.bsky.app"
URIS_PER_CALL = 25


class BlueskyMetrics:
    platform = Platform.BLUESKY
    scopes: tuple[str, ...] = ()

    def __init__(self, http: httpx.AsyncClient, base_url: str | None = None) -> None:
        self.http = http
        self.base_url = (base_url or DEFAULT_APPVIEW).rstrip("/")

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for batch in batches(remote_ids, URIS_PER_CALL):
            try:
                response = await self.http.get(
                    f"{self.base_url}/xrpc/app.bsky.feed.getPosts", params=[("uris", uri) for uri in batch]
                )
            except httpx.TransportError as exc:
                raise transport_error(exc) from exc
            if response.status_code != 200:
                raise error_for_response(
                    response, f"Bluesky refused to read post metrics: {_explain(response)}"
                )
            for post in response.json().get("posts") or []:
                found[str(post["uri"])] = Metrics(
                    None, count(post.get("likeCount")), count(post.get("replyCount"))
                )
        return found

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> BlueskyMetrics:
        return cls(http, conf.base_url)
