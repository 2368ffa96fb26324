"""Serving the web app with uvicorn inside the bot's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A connection gets this long to send a complete request head (request line and headers), first
# and after each response. uvicorn times a connection out only while it sits idle between requests;
# one that trickles a header byte at a time, or never finishes its head, held a socket and a file
# descriptor for ever, and a few hundred such connections starve the process (slowloris). Bodies
# have their own deadline where they are read (adapters/slack/ingress.py). Slack and OAuth providers
# send a head in one packet; 10 s is generous for a person's browser on a bad line.
HEADER_TIMEOUT_S = 10.0


class _HeaderDeadline(HttpToolsProtocol):
    header_timeout_s = HEADER_TIMEOUT_S
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        if not self.transport.is_closing():
            self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_overdue)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        self._head_deadline = None
        # A cycle whose response is still to come is a request whose head arrived in time: the app
        # (and its own body deadline) has it now.
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()


class _Server(uvicorn.Server):
    """uvicorn without its own SIGINT/SIGTERM handling: the process's runtime owns the signals
    (bot/runtime.py). uvicorn's would see the same signal, stop serving on its own, and raise it again
    once stopped, which the runtime counts as a second signal that cuts the uploads' grace short."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """Binds first (so the port is known before the app is built), then serves until stopped."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, header_timeout_s: float = HEADER_TIMEOUT_S
    ) -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        self._protocol = type("HeaderDeadline", (_HeaderDeadline,), {"header_timeout_s": header_timeout_s})
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        # Servers that live and stop with this one (the private /metrics listener).
        self.also: list[WebServer] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, app: ASGIApp) -> None:
        # access_log off: request lines would carry OAuth codes and states from callback URLs.
        # log_config=None: uvicorn logs through the process's own (JSON) logging setup.
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", log_config=None, http=self._protocol
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for other in self.also:
            await other.stop()
        self.also = []
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = None
            self._task = None
        self.sock.close()

    async def serve_forever(self, app: ASGIApp) -> None:
        await self.start(app)
        assert self._task is not None
        await self._task
