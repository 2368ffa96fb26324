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

These documents come from servers chosen by whoever controls the account (a did:web host, the PDS
a DID document names), so fetches are held to the rules of video links (core/media/links.py): only
https, no redirects, and only global addresses, checked when the connection opens (a name that
resolves to 127.0.0.1 or 10.x is refused, not connected to) as well as for an address written in the
URL; and an answer is read only up to ``MAX_DOCUMENT_BYTES``, so an endless one costs nothing. The
exception is an operator who configured a plain-http server to start from: a local test network,
where plain http and loopback are where the servers are.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import certifi
import httpx

from core.oauth.errors import OAuthError, ProviderUnavailable
from core.platforms.bluesky.session import origin
from core.publishers.transport import AiohttpTransport

MAX_DOCUMENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServerMetadata:
    issuer: str
    par: str
    authorize: str
    token: str
    revoke: str | None
    scopes: frozenset[str]


def _refused(host: str) -> OAuthError:
    return OAuthError(
        f"the Bluesky account's server {host} is not a public internet address, so it was not fetched"
    )


class Resolver:
    def __init__(self, http: httpx.AsyncClient, *, plc: str, allow_http: bool) -> None:
        self.http = http
        self.plc = plc.rstrip("/")
        self.allow_http = allow_http
        self._ssl: ssl.SSLContext | None = None

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self.allow_http:
            yield self.http
            return
        # Imported here: the link rules pull in aiohttp, which a process that links nothing skips.
        from core.media.link_resolver import CheckedResolver
        from core.media.links import AddressPolicy

        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=certifi.where())
        transport = AiohttpTransport(
            verify=self._ssl,
            # No proxy from the environment: it would connect for us, past the address check.
            trust_env=False,
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=0),
            resolver=CheckedResolver(AddressPolicy().permits, _refused),
        )
        async with httpx.AsyncClient(
            transport=transport, trust_env=False, follow_redirects=False, timeout=self.http.timeout
        ) as client:
            yield client

    def _check_host(self, url: str) -> None:
        """An address written in the URL: the connector does not look it up, so it is checked here."""
        if self.allow_http:
            return
        from core.media.links import AddressPolicy

        host = urlsplit(url).hostname or ""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: its addresses are checked when the connection opens
        if not AddressPolicy().permits(literal):
            raise _refused(host)

    async def _json(self, url: str, what: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (self.allow_http and scheme == "http"):
            raise OAuthError(f"Bluesky {what} is not on https ({origin(url)}), so it was not fetched")
        self._check_host(url)
        body_bytes = bytearray()
        try:
            async with (
                self._client() as client,
                client.stream(
                    "GET", url, params=params, headers={"Accept": "application/json"}, follow_redirects=False
                ) as response,
            ):
                status = response.status_code
                if status >= 500:
                    raise ProviderUnavailable(f"the Bluesky {what} is unavailable (HTTP {status})")
                if status != 200:
                    raise OAuthError(f"the Bluesky {what} could not be read (HTTP {status})")
                async for piece in response.aiter_bytes():
                    body_bytes += piece
                    if len(body_bytes) > MAX_DOCUMENT_BYTES:
                        raise OAuthError(
                            f"the Bluesky {what} could not be read (over {MAX_DOCUMENT_BYTES} bytes)"
                        )
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"could not fetch the Bluesky {what} ({type(exc).__name__})") from None
        try:
            body = json.loads(body_bytes)
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
        """The DID ``handle`` points at, asked of the account's PDS; None when it resolves to nothing
        (or to an answer that is not one: the handle then simply goes unverified)."""
        try:
            body = await self._json(
                f"{origin(pds)}/xrpc/com.atproto.identity.resolveHandle", "handle", {"handle": handle}
            )
        except OAuthError:
            return None
        did = body.get("did")
        return str(did) if isinstance(did, str) and did else None


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
