"""The Slack Web API client postbot uses, pointed at a configurable base URL."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient


def make_web_client(
    token: str, api_base_url: str, *, session: aiohttp.ClientSession | None = None, timeout_s: int = 30
) -> AsyncWebClient:
    """A bot-token client that waits out ``429 Retry-After`` and retries dropped connections, so a
    burst of replies slows down instead of failing. Given a session, every call reuses its pooled
    connections (without one, slack_sdk opens a new connection per call)."""
    base = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
    return AsyncWebClient(
        token=token,
        base_url=base,
        timeout=timeout_s,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )
