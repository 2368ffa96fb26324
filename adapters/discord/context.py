"""An interaction, as the core sees it: who, where, and whether they may administer the server."""

from __future__ import annotations

from dataclasses import replace

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


def visible_channels(interaction: discord.Interaction) -> frozenset[str]:
    """The server's channels this member may view: discord.py computes each from the cached roles and
    permission overwrites (https://discord.com/developers/docs/topics/permissions#permission-overwrites),
    as Discord does. Listings show posts from these channels (ChatContext.visible_channels)."""
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return frozenset()
    return frozenset(str(c.id) for c in guild.channels if c.permissions_for(member).view_channel)


def viewer_context(interaction: discord.Interaction) -> ChatContext:
    """``chat_context`` for a listing (the queue, the post autocomplete): with the channels the member
    may view, so nothing from a channel hidden from them is shown."""
    return replace(chat_context(interaction), channels=visible_channels(interaction))
