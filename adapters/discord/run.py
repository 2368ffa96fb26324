"""Starting the Discord side: `postbot discord` runs the bot and the scheduler in one process."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
import discord.http

from adapters.discord.client import PostbotClient
from adapters.discord.notifier import DiscordNotifier
from core.config import Settings, require
from core.domain import ChatKind

if TYPE_CHECKING:
    from bot.wiring import App

log = logging.getLogger(__name__)


def use_api_base(url: str) -> None:
    """Point discord.py's REST routes (and the gateway lookup through them) at ``url``.

    discord.py keeps the base on its ``Route`` class, so this is process-wide: one Discord
    application per process, which is how postbot runs.
    """
    discord.http.Route.BASE = url.rstrip("/")


class DiscordRuntime:
    """A logged-in, connected client bound to the wired core; ``stop`` closes it cleanly."""

    def __init__(self, app: App, **client_options: Any) -> None:
        self.app = app
        # Linking needs the vault secret; without it the bot still schedules and says why it can't link.
        linker = app.accounts.linker if app.accounts is not None else None
        self.client = PostbotClient(
            settings=app.settings.discord,
            postbot=app.postbot,
            media=app.media,
            http_client=app.http,
            linker=linker,
            **client_options,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> PostbotClient:
        token = require(self.app.settings.discord.token, "discord.token")
        use_api_base(self.app.settings.discord.api_base_url)
        self.app.notifier.register(ChatKind.DISCORD, DiscordNotifier(self.client))
        await self.client.login(token)
        self._task = asyncio.create_task(self.client.connect(), name="discord-gateway")
        return self.client

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            try:
                await self._task
            except Exception:
                log.exception("discord gateway task ended with an error")


async def attach_rest_notifier(app: App) -> discord.Client:
    """Let a process without the gateway (``postbot worker``) report Discord posts.

    Sending to a channel or a DM needs only the REST API, so the client logs in and never connects.
    The caller closes the returned client at shutdown.
    """
    token = require(app.settings.discord.token, "discord.token")
    use_api_base(app.settings.discord.api_base_url)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(token)
    app.notifier.register(ChatKind.DISCORD, DiscordNotifier(client))
    return client


async def run_discord(settings: Settings, *, scheduler: bool = True) -> None:
    """`postbot discord`: the bot, and unless told otherwise the scheduler, in one process."""
    from bot.wiring import build_app

    require(settings.discord.token, "discord.token")
    app = await build_app(settings)
    if app.accounts is None:
        log.warning("POSTBOT_SECRET_KEY is not set: /link, /unlink and /accounts are unavailable")
    runtime = DiscordRuntime(app)
    try:
        if scheduler:
            await app.start_scheduler()
        await runtime.start()
        log.info("discord bot started")
        await runtime.wait()
    finally:
        await runtime.stop()
        await app.close()
