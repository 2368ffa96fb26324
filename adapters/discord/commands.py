"""The slash commands. Each one turns Discord options into a core call and the result into a reply."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from adapters.discord.attachments import download_attachment
from adapters.discord.context import chat_context
from adapters.discord.embeds import schedule_embed, suggest_embed
from adapters.discord.replies import Reply, deferred
from adapters.discord.views import scheduling_view
from core.domain import MediaInfo, Platform, platform_from_alias
from core.errors import UserError
from core.render import (
    accounts_text,
    linkable_names,
    local_time,
    pause_text,
    platform_example,
    platform_words,
    queue_text,
    resume_text,
    status_text,
    unlink_text,
)
from core.service import ScheduleOutcome, SuggestOutcome, parse_post_id, platform_infos, zone_choices

if TYPE_CHECKING:
    from adapters.discord.client import PostbotClient

_EXAMPLE = platform_example(platform_infos())

HELP = f"""**postbot** schedules video posts from this server.
• `/schedule when platforms video [caption]`: e.g. when `tomorrow 6pm`, platforms `{_EXAMPLE}`
• Too big to attach? Give `url` instead of `video`: a Google Drive, Dropbox, OneDrive or https link
• `/post platforms video [caption]`: publish now
• `/queue`: upcoming posts · `/cancel post` · `/reschedule post when`
• `/suggest [platforms]`: good times to post
• `/accounts`: linked platform accounts · `/link platform` and `/unlink platform` (Manage Server)
• `/timezone zone`: the zone your times are read in (Discord doesn't tell bots yours)
• `/pause [platform]` and `/resume [platform]`: hold publishing, then start it again (Manage Server)
• `/status`: queues, success rates, breakers and the last errors (Manage Server)
Platforms: {platform_words(platform_infos())}.
Times: `in 2 hours`, `friday 9am`, `2026-12-01 18:00`, or `best` for the suggested slot."""

_SPLIT = re.compile(r"[\s,]+")
_WHEN_EXAMPLES = ("in 1 hour", "tomorrow 9am", "tomorrow 6pm", "friday 12pm", "best")


def _client(interaction: discord.Interaction) -> PostbotClient:
    return cast("PostbotClient", interaction.client)


def platform_tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(text.strip().lower()) if t]


def platforms_arg(text: str) -> str:
    # The core reads "<when> <platforms> [caption]" with platforms as one comma-separated word.
    return ",".join(platform_tokens(text))


def command_text(when: str | None, platforms: str, caption: str | None) -> str:
    return " ".join(part for part in (when, platforms_arg(platforms), caption) if part)


def _choice(name: str, value: str) -> app_commands.Choice[str]:
    return app_commands.Choice(name=name[:100], value=value[:100])


async def _media(
    interaction: discord.Interaction, video: discord.Attachment, platforms: tuple[Platform, ...]
) -> MediaInfo:
    client = _client(interaction)
    return await download_attachment(
        client.http_client,
        client.postbot,
        url=video.url,
        filename=video.filename,
        size=video.size,
        discord_limit=interaction.filesize_limit,
        platforms=platforms,
    )


async def _outcome_reply(interaction: discord.Interaction, outcome: ScheduleOutcome) -> Reply:
    now = datetime.now(UTC)
    embed = schedule_embed(outcome.posts, outcome.notes, now, duplicate=outcome.duplicate)
    return Reply(embed=embed, view=scheduling_view(outcome.posts, outcome.suggestions))


# --------------------------------------------------------------------------- autocomplete


async def when_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Shows how the typed time reads ("tomorrow 6pm → Wed 25 Nov, 18:00 Europe/Berlin")."""
    postbot = _client(interaction).postbot
    ctx = chat_context(interaction)
    texts = [current] if current.strip() else list(_WHEN_EXAMPLES)
    choices = []
    for text in texts:
        try:
            choices.append(_choice(await postbot.preview_when(ctx, text), text))
        except UserError as exc:
            choices.append(_choice(f"✗ {exc.message}", text))
    return choices


async def platforms_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Completes the last platform typed, keeping the ones already chosen, linked platforms first."""
    linked = await _client(interaction).postbot.linked_platforms(chat_context(interaction))
    return platform_choices(current, linked)


def platform_choices(current: str, linked: set[Platform] | None) -> list[app_commands.Choice[str]]:
    tokens = platform_tokens(current)
    ends_open = bool(current) and not current.rstrip().endswith(",") and not current.endswith(" ")
    done, partial = (tokens[:-1], tokens[-1]) if tokens and ends_open else (tokens, "")
    chosen = [p for p in (platform_from_alias(t) for t in done) if p is not None]
    known = linked or set()
    infos = platform_infos()
    ordered = [i for i in infos if i.platform in known] + [i for i in infos if i.platform not in known]
    choices = []
    for info in ordered:
        platform = info.platform
        if platform in chosen:
            continue
        if partial and not any(a.startswith(partial) for a in info.aliases):
            continue
        value = ",".join([p.value for p in chosen] + [platform.value])
        label = ", ".join(p.label for p in [*chosen, platform])
        if not info.requires_account:
            label += " (no account needed)"
        elif linked is not None:
            label += " (linked)" if platform in linked else " (not linked)"
        choices.append(_choice(label, value))
    return choices[:25]


async def post_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    client = _client(interaction)
    posts = await client.postbot.list_queue(chat_context(interaction))
    choices = []
    for post in posts:
        label = f"#{post.id} {post.platform.label} · {local_time(post.run_at, post.tz)} · {post.caption}"
        if current.strip().lstrip("#") in str(post.id) or current.lower() in post.caption.lower():
            choices.append(_choice(label, str(post.id)))
    return choices[:25]


# --------------------------------------------------------------------------- commands


async def _video_command(
    interaction: discord.Interaction,
    when: str | None,
    platforms: str,
    video: discord.Attachment | None,
    url: str | None,
    caption: str | None,
    *,
    now: bool,
) -> None:
    """/schedule and /post: the same text and video, queued for ``when`` or as due now."""

    async def work() -> Reply:
        ctx = chat_context(interaction)
        if video is not None and url:
            raise UserError("Attach a video or give a link to one, not both.")
        if video is None and not url:
            raise UserError(
                "Which video?",
                hint="Attach it as `video`, or give a link as `url` (Google Drive, Dropbox, OneDrive or "
                "any https link) when it is too big to attach.",
            )
        postbot = _client(interaction).postbot
        submit = postbot.post_now if now else postbot.schedule

        async def fetch(named: tuple[Platform, ...]) -> MediaInfo:
            # Called by the core once it has read the command: a typo costs no download.
            if url:
                # Over the attachment limit (10 MiB for most servers), a link is how a video gets here.
                return await postbot.fetch_link(url.strip(), named)
            assert video is not None
            return await _media(interaction, video, named)

        outcome = await submit(ctx, command_text(when, platforms, caption), fetch)
        return await _outcome_reply(interaction, outcome)

    await deferred(interaction, work)


@app_commands.command(name="schedule", description="Schedule a video post")
@app_commands.describe(
    when="When to post: 'tomorrow 6pm', 'in 2 hours', 'best'",
    platforms=f"Where: {linkable_names(platform_infos())} (comma-separated)",
    video="The video to post (or give url instead)",
    url="A link to the video, for files too big to attach: Google Drive, Dropbox, OneDrive, https",
    caption="Caption (the first line is the title where a platform has one)",
)
@app_commands.autocomplete(when=when_autocomplete, platforms=platforms_autocomplete)
@app_commands.guild_only()
async def schedule(
    interaction: discord.Interaction,
    when: str,
    platforms: str,
    video: discord.Attachment | None = None,
    url: str | None = None,
    caption: str | None = None,
) -> None:
    await _video_command(interaction, when, platforms, video, url, caption, now=False)


@app_commands.command(name="post", description="Publish a video now")
@app_commands.describe(
    platforms=f"Where: {linkable_names(platform_infos())}",
    video="The video (or give url instead)",
    url="A link to the video, for files too big to attach",
    caption="Caption",
)
@app_commands.autocomplete(platforms=platforms_autocomplete)
@app_commands.guild_only()
async def post(
    interaction: discord.Interaction,
    platforms: str,
    video: discord.Attachment | None = None,
    url: str | None = None,
    caption: str | None = None,
) -> None:
    await _video_command(interaction, None, platforms, video, url, caption, now=True)


@app_commands.command(name="queue", description="Upcoming posts")
@app_commands.guild_only()
async def queue(interaction: discord.Interaction) -> None:
    async def work() -> Reply:
        posts = await _client(interaction).postbot.list_queue(chat_context(interaction))
        return Reply(content=queue_text(posts, datetime.now(UTC))[:2000])

    await deferred(interaction, work, ephemeral=True)


@app_commands.command(name="cancel", description="Cancel a queued post")
@app_commands.describe(post="The post id shown by /queue")
@app_commands.autocomplete(post=post_autocomplete)
@app_commands.guild_only()
async def cancel(interaction: discord.Interaction, post: str) -> None:
    async def work() -> Reply:
        view = await _client(interaction).postbot.cancel(chat_context(interaction), parse_post_id(post))
        return Reply(content=f"Cancelled #{view.id} ({view.platform.label}).")

    await deferred(interaction, work)


@app_commands.command(name="reschedule", description="Move a queued post to another time")
@app_commands.describe(post="The post id shown by /queue", when="The new time")
@app_commands.autocomplete(post=post_autocomplete, when=when_autocomplete)
@app_commands.guild_only()
async def reschedule(interaction: discord.Interaction, post: str, when: str) -> None:
    async def work() -> Reply:
        view = await _client(interaction).postbot.reschedule(
            chat_context(interaction), parse_post_id(post), when
        )
        return Reply(
            content=f"Moved #{view.id} ({view.platform.label}) to {local_time(view.run_at, view.tz)}."
        )

    await deferred(interaction, work)


@app_commands.command(name="suggest", description="Good times to post")
@app_commands.describe(platforms="Platforms to suggest for (default: the linked ones)")
@app_commands.autocomplete(platforms=platforms_autocomplete)
@app_commands.guild_only()
async def suggest(interaction: discord.Interaction, platforms: str | None = None) -> None:
    async def work() -> Reply:
        outcome: SuggestOutcome = await _client(interaction).postbot.suggest(
            chat_context(interaction), platforms_arg(platforms or "")
        )
        return Reply(embed=suggest_embed(outcome))

    await deferred(interaction, work, ephemeral=True)


_LINKABLE = [app_commands.Choice(name=p.label, value=p.name) for p in platform_infos() if p.linkable]


@app_commands.command(name="link", description="Link a platform account for this server (admins)")
@app_commands.describe(platform="The platform to link")
@app_commands.choices(platform=_LINKABLE)
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def link(interaction: discord.Interaction, platform: app_commands.Choice[str]) -> None:
    async def work() -> Reply:
        # The core checks ctx.is_admin again: the default permission only hides the command.
        ack = await _client(interaction).postbot.link(chat_context(interaction), platform.value)
        return Reply(content=ack)

    await deferred(interaction, work, ephemeral=True)


@app_commands.command(name="unlink", description="Unlink a platform account (admins)")
@app_commands.describe(platform="The platform to unlink")
@app_commands.choices(platform=_LINKABLE)
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def unlink(interaction: discord.Interaction, platform: app_commands.Choice[str]) -> None:
    async def work() -> Reply:
        outcome = await _client(interaction).postbot.unlink(
            chat_context(interaction), Platform(platform.value)
        )
        return Reply(content=unlink_text(outcome))

    await deferred(interaction, work)


@app_commands.command(name="accounts", description="Linked platform accounts")
@app_commands.guild_only()
async def accounts(interaction: discord.Interaction) -> None:
    async def work() -> Reply:
        views = await _client(interaction).postbot.accounts(chat_context(interaction))
        return Reply(content=accounts_text(views)[:2000])

    await deferred(interaction, work, ephemeral=True)


async def zone_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=zone, value=zone) for zone in zone_choices(current)]


@app_commands.command(name="timezone", description="The time zone your times are read and shown in")
@app_commands.describe(
    zone="A city or IANA zone, e.g. Berlin or America/New_York",
    server="Set the server's default instead (Manage Server)",
)
@app_commands.autocomplete(zone=zone_autocomplete)
@app_commands.guild_only()
async def timezone(interaction: discord.Interaction, zone: str, server: bool = False) -> None:
    # Discord tells bots no user's time zone, so without this every time is read in the server's.
    async def work() -> Reply:
        name = await _client(interaction).postbot.set_timezone(
            chat_context(interaction), zone, team_wide=server
        )
        whose = "This server's default time zone" if server else "Your time zone"
        return Reply(content=f"{whose} is now {name}.")

    await deferred(interaction, work, ephemeral=True)


_PAUSABLE = [app_commands.Choice(name=p.label, value=p.name) for p in platform_infos()]


@app_commands.command(name="pause", description="Hold publishing: due posts wait, queued (admins)")
@app_commands.describe(platform="Only this platform (default: all)")
@app_commands.choices(platform=_PAUSABLE)
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def pause(interaction: discord.Interaction, platform: app_commands.Choice[str] | None = None) -> None:
    async def work() -> Reply:
        # The core checks ctx.is_admin again: the default permission only hides the command.
        view = await _client(interaction).postbot.pause(
            chat_context(interaction), platform.value if platform else ""
        )
        return Reply(content=pause_text(view))

    await deferred(interaction, work)


@app_commands.command(name="resume", description="Start publishing again after /pause (admins)")
@app_commands.describe(platform="Only this platform (default: all)")
@app_commands.choices(platform=_PAUSABLE)
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def resume(interaction: discord.Interaction, platform: app_commands.Choice[str] | None = None) -> None:
    async def work() -> Reply:
        view = await _client(interaction).postbot.resume(
            chat_context(interaction), platform.value if platform else ""
        )
        return Reply(content=resume_text(view))

    await deferred(interaction, work)


@app_commands.command(name="status", description="Queues, success rates, breakers, last errors (admins)")
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def status(interaction: discord.Interaction) -> None:
    async def work() -> Reply:
        view = await _client(interaction).postbot.status(chat_context(interaction))
        return Reply(content=status_text(view, datetime.now(UTC))[:2000])

    await deferred(interaction, work, ephemeral=True)


@app_commands.command(name="help", description="What postbot can do")
async def help_command(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(HELP, ephemeral=True)


COMMANDS: list[app_commands.Command[Any, Any, None]] = [
    schedule,
    post,
    queue,
    cancel,
    reschedule,
    suggest,
    link,
    unlink,
    accounts,
    timezone,
    pause,
    resume,
    status,
    help_command,
]
