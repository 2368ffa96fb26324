"""Embeds around the core's wording: what will be posted, where and when; what happened."""

from __future__ import annotations

from datetime import datetime

import discord

from adapters.discord.replies import named
from core.domain import PostStatus, PostView
from core.render import local_time, options_text, relative, result_text, scheduled_heading
from core.service import SuggestOutcome

_QUEUED = discord.Colour.blurple()
_DONE = discord.Colour.green()
_FAILED = discord.Colour.red()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def schedule_embed(
    posts: list[PostView], notes: list[str], now: datetime, *, duplicate: bool = False
) -> discord.Embed:
    first = posts[0]
    title = scheduled_heading(posts, now, duplicate=duplicate)
    embed = discord.Embed(title=_clip(title, 256), colour=_QUEUED)
    embed.description = _clip(first.caption, 4096) if first.caption else "*(no caption)*"
    if first.media_name:
        embed.add_field(name="Video", value=_clip(first.media_name, 1024), inline=False)
    # Discord renders <t:…> in each reader's own time zone; the text keeps the author's zone.
    stamp = int(first.run_at.timestamp())
    embed.add_field(
        name="When",
        value=f"{local_time(first.run_at, first.tz)} · <t:{stamp}:R> ({relative(first.run_at, now)})",
        inline=False,
    )
    for post in posts[:20]:
        embed.add_field(
            name=f"#{post.id} {post.platform.label}",
            value=_clip(
                f"{local_time(post.run_at, post.tz)} · {post.status.value}"
                + (f"\n{settings}" if (settings := options_text(post)) else ""),
                1024,
            ),
            inline=True,
        )
    footer = list(notes)
    if duplicate:
        footer.append("This request was already queued; nothing new was added.")
    if footer:
        embed.set_footer(text=_clip(named("\n".join(footer)), 2048))
    return embed


def result_embed(post: PostView) -> discord.Embed:
    ok = post.status == PostStatus.PUBLISHED
    embed = discord.Embed(
        title=_clip(f"{'Published' if ok else 'Failed'}: #{post.id} on {post.platform.label}", 256),
        description=_clip(named(result_text(post)), 4096),
        colour=_DONE if ok else _FAILED,
    )
    if ok and post.remote_url and post.remote_url.startswith(("https://", "http://")):
        # Discord refuses any other scheme (the sandbox's file:// links stay in the text).
        embed.url = post.remote_url
    if post.caption:
        embed.add_field(name="Caption", value=_clip(post.caption, 1024), inline=False)
    return embed


def suggest_embed(outcome: SuggestOutcome) -> discord.Embed:
    embed = discord.Embed(title="Suggested times", colour=_QUEUED)
    for platform, slots in list(outcome.suggestions.items())[:25]:
        lines = [f"{local_time(slot.at, outcome.tz)}: {slot.reason}" for slot in slots]
        embed.add_field(
            name=platform.label, value=_clip("\n".join(lines) or "no free slot this week", 1024), inline=False
        )
    if not outcome.suggestions:
        embed.description = "No free slot was found in the coming week."
    return embed
