"""The discord.py client: application commands, persistent buttons, minimal intents."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import discord
import httpx
from discord import app_commands

from adapters.discord import approval
from adapters.discord.commands import COMMANDS
from adapters.discord.views import CancelButton, SlotButton
from core.domain import ChatKind
from core.service import Postbot, RequestCloser

log = logging.getLogger(__name__)


def minimal_intents() -> discord.Intents:
    # Interactions arrive whatever the intents; GUILDS only keeps guild and channel names at hand.
    # GUILD_MESSAGE_REACTIONS (1 << 10) brings MESSAGE_REACTION_ADD, so a ✅ on a scheduling answer
    # approves it (https://discord.com/developers/docs/events/gateway#list-of-intents); it is not
    # privileged. No privileged intent (members, presences, message content) is asked for.
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_reactions = True
    return intents


class PostbotTree(app_commands.CommandTree["PostbotClient"]):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("discord command error", exc_info=error, extra={"interaction_id": interaction.id})
        text = "Something went wrong on postbot's side and it has been logged."
        if interaction.type == discord.InteractionType.autocomplete:
            return
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)


class PostbotClient(discord.AutoShardedClient):
    """Auto-sharded so the gateway address and shard count come from ``GET /gateway/bot``."""

    def __init__(
        self,
        *,
        postbot: Postbot,
        http_client: httpx.AsyncClient,
        **options: Any,
    ) -> None:
        settings = postbot.settings.discord
        options.setdefault("intents", minimal_intents())
        if settings.application_id:
            options.setdefault("application_id", int(settings.application_id))
        super().__init__(**options)
        self.settings = settings
        self.postbot = postbot
        self.http_client = http_client
        self.tree = PostbotTree(self)
        # Every request message sent is stored; once its posts are decided anywhere, this process
        # or another Discord one redraws it (core.service.RequestCloser says how).
        self.requests = RequestCloser(postbot, ChatKind.DISCORD, partial(approval.redraw_closed, self))
        for command in COMMANDS:
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        # Buttons are matched by custom_id pattern, not by a view kept in memory, so the buttons on
        # every message the bot ever sent keep working after a restart.
        self.add_dynamic_items(CancelButton, SlotButton, *approval.DYNAMIC_ITEMS)
        await self.sync_commands()
        # Logged in: request messages decided in another process are redrawn from here on.
        self.requests.start()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await approval.on_reaction(self, payload)

    async def sync_commands(self) -> None:
        for guild_id in self.settings.guild_ids:
            guild = discord.Object(int(guild_id))
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced guild commands", extra={"guild_id": guild_id, "count": len(synced)})
        if self.settings.sync_global:
            synced = await self.tree.sync()
            log.info("synced global commands", extra={"count": len(synced)})
        if not self.settings.guild_ids and not self.settings.sync_global:
            # Nothing registers the commands then, and Discord shows none: say so instead of
            # running a bot nobody can talk to.
            log.warning(
                "no Discord commands registered: set discord.guild_ids (servers to sync at start) or "
                "discord.sync_global = true, or the slash commands won't appear"
            )
