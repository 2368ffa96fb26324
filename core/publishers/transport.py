"""The HTTP client every publisher uses: httpx, over a connection pool that costs O(1) per request.

Why not httpx's default transport: httpcore's ``AsyncConnectionPool`` re-walks every connection it
holds on each request and on each response close, and asks each idle one whether its socket is
readable (a ``select`` call behind anyio's typed-attribute lookup). With the 100+ keep-alive
connections a worker keeps open to publish ``max_in_flight`` posts at once, that walk was most of the
worker's CPU per post: bench/scheduler.py measured 193 posts/s through it against 623 posts/s with
no HTTP at all (4.65 ms vs 0.9 ms of worker CPU per post). Through this pool, on the same shared
2-core machine at load average 4 (2 December 2026, ``--posts 4000 --only pg1 floor``): 240 and 154
posts/s against floors of 429 and 368 measured in the same runs (ratios 0.56 and 0.42), 2.1-2.8 ms
of worker CPU per post against 0.9-1.0; httpx's stock pool in between: 120 vs 419 (0.29), 4.84 ms.

``LeanPool`` keeps, per origin, a stack of idle HTTP/1.1 connections: a request takes the most
recently used one (checking only that one for expiry or a server-side close) or opens a new one,
and gives it back when its response is closed. Its streams are plain asyncio streams, not anyio's.
Everything above the pool is httpx's own ``AsyncHTTPTransport``: the request it sends is built the
same way (the URL's raw path goes out byte for byte), TLS uses the context httpx builds from
``verify``/``cert``/``trust_env``, and httpcore's exceptions map to httpx's the usual way.

HTTP/2 is not offered: no platform postbot publishes to needs it. Proxies from the environment still
apply: ``make_client`` mounts this transport under ``all://``, and httpx puts any ``HTTP(S)_PROXY``
mounts (more specific patterns) in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio
import httpcore
import httpx

# One client's pool, for every platform: the scheduler runs up to ``max_in_flight`` uploads at once.
# Writes are held back (see AsyncioStream) until a read or this many bytes, whichever comes first.
_CORK_BYTES = 64 * 1024

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """A TCP (or TLS) connection as asyncio streams, in httpcore's network-stream interface."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        # Bytes written but not yet sent: httpcore writes a request's head and body separately, and
        # sending them as one segment saves a system call and a packet per request. Sent before
        # any read (the request is whole by then) or once a body piece makes it large.
        self._pending: list[bytes] = []
        self._pending_size = 0

    async def _flush(self, limit_s: float | None) -> None:
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._pending_size = 0
        try:
            self._writer.write(data)
            async with asyncio.timeout(limit_s):
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (OSError, RuntimeError) as exc:
            # RuntimeError: writing to a transport asyncio already closed.
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    # ``timeout`` parameters: httpcore's network-stream interface passes them.
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if self._pending:
            await self._flush(timeout)
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        self._pending.append(buffer)
        self._pending_size += len(buffer)
        if self._pending_size >= _CORK_BYTES:
            await self._flush(timeout)

    async def aclose(self) -> None:
        self._pending.clear()
        self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.wait_closed()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # asyncio reads ahead into the stream's buffer, so the socket itself never looks
            # readable: an idle connection the server closed shows as end-of-stream (or an error).
            return self._reader.at_eof() or self._reader.exception() is not None or self._writer.is_closing()
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None


async def connect_tcp(
    host: str,
    port: int,
    *,
    limit_s: float | None,
    local_address: str | None = None,
    socket_options: Iterable[Any] | None = None,
) -> AsyncioStream:
    try:
        async with asyncio.timeout(limit_s):
            reader, writer = await asyncio.open_connection(
                host, port, local_addr=(local_address, 0) if local_address else None, limit=2**20
            )
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    sock = writer.get_extra_info("socket")
    if sock is not None:
        for option in socket_options or ():
            sock.setsockopt(*option)
        # asyncio already sets TCP_NODELAY on TCP sockets; said again for transports that don't.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return AsyncioStream(reader, writer)


def _key(origin: httpcore.Origin) -> tuple[bytes, bytes, int]:
    return (origin.scheme, origin.host, origin.port)


class _Released:
    """A response body that hands its connection back to the pool when it is closed."""

    def __init__(self, pool: LeanPool, connection: httpcore.AsyncHTTP11Connection, stream: Any) -> None:
        self._pool = pool
        self._connection = connection
        self._stream = stream
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            await self._pool._release(self._connection)


class LeanPool(httpcore.AsyncConnectionPool):
    """Idle HTTP/1.1 connections kept per origin, most recently used first (see the module doc).

    ``max_connections`` bounds the requests in flight (so the connections busy at once); idle
    connections above ``max_keepalive_connections`` are closed, as are those idle past
    ``keepalive_expiry``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        limit = self._max_connections
        self._slots = asyncio.Semaphore(limit) if limit is not None else None
        # By (scheme, host, port): httpcore's Origin is not hashable.
        self._idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTP11Connection]] = {}
        self._idle_count = 0
        self._next_sweep = 0.0
        self._closed = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        scheme = request.url.scheme
        if scheme == b"":
            raise httpcore.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
        if scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode()}://'."
            )
        if self._closed:
            raise RuntimeError("the HTTP connection pool is closed")
        timeouts = request.extensions.get("timeout", {})
        if self._slots is not None:
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise httpcore.PoolTimeout("no connection became free in time") from exc
        connection: httpcore.AsyncHTTP11Connection | None = None
        try:
            connection = await self._take(request.url.origin)
            if connection is None:
                connection = await self._open(request)
            response = await connection.handle_async_request(request)
        except BaseException:
            if connection is not None:
                await connection.aclose()
            self._free_slot()
            raise
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_Released(self, connection, response.stream),
            extensions=response.extensions,
        )

    async def _take(self, origin: httpcore.Origin) -> httpcore.AsyncHTTP11Connection | None:
        idle = self._idle.get(_key(origin))
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.is_available() and not connection.has_expired():
                return connection
            await connection.aclose()
        return None

    async def _open(self, request: httpcore.Request) -> httpcore.AsyncHTTP11Connection:
        origin = request.url.origin
        timeouts = request.extensions.get("timeout", {})
        timeout = timeouts.get("connect")
        stream: httpcore.AsyncNetworkStream = await connect_tcp(
            origin.host.decode("ascii"),
            origin.port,
            limit_s=timeout,
            local_address=self._local_address,
            socket_options=self._socket_options,
        )
        if origin.scheme == b"https":
            context = self._ssl_context if self._ssl_context is not None else httpx.create_ssl_context()
            sni = request.extensions.get("sni_hostname") or origin.host.decode("ascii")
            stream = await stream.start_tls(context, server_hostname=sni, timeout=timeout)
        connection = httpcore.AsyncHTTP11Connection(
            origin=origin, stream=stream, keepalive_expiry=self._keepalive_expiry
        )
        # httpcore guards each connection's state with an anyio lock that yields to the event loop
        # on every acquire (twice per request) even when nobody else holds it. One request at a
        # time uses a connection from this pool, so the lock is never contended: the fast one
        # (anyio's ``fast_acquire``) keeps the same exclusion without the extra loop turn.
        lock = connection._state_lock
        lock._backend = "asyncio"
        lock._anyio_lock = anyio.Lock(fast_acquire=True)
        return connection

    def _free_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    async def _release(self, connection: httpcore.AsyncHTTP11Connection) -> None:
        self._free_slot()
        keep = self._max_keepalive_connections
        if self._closed or not connection.is_idle() or (keep is not None and self._idle_count >= keep):
            await connection.aclose()
        else:
            self._idle.setdefault(_key(connection._origin), []).append(connection)
            self._idle_count += 1
        await self._sweep()

    async def _sweep(self) -> None:
        """Now and then, close idle connections past their keep-alive (or closed by the server)."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + max(1.0, (self._keepalive_expiry or 5.0) / 2)
        for origin, idle in list(self._idle.items()):
            stale = [c for c in idle if c.has_expired() or not c.is_available()]
            if not stale:
                continue
            self._idle[origin] = [c for c in idle if c not in stale]
            self._idle_count -= len(stale)
            for connection in stale:
                await connection.aclose()

    async def aclose(self) -> None:
        self._closed = True
        idle = [c for conns in self._idle.values() for c in conns]
        self._idle.clear()
        self._idle_count = 0
        for connection in idle:
            await connection.aclose()


class LeanTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with ``LeanPool`` underneath (see the module doc)."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> None:
        super().__init__(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            limits=limits,
            local_address=local_address,
            socket_options=socket_options,
        )
        # httpx built the TLS context from verify/cert/trust_env; the lean pool uses the same one.
        self._pool = LeanPool(
            ssl_context=self._pool._ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            local_address=local_address,
            socket_options=socket_options,
        )


class _NoCookies(httpx.Cookies):
    """Publishers and OAuth calls carry no browser session: cookies an API sets are not kept, so
    one platform's cookies never ride along on later calls, and no response pays for parsing them
    (httpx's cookie jar builds urllib request objects for every response it sees)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def make_client(
    *,
    limits: httpx.Limits = DEFAULT_LIMITS,
    timeout: httpx.Timeout | float = httpx.Timeout(30.0, connect=10.0),
    verify: ssl.SSLContext | str | bool = True,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """The httpx client publishers get: ``LeanTransport`` for every URL no proxy setting claims."""
    transport = LeanTransport(limits=limits, verify=verify)
    client = httpx.AsyncClient(timeout=timeout, verify=verify, mounts={"all://": transport}, **kwargs)
    # Set directly: the ``cookies`` setter would copy the jar into a plain ``httpx.Cookies``.
    client._cookies = _NoCookies()
    return client
