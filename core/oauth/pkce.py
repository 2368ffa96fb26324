"""PKCE (RFC 7636) with the S256 method."""

from __future__ import annotations

import base64
import hashlib
import secrets


def make_verifier() -> str:
    # 64 random bytes → 86 characters of base64url, inside RFC 7636's 43..128 range.
    # Equivalent mutant (tools/mutation.py): [:129], as 86 characters never reach either cut.
    return secrets.token_urlsafe(64)[:128]


def s256_challenge(verifier: str) -> str:
    # Equivalent mutants: "ASCII" for "ascii" (codec names ignore case), and rstrip(b"XX=XX"): the
    # last of 43 characters encoding 32 bytes carries 4 bits, so it is never "X" (A, E, I, M, ...).
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
