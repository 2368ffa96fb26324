"""What the publishers that speak Meta's Graph API share: the error object and its codes, a request
that maps errors to postbot's kinds, and finding a post whose publish answer was lost.

Each platform keeps its own host, version, limits and words (its ``GraphErrors``); what is here is what
Meta documents for the Graph API as a whole (Handling Errors,
https://developers.facebook.com/docs/graph-api/guides/error-handling): an error answers
``{"error": {"message", "type", "code", "error_subcode", "error_user_msg", "is_transient"}}``; code 190
(and 102) is an expired or invalidated token, which Graph answers with HTTP 400 rather than 401;
4, 17, 32 and 613 are throttling; 10 and 200-299 a missing permission; 1 and 2 (or ``is_transient``)
a temporary fault. How long throttling lasts is in the ``x-business-use-case-usage`` header, in minutes
(Rate Limiting, https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx

from core.publishers.base import (
    AuthError,
    PermanentError,
    PublishError,
    RateLimited,
    TokenSource,
    TransientError,
)
from core.publishers.http import retry_transient, send_authorized

INVALID_TOKEN = frozenset({102, 190})
THROTTLED = frozenset({4, 17, 32, 613})
PERMISSION = frozenset({10, *range(200, 300)})
TRANSIENT = frozenset({1, 2})
# How long a throttled call waits when Meta does not say.
THROTTLED_RETRY_S = 60.0
# Recent posts searched for one whose publish answer was lost, and how much earlier than the attempt
# a post may be stamped and still be it (the clocks are not ours).
RECENT_LIMIT = 25
RECENT_SLACK_S = 60

# A platform's own reading of an error, asked before throttling: (error object, response, message,
# whether the call is the one that publishes) → the error, or None for the common rules.
LimitRule = Callable[[dict[str, Any], httpx.Response, str, bool], PublishError | None]


@dataclass(frozen=True)
class GraphErrors:
    """How one platform words Graph errors and which codes it reads beyond the common ones."""

    # The platform's label, as in "<name> refused to publish the post: …".
    name: str
    relink: str
    # The whole hint for a missing permission (which permission the platform needs, then relink).
    permission_hint: str
    throttled: frozenset[int] = THROTTLED
    # Whether throttling waits as long as the usage header says (else THROTTLED_RETRY_S).
    regain_from_usage: bool = True
    limits: LimitRule | None = None

    def error(self, response: httpx.Response, what: str, *, publish_step: bool = False) -> PublishError:
        error = error_body(response)
        code = error.get("code")
        reason = error.get("error_user_msg") or error.get("message") or f"HTTP {response.status_code}"
        message = f"{self.name} refused to {what}: {reason}"
        status = response.status_code
        if code in INVALID_TOKEN:
            return AuthError(message, status_code=status, hint=self.relink)
        if code in PERMISSION:
            return AuthError(message, status_code=status, hint=self.permission_hint)
        limited = self.limits(error, response, message, publish_step) if self.limits else None
        if limited is not None:
            return limited
        if code in self.throttled:
            regain = regain_after(response) if self.regain_from_usage else None
            return RateLimited(message, status_code=status, retry_after=regain or THROTTLED_RETRY_S)
        if error.get("is_transient") or code in TRANSIENT or status >= 500:
            return TransientError(message, status_code=status)
        return PermanentError(message, status_code=status)


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph answer, empty when there is none (or no JSON at all)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def token_rejected(response: httpx.Response) -> bool:
    # Graph answers a dead token with HTTP 400 (or 401) and code 190.
    return response.status_code in (400, 401) and error_body(response).get("code") in INVALID_TOKEN


def regain_after(response: httpx.Response) -> float | None:
    """Seconds until Meta lifts throttling, from the usage headers (given there in minutes)."""
    raw = response.headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in entries
        ]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes, default=0.0) * 60 or None


def epoch(stamp: Any) -> float | None:
    # Graph's datetimes: "2026-12-06T12:00:00+0000".
    try:
        return datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


class GraphRequests:
    """Requests of a Graph publisher: the token refreshed once when Graph rejects it, errors mapped by
    the platform's ``errors``, and calls safe to repeat retried in place. The publisher sets the
    attributes below in its ``__init__``."""

    errors: ClassVar[GraphErrors]
    http: httpx.AsyncClient
    graph: str
    step_attempts: int
    retry_base_s: float
    max_inline_wait_s: float

    def _seen(self, response: httpx.Response) -> None:
        """Every answer passes here first (a platform that reads its headers overrides it)."""

    async def _graph(
        self,
        tokens: TokenSource,
        method: str,
        path: str,
        what: str,
        *,
        publish_step: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        url = f"{self.graph}/{path}"

        async def send(token: str) -> httpx.Response:
            return await self.http.request(
                method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )

        response = await send_authorized(tokens, send, token_rejected=token_rejected)
        self._seen(response)
        if not response.is_success:
            raise self.errors.error(response, what, publish_step=publish_step)
        body: dict[str, Any] = response.json()
        return body

    async def _step(
        self, tokens: TokenSource, method: str, path: str, what: str, **kwargs: Any
    ) -> dict[str, Any]:
        """A call safe to repeat, retried in place on transient errors and short throttling."""
        return await retry_transient(
            lambda: self._graph(tokens, method, path, what, **kwargs),
            attempts=self.step_attempts,
            base_s=self.retry_base_s,
            max_wait_s=self.max_inline_wait_s,
        )

    async def _find_recent(
        self,
        tokens: TokenSource,
        path: str,
        what: str,
        *,
        text_field: str,
        time_field: str,
        text: str,
        since: float,
    ) -> str | None:
        """The id of a recent post on ``path`` (an account's own posts) with this text, stamped no
        earlier than the attempt began: what a publish whose answer was lost made. The same text
        posted before this attempt (a weekly series) is not it."""
        body = await self._step(
            tokens, "GET", path, what,
            params={"fields": f"id,{text_field},{time_field}", "limit": str(RECENT_LIMIT)},
        )  # fmt: skip
        for item in body.get("data") or []:
            stamp = epoch(item.get(time_field))
            if str(item.get(text_field) or "") == text and (stamp is None or stamp >= since - RECENT_SLACK_S):
                return str(item["id"])
        return None

    async def _field(self, tokens: TokenSource, object_id: str, field: str, what: str) -> Any:
        """One field of a published object (its link), or None when Graph will not say: the post is
        live, and a missing link is not worth failing (and retrying) it for."""
        try:
            body = await self._step(tokens, "GET", object_id, what, params={"fields": field})
        except PublishError:
            return None
        return body.get(field)
