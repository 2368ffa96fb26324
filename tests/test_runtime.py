"""bot/runtime.py starts and stops a process in one order for every chat.

The chat here is a minimal implementation of the ``Chat`` protocol, as a new chat adapter would
write it: it records what it finds running at each step, so the test reads the order off real
state (the scheduler's, the web server's, the notifier router's), not off calls into postbot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.runtime import Runtime, Web
from bot.wiring import App, build_app
from core.config import Settings, WebSettings
from core.domain import ChatKind, PostView
from core.notify import NoNotifier
from tests.conftest import Database


class _Notifier:
    async def post_result(self, post: PostView) -> None: ...

    async def dm_failure(self, post: PostView) -> None: ...

    async def dm(self, team_id: str, user_id: str, text: str) -> None: ...

    async def say(self, team_id: str, channel_id: str, text: str) -> None: ...


@dataclass
class RecordingChat:
    app: App
    kind: ChatKind = ChatKind.CONSOLE
    seen: list[str] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    url: str | None = None

    def _state(self, step: str) -> None:
        scheduler = "scheduler up" if self.app.runner._scheduler.running else "scheduler down"
        try:
            self.app.notifier._for(self.kind)
            notifier = "notifier"
        except NoNotifier:
            notifier = "no notifier"
        self.seen.append(f"{step}: {scheduler}, {notifier}")

    def notifier(self) -> _Notifier:
        return _Notifier()

    def routes(self) -> list[BaseRoute]:
        async def hello(request: Request) -> Response:
            return PlainTextResponse("hello")

        return [Route("/hello", hello)]

    async def start(self) -> None:
        self._state("start")

    async def wait(self) -> None:
        await self.ended.wait()

    async def stop(self) -> None:
        self._state("stop")

    async def close(self) -> None:
        self._state("close")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_runtime_starts_and_stops_in_order(settings: Settings, db: Database) -> None:
    settings.web = WebSettings(host="127.0.0.1", port=0)
    app = await build_app(settings, schema=db.schema)
    chat = RecordingChat(app)
    runtime = Runtime(app, chats=[chat], web=Web.IF_LINKING)
    serving = asyncio.create_task(runtime.serve())
    try:
        async with asyncio.timeout(20):
            while not chat.seen:
                assert not serving.done(), serving
                await asyncio.sleep(0.01)
        # The chat's own endpoint is served (alone: no vault secret, so no OAuth pages) before it starts.
        assert runtime.server is not None
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"{runtime.server.url}/hello")).text == "hello"
            assert (await http.get(f"{runtime.server.url}/health")).status_code == 404
        # The chat ending (the console at EOF) ends the process.
        chat.ended.set()
        async with asyncio.timeout(20):
            await serving
    finally:
        if not serving.done():
            serving.cancel()
    assert chat.seen == [
        "start: scheduler up, notifier",
        # Requests already acknowledged finish while the core can still take them...
        "stop: scheduler up, notifier",
        # ...and the chat's connections close only after the scheduler (which reports to it) stopped.
        "close: scheduler down, notifier",
    ]
    assert runtime.server is None
