"""Starting the Slack side: Socket Mode (no public URL; the default) or HTTP mode (Slack posts signed
requests to ``/slack/events``, verified with the v0 signing secret and a 5-minute replay window).

``postbot slack`` runs the bot and the scheduler in one process; which mode is ``slack.mode``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from adapters.slack.client import make_web_client
from adapters.slack.front import AckFirstEndpoint
from adapters.slack.handlers import COMMAND_ACKS, SlackHandlers
from adapters.slack.notifier import SlackNotifier
from core.accounts.linking import AccountLinker
from core.config import Settings, require
from core.domain import ChatKind
from core.errors import ConfigError
from core.timeparse import warm

if TYPE_CHECKING:
    from bot.wiring import App

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


class SlackRuntime:
    """The bolt app wired to the core. The same listeners serve both modes."""

    def __init__(
        self,
        app: App,
        *,
        http_mode: bool,
        client: AsyncWebClient | None = None,
        linker: AccountLinker | None = None,
    ) -> None:
        slack = app.settings.slack
        self.app = app
        self._session: aiohttp.ClientSession | None = None
        if client is None:
            # One pooled session for every Web API call (the runtime is built inside the event loop).
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
            client = make_web_client(slack, session=self._session)
        self.client = client
        self.handlers = SlackHandlers(
            settings=app.settings,
            postbot=app.postbot,
            media=app.media,
            http=app.http,
            client=self.client,
            linker=linker,
        )
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=require(slack.signing_secret, "slack.signing_secret") if http_mode else None,
            # Over a socket there is no HTTP request to sign: Slack authenticates the connection instead.
            request_verification_enabled=http_mode,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        self.handlers.register(self.bolt)
        app.notifier.register(ChatKind.SLACK, SlackNotifier(self.client))
        self.endpoint: AckFirstEndpoint | None = None
        if http_mode:
            secret = require(slack.signing_secret, "slack.signing_secret")
            self.endpoint = AckFirstEndpoint(self.bolt, secret, COMMAND_ACKS)

    def routes(self) -> list[BaseRoute]:
        """The Slack endpoint, for the shared web server (OAuth callbacks, health, metrics)."""
        if self.endpoint is None:
            raise ConfigError("config error: the Slack HTTP endpoint needs slack.mode = 'http'")
        return [Route(EVENTS_PATH, self.endpoint.handle, methods=["POST"])]

    def asgi(self) -> Starlette:
        return Starlette(routes=self.routes())

    async def drain(self) -> None:
        """Hand requests already acknowledged to their listeners; call before the core shuts down."""
        if self.endpoint is not None:
            await self.endpoint.close()

    async def close(self) -> None:
        """Release the Web API connections; call after the core (whose scheduler notifies) stopped."""
        if self._session is not None:
            await self._session.close()


async def attach_slack_notifier(app: App) -> aiohttp.ClientSession:
    """Let a process that serves no Slack requests (``postbot worker``) report Slack posts: results
    and DMs need only the Web API and the bot token. The caller closes the returned session."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    app.notifier.register(ChatKind.SLACK, SlackNotifier(make_web_client(app.settings.slack, session=session)))
    return session


def settle_heap() -> None:
    """Load what the first command would load, then move everything alive at start into the
    permanent generation: full garbage collections then scan only what requests create, so they stay
    short instead of pausing every ack queued behind them (measured: 105 ms → under 80 ms worst case)."""
    warm()
    gc.collect()
    gc.freeze()


def _linker(app: App) -> AccountLinker | None:
    """Account linking needs the vault secret; without it the bot still schedules (sandbox, …)."""
    if app.accounts is None:
        log.warning("POSTBOT_SECRET_KEY is not set: /link, /unlink and /accounts are unavailable")
        return None
    return app.accounts.linker


async def _shutdown(app: App, runtime: SlackRuntime | None) -> None:
    if runtime is not None:
        await runtime.drain()
    await app.close()
    if runtime is not None:
        await runtime.close()


async def run_http(settings: Settings, *, scheduler: bool = True) -> None:
    """HTTP mode: ``/slack/events`` on the shared web server (OAuth pages, /health, /metrics)."""
    from adapters.web.run import start_web
    from adapters.web.server import WebServer
    from bot.wiring import build_app

    require(settings.slack.bot_token, "slack.bot_token")
    require(settings.slack.signing_secret, "slack.signing_secret")
    app = await build_app(settings)
    runtime: SlackRuntime | None = None
    web: WebServer | None = None
    try:
        linker = _linker(app)
        runtime = SlackRuntime(app, http_mode=True, linker=linker)
        if scheduler:
            await app.start_scheduler()
        if linker is not None:
            web = await start_web(settings, linker, app.engine, extra_routes=runtime.routes())
        else:
            # Without the vault secret there are no OAuth pages: the Slack endpoint is served alone.
            web = WebServer(settings.web.host, settings.web.port)
            await web.start(runtime.asgi())
        settle_heap()
        log.info("slack http mode", extra={"url": settings.web.public_url.rstrip("/") + EVENTS_PATH})
        await asyncio.Event().wait()
    finally:
        if web is not None:
            await web.stop()
        await _shutdown(app, runtime)


async def run_socket_mode(settings: Settings, *, scheduler: bool = True) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from adapters.web.run import start_web
    from adapters.web.server import WebServer
    from bot.wiring import build_app

    require(settings.slack.bot_token, "slack.bot_token")
    app_token = require(settings.slack.app_token, "slack.app_token")
    if not app_token.startswith("xapp-"):
        raise ConfigError(
            "config error: slack.app_token must be an app-level token (xapp-…) with connections:write"
        )
    app = await build_app(settings)
    handler: AsyncSocketModeHandler | None = None
    runtime: SlackRuntime | None = None
    web: WebServer | None = None
    try:
        linker = _linker(app)
        runtime = SlackRuntime(app, http_mode=False, linker=linker)
        if scheduler:
            await app.start_scheduler()
        if linker is not None:
            # The account links /link sends by DM land on the OAuth pages: they need the web server
            # even when Slack itself talks over the socket.
            web = await start_web(settings, linker, app.engine)
        settle_heap()
        handler = AsyncSocketModeHandler(runtime.bolt, app_token)
        await handler.connect_async()
        log.info("slack socket mode connected")
        await asyncio.Event().wait()
    finally:
        if handler is not None:
            await handler.close_async()
        if web is not None:
            await web.stop()
        await _shutdown(app, runtime)


async def run_slack(settings: Settings, *, scheduler: bool = True) -> None:
    """`postbot slack`: the mode named in ``slack.mode``; the scheduler runs in the same process
    unless ``scheduler`` is False (then `postbot worker` processes publish)."""
    mode = settings.slack.mode.lower()
    if mode == "http":
        await run_http(settings, scheduler=scheduler)
    elif mode == "socket":
        await run_socket_mode(settings, scheduler=scheduler)
    else:
        raise ConfigError(f"config error: slack.mode must be 'socket' or 'http', not {settings.slack.mode!r}")
