"""What /slack/events checks before anything is parsed or run: well-formed signature headers, a body
of bounded size read within a bounded time, the v0 signature, and that a request is not a replay.

Anyone who knows the public URL can reach the endpoint, so nothing here trusts the request before its
signature is verified: the size cap and the read deadline hold while the body streams in (a 256 MiB
body is refused after the first ``max_bytes``, a body trickled at 1 byte/s is cut at the deadline),
and only verified requests are remembered for replay detection (without the signing secret nobody can
fill that memory).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections import OrderedDict

from starlette.requests import ClientDisconnect, Request

# Slack's v0 scheme: X-Slack-Request-Timestamp is Unix seconds, X-Slack-Signature "v0=" + hex SHA-256
# (https://api.slack.com/authentication/verifying-requests-from-slack). ASCII digits only: str.isdigit
# also accepts "²" and other Unicode digits, which int() then refuses.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)
# Slack refuses requests older than 5 minutes; the same window bounds how long a replay is possible.
REPLAY_WINDOW_S = 5 * 60


class Refused(Exception):
    """The request ends here with ``status``; ``reason`` goes to the log, never the body."""

    def __init__(self, status: int, reason: str) -> None:
        # Equivalent mutant (tools/mutation.py): the message is never read; ``reason`` is.
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_headers(timestamp: str | None, signature: str | None, *, now: float | None = None) -> None:
    """Before a byte of the body is read: signature headers present, well formed and fresh."""
    if not timestamp or not signature:
        raise Refused(401, "unsigned")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise Refused(401, "malformed signature headers")
    if abs((time.time() if now is None else now) - int(timestamp)) > REPLAY_WINDOW_S:
        raise Refused(401, "stale timestamp")


def signed(secret: bytes, timestamp: str, signature: str, body: bytes) -> bool:
    """The v0 HMAC over the raw bytes, compared in constant time. (slack_sdk's SignatureVerifier
    decodes the body as UTF-8 first, so a body that is not UTF-8 raised instead of failing.)"""
    # Equivalent mutant: encode("ASCII"), codec names are case-insensitive.
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


async def read_body(request: Request, *, max_bytes: int, timeout_s: float) -> bytes:
    """The body, refused with 413 past ``max_bytes`` (by its Content-Length before reading, or while
    counting the bytes as they stream in) and with 408 if it has not all arrived within ``timeout_s``."""
    # Equivalent mutant: the header's name in another case (Starlette's headers ignore case).
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise Refused(400, "malformed content-length")
        if int(declared) > max_bytes:
            raise Refused(413, "body too large (declared)")
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise Refused(413, "body too large")
                parts.append(chunk)
    except TimeoutError:
        raise Refused(408, "body too slow") from None
    except ClientDisconnect:
        raise Refused(400, "client went away") from None
    return b"".join(parts)


class RecentRequests:
    """Keys (signatures, event ids) seen within the replay window, in this process.

    Bounded: past ``max_entries`` the oldest keys are forgotten first (at 100,000 that is more than
    300 verified requests a second for the whole 5-minute window)."""

    # Equivalent mutant: max_entries 100_001 (a bound; no request can tell one key more from less).
    def __init__(self, *, window_s: float = REPLAY_WINDOW_S, max_entries: int = 100_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, *keys: str, now: float | None = None) -> bool:
        """Remember ``keys``; False if any of them was already seen within the window."""
        now = time.monotonic() if now is None else now
        while self._seen:
            key, expires = next(iter(self._seen.items()))
            # Remembered through the window's last instant: check_headers accepts a timestamp exactly
            # REPLAY_WINDOW_S old, so a replay then must still be known.
            if expires >= now and len(self._seen) < self.max_entries:
                break
            del self._seen[key]
        if any(key in self._seen for key in keys if key):
            return False
        for key in keys:
            if key:
                self._seen[key] = now + self.window_s
        return True

    def __len__(self) -> int:
        return len(self._seen)
