"""Hostile identities for Bluesky: an account's DID document, PDS and handle are the account holder's
to choose, and so is the authorization server's metadata a refresh follows. Neither linking nor
publishing may reach private or loopback hosts with them in production (the video-link rules of
core/media/links.py: global addresses only, checked when the connection opens, https, no redirects)
or read an endless answer into memory.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from core.config import Settings
from core.domain import Platform
from core.media.links import AddressPolicy
from core.oauth.endpoints import Endpoints
from core.oauth.errors import OAuthError, ProviderUnavailable
from core.oauth.models import TokenSet
from core.platforms.bluesky import dpop
from core.platforms.bluesky.identity import MAX_ANSWER_BYTES, MAX_DOCUMENT_BYTES, AccountHosts, Resolver
from core.platforms.bluesky.oauth import BlueskyOAuth
from core.platforms.bluesky.publisher import BlueskyPublisher
from core.platforms.bluesky.session import Session
from core.platforms.publishers import PublisherRegistry
from core.publishers.base import PermanentError, PublishJob
from core.publishers.transport import make_client
from tests.fakes.web_host import make_certificates
from tests.publishing_support import StaticTokens, video_job

DID = "did:plc:acmeacmeacmeacmeacmeacme"


class Listener:
    """A loopback server that counts connections and can answer without end."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.mark.parametrize(
    "fetch",
    [
        "did_web_loopback",
        "did_web_localhost",
        "pds_loopback",
        "pds_private",
        "pds_metadata_link_local",
        "handle_on_loopback_pds",
    ],
)
async def test_production_resolver_never_connects_to_a_private_or_loopback_host(
    http: httpx.AsyncClient, fetch: str
) -> None:
    hosts = AccountHosts(http, allow_http=False)
    resolver = Resolver(hosts, plc="https://plc.directory")
    async with Listener() as listener:
        loop = f"https://127.0.0.1:{listener.port}"
        calls = {
            "did_web_loopback": lambda: resolver.did_document(f"did:web:127.0.0.1%3A{listener.port}"),
            "did_web_localhost": lambda: resolver.did_document(f"did:web:localhost%3A{listener.port}"),
            "pds_loopback": lambda: resolver.issuers_of(loop),
            "pds_private": lambda: resolver.issuers_of("https://10.255.255.1"),
            "pds_metadata_link_local": lambda: resolver.server_metadata("https://169.254.169.254"),
            "handle_on_loopback_pds": lambda: resolver.resolve_handle(loop, "acme.test"),
        }
        try:
            answer = await asyncio.wait_for(calls[fetch](), 10)
        except OAuthError as exc:
            assert "not a public internet address" in exc.message
        else:
            # Handle resolution says "no DID" rather than failing the link.
            assert fetch == "handle_on_loopback_pds" and answer is None
        assert listener.connections == 0
    await hosts.aclose()


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"id": "did:web:x", "pad": "')
    while True:
        await response.write(b"a" * 65536)


async def _resolve_handle(request: web.Request) -> web.Response:
    if request.query.get("handle") == "list.test":
        return web.json_response(["did:plc:someone"])
    return web.Response(text="<html>not json</html>", content_type="text/html")


@pytest.fixture
async def hostile_pds() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/.well-known/oauth-protected-resource", _endless)
    app.router.add_get("/xrpc/com.atproto.identity.resolveHandle", _resolve_handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_an_endless_document_is_cut_at_the_cap(http: httpx.AsyncClient, hostile_pds: str) -> None:
    # allow_http: the local test network, where loopback is where the servers are.
    resolver = Resolver(AccountHosts(http, allow_http=True), plc=hostile_pds)
    with pytest.raises(OAuthError, match="could not be read"):
        await asyncio.wait_for(resolver.issuers_of(hostile_pds), 10)
    assert MAX_DOCUMENT_BYTES <= 64 * 1024


async def test_a_handle_answer_that_is_not_a_json_object_resolves_to_nothing(
    http: httpx.AsyncClient, hostile_pds: str
) -> None:
    resolver = Resolver(AccountHosts(http, allow_http=True), plc=hostile_pds)
    assert await resolver.resolve_handle(hostile_pds, "acme.test") is None
    assert await resolver.resolve_handle(hostile_pds, "list.test") is None


# --- publishing and refreshing: the PDS and the token endpoint are the account's choice too ---------


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names and the one address each resolves to. DNS is the network edge, so the loop's lookup is
    what answers (as a PDS's DNS would after pointing its name at 127.0.0.1 or 10.x)."""
    names: dict[str, str] = {}

    async def lookup(host: str, port: int, *args: object, **kwargs: object) -> list[Any]:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (names[host], port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", lookup)
    return names


def stored(pds: str, issuer: str = "https://bsky.social", field: str = "access_token") -> str:
    return Session("token-of-acme", dpop.new_key(), DID, pds, issuer).dump(field)


def first_post(tmp_path: Path, pds: str) -> PublishJob:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 1024)
    return video_job(
        video,
        [],
        post_id=1,
        platform=Platform.BLUESKY,
        caption="Launch day",
        title=None,
        tokens=StaticTokens(stored(pds), DID),
    )


@pytest.mark.parametrize(
    ("pds", "address"),
    [
        ("https://pds.example:{port}", "127.0.0.1"),
        ("https://pds.example:{port}", "10.20.30.40"),
        ("https://pds.example:{port}", "169.254.169.254"),
        ("https://127.0.0.1:{port}", None),
        ("https://[::1]:{port}", None),
        ("http://pds.example:{port}", "127.0.0.1"),
    ],
)
async def test_publishing_never_sends_the_tokens_to_a_pds_on_a_private_address(
    dns: dict[str, str], tmp_path: Path, pds: str, address: str | None
) -> None:
    """The stored PDS was public at linking; its name now resolves to loopback, a private network or
    the cloud metadata address (DNS rebinding, or a hostile PDS), or it is such an address outright.
    The post fails for good with Bluesky's server named, and nothing connects. Before the PDS calls
    went through the identity rules, the shared client connected (and would have sent the token)."""
    http = make_client(timeout=httpx.Timeout(3.0))
    publisher = BlueskyPublisher(http, video_url="https://video.example", retry_base_s=0.01)
    async with Listener() as listener:
        if address is not None:
            dns["pds.example"] = address
        job = first_post(tmp_path, pds.format(port=listener.port))
        with pytest.raises(PermanentError) as refused:
            await asyncio.wait_for(publisher.publish(job), 10)
        assert listener.connections == 0
    assert "so postbot did not contact it" in refused.value.message
    why = "is not on https" if pds.startswith("http:") else "is not a public internet address"
    assert why in refused.value.message and "/link bluesky" in (refused.value.hint or "")
    await publisher.aclose()
    await http.aclose()


class HttpsServer:
    """A public server as the tests play one: https on 127.0.0.1 (named ``localhost``) with a
    certificate from a throwaway CA, permitted by the test's address policy. Answers are set per
    path; every request's path is recorded."""

    def __init__(self, folder: Path) -> None:
        ca, cert, key = make_certificates(folder)
        self.client_ssl = ssl.create_default_context(cafile=str(ca))
        self._server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_ssl.load_cert_chain(cert, key)
        self.answers: dict[str, web.Response | Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}
        self.paths: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        answer = self.answers.get(request.path) or web.Response(status=404)
        return answer if isinstance(answer, web.Response) else await answer(request)

    async def __aenter__(self) -> HttpsServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._server_ssl)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    def hosts(self, http: httpx.AsyncClient) -> AccountHosts:
        # 127.0.0.1 plays the public internet; the rest of loopback stays private.
        return AccountHosts(
            http,
            allow_http=False,
            policy=AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),)),
            verify=self.client_ssl,
        )


async def test_a_redirect_from_the_pds_is_not_followed(dns: dict[str, str], tmp_path: Path) -> None:
    """A PDS answering 307 (to itself here, so the address check lets the hop through) does not get
    the request, its DPoP proof and token sent again elsewhere: the answer is the PDS's refusal.
    Mutation: AccountHosts.request following redirects sent getServiceAuth to /elsewhere."""
    dns["localhost"] = "127.0.0.1"
    http = make_client(timeout=httpx.Timeout(3.0))
    async with HttpsServer(tmp_path) as pds:
        moved = web.Response(status=307, headers={"Location": f"{pds.origin}/elsewhere"})
        pds.answers["/xrpc/com.atproto.server.getServiceAuth"] = moved
        hosts = pds.hosts(http)
        publisher = BlueskyPublisher(http, video_url="https://video.example", hosts=hosts, retry_base_s=0.01)
        with pytest.raises(PermanentError, match="HTTP 307"):
            await asyncio.wait_for(publisher.publish(first_post(tmp_path, pds.origin)), 10)
        assert pds.paths == ["/xrpc/com.atproto.server.getServiceAuth"]
        await publisher.aclose()
    await http.aclose()


async def test_a_refresh_never_posts_to_a_token_endpoint_on_a_private_address(
    dns: dict[str, str], tmp_path: Path
) -> None:
    """The stored issuer is public and its metadata is read, but the token endpoint it names resolves
    to another loopback address: the refresh token and client assertion are not sent there (the
    refresh fails, which the token source reports as a failed refresh). Mutation: the DPoP requests
    on the shared client connected to it."""
    dns["localhost"] = "127.0.0.1"
    dns["tokens.example"] = "127.0.0.2"
    http = make_client(timeout=httpx.Timeout(3.0))
    async with HttpsServer(tmp_path) as server, Listener("127.0.0.2") as inside:
        issuer = server.origin
        server.answers["/.well-known/oauth-authorization-server"] = web.json_response(
            {
                "issuer": issuer,
                "scopes_supported": ["atproto", "transition:generic"],
                "pushed_authorization_request_endpoint": f"{issuer}/oauth/par",
                "authorization_endpoint": f"{issuer}/oauth/authorize",
                "token_endpoint": f"https://tokens.example:{inside.port}/oauth/token",
            }
        )
        hosts = server.hosts(http)
        key = ec_pem()
        oauth = BlueskyOAuth(
            client_id="https://postbot.example/oauth/bluesky/client-metadata.json",
            client_secret=key,
            endpoints=Endpoints(
                authorize=f"{issuer}/oauth/authorize",
                token=f"{issuer}/oauth/token",
                revoke=None,
                profile="https://plc.directory",
            ),
            http=http,
            hosts=hosts,
        )
        session = stored(issuer, issuer, "refresh_token")
        with pytest.raises(OAuthError, match=r"tokens\.example is not a public internet address"):
            await asyncio.wait_for(oauth.refresh(TokenSet(access_token="", refresh_token=session)), 10)
        assert server.paths == ["/.well-known/oauth-authorization-server"]
        assert inside.connections == 0
        await oauth.aclose()
    await http.aclose()


# --- answers that never end: no server an account names gets a worker's memory ---------------------

FLOOD_BYTES = 64 * 1024 * 1024
# What the socket buffers (both ends) and TLS hold beyond what the client read before it hung up:
# 0.25 MiB measured on loopback here, room left for larger buffers. Reading the flood is 64 MiB.
BUFFERED = 4 * 1024 * 1024


class Flood:
    """A body far above the cap (``FLOOD_BYTES``, long enough that reading it whole is plain),
    chunked or with its length declared, under any status. Counts what it wrote before the client
    hung up."""

    def __init__(self, status: int = 200, *, declared: bool = False) -> None:
        self.status = status
        self.declared = declared
        self.written = 0
        self.hung_up = asyncio.Event()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=self.status, headers={"Content-Type": "application/json"})
        if self.declared:
            response.content_length = FLOOD_BYTES
        await response.prepare(request)
        piece = b"a" * 65536
        try:
            while self.written < FLOOD_BYTES:
                await response.write(piece)
                self.written += len(piece)
                # Once the client hung up, writes land nowhere without waiting: only a turn of the
                # loop lets the transport learn the connection is gone, and the next write raise.
                await asyncio.sleep(0)
            await response.write_eof()
        except ConnectionError:
            self.hung_up.set()
        return response


@pytest.mark.parametrize(
    ("status", "declared", "said"),
    [
        (200, False, "sent an answer over 1 MiB, so postbot stopped reading it"),
        (200, True, f"announced an answer of {FLOOD_BYTES:,} bytes"),
        (502, False, "sent an answer over 1 MiB, so postbot stopped reading it"),
    ],
    ids=["chunked", "declared", "error_body"],
)
async def test_a_pds_answer_past_the_cap_fails_the_post_without_reading_it(
    dns: dict[str, str], tmp_path: Path, status: int, declared: bool, said: str
) -> None:
    """The PDS answers the first XRPC call (getServiceAuth) with a body of 64 MiB, chunked or
    declared, as a success or as a 502's error body. The post fails for good at once, naming the
    server; the request is not sent again; the connection is closed after about the cap (what the
    server managed to write is the cap plus socket buffers, not the body). Before the cap, the whole
    body was read into memory (and then failed as JSON), the 502's three times over (retried in place)."""
    dns["localhost"] = "127.0.0.1"
    http = make_client(timeout=httpx.Timeout(3.0))
    flood = Flood(status, declared=declared)
    async with HttpsServer(tmp_path) as pds:
        pds.answers["/xrpc/com.atproto.server.getServiceAuth"] = flood
        publisher = BlueskyPublisher(
            http, video_url="https://video.example", hosts=pds.hosts(http), retry_base_s=0.01
        )
        with pytest.raises(PermanentError) as failed:
            await asyncio.wait_for(publisher.publish(first_post(tmp_path, pds.origin)), 20)
        await asyncio.wait_for(flood.hung_up.wait(), 5)
        assert pds.paths == ["/xrpc/com.atproto.server.getServiceAuth"]
        await publisher.aclose()
    await http.aclose()
    assert f"server {pds.origin} " in failed.value.message and said in failed.value.message
    assert flood.written < MAX_ANSWER_BYTES + BUFFERED


async def test_a_compressed_pds_answer_is_not_inflated(dns: dict[str, str], tmp_path: Path) -> None:
    """postbot asks these servers for uncompressed answers; a PDS that sends gzip anyway (64 MiB of
    JSON squeezed into about 64 KiB, under the cap until inflated) fails the post unread. Before,
    httpx inflated it whole (and postbot took the 64 MiB string for a service token)."""
    dns["localhost"] = "127.0.0.1"
    http = make_client(timeout=httpx.Timeout(3.0))
    bomb = gzip.compress(b'{"token": "' + b"a" * FLOOD_BYTES + b'"}')
    asked: list[str] = []

    async def compressed(request: web.Request) -> web.Response:
        asked.append(request.headers.get("Accept-Encoding", ""))
        return web.Response(
            body=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    async with HttpsServer(tmp_path) as pds:
        pds.answers["/xrpc/com.atproto.server.getServiceAuth"] = compressed
        publisher = BlueskyPublisher(
            http, video_url="https://video.example", hosts=pds.hosts(http), retry_base_s=0.01
        )
        with pytest.raises(PermanentError) as failed:
            await asyncio.wait_for(publisher.publish(first_post(tmp_path, pds.origin)), 20)
        await publisher.aclose()
    await http.aclose()
    assert len(bomb) < MAX_ANSWER_BYTES and asked == ["identity"]
    assert f"server {pds.origin} sent a gzip-compressed answer" in failed.value.message


async def test_a_token_endpoint_answer_past_the_cap_fails_the_refresh(
    dns: dict[str, str], tmp_path: Path
) -> None:
    """The authorization server's metadata is fine; its token endpoint answers the refresh with an
    endless chunked body. The refresh fails (as a refused one: the token source reports it and the
    post fails, not retried) naming the server, and the connection is closed after about the cap.
    Before the cap, the token response was read whole."""
    dns["localhost"] = "127.0.0.1"
    http = make_client(timeout=httpx.Timeout(3.0))
    flood = Flood()
    async with HttpsServer(tmp_path) as server:
        issuer = server.origin
        server.answers["/.well-known/oauth-authorization-server"] = web.json_response(
            {
                "issuer": issuer,
                "scopes_supported": ["atproto", "transition:generic"],
                "pushed_authorization_request_endpoint": f"{issuer}/oauth/par",
                "authorization_endpoint": f"{issuer}/oauth/authorize",
                "token_endpoint": f"{issuer}/oauth/token",
            }
        )
        server.answers["/oauth/token"] = flood
        oauth = BlueskyOAuth(
            client_id="https://postbot.example/oauth/bluesky/client-metadata.json",
            client_secret=ec_pem(),
            endpoints=Endpoints(
                authorize=f"{issuer}/oauth/authorize",
                token=f"{issuer}/oauth/token",
                revoke=None,
                profile="https://plc.directory",
            ),
            http=http,
            hosts=server.hosts(http),
        )
        session = stored(issuer, issuer, "refresh_token")
        with pytest.raises(OAuthError) as failed:
            await asyncio.wait_for(oauth.refresh(TokenSet(access_token="", refresh_token=session)), 20)
        await asyncio.wait_for(flood.hung_up.wait(), 5)
        assert server.paths == ["/.well-known/oauth-authorization-server", "/oauth/token"]
        await oauth.aclose()
    await http.aclose()
    assert not isinstance(failed.value, ProviderUnavailable), "a refused refresh, not one to retry"
    assert f"server {issuer} sent an answer over 1 MiB" in failed.value.message
    assert flood.written < MAX_ANSWER_BYTES + BUFFERED


def ec_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def test_the_checked_client_is_made_once_and_closed_at_shutdown(tmp_path: Path) -> None:
    """Publishing reuses one client (its connections) for every PDS request, and the registry closes
    it with the rest of the process. Mutation: the registry's aclose skipping publishers left it open."""
    http = make_client()
    conf = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        data_dir=tmp_path,
    )
    registry = PublisherRegistry(conf, http)
    publisher = registry.get(Platform.BLUESKY)
    assert isinstance(publisher, BlueskyPublisher)
    assert not publisher.hosts.allow_http, "no plain-http entry server: production rules"
    client = publisher.hosts.client
    assert publisher.hosts.client is client
    await registry.aclose()
    assert client.is_closed
    await http.aclose()
