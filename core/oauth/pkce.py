"""PKCE (RFC 7636) with the S256 method."""

from __future__ import annotations

import base64
import hashlib
import secrets


def make_verifier() -> str:
    # 64 random bytes → 86 characters of base64url, inside RFC 7636's 43..128 range.
    return secrets.token_urlsafe(64)[:128]


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
