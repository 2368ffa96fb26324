"""An interaction, as the core sees it: who, where, and whether they may administer the server."""

from __future__ import annotations

import discord

from core.domain import ChatContext, ChatKind


def is_server_admin(interaction: discord.Interaction) -> bool:
    # ``interaction.permissions`` is what Discord computed for the member in this channel and sent
    # with the interaction: it cannot be widened by the client, unlike a command's default permission
    # (a server can hand /link to anyone through Integrations settings).
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


def chat_context(interaction: discord.Interaction) -> ChatContext:
    guild = interaction.guild
    return ChatContext(
        chat=ChatKind.DISCORD,
        team_id=str(interaction.guild_id),
        user_id=str(interaction.user.id),
        channel_id=str(interaction.channel_id) if interaction.channel_id else None,
        team_name=guild.name if guild is not None and guild.name else None,
        user_name=interaction.user.name,
        # Discord does not tell bots a user's time zone; the core falls back to the user's saved zone,
        # then the server's.
        user_tz=None,
        is_admin=is_server_admin(interaction),
        request_id=f"discord:{interaction.id}",
    )
