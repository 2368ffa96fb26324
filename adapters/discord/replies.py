"""Replying to an interaction: defer at once, then the answer in place of "thinking…", errors visible
only to the user."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from core.errors import UserError
from core.render import namespaced

log = logging.getLogger(__name__)

# The admins' top-level command (adapters/discord/commands.py says why there is one).
ADMIN = "postbot-admin"


def named(text: str) -> str:
    """The core's wording with commands named as Discord has them: ``/postbot cancel 12``,
    ``/postbot-admin link youtube``."""
    return namespaced(text, admin=ADMIN)


# Every call with an interaction token more than 15 minutes old
# (https://discord.com/developers/docs/interactions/receiving-and-responding#followup-messages) answers
# 401 50027 Invalid Webhook Token; 10015 Unknown Webhook is what a token Discord no longer knows gets
# (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes, and
# https://github.com/discord/discord-api-docs/issues/6851 for which code comes when).
TOKEN_GONE = {50027, 10015}
_MENTION_MEMBER = discord.AllowedMentions(everyone=False, roles=False, users=True)

_INTERNAL_ERROR = (
    "Something went wrong on postbot's side and it has been logged. Please try again in a minute."
)


@dataclass
class Reply:
    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Told the message the answer became (the scheduling answer: uploads show progress under it).
    sent: Callable[[discord.Message], Awaitable[None]] | None = None

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        if self.content is not None:
            # The core names commands as the console types them; here they live under /postbot
            # and /postbot-admin.
            # Discord's 2000-character limit holds after the longer names.
            out["content"] = named(self.content)[:2000]
        if self.embed is not None:
            out["embed"] = self.embed
        if self.view is not None:
            out["view"] = self.view
        return out


def user_message(exc: UserError) -> str:
    return named(f"✗ {exc}")


async def deferred(
    interaction: discord.Interaction, work: Callable[[], Awaitable[Reply]], *, ephemeral: bool = False
) -> None:
    """Acknowledge within Discord's 3 s window, do the work, then answer.

    A public "thinking…" state cannot turn into a private message, so on a ``UserError`` the public
    placeholder is deleted and the error goes out as an ephemeral follow-up only the user sees.
    Work that outlives the interaction token (a long download) answers outside the interaction.
    """
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    try:
        reply = await work()
    except UserError as exc:
        await _private_error(interaction, user_message(exc), ephemeral)
        return
    except Exception:
        log.exception("discord command failed", extra={"command": _command_name(interaction)})
        await _private_error(interaction, _INTERNAL_ERROR, ephemeral)
        return
    message: discord.Message | None
    try:
        # The deferred "thinking…" message is the answer's place: edited, not a follow-up (a first
        # follow-up that replaces it is the deprecated way:
        # https://discord.com/developers/docs/interactions/receiving-and-responding#create-followup-message).
        message = await interaction.edit_original_response(**reply.kwargs())
    except discord.HTTPException as exc:
        if exc.code not in TOKEN_GONE:
            raise
        message = await _without_token(interaction, reply, private=ephemeral)
    if reply.sent is not None and message is not None:
        try:
            await reply.sent(message)
        except Exception:
            log.exception("after-reply step failed", extra={"command": _command_name(interaction)})


async def _private_error(interaction: discord.Interaction, text: str, ephemeral: bool) -> None:
    try:
        if ephemeral:
            await interaction.edit_original_response(content=text)
            return
        await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:
        if exc.code not in TOKEN_GONE:
            raise
        await _without_token(interaction, Reply(content=text), private=True, error=True)


async def _without_token(
    interaction: discord.Interaction, reply: Reply, *, private: bool, error: bool = False
) -> discord.Message | None:
    """The answer once the interaction token has expired: a public one in the channel as a bot
    message naming the member, a private one by DM; an error about the member's own command goes
    to the channel when their DMs are closed, as the failure DMs do (notifier.py)."""
    log.info("interaction token expired, answering outside it", extra={"command": _command_name(interaction)})
    user = interaction.user
    kwargs = reply.kwargs()
    text = kwargs.pop("content", None)
    named = f"{user.mention} {text or ''}".strip()[:2000]
    channel = interaction.channel_id
    if not private and channel is not None:
        try:
            return await interaction.client.get_partial_messageable(channel).send(
                named, allowed_mentions=_MENTION_MEMBER, **kwargs
            )
        except (discord.Forbidden, discord.NotFound):
            log.warning("channel refused the answer, sending it by DM", extra={"channel_id": channel})
    # Buttons act on the server the command came from: a DM carries none.
    kwargs.pop("view", None)
    try:
        dm = await interaction.client.create_dm(user)
        return await dm.send(text, **kwargs)
    except discord.Forbidden:
        if not error or channel is None:
            log.warning("answer lost: the member's DMs are closed", extra={"user_id": user.id})
            return None
    return await interaction.client.get_partial_messageable(channel).send(
        named, allowed_mentions=_MENTION_MEMBER
    )


def _command_name(interaction: discord.Interaction) -> str | None:
    command = interaction.command
    return command.qualified_name if command is not None else None
