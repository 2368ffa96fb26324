"""Hostile identity documents for Bluesky linking: an account's DID document, PDS and handle are the
account holder's to choose, so the resolver that follows them must neither reach private or loopback
hosts in production (the video-link rules of core/media/links.py: global addresses only, checked
when the connection opens) nor read an endless answer into memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from core.oauth.errors import OAuthError
from core.platforms.bluesky.identity import MAX_DOCUMENT_BYTES, AccountHosts, Resolver


class Listener:
    """A loopback server that counts connections and can answer without end."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
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
