"""The slash commands. Each one turns Discord options into a core call and the result into a reply."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from adapters.discord import approval
from adapters.discord.attachments import download_attachment, download_image
from adapters.discord.context import chat_context, is_server_admin, viewer_context
from adapters.discord.embeds import results_embed, schedule_embed, suggest_embed
from adapters.discord.replies import ADMIN, Reply, deferred
from adapters.discord.views import scheduling_view
from core.domain import (
    WEEKDAYS,
    ChatContext,
    ChatKind,
    MediaInfo,
    MessageRef,
    OptionInfo,
    Platform,
    PlatformInfo,
    platform_from_alias,
)
from core.errors import UserError
from core.render import (
    NAMESPACE,
    account_example,
    accounts_text,
    approval_rule_text,
    awaiting_note,
    batch_text,
    default_text,
    digest_setting_text,
    example_platform,
    free_slots_line,
    linkable_names,
    local_time,
    pause_text,
    platform_example,
    platform_words,
    queue_text,
    resume_text,
    review_text,
    schedule_text,
    short_option_examples,
    status_text,
    unlink_text,
)
from core.service import (
    Form,
    MediaSource,
    ScheduleOutcome,
    SuggestOutcome,
    image_help,
    parse_post_id,
    platform_infos,
    zone_choices,
)

if TYPE_CHECKING:
    from adapters.discord.client import PostbotClient

_EXAMPLE = platform_example(platform_infos())
_ONE = example_platform(platform_infos())

HELP = f"""**postbot** schedules video posts from this server.
• `/schedule when platforms video [caption]`: e.g. when `tomorrow 6pm`, platforms `{_EXAMPLE}`
• Several videos: attach `video2` … `video5` too, with when `next` (the channel's next free
  slots) or a start time and `every` (`2d`)
• Too big to attach? Give `url` (Google Drive, Dropbox, OneDrive or https) instead of `video`
• `/post platforms video [caption]`: publish now
• Options on `/schedule` and `/post`: `privacy`, `account`, `options` (`--tags a,b --kids no`), `thumbnail`
Everything else is under `/postbot`:
• `/postbot queue`: upcoming posts · `/postbot cancel post` · `/postbot reschedule post when`
• `/postbot suggest [platforms]`: good times to post
• `/postbot accounts`: linked accounts
• `/postbot timezone zone`: the zone your times are read in (Discord doesn't say yours)
• `/postbot slots [change]`: this channel's posting schedule (admins: `add mon,wed,fri 18:00 {_ONE}`,
  `remove …`, `clear [platform]`); `/schedule` with when `next` takes each platform's next free slot
• `/postbot results [platform] [period]`: views, likes, comments against the period before; best posts
• `/postbot approve post [when]`, `/postbot reject post [reason]`: decide a waiting post
• `/postbot help`: this message
For the server's admins (Manage Server), under `/{ADMIN}`:
• `/{ADMIN} link platform`, `/{ADMIN} unlink platform`: connect or disconnect an account
• `/{ADMIN} default account`: the account this channel posts to when a platform has several
• `/{ADMIN} pause [platform]`, `/{ADMIN} resume [platform]`: hold publishing, start it again
• `/{ADMIN} status`: queues, quota, workers, success rates, breakers, last errors
• `/{ADMIN} digest day time`: a weekly results digest with a chart here (`day` off stops it)
• `/{ADMIN} approval state [approvers] [dm]`: others' posts here wait for approval
Platforms: {platform_words(platform_infos())}.
Times: `in 2 hours`, `friday 9am`, `2026-12-01 18:00`, or `best`."""

_SPLIT = re.compile(r"[\s,]+")
# Discord caps an option's description at 100 characters.
_PRIVACY_HELP = f"Who sees it, per platform: {short_option_examples(platform_infos())}"[:100]
_ACCOUNT_EXAMPLE = account_example(platform_infos())
_ACCOUNT_HELP = f"Which linked account, when a platform has several: {_ACCOUNT_EXAMPLE}"
_OPTIONS_HELP = "More options as --name value: --tags a,b --kids no --comments off"
_THUMBNAIL_HELP = image_help()[:100]
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


def _entries(text: str | None) -> list[str]:
    return [t for t in re.split(r"[\s,]+", (text or "").strip()) if t]


def with_picks(platforms: str, privacy: str | None, account: str | None) -> str:
    """The platform list in the core's short form: ``privacy`` ("youtube:unlisted, tiktok:friends",
    or one word for every chosen platform) and ``account`` ("youtube@brand") folded into it, so
    they are read and checked exactly as a typed ``youtube@brand:unlisted`` is."""
    names = platform_tokens(platforms)
    chosen = {p: n for n in names if (p := platform_from_alias(n)) is not None}
    values: dict[Platform, str] = {}
    for entry in _entries(privacy):
        name, sep, value = entry.partition(":")
        platform = platform_from_alias(name) if sep else None
        if not sep:
            # One word for all: each chosen platform with a short option gets it (and refuses it
            # if it is not one of its values).
            values.update({p: entry for p in chosen if _short(p)})
        elif platform is None or platform not in chosen:
            raise UserError(f"privacy '{entry[:40]}' names no platform this post goes to.")
        else:
            values[platform] = value
    handles: dict[Platform, str] = {}
    for entry in _entries(account):
        name, sep, handle = entry.partition("@")
        platform = platform_from_alias(name)
        if not sep or platform is None or platform not in chosen:
            raise UserError(
                f"account '{entry[:40]}' names no platform this post goes to.",
                hint=f"e.g. {_ACCOUNT_EXAMPLE}",
            )
        handles[platform] = handle
    out = []
    for name in names:
        platform = platform_from_alias(name)
        token = name
        if platform is not None and platform in handles:
            token += f"@{handles[platform]}"
        if platform is not None and platform in values:
            token += f":{values[platform]}"
        out.append(token)
    return ",".join(out)


def _short(platform: Platform) -> str | None:
    info = next((i for i in platform_infos() if i.platform is platform), None)
    return info.short_option if info else None


# A choice's name is 1-100 characters and a string value at most 100
# (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-choice-structure).
# The value is what the field becomes when the choice is picked: cut, it would fill in a broken
# list or a truncated time, so a choice whose value doesn't fit is not offered (the member keeps what
# they typed). Posts are offered by id, which always fits; a long name is shortened with an ellipsis.
CHOICE_MAX = 100


def _add(choices: list[app_commands.Choice[str]], name: str, value: str) -> None:
    if len(value) > CHOICE_MAX:
        return
    if len(name) > CHOICE_MAX:
        name = name[: CHOICE_MAX - 1] + "…"
    choices.append(app_commands.Choice(name=name or value, value=value))


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
    if outcome.approval is not None:
        # A field, not the footer: mentions of the approvers render there.
        waiting = awaiting_note(outcome.approval, ChatKind.DISCORD)
        embed.add_field(name="Awaiting approval", value=waiting[:1024], inline=False)
    postbot = _client(interaction).postbot
    ctx = chat_context(interaction)

    async def remember(message: discord.Message) -> None:
        # The uploads' live progress is sent as replies to this answer (and a ✅ on it approves).
        reply = MessageRef(str(message.channel.id), str(message.id))
        await postbot.remember_reply(ctx, [p.id for p in outcome.posts], reply)
        await approval.ask(interaction.client, ctx, outcome, message)

    return Reply(embed=embed, view=scheduling_view(outcome.posts, outcome.suggestions), sent=remember)


# --------------------------------------------------------------------------- autocomplete


async def when_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Shows how the typed time reads ("tomorrow 6pm → Wed 25 Nov, 18:00 Europe/Berlin")."""
    postbot = _client(interaction).postbot
    ctx = chat_context(interaction)
    texts = [current] if current.strip() else list(_WHEN_EXAMPLES)
    choices: list[app_commands.Choice[str]] = []
    for text in texts:
        try:
            _add(choices, await postbot.preview_when(ctx, text), text)
        except UserError as exc:
            _add(choices, f"✗ {exc.message}", text)
    return choices


async def platforms_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Completes the last platform typed, keeping the ones already chosen, linked platforms first."""
    linked = await _client(interaction).postbot.linked_platforms(chat_context(interaction))
    return platform_choices(current, linked)


def platform_choices(current: str, linked: set[Platform] | None) -> list[app_commands.Choice[str]]:
    done, partial = _complete_list(current.lower())
    chosen = [p for p in (platform_from_alias(t) for t in done) if p is not None]
    known = linked or set()
    infos = platform_infos()
    ordered = [i for i in infos if i.platform in known] + [i for i in infos if i.platform not in known]
    choices: list[app_commands.Choice[str]] = []
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
        _add(choices, label, value)
    return choices[:25]


def _chosen(interaction: discord.Interaction) -> list[PlatformInfo]:
    named = {platform_from_alias(t) for t in platform_tokens(str(interaction.namespace.platforms or ""))}
    return [i for i in platform_infos() if i.platform in named]


def _complete_list(current: str) -> tuple[list[str], str]:
    """The entries typed so far, and the one being typed (empty after a comma or space)."""
    entries = _entries(current)
    ends_open = bool(current) and not current.rstrip().endswith(",") and not current.endswith(" ")
    return (entries[:-1], entries[-1]) if entries and ends_open else (entries, "")


async def privacy_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Each chosen platform's short option ("YouTube: Unlisted"), completing the last entry."""
    return privacy_choices(_chosen(interaction), current)


def privacy_choices(chosen: list[PlatformInfo], current: str) -> list[app_commands.Choice[str]]:
    done, partial = _complete_list(current)
    taken = {platform_from_alias(e.partition(":")[0]) for e in done}
    choices: list[app_commands.Choice[str]] = []
    for info in chosen:
        option = info.option(info.short_option) if info.short_option else None
        if option is None or info.platform in taken:
            continue
        for word, label in option.choices:
            entry = f"{info.name}:{word}"
            if partial and not entry.startswith(partial.lower()) and not word.startswith(partial.lower()):
                continue
            shown = f"{info.label}: {label}" + (" (default)" if word == option.default else "")
            _add(choices, ", ".join([*done, shown]), ",".join([*done, entry]))
    return choices[:25]


async def account_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The linked accounts of the chosen platforms, this channel's default marked; several may be
    listed, one per platform."""
    chosen = {i.platform for i in _chosen(interaction)}
    return await _account_choices(interaction, current, chosen, listing=True)


async def _account_choices(
    interaction: discord.Interaction, current: str, platforms: set[Platform] | None, *, listing: bool
) -> list[app_commands.Choice[str]]:
    """Linked accounts as platform@handle (of ``platforms``, or all), this channel's defaults marked;
    ``listing`` completes the last of a comma-separated list."""
    postbot = _client(interaction).postbot
    if not postbot.can_link:
        return []
    done, partial = _complete_list(current) if listing else ([], current.strip())
    choices: list[app_commands.Choice[str]] = []
    for view in await postbot.accounts(chat_context(interaction)):
        entry = f"{view.platform.value}@{view.handle}"
        if (platforms is not None and view.platform not in platforms) or (
            partial and partial.lower().lstrip("@") not in entry.lower()
        ):
            continue
        shown = f"{view.platform.label} @{view.handle}" + (" (default here)" if view.default_here else "")
        _add(choices, ", ".join([*done, shown]), ",".join([*done, entry]))
    return choices[:25]


async def options_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """``--name value`` pairs for the chosen platforms: the names, then each name's values."""
    return option_choices(_chosen(interaction), current)


def option_choices(chosen: list[PlatformInfo], current: str) -> list[app_commands.Choice[str]]:
    options: dict[str, OptionInfo] = {}
    for info in chosen:
        for option in info.options:
            if option.kind != "image" and option.flag != info.short_option:
                options.setdefault(option.flag, option)
    words = current.split()
    typing = bool(current) and not current.endswith(" ")
    head = current if not typing else current[: len(current) - len(words[-1])]
    last = words[-1] if words and typing else ""
    before = words[:-1] if typing else words
    pending = before[-1][2:] if before and before[-1].startswith("--") else None
    choices: list[app_commands.Choice[str]] = []
    if pending is not None and pending in options:
        # A name was given: its values (free values are typed, with an example shown).
        option = options[pending]
        for word, label in option.choices or ((option.default or "", option.help),):
            if word and word.startswith(last):
                _add(choices, f"{head}{word}  ({label})", f"{head}{word}")
        return choices[:25]
    used = {w[2:] for w in words if w.startswith("--")}
    for flag, option in options.items():
        if flag in used or not f"--{flag}".startswith(last or "--"):
            continue
        _add(choices, f"{head}--{flag}  ({option.help})", f"{head}--{flag} ")
    return choices[:25]


async def post_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    client = _client(interaction)
    posts = await client.postbot.list_queue(viewer_context(interaction))
    choices: list[app_commands.Choice[str]] = []
    for post in posts:
        label = f"#{post.id} {post.platform.label} · {local_time(post.run_at, post.tz)} · {post.caption}"
        if current.strip().lstrip("#") in str(post.id) or current.lower() in post.caption.lower():
            _add(choices, label, str(post.id))
    return choices[:25]


# --------------------------------------------------------------------------- commands

# Where the commands may be used: in servers (contexts [GUILD]), for the app installed to a server
# (integration_types [GUILD_INSTALL]): the bot needs a server's channel to answer in and post results
# to. discord.py still sends ``dm_permission`` beside ``contexts``; Discord marks it "Deprecated (use
# contexts instead)"
# (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-structure),
# so it is left out.
_IN_SERVERS = app_commands.AppCommandContext(guild=True)
_SERVER_INSTALLS = app_commands.AppInstallationType(guild=True)


class ServerCommand(app_commands.Command[Any, ..., None]):
    def to_dict(self, tree: app_commands.CommandTree[Any]) -> dict[str, Any]:
        body = super().to_dict(tree)
        body.pop("dm_permission", None)
        return body


class ServerGroup(app_commands.Group):
    def to_dict(self, tree: app_commands.CommandTree[Any]) -> dict[str, Any]:
        body = super().to_dict(tree)
        body.pop("dm_permission", None)
        return body


def can_post_here(interaction: discord.Interaction) -> None:
    """A post's result, its upload progress and a late answer are bot messages in the channel it was
    scheduled from: refuse up front where the bot can't post them. ``app_permissions`` is what the
    app may do there, sent with the interaction
    (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-structure)."""
    if interaction.guild_id is None:
        raise UserError(
            "I can only schedule from a server channel I'm in.",
            hint="Invite postbot to your server, then run the command in one of its channels.",
        )
    perms = interaction.app_permissions
    thread = isinstance(interaction.channel, discord.Thread)
    needed = {
        "View Channel": perms.view_channel,
        "Send Messages in Threads" if thread else "Send Messages": (
            perms.send_messages_in_threads if thread else perms.send_messages
        ),
        "Embed Links": perms.embed_links,
    }
    missing = [name for name, granted in needed.items() if not granted]
    if missing:
        raise UserError(
            f"I can't post in this channel (I lack {', '.join(missing)} here), and the results go here.",
            hint="Ask an admin to give postbot those permissions in this channel's settings (or to add "
            "the bot to the server, if only its commands were added), or schedule from a channel where "
            "I can post.",
        )


async def _video_command(
    interaction: discord.Interaction,
    when: str | None,
    platforms: str,
    video: discord.Attachment | None,
    url: str | None,
    caption: str | None,
    *,
    now: bool,
    privacy: str | None = None,
    account: str | None = None,
    options: str | None = None,
    thumbnail: discord.Attachment | None = None,
    more: tuple[discord.Attachment | None, ...] = (),
    every: str | None = None,
) -> None:
    """/schedule and /post: the same text and video, queued for ``when`` or as due now. The caption
    and options travel as a form: a caption is never read for options. ``more`` videos (/schedule's
    video2…) make a batch: each into the channel's next free slots, or ``every`` apart."""

    async def work() -> Reply:
        can_post_here(interaction)
        ctx = chat_context(interaction)
        videos = [v for v in (video, *more) if v is not None]
        flags = " ".join(f for f in (options, f"--every {every.strip()}" if every else None) if f)
        if len(videos) > 1 or every:
            return await _batch(
                interaction, ctx, when, platforms, videos, url, caption, flags, privacy, account
            )
        video_ = videos[0] if videos else None
        if video_ is not None and url:
            raise UserError("Attach a video or give a link to one, not both.")
        if video_ is None and not url:
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
                # Over the member's attachment limit (10 MiB without Nitro or a boosted server), a
                # link is how a video gets here.
                return await postbot.fetch_link(url.strip(), named)
            assert video_ is not None
            return await _media(interaction, video_, named)

        image = (
            await download_image(
                _client(interaction).http_client, url=thumbnail.url, filename=thumbnail.filename
            )
            if thumbnail is not None
            else None
        )
        text = command_text(when, with_picks(platforms, privacy, account), None)
        form = Form(caption=caption or "", flags=flags)
        outcome = await submit(ctx, text, fetch, thumbnail=image, form=form)
        return await _outcome_reply(interaction, outcome)

    await deferred(interaction, work)


async def _batch(
    interaction: discord.Interaction,
    ctx: ChatContext,
    when: str | None,
    platforms: str,
    videos: list[discord.Attachment],
    url: str | None,
    caption: str | None,
    flags: str,
    privacy: str | None,
    account: str | None,
) -> Reply:
    """Several attachments with one /schedule: one answer listing where each went."""
    if url:
        raise UserError("Give several videos as attachments, or one as a link, not both.")
    if not videos:
        raise UserError("Which videos?", hint="Attach them as video, video2, video3 …")
    postbot = _client(interaction).postbot

    def fetcher(video: discord.Attachment) -> MediaSource:
        async def fetch(named: tuple[Platform, ...]) -> MediaInfo:
            return await _media(interaction, video, named)

        return fetch

    text = command_text(when, with_picks(platforms, privacy, account), None)
    batch = await postbot.schedule_many(
        ctx,
        text,
        [(v.filename, fetcher(v)) for v in videos],
        form=Form(caption=caption or "", flags=flags),
    )
    items = [
        (i.name, i.outcome.posts if i.outcome else None, i.problem, i.outcome.notes if i.outcome else [])
        for i in batch.items
    ]
    ids = [p.id for o in batch.queued for p in o.posts]

    async def remember(message: discord.Message) -> None:
        # The uploads' live progress is sent as replies to this answer (and a ✅ on it approves).
        await postbot.remember_reply(ctx, ids, MessageRef(str(message.channel.id), str(message.id)))
        for outcome in batch.queued:
            await approval.ask(interaction.client, ctx, outcome, message)

    content = batch_text(items, datetime.now(UTC), duplicate=batch.duplicate)
    return Reply(content=content, sent=remember if ids else None)


@app_commands.describe(
    when="When to post: 'tomorrow 6pm', 'in 2 hours', 'best', or 'next' (the channel's next free slot)",
    platforms=f"Where: {linkable_names(platform_infos())} (comma-separated)",
    video="The video to post (or give url instead)",
    url="A link to the video, for files too big to attach: Google Drive, Dropbox, OneDrive, https",
    caption="Caption (the first line is the title where a platform has one)",
    privacy=_PRIVACY_HELP,
    account=_ACCOUNT_HELP,
    options=_OPTIONS_HELP,
    thumbnail=_THUMBNAIL_HELP,
    video2="Another video: several go into the channel's next free slots (when: next), or --every apart",
    video3="Another video",
    video4="Another video",
    video5="Another video",
    every="With several videos and a start time: the step between them, e.g. 2d, 12h, 1w",
)
@app_commands.autocomplete(
    when=when_autocomplete,
    platforms=platforms_autocomplete,
    privacy=privacy_autocomplete,
    account=account_autocomplete,
    options=options_autocomplete,
)
async def _schedule(
    interaction: discord.Interaction,
    when: str,
    platforms: str,
    video: discord.Attachment | None = None,
    url: str | None = None,
    caption: str | None = None,
    privacy: str | None = None,
    account: str | None = None,
    options: str | None = None,
    thumbnail: discord.Attachment | None = None,
    video2: discord.Attachment | None = None,
    video3: discord.Attachment | None = None,
    video4: discord.Attachment | None = None,
    video5: discord.Attachment | None = None,
    every: str | None = None,
) -> None:
    await _video_command(
        interaction,
        when,
        platforms,
        video,
        url,
        caption,
        now=False,
        privacy=privacy,
        account=account,
        options=options,
        thumbnail=thumbnail,
        more=(video2, video3, video4, video5),
        every=every,
    )


schedule = ServerCommand(
    name="schedule",
    description="Schedule a video post",
    callback=_schedule,
    allowed_contexts=_IN_SERVERS,
    allowed_installs=_SERVER_INSTALLS,
)


@app_commands.describe(
    platforms=f"Where: {linkable_names(platform_infos())}",
    video="The video (or give url instead)",
    url="A link to the video, for files too big to attach",
    caption="Caption",
    privacy=_PRIVACY_HELP,
    account=_ACCOUNT_HELP,
    options=_OPTIONS_HELP,
    thumbnail=_THUMBNAIL_HELP,
)
@app_commands.autocomplete(
    platforms=platforms_autocomplete,
    privacy=privacy_autocomplete,
    account=account_autocomplete,
    options=options_autocomplete,
)
async def _post(
    interaction: discord.Interaction,
    platforms: str,
    video: discord.Attachment | None = None,
    url: str | None = None,
    caption: str | None = None,
    privacy: str | None = None,
    account: str | None = None,
    options: str | None = None,
    thumbnail: discord.Attachment | None = None,
) -> None:
    await _video_command(
        interaction,
        None,
        platforms,
        video,
        url,
        caption,
        now=True,
        privacy=privacy,
        account=account,
        options=options,
        thumbnail=thumbnail,
    )


post = ServerCommand(
    name="post",
    description="Publish a video now",
    callback=_post,
    allowed_contexts=_IN_SERVERS,
    allowed_installs=_SERVER_INSTALLS,
)

# Every command but /schedule and /post is a subcommand of /postbot or, for admins, of /postbot-admin
# (type 1 SUB_COMMAND options of one command,
# https://discord.com/developers/docs/interactions/application-commands#subcommands-and-subcommand-groups),
# so no name collides with another app's. Who may see and use a command is set per top-level command
# (``default_member_permissions``; an option has no such field:
# https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-structure),
# hence the second command: Discord shows /postbot-admin to members with Manage Server only
# ("Using Default Permissions", same page). A server may grant it to others in Server Settings →
# Integrations, so the core still refuses a non-admin.
group = ServerGroup(
    name=NAMESPACE,
    description="postbot: queue, cancel, reschedule, suggest, accounts, timezone, help",
    allowed_contexts=_IN_SERVERS,
    allowed_installs=_SERVER_INSTALLS,
)
admin_group = ServerGroup(
    name=ADMIN,
    description="postbot for admins: link, unlink, default account, pause, resume, status",
    allowed_contexts=_IN_SERVERS,
    allowed_installs=_SERVER_INSTALLS,
    default_permissions=discord.Permissions(manage_guild=True),
)


async def admin_deferred(
    interaction: discord.Interaction, work: Callable[[], Awaitable[Reply]], *, ephemeral: bool = False
) -> None:
    """``deferred`` for an admin command: a member who is not an admin (granted the command in
    Integrations) sees no public "thinking…", only the core's private refusal."""
    await deferred(interaction, work, ephemeral=ephemeral or not is_server_admin(interaction))


@group.command(name="queue", description="Upcoming posts")
async def queue(interaction: discord.Interaction) -> None:
    async def work() -> Reply:
        postbot = _client(interaction).postbot
        posts = await postbot.list_queue(viewer_context(interaction))
        said = queue_text(posts, datetime.now(UTC))
        if free := free_slots_line(await postbot.free_slots(chat_context(interaction))):
            said += f"\n{free}"
        return Reply(content=said[:2000])

    await deferred(interaction, work, ephemeral=True)


@group.command(name="cancel", description="Cancel a queued post")
@app_commands.describe(post="The post id shown by /postbot queue")
@app_commands.autocomplete(post=post_autocomplete)
async def cancel(interaction: discord.Interaction, post: str) -> None:
    async def work() -> Reply:
        view = await _client(interaction).postbot.cancel(chat_context(interaction), parse_post_id(post))
        return Reply(content=f"Cancelled #{view.id} ({view.platform.label}).")

    await deferred(interaction, work)


@group.command(name="reschedule", description="Move a queued post to another time")
@app_commands.describe(post="The post id shown by /postbot queue", when="The new time")
@app_commands.autocomplete(post=post_autocomplete, when=when_autocomplete)
async def reschedule(interaction: discord.Interaction, post: str, when: str) -> None:
    async def work() -> Reply:
        view = await _client(interaction).postbot.reschedule(
            chat_context(interaction), parse_post_id(post), when
        )
        return Reply(
            content=f"Moved #{view.id} ({view.platform.label}) to {local_time(view.run_at, view.tz)}."
        )

    await deferred(interaction, work)


@group.command(name="suggest", description="Good times to post")
@app_commands.describe(platforms="Platforms to suggest for (default: the linked ones)")
@app_commands.autocomplete(platforms=platforms_autocomplete)
async def suggest(interaction: discord.Interaction, platforms: str | None = None) -> None:
    async def work() -> Reply:
        outcome: SuggestOutcome = await _client(interaction).postbot.suggest(
            chat_context(interaction), platforms_arg(platforms or "")
        )
        return Reply(embed=suggest_embed(outcome))

    await deferred(interaction, work, ephemeral=True)


_LINKABLE = [app_commands.Choice(name=p.label, value=p.name) for p in platform_infos() if p.linkable]


@admin_group.command(name="link", description="Link a platform account for this server")
@app_commands.describe(platform="The platform to link")
@app_commands.choices(platform=_LINKABLE)
async def link(interaction: discord.Interaction, platform: app_commands.Choice[str]) -> None:
    async def work() -> Reply:
        # The core checks ctx.is_admin again: a server may grant the command to anyone.
        ack = await _client(interaction).postbot.link(chat_context(interaction), platform.value)
        return Reply(content=ack)

    await admin_deferred(interaction, work, ephemeral=True)


async def handle_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Every linked account as platform@handle, this channel's defaults marked."""
    return await _account_choices(interaction, current, None, listing=False)


@admin_group.command(name="unlink", description="Unlink a platform account")
@app_commands.describe(
    platform="The platform to unlink", account="Only this account (platform@handle); default: all of them"
)
@app_commands.choices(platform=_LINKABLE)
@app_commands.autocomplete(account=handle_autocomplete)
async def unlink(
    interaction: discord.Interaction, platform: app_commands.Choice[str], account: str | None = None
) -> None:
    async def work() -> Reply:
        handle = account.partition("@")[2] if account and "@" in account else account
        outcome = await _client(interaction).postbot.unlink(
            chat_context(interaction), Platform(platform.value), handle
        )
        return Reply(content=unlink_text(outcome))

    await admin_deferred(interaction, work)


@group.command(name="accounts", description="Linked platform accounts")
async def accounts(interaction: discord.Interaction) -> None:
    async def work() -> Reply:
        views = await _client(interaction).postbot.accounts(chat_context(interaction))
        return Reply(content=accounts_text(views)[:2000])

    await deferred(interaction, work, ephemeral=True)


async def zone_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=zone, value=zone) for zone in zone_choices(current)]


@group.command(name="timezone", description="The time zone your times are read and shown in")
@app_commands.describe(
    zone="A city or IANA zone, e.g. Berlin or America/New_York",
    server="Set the server's default instead (Manage Server)",
)
@app_commands.autocomplete(zone=zone_autocomplete)
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


@admin_group.command(name="pause", description="Hold publishing: due posts wait, queued")
@app_commands.describe(platform="Only this platform (default: all)")
@app_commands.choices(platform=_PAUSABLE)
async def pause(interaction: discord.Interaction, platform: app_commands.Choice[str] | None = None) -> None:
    async def work() -> Reply:
        # The core checks ctx.is_admin again: a server may grant the command to anyone.
        view = await _client(interaction).postbot.pause(
            chat_context(interaction), platform.value if platform else ""
        )
        return Reply(content=pause_text(view))

    await admin_deferred(interaction, work)


@admin_group.command(name="resume", description="Start publishing again after /postbot-admin pause")
@app_commands.describe(platform="Only this platform (default: all)")
@app_commands.choices(platform=_PAUSABLE)
async def resume(interaction: discord.Interaction, platform: app_commands.Choice[str] | None = None) -> None:
    async def work() -> Reply:
        view = await _client(interaction).postbot.resume(
            chat_context(interaction), platform.value if platform else ""
        )
        return Reply(content=resume_text(view))

    await admin_deferred(interaction, work)


@admin_group.command(name="status", description="Queues, success rates, breakers, last errors")
async def status(interaction: discord.Interaction) -> None:
    async def work() -> Reply:
        postbot = _client(interaction).postbot
        said = status_text(await postbot.status(chat_context(interaction)), datetime.now(UTC))
        if free := free_slots_line(await postbot.free_slots(chat_context(interaction))):
            said += f"\n{free}"
        return Reply(content=said[:2000])

    await admin_deferred(interaction, work, ephemeral=True)


@admin_group.command(name="default", description="The account this channel posts to on a platform")
@app_commands.describe(account=f"platform@handle, e.g. {_ACCOUNT_EXAMPLE} (see /postbot accounts)")
@app_commands.autocomplete(account=handle_autocomplete)
async def default_account(interaction: discord.Interaction, account: str) -> None:
    async def work() -> Reply:
        # The core checks ctx.is_admin again: a server may grant the command to anyone.
        view = await _client(interaction).postbot.set_default_account(chat_context(interaction), account)
        return Reply(content=default_text(view))

    await admin_deferred(interaction, work)


@group.command(name="slots", description="This channel's posting schedule (admins change it)")
@app_commands.describe(change=f"add mon,wed,fri 18:00 {_ONE} · remove fri 18:00 {_ONE} · clear [platform]")
async def slots(interaction: discord.Interaction, change: str | None = None) -> None:
    async def work() -> Reply:
        # The core refuses a change from someone who is not an admin.
        view = await _client(interaction).postbot.slots(chat_context(interaction), change or "")
        return Reply(content=schedule_text(view))

    await deferred(interaction, work, ephemeral=not change)


_PERIODS = [
    app_commands.Choice(name="Last 7 days", value="7d"),
    app_commands.Choice(name="Last 30 days", value="30d"),
]


@group.command(name="results", description="Views, likes and comments against the period before; best posts")
@app_commands.describe(platform="Only this platform (default: all)", period="7 or 30 days (default: 7)")
@app_commands.choices(platform=_PAUSABLE, period=_PERIODS)
async def results(
    interaction: discord.Interaction,
    platform: app_commands.Choice[str] | None = None,
    period: app_commands.Choice[str] | None = None,
) -> None:
    async def work() -> Reply:
        # Only posts from channels the member can see, and their own (viewer_context).
        text = " ".join(c.value for c in (platform, period) if c is not None)
        report = await _client(interaction).postbot.results(viewer_context(interaction), text)
        return Reply(embed=results_embed(report))

    await deferred(interaction, work, ephemeral=True)


_DIGEST_DAYS = [app_commands.Choice(name=day, value=day.lower()) for day in WEEKDAYS] + [
    app_commands.Choice(name="Off (no digest here)", value="off")
]


def can_share_chart_here(interaction: discord.Interaction) -> None:
    """The digest is an embed with the chart attached: the bot needs Attach Files here besides what
    every answer in a channel needs (View Channel, Send Messages, Embed Links)."""
    can_post_here(interaction)
    if not interaction.app_permissions.attach_files:
        raise UserError(
            "I can't attach the chart in this channel (I lack Attach Files here).",
            hint="Ask an admin to give postbot Attach Files in this channel's settings.",
        )


@admin_group.command(name="digest", description="A weekly results digest with a chart in this channel")
@app_commands.describe(
    day="The day it goes out, or Off", time="The time of day in the server's zone, e.g. 09:00 (default 09:00)"
)
@app_commands.choices(day=_DIGEST_DAYS)
async def digest(
    interaction: discord.Interaction, day: app_commands.Choice[str] | None = None, time: str | None = None
) -> None:
    async def work() -> Reply:
        if day is not None and day.value != "off":
            can_share_chart_here(interaction)
        text = "" if day is None else "off" if day.value == "off" else f"{day.value} {time or '09:00'}"
        outcome = await _client(interaction).postbot.digest(chat_context(interaction), text)
        return Reply(content=digest_setting_text(outcome))

    await admin_deferred(interaction, work)


@group.command(name="approve", description="Approve a post awaiting approval")
@app_commands.describe(post="The post id", when="'now', or a new time (default: its own)")
@app_commands.autocomplete(post=post_autocomplete, when=when_autocomplete)
async def approve(interaction: discord.Interaction, post: str, when: str | None = None) -> None:
    async def work() -> Reply:
        # The post's id and the time apart: pasted into /approve's text, a "when" of "2 now" read
        # as another post id to approve.
        at = (when or "").strip()
        ids, ctx = [parse_post_id(post)], chat_context(interaction)
        postbot = _client(interaction).postbot
        if at.lower() == "now":
            outcome = await postbot.approve(ctx, ids, now=True)
        else:
            outcome = await postbot.approve(ctx, ids, when=at or None)
        return Reply(content=review_text(outcome))

    await deferred(interaction, work)


@group.command(name="reject", description="Reject a post awaiting approval; its author is told why")
@app_commands.describe(post="The post id", reason="What to change (the author sees it)")
@app_commands.autocomplete(post=post_autocomplete)
async def reject(interaction: discord.Interaction, post: str, reason: str | None = None) -> None:
    async def work() -> Reply:
        outcome = await _client(interaction).postbot.reject(
            chat_context(interaction), [parse_post_id(post)], reason or ""
        )
        return Reply(content=review_text(outcome, "Rejected"))

    await deferred(interaction, work)


_APPROVAL_STATES = [app_commands.Choice(name=n, value=n) for n in ("on", "off", "show")]


@admin_group.command(name="approval", description="Posts from others in this channel wait for approval")
@app_commands.describe(
    state="on, off, or show how this channel is set",
    approvers="Mention the people and roles who approve (default: the admins)",
    dm="Ask each approver by direct message instead of under the scheduling answer",
)
@app_commands.choices(state=_APPROVAL_STATES)
async def approval_rule(
    interaction: discord.Interaction,
    state: app_commands.Choice[str],
    approvers: str | None = None,
    dm: bool = False,
) -> None:
    async def work() -> Reply:
        text = " ".join(p for p in (state.value, approvers or "", "dm" if dm else "") if p)
        ctx = chat_context(interaction)
        rule = await _client(interaction).postbot.set_approval(ctx, text)
        return Reply(
            content=approval_rule_text(rule, ctx.chat),
            extra={"allowed_mentions": discord.AllowedMentions.none()},
        )

    await admin_deferred(interaction, work)


@group.command(name="help", description="What postbot can do")
async def help_command(interaction: discord.Interaction) -> None:
    # An embed's description holds 4,096 characters, a message's content 2,000
    # (https://discord.com/developers/docs/resources/message#embed-object-embed-limits): the help
    # lists every platform and grows with each one, and had reached 1,990 as content.
    await interaction.response.send_message(embed=discord.Embed(description=HELP), ephemeral=True)


COMMANDS: list[app_commands.Command[Any, Any, None] | app_commands.Group] = [
    schedule,
    post,
    group,
    admin_group,
]
