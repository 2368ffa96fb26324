"""Embeds around the core's wording: what will be posted, where and when; what happened."""

from __future__ import annotations

from datetime import datetime

import discord

from adapters.discord.replies import named
from core.domain import PlatformResults, PostNumbers, PostStatus, PostView, ResultsReport
from core.render import (
    best_post_line,
    digest_heading,
    local_time,
    options_text,
    platform_results_line,
    relative,
    result_text,
    results_heading,
    scheduled_heading,
    without_numbers_line,
)
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


# The chart rides along as an attachment the embed shows by name
# (https://discord.com/developers/docs/reference#uploading-files, "Using Attachments within Embeds").
CHART_NAME = "results.png"


def _markdown_escape(text: str) -> str:
    return discord.utils.escape_markdown(text)


def _best_line(rank: int, post: PostNumbers) -> str:
    head, _, rest = best_post_line(rank, post).partition(" ")
    number, _, numbers = rest.partition(" ")
    if post.url and post.url.startswith(("https://", "http://")) and not any(c in post.url for c in "()<> "):
        # A masked link, not an embed of the post (<…> keeps Discord from unfurling it in the field).
        number = f"[{number}](<{post.url}>)"
    return f"{head} {number} {numbers}"


def _platform_field(row: PlatformResults) -> tuple[str, str]:
    label, _, totals = platform_results_line(row).partition(": ")
    lines = [totals]
    if row.without_numbers:
        lines.append(f"*{without_numbers_line(row)}*")
    lines += [_best_line(rank, post) for rank, post in enumerate(row.best, 1)]
    return label, _clip("\n".join(lines), 1024)


def results_embed(report: ResultsReport, *, digest: bool = False) -> discord.Embed:
    """`/postbot results` (and the weekly digest, ``digest``): a field per platform with its totals
    against the period before and its best posts, linked."""
    if digest:
        title = digest_heading(report)
        scope = "Posts scheduled from this channel"
    else:
        title = f"Results, last {report.days} days"
        scope = "Posts from channels you can see, and your own"
    embed = discord.Embed(title=_clip(title, 256), colour=_DONE)
    for row in report.platforms[:25]:
        name, value = _platform_field(row)
        embed.add_field(name=name, value=value, inline=False)
    if not report.platforms:
        embed.description = "Nothing was published in either period."
    compared = results_heading(report).split(" (", 1)[1].rstrip(")")
    embed.set_footer(text=_clip(f"{compared.capitalize()} · {scope} · {report.tz}", 2048))
    return embed
