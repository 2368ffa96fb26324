"""The HTTP client every publisher uses: httpx's API, over aiohttp's connection pool.

Why not httpx's default transport: httpcore's ``AsyncConnectionPool`` re-walks every connection it
holds on each request and asks each idle one whether its socket is readable; with the 100+
keep-alive connections a worker keeps open to publish ``max_in_flight`` posts at once, that walk was
most of the worker's CPU per post (bench/scheduler.py prints both, beside the no-HTTP floor).
aiohttp's ``TCPConnector`` keeps idle connections per host and takes one in O(1); aiohttp is already
a dependency (discord.py's), and it does TLS, keep-alive, stale-connection retries, happy eyeballs
and the HTTP/1.1 parser (C) for us.

Why not httpx-aiohttp's ``AiohttpTransport`` as it is: it hands aiohttp ``str(request.url)``, which
aiohttp parses again with yarl's default *requoting*: ``%2F`` in a query becomes ``/``, ``%7e``
becomes ``~``, escapes change case. Signed upload URLs (S3-style, platform CDNs) then fail their
signature (https://github.com/aio-libs/aiohttp/issues/4307, /9721). This module gives aiohttp the
URL as already encoded (``yarl.URL(..., encoded=True)``, aiohttp's documented way to send a URL
as is: https://docs.aiohttp.org/en/stable/client_quickstart.html#passing-parameters-in-urls), and
maps the rest between the two libraries' public APIs:

- timeouts: ``connect`` and ``read`` are aiohttp's ``sock_connect`` and ``sock_read``; ``pool`` is
  the wait for one of ``max_connections`` slots (``httpx.PoolTimeout``); ``write`` bounds each
  piece of a streamed body (aiohttp has none: a platform that stops reading an upload would hold
  the post forever).
- errors: aiohttp's exceptions become httpx's ``TransportError`` subclasses, so publishers and
  their retry policy see the same errors as with httpx's own transport.
- cookies: none are kept (``DummyCookieJar``; see ``make_client`` for httpx's own jar).
- proxies from the environment: when any is set, ``make_client`` mounts this transport under
  ``all://`` and leaves ``trust_env`` on, so httpx puts its ``HTTP(S)_PROXY``/``ALL_PROXY`` mounts
  (more specific patterns, ``NO_PROXY`` honoured) in front of it.

HTTP/2 is not offered: no platform postbot publishes to needs it.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    # aiohttp itself is imported by the first request, not by importing this module: a process
    # that publishes nothing over HTTP (the console) starts without it.
    import aiohttp
    from aiohttp.abc import AbstractResolver

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0)

# Headers aiohttp would add when httpx did not: httpx already sends its own Accept, Accept-Encoding
# and User-Agent, and sends no Content-Type unless the caller set one (aiohttp would label raw bytes
# application/octet-stream).
_NOT_ADDED = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
_RESPONSE_PIECE = 64 * 1024


class _Slots:
    """At most ``max_connections`` requests in flight (so connections open at once), waited for
    within the pool timeout, as httpx's own pool does."""

    def __init__(self, limit: int | None) -> None:
        self._free = asyncio.Semaphore(limit) if limit is not None else None

    async def take(self, limit_s: float | None) -> None:
        if self._free is None:
            return
        try:
            async with asyncio.timeout(limit_s):
                await self._free.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no connection became free in time") from exc

    def give_back(self) -> None:
        if self._free is not None:
            self._free.release()


def _mapped(exc: BaseException, *, writing: bool) -> httpx.TransportError | None:
    """httpx's exception for an aiohttp one (most specific first), or None for anything else."""
    import aiohttp

    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Refused, unreachable, unknown name, TLS handshake or certificate refused.
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        # Closed before a whole response, or a response that is not valid HTTP.
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(message)
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        return httpx.WriteError(message) if writing else httpx.ReadError(message)
    return None


class _Body:
    """A streamed request body handed to aiohttp piece by piece, each piece sent within the write
    timeout (the deadline moves on with every piece; it is lifted once the body is whole)."""

    def __init__(
        self, stream: httpx.AsyncByteStream, deadline: asyncio.Timeout, limit_s: float | None
    ) -> None:
        self._stream = stream
        self._deadline = deadline
        self._limit_s = limit_s
        self.writing = False

    async def pieces(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        self.writing = True
        try:
            async for piece in self._stream:
                if self._limit_s is not None:
                    # aiohttp writes (and drains) this piece before asking for the next one.
                    self._deadline.reschedule(loop.time() + self._limit_s)
                yield piece
        finally:
            self.writing = False
            if not self._deadline.expired():
                self._deadline.reschedule(None)

    def timed_out(self) -> bool:
        return self._deadline.expired()


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, slots: _Slots) -> None:
        self._response = response
        self._slots = slots
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for piece in self._response.content.iter_chunked(_RESPONSE_PIECE):
                yield piece
        except aiohttp.ClientError as exc:
            raise (_mapped(exc, writing=False) or httpx.ReadError(str(exc))) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Back to aiohttp's pool when the body was read to its end; closed otherwise.
        self._response.release()
        self._slots.give_back()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent through one ``aiohttp.ClientSession`` (made on first use, in the loop
    that uses it)."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool = True,
        trust_env: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        resolver: AbstractResolver | None = None,
    ) -> None:
        # httpx's context: the same CA bundle (certifi, or SSL_CERT_FILE with trust_env) as httpx.
        self._ssl_context = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
        self._limits = limits
        self._slots = _Slots(limits.max_connections)
        # Where host names are looked up (core/media/links.py checks every address it returns).
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            ssl=self._ssl_context,
            # The slots bound connections; aiohttp's own limit (0: none) would only queue twice.
            limit=0,
            keepalive_timeout=self._limits.keepalive_expiry or 0,
            force_close=self._limits.keepalive_expiry == 0,
            resolver=self._resolver,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_NOT_ADDED,
            auto_decompress=False,  # httpx decodes Content-Encoding itself
            # Proxies are httpx's mounts (see the module doc); aiohttp's trust_env would also read
            # ~/.netrc and look the environment up in a thread on every request.
            trust_env=False,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        await self._slots.take(timeouts.get("pool"))
        try:
            response = await self._send(request, timeouts)
        except BaseException:
            self._slots.give_back()
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseBody(response, self._slots),
            request=request,
            extensions={
                "http_version": f"HTTP/{response.version.major}.{response.version.minor}".encode()
                if response.version
                else b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def _send(
        self, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> aiohttp.ClientResponse:
        import aiohttp
        import yarl

        if self._session is None:
            self._session = self._open_session()
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers.raw
            # aiohttp frames the body itself (chunked when a stream has no Content-Length).
            if k.lower() != b"transfer-encoding"
        ]
        url = yarl.URL(str(request.url), encoded=True)
        body: _Body | None = None
        try:
            async with asyncio.timeout(None) as deadline:
                data: Any
                try:
                    data = request.content or None
                except httpx.RequestNotRead:
                    body = _Body(request.stream, deadline, timeouts.get("write"))  # type: ignore[arg-type]
                    data = body.pieces()
                return await self._session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    compress=None,
                    timeout=aiohttp.ClientTimeout(
                        total=None,
                        connect=None,
                        sock_connect=timeouts.get("connect"),
                        sock_read=timeouts.get("read"),
                    ),
                    server_hostname=request.extensions.get("sni_hostname"),
                )
        except TimeoutError as exc:
            if body is not None and body.timed_out():
                raise httpx.WriteTimeout("a piece of the request body was not sent in time") from exc
            raise (_mapped(exc, writing=False) or httpx.ReadTimeout(str(exc))) from exc
        except (aiohttp.ClientError, OSError) as exc:
            mapped = _mapped(exc, writing=body is not None and body.writing)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def make_client(
    *,
    limits: httpx.Limits = DEFAULT_LIMITS,
    timeout: httpx.Timeout | float = httpx.Timeout(30.0, connect=10.0),
    verify: ssl.SSLContext | str | bool = True,
    resolver: AbstractResolver | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """The httpx client publishers get: ``AiohttpTransport`` for every URL no proxy setting claims.

    With ``resolver`` (one that checks every address it hands the connector,
    core/media/link_resolver.py), the client takes nothing from the environment: a proxy would
    connect for it, past the check, and ~/.netrc would add credentials. It follows no redirect."""
    if resolver is not None:
        checked = AiohttpTransport(limits=limits, verify=verify, trust_env=False, resolver=resolver)
        client = httpx.AsyncClient(
            timeout=timeout, transport=checked, trust_env=False, follow_redirects=False, **kwargs
        )
        _forget_cookies(client)
        return client
    transport = AiohttpTransport(limits=limits, verify=verify)
    if urllib.request.getproxies():
        # httpx reads the same variables (urllib's getproxies) and mounts its proxy transports in
        # front of this one, NO_PROXY honoured.
        client = httpx.AsyncClient(timeout=timeout, verify=verify, mounts={"all://": transport}, **kwargs)
    else:
        # No proxy: no mounts, so httpx builds none of its own transports (nor imports httpcore).
        client = httpx.AsyncClient(timeout=timeout, verify=verify, transport=transport, **kwargs)
    _forget_cookies(client)
    return client


def _forget_cookies(client: httpx.AsyncClient) -> None:
    # Publishers and OAuth calls carry no browser session: a cookie one API sets is not kept, so it
    # never rides along on a later call (another account's, or another platform's). httpx files
    # cookies just before response hooks run, with no await between, so no request sees one.
    async def forget_cookies(response: httpx.Response) -> None:
        client.cookies.clear()

    client.event_hooks = {**client.event_hooks, "response": [*client.event_hooks["response"], forget_cookies]}
