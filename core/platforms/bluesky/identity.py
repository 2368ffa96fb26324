"""Who an AT Protocol account is and where it lives: DID → DID document → PDS → authorization server.

- did:plc documents come from the PLC directory (``GET https://plc.directory/<did>``), did:web ones
  from ``https://<host>/.well-known/did.json`` (https://atproto.com/specs/did, "Blessed DID Methods").
- The PDS is the document's service ``#atproto_pds`` of type ``AtprotoPersonalDataServer``; the
  handle is its first ``at://`` entry in ``alsoKnownAs``, trusted only when resolving the handle
  gives the same DID back ("it is critical (mandatory) to bidirectionally verify the handle",
  https://docs.bsky.app/docs/advanced-guides/oauth-client#account-or-server-identifier).
- A PDS names its authorization server in ``/.well-known/oauth-protected-resource``
  (``authorization_servers``), which serves ``/.well-known/oauth-authorization-server``; the
  metadata's ``issuer`` must be the origin it was fetched from, its ``scopes_supported`` must include
  ``atproto``, and it must have a PAR endpoint (https://docs.bsky.app/docs/advanced-guides/oauth-client#client-and-server-metadata).

These documents come from servers chosen by whoever controls the account, so fetches are bounded
(the shared client's timeouts, a size cap) and only https is followed, except where the operator
configured a plain-http server (a local test network) to start from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from core.oauth.errors import OAuthError, ProviderUnavailable
from core.platforms.bluesky.session import origin

MAX_DOCUMENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServerMetadata:
    issuer: str
    par: str
    authorize: str
    token: str
    revoke: str | None
    scopes: frozenset[str]


class Resolver:
    def __init__(self, http: httpx.AsyncClient, *, plc: str, allow_http: bool) -> None:
        self.http = http
        self.plc = plc.rstrip("/")
        self.allow_http = allow_http

    async def _json(self, url: str, what: str) -> dict[str, Any]:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (self.allow_http and scheme == "http"):
            raise OAuthError(f"Bluesky {what} is not on https ({origin(url)}), so it was not fetched")
        try:
            response = await self.http.get(
                url, headers={"Accept": "application/json"}, follow_redirects=False
            )
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"could not fetch the Bluesky {what} ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise ProviderUnavailable(f"the Bluesky {what} is unavailable (HTTP {response.status_code})")
        if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
            raise OAuthError(f"the Bluesky {what} could not be read (HTTP {response.status_code})")
        try:
            body = response.json()
        except ValueError:
            raise OAuthError(f"the Bluesky {what} is not JSON") from None
        if not isinstance(body, dict):
            raise OAuthError(f"the Bluesky {what} is not a JSON object")
        return body

    async def did_document(self, did: str) -> dict[str, Any]:
        if did.startswith("did:plc:"):
            doc = await self._json(f"{self.plc}/{quote(did)}", "identity (DID document)")
        elif did.startswith("did:web:"):
            host = did.removeprefix("did:web:").replace("%3A", ":")
            doc = await self._json(f"https://{host}/.well-known/did.json", "identity (DID document)")
        else:
            raise OAuthError(f"Bluesky answered with an account id postbot can't resolve ({did[:40]})")
        if doc.get("id") != did:
            raise OAuthError("the account's DID document names another account")
        return doc

    async def server_metadata(self, server: str) -> ServerMetadata:
        """The authorization server behind ``server`` (a PDS or the entryway itself)."""
        base = origin(server)
        try:
            resource = await self._json(f"{base}/.well-known/oauth-protected-resource", "server metadata")
        except OAuthError:
            issuer = base
        else:
            servers = resource.get("authorization_servers") or []
            if not servers:
                raise OAuthError(f"{base} names no authorization server")
            issuer = str(servers[0])
        return await self.authorization_server(issuer)

    async def authorization_server(self, issuer: str) -> ServerMetadata:
        meta = await self._json(f"{origin(issuer)}/.well-known/oauth-authorization-server", "server metadata")
        if meta.get("issuer") != origin(issuer):
            raise OAuthError("the Bluesky authorization server's metadata names another issuer")
        # RFC 8414 makes scopes_supported a JSON array; Bluesky's guide calls it space-separated.
        listed = meta.get("scopes_supported") or []
        words = listed.split() if isinstance(listed, str) else [str(s) for s in listed]
        scopes = frozenset(words)
        if "atproto" not in scopes:
            raise OAuthError(f"{issuer} does not speak AT Protocol OAuth (no atproto scope)")
        try:
            return ServerMetadata(
                issuer=str(meta["issuer"]),
                par=str(meta["pushed_authorization_request_endpoint"]),
                authorize=str(meta["authorization_endpoint"]),
                token=str(meta["token_endpoint"]),
                revoke=str(meta["revocation_endpoint"]) if meta.get("revocation_endpoint") else None,
                scopes=scopes,
            )
        except KeyError as exc:
            raise OAuthError(f"the Bluesky authorization server's metadata lacks {exc.args[0]}") from None

    async def issuers_of(self, pds: str) -> list[str]:
        resource = await self._json(f"{origin(pds)}/.well-known/oauth-protected-resource", "PDS metadata")
        return [str(s) for s in resource.get("authorization_servers") or []]

    async def resolve_handle(self, pds: str, handle: str) -> str | None:
        """The DID ``handle`` points at, asked of the account's PDS; None when it resolves to nothing."""
        scheme = urlsplit(pds).scheme
        if scheme != "https" and not (self.allow_http and scheme == "http"):
            return None
        try:
            response = await self.http.get(
                f"{origin(pds)}/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle}
            )
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        did = (response.json() or {}).get("did")
        return str(did) if did else None


def pds_of(doc: dict[str, Any]) -> str | None:
    for service in doc.get("service") or []:
        if not isinstance(service, dict):
            continue
        sid = str(service.get("id", ""))
        if (sid == "#atproto_pds" or sid.endswith("#atproto_pds")) and service.get(
            "type"
        ) == "AtprotoPersonalDataServer":
            endpoint = service.get("serviceEndpoint")
            return str(endpoint).rstrip("/") if endpoint else None
    return None


def handle_of(doc: dict[str, Any]) -> str | None:
    for aka in doc.get("alsoKnownAs") or []:
        if isinstance(aka, str) and aka.startswith("at://"):
            return aka.removeprefix("at://")
    return None
