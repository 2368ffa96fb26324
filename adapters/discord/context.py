"""An interaction, as the core sees it: who, where, and whether they may administer the server."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import discord

from core.domain import ChatContext, ChatKind

# A command run again by the same member in the same channel, with the same options and a file of
# the same name and size, within this window is the same request: its first answer was lost (an
# interaction token lives 15 minutes, https://discord.com/developers/docs/interactions/receiving-and-responding#followup-messages,
# and a long download outlives it), so it answers with the posts already queued. An hour covers the
# first run's download plus the retry's; after it the same command queues again.
REPEAT_WINDOW_S = 3600


def is_server_admin(interaction: discord.Interaction) -> bool:
    # ``interaction.permissions`` is what Discord computed for the member in this channel and sent
    # with the interaction: it cannot be widened by the client, unlike a command's default permission
    # (a server can hand /postbot-admin to anyone in Server Settings → Integrations).
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


def chat_context(interaction: discord.Interaction) -> ChatContext:
    guild = interaction.guild
    command = _command_digest(interaction)
    window = int(interaction.created_at.timestamp()) // REPEAT_WINDOW_S
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
        request_id=f"discord:{command}:{window}" if command else f"discord:{interaction.id}",
        repeats=(f"discord:{command}:{window - 1}",) if command else (),
        # The member's roles (sent with every interaction in a server): an approval rule may name one.
        groups=frozenset(str(r.id) for r in interaction.user.roles)
        if isinstance(interaction.user, discord.Member)
        else frozenset(),
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


def _command_digest(interaction: discord.Interaction) -> str | None:
    """What the member asked for, as Discord sent it: the command, its options and, for a file,
    its name and size (a re-attached file gets a new attachment id and URL)."""
    data: Any = interaction.data
    if interaction.type != discord.InteractionType.application_command or not data:
        return None
    files = (data.get("resolved") or {}).get("attachments") or {}

    def plain(options: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for option in sorted(options, key=lambda o: str(o.get("name"))):
            value = option.get("value")
            if option.get("type") == discord.AppCommandOptionType.attachment.value:
                found = files.get(str(value)) or {}
                value = [found.get("filename"), found.get("size")]
            out.append([option.get("name"), value, plain(option.get("options") or [])])
        return out

    asked = [interaction.user.id, interaction.channel_id, data.get("name"), plain(data.get("options") or [])]
    return hashlib.sha256(json.dumps(asked).encode()).hexdigest()[:32]
