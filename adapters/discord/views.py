"""Buttons on the scheduling reply. Their custom_id carries the post id (and slot), and they are
registered as dynamic items at startup, so a button pressed days later, after a restart, still works."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import discord

from adapters.discord.context import chat_context
from adapters.discord.replies import user_message
from core.domain import Platform, PostView, Slot
from core.errors import UserError
from core.render import local_time

if TYPE_CHECKING:
    from adapters.discord.client import PostbotClient

CANCEL_PREFIX = "postbot:cancel:"
SLOT_PREFIX = "postbot:slot:"
MAX_ROWS = 5
MAX_PER_ROW = 5


def _client(interaction: discord.Interaction) -> PostbotClient:
    return cast("PostbotClient", interaction.client)


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"postbot:cancel:(?P<post_id>[0-9]+)"
):
    def __init__(self, post_id: int, label: str = "Cancel") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.danger, custom_id=f"{CANCEL_PREFIX}{post_id}"
            )
        )
        self.post_id = post_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["post_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        try:
            post = await _client(interaction).postbot.cancel(chat_context(interaction), self.post_id)
        except UserError as exc:
            await interaction.followup.send(user_message(exc), ephemeral=True)
            return
        await _refresh_message(interaction, post, f"cancelled by {interaction.user.mention}")
        await interaction.followup.send(f"Cancelled #{post.id} ({post.platform.label}).", ephemeral=True)


class SlotButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"postbot:slot:(?P<post_id>[0-9]+):(?P<at>[0-9]+)",
):
    def __init__(self, post_id: int, at: datetime, label: str | None = None) -> None:
        stamp = int(at.timestamp())
        super().__init__(
            discord.ui.Button(
                label=label or f"Move to {at:%a %H:%M}",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{SLOT_PREFIX}{post_id}:{stamp}",
            )
        )
        self.post_id = post_id
        self.at = datetime.fromtimestamp(stamp, UTC)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SlotButton:
        return cls(int(match["post_id"]), datetime.fromtimestamp(int(match["at"]), UTC))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        try:
            # An absolute ISO instant reads back exactly, whatever the user's zone.
            post = await _client(interaction).postbot.reschedule(
                chat_context(interaction), self.post_id, self.at.isoformat()
            )
        except UserError as exc:
            await interaction.followup.send(user_message(exc), ephemeral=True)
            return
        await _refresh_message(interaction, post, f"moved by {interaction.user.mention}")
        await interaction.followup.send(
            f"Moved #{post.id} ({post.platform.label}) to {local_time(post.run_at, post.tz)}.", ephemeral=True
        )


def scheduling_view(
    posts: list[PostView], suggestions: dict[Platform, list[Slot]] | None = None
) -> discord.ui.View:
    """Cancel per post and, while there is room, the suggested slots for it (at most 5 rows of 5)."""
    view = discord.ui.View(timeout=None)
    several = len(posts) > 1
    if len(posts) <= MAX_ROWS:
        for row, post in enumerate(posts):
            view.add_item(
                _with_row(
                    CancelButton(post.id, f"Cancel {post.platform.label}" if several else "Cancel"), row
                )
            )
            for slot in ((suggestions or {}).get(post.platform) or [])[: MAX_PER_ROW - 1]:
                if slot.at != post.run_at:
                    label = f"{post.platform.label}: {slot.at.astimezone(ZoneInfo(post.tz)):%a %d %b %H:%M}"
                    view.add_item(_with_row(SlotButton(post.id, slot.at, label[:80]), row))
    else:
        for i, post in enumerate(posts[: MAX_ROWS * MAX_PER_ROW]):
            view.add_item(_with_row(CancelButton(post.id, f"Cancel {post.platform.label}"), i // MAX_PER_ROW))
    return view


def _with_row(item: discord.ui.DynamicItem[Any], row: int) -> discord.ui.DynamicItem[Any]:
    item.item.row = row
    return item


async def _refresh_message(interaction: discord.Interaction, post: PostView, note: str) -> None:
    """Show the new state on the message the button sits on, and retire the buttons of that post."""
    message = interaction.message
    if message is None:
        return
    embeds = [discord.Embed.from_dict(e.to_dict()) for e in message.embeds]
    if embeds:
        embed = embeds[0]
        for index, fld in enumerate(embed.fields):
            if fld.name and fld.name.startswith(f"#{post.id} "):
                value = f"{local_time(post.run_at, post.tz)} · {post.status.value} ({note})"
                embed.set_field_at(index, name=fld.name, value=value[:1024], inline=fld.inline)
    view = discord.ui.View.from_message(message, timeout=None)
    ids = (f"{CANCEL_PREFIX}{post.id}", f"{SLOT_PREFIX}{post.id}:")
    for child in view.children:
        custom_id = getattr(child, "custom_id", None) or ""
        if isinstance(child, discord.ui.Button) and (custom_id == ids[0] or custom_id.startswith(ids[1])):
            # A cancelled post has nothing left to press; a moved one keeps Cancel.
            if post.status.value == "cancelled" or custom_id.startswith(SLOT_PREFIX):
                child.disabled = True
    # The buttons' behaviour lives in the registered dynamic items; a stopped view is only sent as
    # components, not kept in memory as a second listener.
    view.stop()
    await interaction.edit_original_response(embeds=embeds, view=view)
