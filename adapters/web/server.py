"""Serving the web app with uvicorn inside the bot's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    """uvicorn without its own SIGINT/SIGTERM handling: the process's runtime owns the signals
    (bot/runtime.py). uvicorn's would see the same signal, stop serving on its own, and raise it again
    once stopped, which the runtime counts as a second signal that cuts the uploads' grace short."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """Binds first (so the port is known before the app is built), then serves until stopped."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host = host
        self.port: int = self.sock.getsockname()[1]
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
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", log_config=None)
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
