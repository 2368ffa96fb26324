"""An AT Protocol OAuth session as postbot stores it, and requests signed with its DPoP key.

The vault keeps two encrypted strings per account (``access_token_enc``, ``refresh_token_enc``,
core/accounts/store.py), each bound to its row and column. An atproto session is more than a
bearer token: the tokens are bound to the session's DPoP key ("retain the keypair for the duration
of the auth session", https://docs.bsky.app/docs/advanced-guides/oauth-client#dpop), and requests go
to the account's own PDS, which the linking resolved from its DID. So each stored string is a small
JSON document holding the token together with the private DPoP key (as a JWK), the PDS, the DID and
the issuer; they are encrypted exactly like every other platform's tokens, and a publisher reads
them back with :func:`Session.parse`. No key ever leaves the vault unencrypted, and none is shared
between accounts or sessions.

DPoP nonces (``DPoP-Nonce``) are kept per server origin in memory: a server that wants a newer one
answers ``use_dpop_nonce`` (a 400 JSON error from the authorization server, a 401 with
``WWW-Authenticate: DPoP error="use_dpop_nonce"`` from the PDS) and the request is signed again
with it, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from core.platforms.bluesky import dpop

if TYPE_CHECKING:
    from core.platforms.bluesky.identity import AccountHosts

VERSION = 1


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Session:
    token: str
    key: ec.EllipticCurvePrivateKey
    did: str
    pds: str
    issuer: str

    def dump(self, token_field: str) -> str:
        return json.dumps(
            {
                "v": VERSION,
                token_field: self.token,
                "dpop_jwk": dpop.private_jwk(self.key),
                "did": self.did,
                "pds": self.pds,
                "issuer": self.issuer,
            },
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, stored: str, token_field: str = "access_token") -> Session:
        """A stored access (or refresh) string; ValueError when it is not one of ours."""
        try:
            data = json.loads(stored)
            return cls(
                token=str(data[token_field]),
                key=dpop.key_from_jwk(data["dpop_jwk"]),
                did=str(data["did"]),
                pds=str(data["pds"]).rstrip("/"),
                issuer=str(data["issuer"]),
            )
        except (ValueError, KeyError, TypeError):
            raise ValueError("not a stored Bluesky session") from None


def wants_nonce(response: httpx.Response) -> bool:
    """The server's "sign again with my nonce" answer (RFC 9449 §8 and §9)."""
    if response.status_code not in (400, 401):
        return False
    if "use_dpop_nonce" in response.headers.get("www-authenticate", ""):
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"


class DPoPHttp:
    """Requests with a DPoP proof, learning each server's nonce. One per publisher or OAuth client
    (both live as long as the process), so the nonce dance happens about once per server. Every
    server it signs for was named by an account's identity, so requests go through ``hosts``
    (core/platforms/bluesky/identity.py): public addresses only, no redirects."""

    def __init__(self, hosts: AccountHosts) -> None:
        self.hosts = hosts
        self.nonces: dict[str, str] = {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        key: ec.EllipticCurvePrivateKey,
        access_token: str | None = None,
        headers: dict[str, str] | None = None,
        form: Callable[[], dict[str, str]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """``form``: the urlencoded body, built anew for each try, because a client assertion in it
        must not be sent twice."""
        where = origin(url)
        response: httpx.Response | None = None
        for _ in range(2):
            used = self.nonces.get(where)
            signed = {"DPoP": dpop.proof(key, method, url, nonce=used, access_token=access_token)}
            if access_token is not None:
                signed["Authorization"] = f"DPoP {access_token}"
            if form is not None:
                kwargs["data"] = form()
            response = await self.hosts.request(method, url, headers={**(headers or {}), **signed}, **kwargs)
            fresh = response.headers.get("dpop-nonce")
            stale = fresh is not None and fresh != used and wants_nonce(response)
            if fresh:
                self.nonces[where] = fresh
            if not stale:
                return response
        assert response is not None
        return response
