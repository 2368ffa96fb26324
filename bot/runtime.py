"""Starting and stopping a process: the app, its chats, the web server and the scheduler, in order.

Each chat (Slack over HTTP or a socket, Discord, the console) implements only its own part, the
``Chat`` protocol below; this module does the rest, the same way for all of them:

    start: build the app → register each chat's notifier → load slow data → start the scheduler →
           start the web server (OAuth pages, /health, /metrics, and the chats' own endpoints) →
           start the chats (connect, listen)
    stop:  stop the web server → stop the chats (hand acknowledged requests to their listeners) →
           stop the app (the scheduler, which may still notify) → close the chats' connections

SIGTERM (what Procfile hosts, systemd and container runtimes send) and SIGINT start that stop: the
scheduler claims nothing more, uploads in progress get ``scheduler.stop_grace_s`` to finish, and what
is still going after it is handed back to the queue for another worker at once; the heartbeat is
marked stopped. A second signal ends the grace at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import gc
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starlette.routing import BaseRoute

from adapters.web.run import start_web
from adapters.web.server import WebServer
from bot.wiring import App, build_app
from core.config import Settings, require
from core.domain import ChatKind
from core.errors import ConfigError
from core.notify import Notifier

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """A chat this process only reports to (results, DMs), serving none of its requests."""

    kind: ChatKind

    def notifier(self) -> Notifier: ...

    async def start(self) -> None:
        """Connect or start listening; the app, the scheduler and the web server are up."""

    async def close(self) -> None:
        """Release connections; the app (whose scheduler notifies) has stopped."""


class Chat(Reporter, Protocol):
    """A chat this process serves."""

    def routes(self) -> Sequence[BaseRoute]:
        """Endpoints the chat needs on the web server (Slack's HTTP mode); usually none."""
        ...

    async def wait(self) -> None:
        """Return when the chat has ended (the console at EOF); most chats run until cancelled."""

    async def stop(self) -> None:
        """Take no more requests and finish those already acknowledged; the app is still up."""


class Web(enum.Enum):
    NONE = "none"
    # The OAuth pages (and the chats' endpoints) when accounts can be linked here; the chats'
    # endpoints alone when they cannot (no vault secret).
    IF_LINKING = "if-linking"
    REQUIRED = "required"
    # The console's: the OAuth pages on this machine when linking is set up, so a loopback redirect
    # comes back here; a port already in use costs only linking, said once, not the console.
    LOCAL = "local"


@dataclass
class Runtime:
    app: App
    chats: list[Chat] = field(default_factory=list)
    reporters: list[Reporter] = field(default_factory=list)
    scheduler: bool = True
    web: Web = Web.NONE
    server: WebServer | None = None
    _started: list[Chat] = field(default_factory=list)

    async def start(self) -> None:
        for part in [*self.reporters, *self.chats]:
            self.app.notifier.register(part.kind, part.notifier())
        for reporter in self.reporters:
            await reporter.start()
        await self.app.warm()
        if self.chats or self.reporters:
            # Whichever processes reach a chat check accounts and workers; the database makes sure
            # only one of them speaks.
            self.app.start_watch()
        if self.scheduler:
            await self.app.start_scheduler()
            log.info("scheduler started", extra={"worker": self.app.processor.worker_id})
        await self._start_web()
        for chat in self.chats:
            await chat.start()
            self._started.append(chat)

    async def _start_web(self) -> None:
        routes = [route for chat in self.chats for route in chat.routes()]
        if self.web is Web.REQUIRED:
            self.app.require_accounts()
        linking = self.app.accounts is not None
        if self.web is Web.NONE or (not linking and not routes):
            return
        if linking and self.web is Web.LOCAL:
            web = self.app.settings.web
            try:
                self.server = await start_web(self.app.postbot, extra_routes=routes)
            except OSError as exc:
                log.warning(
                    f"can't listen on {web.host}:{web.port} ({exc.strerror}): /link can't receive its "
                    "callback here; set POSTBOT_WEB__PORT to a free port and web.public_url to match"
                )
        elif linking:
            self.server = await start_web(self.app.postbot, extra_routes=routes)
        else:
            # Without the vault secret there are no OAuth pages: the chats' endpoints are served alone.
            from starlette.applications import Starlette

            web = self.app.settings.web
            self.server = WebServer(web.host, web.port, header_timeout_s=web.header_timeout_s)
            await self.server.start(Starlette(routes=routes))

    async def wait(self, until: asyncio.Event | None = None) -> None:
        """Until the first chat ends or ``until`` is set (or forever, for a worker without it)."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(chat.wait()) for chat in self._started]
        if until is not None:
            waits.append(asyncio.ensure_future(until.wait()))
        if not waits:
            await asyncio.Event().wait()
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in waits:
                task.cancel()

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop in order; uploads in progress get ``grace_s`` to finish (a signal's stop)."""
        if self.server is not None:
            await self.server.stop()
            self.server = None
        for chat in reversed(self._started):
            await chat.stop()
        await self.app.close(grace_s)
        for part in [*reversed(self.chats), *self.reporters]:
            try:
                await part.close()
            except Exception:
                log.exception("closing a chat failed", extra={"chat": part.kind.value})
        self._started.clear()

    async def serve(self) -> None:
        """Start, run until a chat ends or a signal comes, and stop (gracefully, after a signal)."""
        signalled = asyncio.Event()
        with _stop_signals(signalled, self._hurry):
            try:
                if await _unless_signalled(self.start(), signalled):
                    # What start built lives until exit: out of the collector's sight, the
                    # interpreter's final collection skips it. A stopped worker exited 4.8 s after
                    # SIGTERM without this, 2.0 s with it (loaded 2-core machine), its leases long
                    # released either way. Garbage is collected first, so only what is alive is kept.
                    gc.collect()
                    gc.freeze()
                    await self.wait(until=signalled)
            finally:
                grace = self.app.settings.scheduler.stop_grace_s if signalled.is_set() else 0.0
                await self.stop(grace)

    def _hurry(self) -> None:
        self.app.processor.hurry()


async def _unless_signalled(starting: Coroutine[object, object, None], signalled: asyncio.Event) -> bool:
    """Run ``starting`` unless a stop signal comes first (then cancel it and say False): a chat that
    can't connect (Slack's socket client retries for ever) must not make the process deaf to Ctrl-C."""
    task = asyncio.ensure_future(starting)
    signal_wait = asyncio.ensure_future(signalled.wait())
    try:
        await asyncio.wait([task, signal_wait], return_when=asyncio.FIRST_COMPLETED)
    finally:
        signal_wait.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()
    return True


@contextlib.contextmanager
def _stop_signals(signalled: asyncio.Event, hurry: Callable[[], None]) -> Iterator[None]:
    """SIGTERM and SIGINT set ``signalled``; one more while stopping calls ``hurry``."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def received(sig: signal.Signals) -> None:
        if signalled.is_set():
            log.warning(
                "second stop signal: handing back the uploads still going", extra={"signal": sig.name}
            )
            hurry()
            return
        log.info("stopping", extra={"signal": sig.name})
        signalled.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, received, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread (a test running a runtime), or no signals on this platform
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run(settings: Settings, make: Callable[[App], Runtime]) -> None:
    app = await build_app(settings)
    try:
        runtime = make(app)
    except BaseException:
        await app.close()
        raise
    await runtime.serve()


# -- each command's runtime -----------------------------------------------------------------------


def _warn_without_linking(app: App) -> None:
    if app.accounts is None:
        log.warning("POSTBOT_SECRET_KEY is not set: /link, /unlink and /accounts are unavailable")


def slack_chat(app: App, *, http_mode: bool) -> Chat:
    """Slack in HTTP mode (``/slack/events`` on the web server) or Socket Mode."""
    from adapters.slack.run import SlackChat

    slack = app.settings.slack
    bot_token = require(slack.bot_token, "slack.bot_token")
    if http_mode:
        secret = require(slack.signing_secret, "slack.signing_secret")
        return SlackChat(app.postbot, app.http, bot_token=bot_token, signing_secret=secret)
    app_token = require(slack.app_token, "slack.app_token")
    if not app_token.startswith("xapp-"):
        raise ConfigError(
            "config error: slack.app_token must be an app-level token (xapp-…) with connections:write"
        )
    return SlackChat(app.postbot, app.http, bot_token=bot_token, app_token=app_token)


def _slack_http_mode(settings: Settings) -> bool:
    mode = settings.slack.mode.lower()
    if mode not in ("http", "socket"):
        raise ConfigError(f"config error: slack.mode must be 'socket' or 'http', not {settings.slack.mode!r}")
    return mode == "http"


async def run_slack(settings: Settings, *, scheduler: bool = True) -> None:
    """`postbot slack`: the mode named in ``slack.mode``, the web server (OAuth pages; Slack's
    endpoint in HTTP mode) and, unless ``scheduler`` is False, the scheduler."""
    http_mode = _slack_http_mode(settings)
    # Refused before anything is built: a missing token should cost no migration.
    require(settings.slack.bot_token, "slack.bot_token")
    if http_mode:
        require(settings.slack.signing_secret, "slack.signing_secret")
    else:
        require(settings.slack.app_token, "slack.app_token")
    if http_mode or settings.secret_key is not None:
        _check_port_free(settings)

    def make(app: App) -> Runtime:
        _warn_without_linking(app)
        chat = slack_chat(app, http_mode=http_mode)
        return Runtime(app, chats=[chat], scheduler=scheduler, web=Web.IF_LINKING)

    await run(settings, make)


def discord_chat(app: App, **client_options: object) -> Chat:
    from adapters.discord.run import DiscordChat

    token = require(app.settings.discord.token, "discord.token")
    return DiscordChat(app.postbot, app.http, token=token, **client_options)


async def run_discord(settings: Settings, *, scheduler: bool = True) -> None:
    """`postbot discord`: the bot and, unless told otherwise, the scheduler."""
    require(settings.discord.token, "discord.token")

    def make(app: App) -> Runtime:
        _warn_without_linking(app)
        return Runtime(app, chats=[discord_chat(app)], scheduler=scheduler)

    await run(settings, make)


# How often the console's status line may show a new upload percentage: a terminal redraw costs
# nothing, unlike a chat message edit (scheduler.progress_interval_s, 5 s, is for those).
CONSOLE_PROGRESS_S = 0.25


async def run_console(settings: Settings) -> None:
    from adapters.console.repl import ConsoleChat

    interval = settings.scheduler.progress_interval_s
    if interval > CONSOLE_PROGRESS_S:
        scheduler = settings.scheduler.model_copy(update={"progress_interval_s": CONSOLE_PROGRESS_S})
        settings = settings.model_copy(update={"scheduler": scheduler})
    await run(settings, lambda app: Runtime(app, chats=[ConsoleChat(app.postbot)], web=Web.LOCAL))


def reporters(app: App) -> list[Reporter]:
    """A REST-only notifier for every configured chat, so a worker reports every post."""
    found: list[Reporter] = []
    if app.settings.slack.bot_token is not None:
        from adapters.slack.run import SlackReporter

        token = require(app.settings.slack.bot_token, "slack.bot_token")
        found.append(SlackReporter(token, app.settings.slack.api_base_url))
    if app.settings.discord.token is not None:
        from adapters.discord.run import DiscordReporter

        token = require(app.settings.discord.token, "discord.token")
        found.append(DiscordReporter(token, app.settings.discord.api_base_url))
    return found


async def run_worker(settings: Settings) -> None:
    """The scheduler alone: for teams that run the bot and the workers as separate processes."""
    await run(settings, lambda app: Runtime(app, reporters=reporters(app)))


async def run_web(settings: Settings) -> None:
    """OAuth pages, /health and /metrics; with Slack configured, also Slack's side of the bot."""
    # Refused before anything is built: a missing secret should cost no migration.
    require(settings.secret_key, "secret_key")
    if settings.slack.bot_token is not None:
        await run_slack(settings, scheduler=False)
        return
    _check_port_free(settings)
    await run(settings, lambda app: Runtime(app, scheduler=False, web=Web.REQUIRED))


def _check_port_free(settings: Settings) -> None:
    """Refuse, before anything is built (no migration, no scheduler), to start a web server whose
    port another process holds: `postbot web` and `postbot slack` side by side on one machine both
    serve Slack's side and the OAuth pages."""
    web = settings.web
    if web.port == 0:
        return  # any free port
    probe = socket.socket(socket.AF_INET6 if ":" in web.host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As uvicorn binds: a port in TIME_WAIT from our own last run is free, one listened on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((web.host, web.port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return  # the server's own start reports anything else
        raise ConfigError(
            f"config error: web.port {web.port} on {web.host} is already in use: is `postbot web` or "
            "`postbot slack` running on this machine? Only one of them may run per machine: `postbot "
            "web` already serves Slack (either slack.mode); run `postbot worker` beside it. A "
            "`postbot console` still open may hold it too: quit it first."
        ) from None
    finally:
        probe.close()
