"""Discord's part of a running process: the gateway connection and the REST client behind it.
bot/runtime.py starts the app and the scheduler around it, in order."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
import discord.http
import httpx
from starlette.routing import BaseRoute

from adapters.discord.client import PostbotClient
from adapters.discord.notifier import DiscordNotifier
from core.domain import ChatKind
from core.service import Postbot

log = logging.getLogger(__name__)


def use_api_base(url: str) -> None:
    """Point discord.py's REST routes (and the gateway lookup through them) at ``url``.

    discord.py keeps the base on its ``Route`` class, so this is process-wide: one Discord
    application per process, which is how postbot runs.
    """
    discord.http.Route.BASE = url.rstrip("/")


class DiscordChat:
    """A logged-in, connected client bound to the facade; ``close`` ends the connection."""

    kind = ChatKind.DISCORD

    def __init__(
        self, postbot: Postbot, http: httpx.AsyncClient, *, token: str, **client_options: Any
    ) -> None:
        self.token = token
        self.api_base_url = postbot.settings.discord.api_base_url
        self.client = PostbotClient(postbot=postbot, http_client=http, **client_options)
        self._task: asyncio.Task[None] | None = None

    def notifier(self) -> DiscordNotifier:
        return DiscordNotifier(self.client)

    def routes(self) -> list[BaseRoute]:
        return []

    async def start(self) -> None:
        use_api_base(self.api_base_url)
        await self.client.login(self.token)
        self._task = asyncio.create_task(self.client.connect(), name="discord-gateway")
        log.info("discord bot started")

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        """Interactions already deferred finish on their own tasks; nothing to hand over here."""

    async def close(self) -> None:
        await self.client.requests.stop()
        await self.client.close()
        if self._task is not None:
            try:
                await self._task
            except Exception:
                log.exception("discord gateway task ended with an error")
            self._task = None


class DiscordReporter:
    """Discord for a process without the gateway (``postbot worker``): sending to a channel or a DM
    needs only the REST API, so the client logs in and never connects."""

    kind = ChatKind.DISCORD

    def __init__(self, token: str, api_base_url: str) -> None:
        self.token = token
        self.api_base_url = api_base_url
        self.client = discord.Client(intents=discord.Intents.none())

    async def start(self) -> None:
        use_api_base(self.api_base_url)
        await self.client.login(self.token)

    def notifier(self) -> DiscordNotifier:
        return DiscordNotifier(self.client)

    async def close(self) -> None:
        await self.client.close()
