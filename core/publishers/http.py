"""HTTP plumbing every platform publisher shares: status → error mapping and 401 → refresh → retry."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from core.publishers.base import (
    AuthError,
    PermanentError,
    PublishError,
    RateLimited,
    TokenSource,
    TransientError,
)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header, which is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def reset_epoch_to_delay(epoch: str | None, *, now: float | None = None) -> float | None:
    """X's x-rate-limit-reset style headers carry the epoch second at which the window reopens."""
    if not epoch:
        return None
    try:
        reset = float(epoch)
    except ValueError:
        return None
    current = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, reset - current)


_T = TypeVar("_T")

_RELINK_HINT = "The linked account's access was revoked or lacks a permission: re-link it with /link."


def error_for_response(response: httpx.Response, message: str, *, hint: str | None = None) -> PublishError:
    """Classify a failed platform response. ``message`` is the platform's own explanation."""
    status = response.status_code
    if status == 429:
        delay = parse_retry_after(response.headers.get("retry-after"))
        if delay is None:
            delay = reset_epoch_to_delay(response.headers.get("x-rate-limit-reset"))
        return RateLimited(message, status_code=status, retry_after=delay, hint=hint)
    if status in (401, 403):
        return AuthError(
            message,
            status_code=status,
            hint=hint or _RELINK_HINT,
        )
    if status >= 500 or status in (408, 409, 425):
        delay = parse_retry_after(response.headers.get("retry-after"))
        return TransientError(message, status_code=status, retry_after=delay)
    return PermanentError(message, status_code=status, hint=hint)


def transport_error(exc: httpx.TransportError) -> TransientError:
    # The exception text can carry URLs with signed query strings; keep only its kind.
    return TransientError(f"network error talking to the platform ({type(exc).__name__})")


def _is_unauthorized(response: httpx.Response) -> bool:
    return response.status_code == 401


async def send_authorized(
    tokens: TokenSource,
    send: Callable[[str], Awaitable[httpx.Response]],
    *,
    token_rejected: Callable[[httpx.Response], bool] = _is_unauthorized,
) -> httpx.Response:
    """Send with the current access token; on a 401 refresh once and send again.

    ``send`` receives the bearer token and performs the request; it must be safe to call twice,
    which holds because a 401 means the platform did not act on the first request.
    ``token_rejected`` recognises the platform's "bad token" answer where it is not a plain 401
    (Meta's Graph API answers 400 with error code 190).
    """
    try:
        response = await send(await tokens.access_token())
        if token_rejected(response):
            response = await send(await tokens.refresh())
            if token_rejected(response):
                await tokens.rejected()
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc
    return response


async def retry_transient(
    call: Callable[[], Awaitable[_T]],
    *,
    attempts: int = 3,
    base_s: float = 0.5,
    max_wait_s: float = 30.0,
) -> _T:
    """Run one upload step, retrying transient failures in place a few times.

    Re-sending one chunk now is far cheaper than failing the whole post and resuming it minutes
    later. A wait the platform asks for that is longer than ``max_wait_s`` is not sat out here: the
    error goes up so the scheduler can come back when the platform said.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except TransientError as exc:
            wait = exc.retry_after if exc.retry_after is not None else base_s * 2 ** (attempt - 1)
            if attempt == attempts or wait > max_wait_s:
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
