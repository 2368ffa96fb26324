"""Binding an account link to the browser that opened it (issue 11 point 3).

A DMed link is a bearer secret: whoever opens it would link *their* platform account to the admin's
team. So the first browser that opens ``/oauth/<platform>/start`` gets a cookie holding a random
nonce, signed for that link's state; the state row keeps a hash of the nonce. The confirmation, the
redirect to the provider and the callback all need that cookie back: a link forwarded (or phished)
after the admin opened it is refused, a callback URL carried into another browser is refused, and a
link an attacker opened first is refused to the admin, who then notices and makes a new one.

The cookie is HttpOnly (no script reads it), SameSite=Lax (sent on the provider's top-level redirect
back to the callback, never on cross-site subrequests), Secure when the public URL is https, scoped
to the platform's /oauth path and as short-lived as the link.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "postbot_link"


@dataclass(frozen=True)
class Binding:
    cookie: str
    # What the state row keeps: a hash, so a database read cannot be turned into a cookie.
    nonce_hash: str


class BrowserBinding:
    def __init__(self, secret: str) -> None:
        # Its own key, derived from the vault secret with a fixed label, so the two uses never mix.
        self._key = hmac.new(secret.encode(), b"postbot oauth browser binding v1", hashlib.sha256).digest()

    def _sign(self, state_hash: str, nonce: str) -> str:
        return hmac.new(self._key, f"{state_hash}.{nonce}".encode(), hashlib.sha256).hexdigest()

    def issue(self, state_hash: str) -> Binding:
        # Equivalent mutants (tools/mutation.py): token_urlsafe(None) is its default of 32 bytes, and
        # 33 bytes is as unguessable; nothing reads the nonce's length.
        nonce = secrets.token_urlsafe(32)
        return Binding(f"{nonce}.{self._sign(state_hash, nonce)}", _hash(nonce))

    def verify(self, cookie: str | None, state_hash: str) -> str | None:
        """The nonce hash the cookie carries for this link, or None when it is missing or not ours."""
        # Equivalent mutants: the cap at 199 or 201 (ours are 108 characters; the cap only bounds
        # the HMAC work a forged cookie costs), and rpartition (neither a nonce nor a hex signature
        # holds a ".", so only forged cookies split differently, and they fail the signature).
        if not cookie or len(cookie) > 200:
            return None
        nonce, _, signature = cookie.partition(".")
        if not nonce or not hmac.compare_digest(signature, self._sign(state_hash, nonce)):
            return None
        return _hash(nonce)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()
