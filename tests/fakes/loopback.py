"""The aiohttp lifecycle every fake platform shares: serve on 127.0.0.1, stop, ``async with``.

A fake subclasses :class:`LoopbackFake`, builds its routes in :meth:`LoopbackFake.make_app` and keeps
only its protocol in its own module. Port 0 (the default) asks the kernel for a free port, so tests
can run side by side; :attr:`LoopbackFake.port` is the one actually bound.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
from collections.abc import Callable
from typing import Self

from aiohttp import web

HOST = "127.0.0.1"


class Rejected(Exception):
    """Raised anywhere in a handler to answer with ``response`` (the protocol error) straight away."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


class LoopbackFake:
    # Fakes hit by thousands of requests in benchmarks turn the access log off; the chat fakes keep it.
    access_log = False
    # Set before start() to serve https (a fake of a public web host); plain http otherwise.
    ssl_context: ssl.SSLContext | None = None

    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self, port: int = 0) -> Self:
        if self.access_log:
            self._runner = web.AppRunner(self.make_app(), handle_signals=False)
        else:
            self._runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, port, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{HOST}:{self.port}"


async def serve_forever(fake: LoopbackFake, port: int, banner: Callable[[], str]) -> None:
    """Run a fake on its own (``python -m tests.fakes.<name>``) until interrupted."""
    await fake.start(port)
    print(banner(), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def token_args(description: str, *, port: int) -> argparse.ArgumentParser:
    """The platform fakes' command line: ``--port`` and any number of ``--token`` to accept."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--token", action="append", default=[], help="an access token to accept")
    return parser


def large_socket_reads() -> None:
    """Read the socket in 1 MiB pieces instead of asyncio's 256 KiB.

    Only for the standalone server a benchmark talks to: the stand-in for the platform should not be
    what limits the measured upload, and per-read overhead in Python is most of its cost.
    """
    import asyncio.selector_events

    asyncio.selector_events._SelectorSocketTransport.max_size = 1024 * 1024  # type: ignore[attr-defined]
