"""The web server against clients that never finish a request head (slowloris), on a real socket.

uvicorn closes a connection only while it sits idle between requests; one that sends its head a byte
at a time was held open for ever. adapters/web/server.py gives every head a deadline.
"""

from __future__ import annotations

import asyncio
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.web.server import WebServer

DEADLINE = 0.6


async def _slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(DEADLINE * 2.5)
    return PlainTextResponse("slow but fine")


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


APP = Starlette(routes=[Route("/ok", _ok), Route("/slow", _slow)])


async def _closed_after(reader: asyncio.StreamReader, start: float, limit: float) -> float:
    """Seconds from ``start`` until the server closes the connection (EOF), reading and discarding
    what it sends; TimeoutError past ``limit``, far less than the trickles below take to finish."""
    async with asyncio.timeout(limit):
        try:
            while await reader.read(4096):
                pass
        except ConnectionResetError:
            # Closed as well: a server that closes with the client's bytes still unread in its
            # buffer sends a reset instead of an orderly end (the trickle races it).
            pass
    return time.monotonic() - start


async def _trickle(writer: asyncio.StreamWriter, data: bytes, *, every: float, stop: asyncio.Event) -> None:
    for byte in data:
        if stop.is_set():
            return
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every)


async def test_a_head_sent_a_byte_at_a_time_is_cut_off_at_the_deadline() -> None:
    server = WebServer("127.0.0.1", 0, header_timeout_s=DEADLINE)
    await server.start(APP)
    try:
        start = time.monotonic()
        reader, writer = await asyncio.open_connection(server.host, server.port)
        stop = asyncio.Event()
        # Each byte arrives well within any idle timeout, so only a deadline on the whole head ends it.
        head = b"GET /ok HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 400
        trickle = asyncio.create_task(_trickle(writer, head, every=0.05, stop=stop))
        took = await _closed_after(reader, start, limit=DEADLINE * 10)
        stop.set()
        await trickle
        writer.close()
        # Not before the deadline: the partial head itself is no reason to close.
        assert took >= DEADLINE, took
    finally:
        await server.stop()


async def test_a_connection_that_never_sends_anything_is_closed() -> None:
    server = WebServer("127.0.0.1", 0, header_timeout_s=DEADLINE)
    await server.start(APP)
    try:
        start = time.monotonic()
        reader, writer = await asyncio.open_connection(server.host, server.port)
        took = await _closed_after(reader, start, limit=DEADLINE * 10)
        writer.close()
        assert took >= DEADLINE, took
    finally:
        await server.stop()


async def test_after_a_response_the_next_head_has_its_own_deadline() -> None:
    """Keep-alive: uvicorn's idle timer stops at the first byte of the next request; the deadline
    doesn't."""
    server = WebServer("127.0.0.1", 0, header_timeout_s=DEADLINE)
    await server.start(APP)
    try:
        start = time.monotonic()
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        assert b"200" in status
        while (await reader.readline()) != b"\r\n":
            pass
        assert await reader.readexactly(2) == b"ok"
        stop = asyncio.Event()
        trickle = asyncio.create_task(
            _trickle(writer, b"GET /ok HTTP/1.1\r\nX-Pad: " + b"b" * 400, every=0.05, stop=stop)
        )
        took = await _closed_after(reader, start, limit=DEADLINE * 10)
        stop.set()
        await trickle
        writer.close()
        assert took >= DEADLINE, took
    finally:
        await server.stop()


async def test_a_request_whose_head_arrived_is_answered_however_long_the_app_takes() -> None:
    server = WebServer("127.0.0.1", 0, header_timeout_s=DEADLINE)
    await server.start(APP)
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(DEADLINE * 8):
            answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"slow but fine")
    finally:
        await server.stop()
