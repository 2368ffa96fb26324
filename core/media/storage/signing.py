"""postbot's own expiring links to a stored video (``/media/<key>?expires=…&sig=…``).

For the local backend, a platform that pulls the video from a URL is handed one of these; the web
server checks the HMAC and the expiry, then serves the bytes (with ranges) from the store. S3
buckets sign their own URLs instead.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from urllib.parse import quote, urlencode

PREFIX = "/media/"


class UrlSigner:
    def __init__(self, public_url: str, secret: bytes) -> None:
        self.base = public_url.rstrip("/")
        # A key of its own, so a media link can never be replayed as anything else postbot signs.
        self._key = hmac.new(secret, b"postbot media url v1", hashlib.sha256).digest()

    def _sig(self, key: str, expires: int, post: int | None) -> str:
        # A link bound to a post signs its id too, so it cannot be re-aimed at another post's life.
        message = f"{key}\n{expires}" if post is None else f"{key}\n{expires}\npost {post}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def url(self, key: str, *, expires: timedelta, now: float | None = None, post: int | None = None) -> str:
        until = int((time.time() if now is None else now) + expires.total_seconds())
        fields: dict[str, str | int] = {"expires": until, "sig": self._sig(key, until, post)}
        if post is not None:
            fields["post"] = post
        return f"{self.base}{PREFIX}{quote(key)}?{urlencode(fields)}"

    def check(
        self,
        key: str,
        expires: str | None,
        sig: str | None,
        *,
        now: float | None = None,
        post: int | None = None,
    ) -> bool:
        """True for a link this signer made (for ``post``, when given) whose time has not run out."""
        if not expires or not sig or not expires.isdigit():
            return False
        if int(expires) < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._sig(key, int(expires), post), sig)
