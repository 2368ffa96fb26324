"""The publishers' HTTP client (core/publishers/transport.py) against raw asyncio servers: what goes on
the wire byte for byte, connection reuse and its limits, servers that close or stop reading, cancelled
requests, timeouts, TLS, proxies from the environment, cookies, redirects left to the publisher."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from core.publishers.transport import make_client
from tests.fakes.web_host import make_certificates


@dataclass
class RawServer:
    """An HTTP/1.1 server written on asyncio streams, so every byte the client sends is seen as is."""

    # Close the connection after this many responses on it (0: keep it open).
    close_after: int = 0
    # Seconds to wait before answering.
    delay: float = 0.0
    ssl_context: ssl.SSLContext | None = None
    # Read the request head, then nothing more (a peer that stopped reading an upload).
    stall_body: bool = False
    # Sent as they are in place of the default 200 answer.
    answer_head: bytes | None = None
    request_lines: list[bytes] = field(default_factory=list)
    heads: list[dict[bytes, bytes]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    peak_open: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)
        served = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, _, rest = head.partition(b"\r\n")
                self.request_lines.append(line)
                headers = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (h.partition(b":") for h in rest.split(b"\r\n") if h)
                )
                self.heads.append(headers)
                if self.stall_body:
                    await asyncio.sleep(3600)
                if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                    body = await _read_chunked(reader)
                else:
                    length = int(headers.get(b"content-length", b"0"))
                    body = await reader.readexactly(length) if length else b""
                self.bodies.append(body)
                if self.delay:
                    await asyncio.sleep(self.delay)
                answer = hashlib.sha256(body).hexdigest().encode()
                served += 1
                closing = self.close_after and served >= self.close_after
                if self.answer_head is not None:
                    writer.write(self.answer_head + b"Content-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    + f"Content-Length: {len(answer)}\r\n".encode()
                    + (b"Connection: close\r\n" if closing else b"")
                    + b"\r\n"
                    + answer
                )
                await writer.drain()
                if closing:
                    return
        finally:
            self.open_now -= 1
            writer.close()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    # https://www.rfc-editor.org/rfc/rfc9112#section-7.1
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    srv = RawServer()
    await srv.start()
    yield srv
    await srv.stop()


async def test_the_path_and_query_go_out_byte_for_byte(server: RawServer) -> None:
    # Percent-escapes as the platform's API wants them (an encoded slash, a space, a plus, an
    # already-encoded UTF-8 name): nothing decoded, re-encoded or normalised on the way.
    path = "/v2/a%2Fb/caf%C3%A9+x?fields=id,name&q=%20a%2Bb&empty=&flag"
    async with make_client() as http:
        response = await http.get(f"http://127.0.0.1:{server.port}{path}")
    assert response.status_code == 200
    assert server.request_lines == [f"GET {path} HTTP/1.1".encode()]


async def test_sequential_requests_reuse_one_connection(server: RawServer) -> None:
    async with make_client() as http:
        for i in range(5):
            response = await http.post(f"http://127.0.0.1:{server.port}/p", content=f"body {i}".encode())
            assert response.text == hashlib.sha256(f"body {i}".encode()).hexdigest()
    assert server.connections == 1
    assert server.bodies == [f"body {i}".encode() for i in range(5)]


async def test_a_connection_the_server_closed_is_not_reused() -> None:
    srv = RawServer(close_after=1)
    url = await srv.start()
    try:
        async with make_client() as http:
            for _ in range(3):
                assert (await http.get(f"{url}/x")).status_code == 200
                # Let the client's event loop see the server's FIN before the next request.
                await asyncio.sleep(0.05)
        assert srv.connections == 3
    finally:
        await srv.stop()


async def test_concurrent_requests_stay_within_max_connections() -> None:
    srv = RawServer(delay=0.05)
    url = await srv.start()
    try:
        limits = httpx.Limits(max_connections=3, max_keepalive_connections=3)
        async with make_client(limits=limits) as http:
            answers = await asyncio.gather(*(http.get(f"{url}/n{i}") for i in range(12)))
        assert all(a.status_code == 200 for a in answers)
        assert srv.peak_open <= 3
        assert srv.connections == 3
    finally:
        await srv.stop()


async def test_a_cancelled_request_gives_its_slot_back() -> None:
    srv = RawServer(delay=5)
    url = await srv.start()
    try:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with make_client(limits=limits, timeout=10) as http:
            stuck = asyncio.create_task(http.get(f"{url}/slow"))
            await asyncio.sleep(0.2)
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            srv.delay = 0
            # The only slot is free again, and the half-answered connection was not kept.
            response = await asyncio.wait_for(http.get(f"{url}/fast"), 5)
        assert response.status_code == 200
        assert srv.connections == 2
    finally:
        await srv.stop()


async def test_a_pool_timeout_when_every_connection_stays_busy() -> None:
    srv = RawServer(delay=1)
    url = await srv.start()
    try:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with make_client(limits=limits, timeout=httpx.Timeout(5, pool=0.1)) as http:
            busy = asyncio.create_task(http.get(f"{url}/a"))
            await asyncio.sleep(0.1)
            with pytest.raises(httpx.PoolTimeout):
                await http.get(f"{url}/b")
            assert (await busy).status_code == 200
    finally:
        await srv.stop()


async def test_a_read_timeout_is_httpx_s(server: RawServer) -> None:
    server.delay = 2
    async with make_client(timeout=httpx.Timeout(5, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://127.0.0.1:{server.port}/slow")


async def test_a_refused_connection_is_a_connect_error() -> None:
    srv = RawServer()
    url = await srv.start()
    await srv.stop()
    async with make_client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{url}/gone")


async def test_a_streamed_body_larger_than_the_cork_arrives_whole(server: RawServer) -> None:
    payload = bytes(range(256)) * (3 * 1024)  # 768 KiB, sent in 100 KiB pieces

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 100 * 1024):
            yield payload[start : start + 100 * 1024]

    async with make_client() as http:
        response = await http.put(
            f"http://127.0.0.1:{server.port}/upload",
            content=pieces(),
            headers={"Content-Length": str(len(payload))},
        )
    assert response.text == hashlib.sha256(payload).hexdigest()
    assert server.bodies == [payload]


async def test_https_verifies_the_server_and_reuses_the_tls_connection(tmp_path: Path) -> None:
    ca, cert, key = make_certificates(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    srv = RawServer(ssl_context=served)
    url = await srv.start()
    try:
        trusted = ssl.create_default_context(cafile=str(ca))
        async with make_client(verify=trusted) as http:
            for _ in range(3):
                assert (await http.get(f"{url}/tls")).status_code == 200
        assert srv.connections == 1
        # A client that trusts only the system's CAs refuses the test CA's certificate.
        async with make_client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"{url}/tls")
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    "path",
    [
        # A signed URL's query as S3-style signers write it: an escaped slash, plus and equals, an
        # escaped unreserved character, lower-case escapes. A client that requotes (yarl's default,
        # so aiohttp's) sends /, ~ and upper case, and the signature no longer matches.
        "/up/v%C3%A9deo.mp4?X-Amz-Credential=AKIA%2F20261206%2Fus-east-1&X-Amz-Signature=a%2Bb%3D%3D&x=%7e",
        "/p%7e/%41b;c/%3a%2f?q=%e2%82%ac&r=a%20b+c&t=a%3Ab%40c",
    ],
)
async def test_signed_urls_go_out_byte_for_byte(server: RawServer, path: str) -> None:
    async with make_client() as http:
        response = await http.put(f"http://127.0.0.1:{server.port}{path}", content=b"x")
    assert response.status_code == 200
    assert server.request_lines == [f"PUT {path} HTTP/1.1".encode()]


async def test_raw_bytes_get_no_content_type_the_caller_did_not_set(server: RawServer) -> None:
    async with make_client() as http:
        await http.post(f"http://127.0.0.1:{server.port}/raw", content=b"\x00\x01")
        await http.post(f"http://127.0.0.1:{server.port}/json", json={"a": 1})
    assert b"content-type" not in server.heads[0]
    assert server.heads[1][b"content-type"] == b"application/json"


async def test_a_stream_without_a_length_is_sent_chunked(server: RawServer) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"piece {i};".encode()

    async with make_client() as http:
        response = await http.post(f"http://127.0.0.1:{server.port}/chunked", content=pieces())
    expected = b"".join(f"piece {i};".encode() for i in range(5))
    assert response.text == hashlib.sha256(expected).hexdigest()
    assert server.heads[0][b"transfer-encoding"] == b"chunked"
    assert server.bodies == [expected]


async def test_an_upload_the_server_stops_reading_is_a_write_timeout() -> None:
    srv = RawServer(stall_body=True)
    url = await srv.start()
    size = 64 * 2**20  # far more than the socket buffers on both sides hold

    async def pieces() -> AsyncIterator[bytes]:
        piece = b"\0" * 2**20
        for _ in range(size // len(piece)):
            yield piece

    try:
        async with make_client(timeout=httpx.Timeout(30, write=0.5)) as http:
            started = asyncio.get_running_loop().time()
            with pytest.raises(httpx.WriteTimeout):
                await http.put(f"{url}/upload", content=pieces(), headers={"Content-Length": str(size)})
            assert asyncio.get_running_loop().time() - started < 10
    finally:
        await srv.stop()


async def test_a_308_with_its_range_is_the_publisher_s_to_read(server: RawServer) -> None:
    # YouTube's resumable upload answers 308 Resume Incomplete with the bytes it holds; following
    # it as a redirect would lose the Range header.
    # https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol#Check_Upload_Status
    server.answer_head = b"HTTP/1.1 308 Resume Incomplete\r\nRange: bytes=0-1048575\r\n"
    async with make_client() as http:
        response = await http.put(
            f"http://127.0.0.1:{server.port}/upload?upload_id=abc",
            headers={"Content-Range": "bytes */4194304"},
        )
    assert response.status_code == 308
    assert response.headers["range"] == "bytes=0-1048575"
    assert len(server.request_lines) == 1


async def test_cookies_a_platform_sets_are_not_sent_back(server: RawServer) -> None:
    server.answer_head = b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\n"
    async with make_client() as http:
        await http.get(f"http://127.0.0.1:{server.port}/one")
        await http.get(f"http://127.0.0.1:{server.port}/two")
    assert [b"cookie" in head for head in server.heads] == [False, False]


async def test_a_proxy_from_the_environment_is_used(
    server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The proxy (our raw server) sees the absolute-form request line a forward proxy gets.
    # https://www.rfc-editor.org/rfc/rfc9112#section-3.2.2
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with make_client() as http:
        response = await http.get("http://platform.example/v1/videos?id=%2F1")
    assert response.status_code == 200
    assert server.request_lines == [b"GET http://platform.example/v1/videos?id=%2F1 HTTP/1.1"]
