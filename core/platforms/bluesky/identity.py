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
a DID document names), and so do the PDS that publishing sends the account's tokens to and the
endpoints its authorization server's metadata names. Every request to them goes through
:class:`AccountHosts`, held to the rules of video links (core/media/links.py): only https, no
redirects, and only global addresses, checked when the connection opens (a name that resolves to
127.0.0.1 or 10.x is refused, not connected to, however its DNS answered earlier) as well as for an
address written in the URL. No answer from them is read past a cap (``MAX_ANSWER_BYTES``, documents
``MAX_DOCUMENT_BYTES``), error bodies included, so an endless or huge one costs a worker nothing
but the cap. The exception is an operator who configured a plain-http server to start from
(:func:`local_network`): a local test network, where plain http and loopback are where the servers are.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import certifi
import httpx

from core.oauth.errors import OAuthError, ProviderUnavailable
from core.platforms.bluesky.session import origin
from core.publishers.transport import make_client

if TYPE_CHECKING:
    from core.media.links import AddressPolicy

MAX_DOCUMENT_BYTES = 64 * 1024
# Any other answer from these servers. The largest postbot asks for: a token response (a JWT access
# token and a refresh token, a few KiB), and XRPC answers from the PDS (a service token, a handle's
# DID, createRecord's uri and cid, getRecord of postbot's own post: at most 3,000 bytes of text,
# lexicons/app/bsky/feed/post.json, and a video embed). atproto asks records to stay within "a few
# dozen KBytes" (https://atproto.com/guides/data-validation) and its libraries refuse one over 1 MiB
# (bluesky-social/indigo atproto/data/const.go, MAX_CBOR_RECORD_SIZE), so 1 MiB is far above any
# honest answer and still nothing for a worker's memory.
MAX_ANSWER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ServerMetadata:
    issuer: str
    par: str
    authorize: str
    token: str
    revoke: str | None
    scopes: frozenset[str]


class Refused(OAuthError):
    """A server an account's identity names that postbot will not contact (not https, or not at a
    public internet address): linking fails with it, publishing turns it into a failed post."""


class Unreadable(OAuthError):
    """An answer from such a server that postbot stopped reading (over its cap, or compressed though
    postbot asked for it plain): linking fails with it, publishing fails the post."""


def _size(count: int) -> str:
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if count % unit == 0:
            return f"{count // unit} {name}"
    return f"{count:,} bytes"


def _refused(host: str) -> Refused:
    return Refused(
        f"the Bluesky account's server {host} is not a public internet address, so postbot did not contact it"
    )


def local_network(entry: str) -> bool:
    """Whether the server a link starts from (the operator's ``auth_base_url``) is plain http: a local
    test network, whose servers are on loopback over http, so the address rules are off."""
    return urlsplit(entry).scheme == "http"


class AccountHosts:
    """The way to every server an account's identity names (its PDS, the authorization server
    behind it, a did:web host): one client, made on first use and kept for the process's life
    (``aclose`` at shutdown), so publishing reuses its connections instead of a TLS handshake per
    request. On a local network (``allow_http``) it is the shared ``http`` client.

    ``policy`` and ``verify`` are for tests: which addresses count as public (video links' test
    networks) and which CA a loopback https server's certificate is signed by."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        allow_http: bool,
        policy: AddressPolicy | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self.http = http
        self.allow_http = allow_http
        self._policy = policy
        self._verify = verify
        self._checked: httpx.AsyncClient | None = None

    def _policy_now(self) -> AddressPolicy:
        # Imported here: the link rules pull in aiohttp, which a process that links nothing skips.
        from core.media.links import AddressPolicy

        return self._policy or AddressPolicy()

    @property
    def client(self) -> httpx.AsyncClient:
        if self.allow_http:
            return self.http
        if self._checked is None:
            from core.media.link_resolver import CheckedResolver

            self._checked = make_client(
                timeout=self.http.timeout,
                verify=self._verify or ssl.create_default_context(cafile=certifi.where()),
                resolver=CheckedResolver(self._policy_now().permits, _refused),
            )
        return self._checked

    def check(self, url: str) -> None:
        """The scheme, and an address written in the URL (the connector does not look one up, so
        the resolver never sees it)."""
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (self.allow_http and scheme == "http"):
            raise Refused(
                f"the Bluesky account's server {origin(url)} is not on https, so postbot did not contact it"
            )
        if self.allow_http:
            return
        host = urlsplit(url).hostname or ""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: its addresses are checked when the connection opens
        if not self._policy_now().permits(literal):
            raise _refused(host)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        limit: int = MAX_ANSWER_BYTES,
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer, its body read whole but never past ``limit`` bytes: one that says it is
        longer is refused before its body is read, one that goes on longer is cut there (the
        connection is closed, not drained); either raises :class:`Unreadable`."""
        self.check(url)
        # Plain bodies only: a compressed one is counted only after it is inflated, and one 64 KiB
        # piece of gzip can inflate to 64 MiB before the count could stop it.
        plain = {**(headers or {}), "Accept-Encoding": "identity"}
        async with self.client.stream(
            method, url, headers=plain, follow_redirects=False, **kwargs
        ) as response:
            coding = response.headers.get("content-encoding", "identity").strip().lower()
            if coding not in ("", "identity"):
                raise Unreadable(
                    f"the Bluesky account's server {origin(url)} sent a {coding}-compressed answer "
                    "though postbot asked for it uncompressed, so postbot did not read it"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise Unreadable(
                    f"the Bluesky account's server {origin(url)} announced an answer of "
                    f"{int(declared):,} bytes; postbot reads at most {_size(limit)}, so it did not read it"
                )
            body = bytearray()
            async for piece in response.aiter_raw():
                body += piece
                if len(body) > limit:
                    raise Unreadable(
                        f"the Bluesky account's server {origin(url)} sent an answer over "
                        f"{_size(limit)}, so postbot stopped reading it"
                    )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=bytes(body),
            request=response.request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        if self._checked is not None:
            await self._checked.aclose()
            self._checked = None


class Resolver:
    def __init__(self, hosts: AccountHosts, *, plc: str) -> None:
        self.hosts = hosts
        self.plc = plc.rstrip("/")

    async def _json(self, url: str, what: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        try:
            response = await self.hosts.request(
                "GET", url, params=params, headers={"Accept": "application/json"}, limit=MAX_DOCUMENT_BYTES
            )
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"could not fetch the Bluesky {what} ({type(exc).__name__})") from None
        except Unreadable as exc:
            raise OAuthError(f"the Bluesky {what} could not be read: {exc.message}") from None
        status = response.status_code
        if status >= 500:
            raise ProviderUnavailable(f"the Bluesky {what} is unavailable (HTTP {status})")
        if status != 200:
            raise OAuthError(f"the Bluesky {what} could not be read (HTTP {status})")
        try:
            body = json.loads(response.content)
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
