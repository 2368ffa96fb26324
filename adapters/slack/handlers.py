"""The Slack listeners: each acknowledges at once, then turns the payload into a core call and the
result into a reply. Everything slow (users.info, file download, validation, the database) happens
after ``ack()``, so Slack's 3-second limit is never at stake."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from adapters.slack.approval import SlackApproval
from adapters.slack.context import Directory
from adapters.slack.files import (
    FileHosts,
    SeenReplies,
    complete,
    download,
    existing_thread,
    thread_root,
    videos_in_message,
)
from adapters.slack.home import HomeTabs
from core.domain import (
    ChatContext,
    ChatKind,
    MediaInfo,
    MessageRef,
    Platform,
    SharedFile,
    platform_from_alias,
)
from core.errors import MediaError, TimeParseError, UserError
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
    namespaced,
    pause_text,
    platform_example,
    platform_words,
    resume_text,
    review_text,
    schedule_text,
    short_example,
    short_option_examples,
    status_text,
    unlink_text,
)
from core.service import (
    Form,
    MediaSource,
    Postbot,
    ScheduleOutcome,
    first_link,
    option_help,
    parse_post_id,
    platform_infos,
    split_url_flag,
)

log = logging.getLogger(__name__)

_LINKABLE = linkable_names(platform_infos()).split(", ")
# "youtube (or instagram, x, linkedin, tiktok)"
_LINK_EXAMPLE = f"{_LINKABLE[0]} (or {', '.join(_LINKABLE[1:])})"
_ONE = example_platform(platform_infos())
# "yt,ig": the same two platforms as the other example, by their short names.
_SHORT_EXAMPLE = short_example(platform_infos())

# "`youtube:unlisted`, `linkedin:connections`, `youtube@brand`"
_OPTION_EXAMPLES = ", ".join(
    f"`{e}`"
    for e in (*short_option_examples(platform_infos(), most=2).split(", "), account_example(platform_infos()))
    if e
)

HELP = f"""*postbot* schedules video posts from Slack.
• Upload a video here, then `/schedule <when> <platforms> [caption]`,
  e.g. `/schedule tomorrow 6pm {platform_example(platform_infos())} Launch day #launch`
• `/post <platforms> [caption]`: publish your latest video now
• Or mention me in the message with the video: `@postbot friday 9am {_SHORT_EXAMPLE} Launch day`
• Or use the message shortcut *Schedule this post* on any message with a video
• Too big to upload? `/schedule tomorrow 6pm {_SHORT_EXAMPLE} --url <link>` (Google Drive, Dropbox,
  OneDrive or https), or a message with the link, then the shortcut or a mention
• Slash commands can't be typed in a thread: use them in the channel, or the shortcut
Everything else is under `/postbot`:
• `/postbot queue`: this channel's upcoming posts · `/postbot cancel <id>` · `/postbot reschedule <id> <when>`
• `/postbot suggest <platforms>`: good times to post
• `/postbot accounts`: linked accounts · `/postbot link <platform>` and `/postbot unlink <platform>` (admins)
• `/postbot status`: queues, quota, workers, success rates, breakers and the last errors (admins)
• `/postbot pause [platform]` and `/postbot resume [platform]`: hold publishing, then start it again (admins)
• `/postbot default <platform>@<handle>`: the account this channel posts to when a command names none (admins)
• `/postbot slots`: this channel's posting schedule; `/postbot slots add mon,wed,fri 18:00 {_ONE}`,
  `remove …`, `clear [platform]` (admins); then `/schedule next {_ONE} Caption` takes the next free slot
• `/postbot results [platform] [7d|30d]`: views, likes, comments against the period before; the best posts
• `/postbot digest <day> <HH:MM>` or `off`: a weekly results digest with a chart in this channel (admins)
• `/postbot approval on [@people @group] [dm]` · `/postbot approval off`: approval here (admins)
• `/postbot approve <id> [now|<when>]` · `/postbot reject <id> [reason]`: decide a waiting post (or ✅)
• Options: {_OPTION_EXAMPLES} in the platform list, and
  `--name value` at the start or end: {option_help()}
• `/postbot help`: this message. The app's Home tab shows the week ahead.
Platforms: {platform_words(platform_infos())}.
Times: `in 2 hours`, `friday 9am`, `2026-12-01 18:00`, or `best` for the suggested slot."""

# What a slash command is acknowledged with (shown only to the person who typed it). The HTTP front door
# answers with these before bolt runs the listener, so they are fixed texts, the same in both places.
# These are the manifest's commands (tests/test_slack_manifest.py).
COMMAND_ACKS: dict[str, str] = {
    # Fixed before the text is read, so true of both sources: an upload's reply goes in its thread, a
    # --url link's in the channel (there is no message to thread under).
    "/schedule": "Scheduling… I'll reply under your video, or in the channel for a --url link.",
    "/post": "Publishing… I'll reply under your video, or in the channel for a --url link.",
    f"/{NAMESPACE}": "",
}
# The top-level names postbot had before /postbot, each answered as its subcommand with a note (see
# SlackHandlers.on_legacy); not in the manifest, so a workspace that installed it anew never has them.
LEGACY_COMMANDS: dict[str, str] = {
    f"/{sub}": sub
    for sub in ("queue", "cancel", "reschedule", "suggest", "link", "unlink", "accounts", "help")
}
LEGACY_ACKS: dict[str, str] = dict.fromkeys(LEGACY_COMMANDS, "")
# Work after the ack that runs at once; more waits its turn, so a burst of commands neither starves
# the acks of later requests nor opens hundreds of downloads and database transactions together.
MAX_CONCURRENT_WORK = 16
# How long a mention in a thread waits for its reply's own ``message`` event (see SeenReplies): the
# two are sent together, so a reply with an upload is not mistaken for one about the parent's video.
REPLY_EVENT_WAIT_S = 3.0
# A modal submission is answered within this, whatever users.info, the database and the parse take
# (Slack allows 3 s; see SlackHandlers.on_modal).
MODAL_ACK_BUDGET_S = 1.5
# How long opening the form waits for users.info (the zone it shows): the trigger_id lives 3 s.
PROFILE_WAIT_S = 0.5

INTERNAL_ERROR = (
    "Something went wrong on postbot's side and it has been logged. Please try again in a minute."
)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")

Tell = Callable[[str], Awaitable[None]]
# One /postbot subcommand: the slash command's payload, the text after the subcommand's name.
Subcommand = Callable[[dict[str, Any], str, AsyncRespond, Tell], Awaitable[None]]
# Where a video comes from: a file shared in Slack, or a link to fetch.
Source = SharedFile | str
NO_VIDEO = UserError(
    "This message has no video I can post.",
    hint="Use it on a message with an MP4 or MOV attached, or with a link to one.",
)


# Slack's control sequences in a command sent escaped: <@U1|ana>, <#C1|general>, <!subteam^S1|@team>,
# <https://x|label> (https://api.slack.com/reference/surfaces/formatting#retrieving-messages).
_ESCAPED = re.compile(r"<([@#!])([^>|]*)(?:\|([^>]*))?>|<(https?://[^>|]+)(?:\|[^>]*)?>")


def unescape(text: str) -> str:
    """A command's text as it was typed, from Slack's escaped form: mentions by their label, links
    bare, and the three escaped characters back."""

    def plain(match: re.Match[str]) -> str:
        if match[4]:
            return match[4]
        kind, raw, label = match[1], match[2], match[3]
        if kind == "!":
            return label or f"@{raw.split('^')[0]}"
        return label if label and label.startswith(kind) else f"{kind}{label or raw}"

    return _ESCAPED.sub(plain, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mentions(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text).split())


class SlackHandlers:
    def __init__(
        self,
        *,
        postbot: Postbot,
        http: httpx.AsyncClient,
        client: AsyncWebClient,
        bot_token: str,
    ) -> None:
        slack = postbot.settings.slack
        self.postbot = postbot
        self.http = http
        self.client = client
        self.bot_token = bot_token
        self.file_hosts = FileHosts(slack.file_origins)
        self.directory = Directory(client, set(slack.admin_user_ids))
        self.window = timedelta(seconds=slack.recent_file_window_s)
        self._work_slots = asyncio.Semaphore(MAX_CONCURRENT_WORK)
        self.replies = SeenReplies()
        self.homes = HomeTabs(
            client,
            postbot.home,
            self._home_context,
            min_interval_s=slack.home_refresh_s,
            recent_s=slack.home_recent_s,
            per_minute=slack.home_publish_per_minute,
        )
        self.approval = SlackApproval(
            postbot=postbot, client=client, directory=self.directory, homes=self.homes, acked=self._acked
        )

    async def _home_context(self, team_id: str, user_id: str) -> ChatContext:
        """A member looking at the Home tab: no channel of their own there, so what it lists comes
        from the channels they share with postbot (ChatContext.visible_channels)."""
        ctx = await self.directory.context(team_id=team_id, user_id=user_id, channel_id=None)
        return replace(ctx, channels=await self.directory.channels(user_id))

    # ------------------------------------------------------------------ registration

    def register(self, app: AsyncApp) -> None:
        app.command("/schedule")(self.on_schedule)
        app.command("/post")(self.on_post)
        app.command(f"/{NAMESPACE}")(self.on_postbot)
        for old in LEGACY_COMMANDS:
            app.command(old)(self.on_legacy)
        app.event("message")(self.on_message)
        app.event("file_shared")(self.on_file_shared)
        app.event("app_mention")(self.on_mention)
        app.event("app_home_opened")(self.on_home_opened)
        app.shortcut(blocks.SHORTCUT_CALLBACK)(self.on_shortcut)
        app.view(blocks.MODAL_CALLBACK)(self.on_modal)
        app.action(blocks.CANCEL_PATTERN)(self.on_cancel_button)
        app.action(blocks.SLOT_PATTERN)(self.on_slot_button)
        self.approval.register(app)

    # ------------------------------------------------------------------ plumbing

    async def _guard(
        self, work: Callable[[], Awaitable[None]], tell: Tell, what: str, *, queued: bool = True
    ) -> None:
        """Run the part after ack(): a ``UserError`` goes to the user as written, anything else is
        logged and the user gets a plain apology (never a stack trace or a token)."""
        try:
            if queued:
                async with self._work_slots:
                    await work()
            else:
                await work()
        except UserError as exc:
            await self._safe_tell(tell, f"✗ {exc}")
        except Exception:
            log.exception("slack listener failed", extra={"listener": what})
            await self._safe_tell(tell, INTERNAL_ERROR)

    async def _acked(
        self,
        ack: Any,
        respond: AsyncRespond,
        work: Callable[[Tell], Awaitable[None]],
        what: str,
        user: str | None = None,
    ) -> None:
        """Ack at once, then run ``work`` under :meth:`_guard` with its replies going to ``respond``
        (to ``user`` by DM once the response_url is spent)."""
        await ack()
        tell = self._respond_tell(respond, user)
        await self._guard(lambda: work(tell), tell, what)

    @staticmethod
    async def _safe_tell(tell: Tell, text: str) -> None:
        try:
            await tell(text)
        except Exception:
            log.exception("could not tell the user about an error")

    def _respond_tell(self, respond: AsyncRespond, user: str | None = None) -> Tell:
        """Tell the person who ran a command, privately, through its response_url. Slack takes a
        response_url "up to 5 times within 30 minutes" (https://api.slack.com/interactivity/handling#message_responses)
        and refuses it after: a long download's outcome then reaches ``user`` by direct message
        instead of only the log (bolt's respond returns the refusal, it does not raise)."""

        async def tell(text: str) -> None:
            fallback, layout = blocks.message(namespaced(text))
            sent = await respond(text=fallback, blocks=layout, replace_original=False)
            if sent.status_code == 200 or user is None:
                return
            log.warning("response_url refused, telling by DM", extra={"status": sent.status_code})
            await self._dm(user, fallback, layout)

        return tell

    async def _dm(self, user: str, text: str, layout: blocks.Blocks) -> None:
        opened = await self.client.conversations_open(users=user)
        await self.client.chat_postMessage(channel=opened["channel"]["id"], text=text, blocks=layout)

    def _ephemeral_tell(self, channel: str, user: str, thread_ts: str | None = None) -> Tell:
        """Tell one user privately in a channel: in ``thread_ts`` only when that thread exists (see
        files.existing_thread), and by direct message when Slack refuses the ephemeral (the bot is
        not in the channel the shortcut was used in, or it was archived)."""

        async def tell(text: str) -> None:
            text, layout = blocks.message(namespaced(text))
            try:
                await self.client.chat_postEphemeral(
                    channel=channel, user=user, text=text, blocks=layout, thread_ts=thread_ts
                )
            except SlackApiError as exc:
                log.warning("ephemeral refused, telling by DM", extra={"error": exc.response.get("error")})
                await self._dm(user, text, layout)

        return tell

    async def _command_ctx(self, command: dict[str, Any], *, thread_ts: str | None = None) -> ChatContext:
        return await self.directory.context(
            team_id=command["team_id"],
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            thread_ts=thread_ts,
            request_id=f"slack:{command.get('trigger_id')}" if command.get("trigger_id") else None,
            team_name=command.get("team_domain"),
        )

    async def _latest_file(self, ctx: ChatContext) -> SharedFile:
        return await self.postbot.latest_video(ctx, window=self.window)

    async def _queue_posts(
        self,
        ctx: ChatContext,
        text: str,
        source: Source,
        *,
        now_post: bool,
        read: Callable[[], Awaitable[None]] | None = None,
        form: Form | None = None,
    ) -> ScheduleOutcome:
        """One facade call: it reads the command, then (``read`` first, when given) fetches the video."""
        submit = self.postbot.post_now if now_post else self.postbot.schedule
        if isinstance(source, str):
            return await submit(ctx, text, self._from_link(source, read), form=form)
        return await submit(ctx, text, self._from_file(source, read), form=form)

    def _from_file(self, file: SharedFile, read: Callable[[], Awaitable[None]] | None = None) -> MediaSource:
        async def fetch(platforms: tuple[Platform, ...]) -> MediaInfo:
            # Called by the core once it has read the command: a typo costs no download.
            if read is not None:
                await read()
            full = await complete(self.client, file)
            return await download(
                self.http,
                self.postbot,
                bot_token=self.bot_token,
                file=full,
                platforms=platforms,
                hosts=self.file_hosts,
            )

        return fetch

    async def _schedule_batch(
        self,
        ctx: ChatContext,
        text: str,
        files: list[SharedFile],
        tell: Tell,
        *,
        quiet_duplicate: bool = False,
    ) -> None:
        """Several videos with one command: each into the next free slots (or ``--every``), one
        answer in the thread listing them all, a refused one with its reason."""
        videos = [(f.name or f.file_id, self._from_file(f)) for f in files]
        batch = await self.postbot.schedule_many(ctx, text, videos)
        if batch.duplicate and quiet_duplicate:
            return
        if not batch.duplicate:
            self.homes.changed(ctx.team_id)
        items = [
            (i.name, i.outcome.posts if i.outcome else None, i.problem, i.outcome.notes if i.outcome else [])
            for i in batch.items
        ]
        said = namespaced(batch_text(items, datetime.now(UTC), duplicate=batch.duplicate))
        fallback, layout = blocks.message(said)
        assert ctx.channel_id is not None
        try:
            sent = await self.client.chat_postMessage(
                channel=ctx.channel_id,
                thread_ts=ctx.thread_id,
                text=fallback,
                blocks=layout,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            log.warning("could not post the scheduling reply", extra={"error": exc.response.get("error")})
            await tell(said)
            return
        ids = [p.id for o in batch.queued for p in o.posts]
        answer = MessageRef(str(sent["channel"]), str(sent["ts"]))
        if ids:
            try:
                await self.postbot.remember_reply(ctx, ids, answer)
            except Exception:
                log.exception("could not record the scheduling reply")
        for outcome in batch.queued:
            # Each video's posts awaiting approval get their own request (a ✅ on the answer
            # approves them all).
            await self.approval.ask(ctx, outcome, answer)

    def _from_link(self, link: str, read: Callable[[], Awaitable[None]] | None = None) -> MediaSource:
        async def fetch(platforms: tuple[Platform, ...]) -> MediaInfo:
            if read is not None:
                await read()
            return await self.postbot.fetch_link(link, platforms)

        return fetch

    async def _reply_outcome(self, ctx: ChatContext, outcome: ScheduleOutcome, tell: Tell) -> None:
        if not outcome.duplicate:
            # Every way of queueing (command, mention, form) answers here: the Home tab follows.
            self.homes.changed(ctx.team_id)
        text, layout = blocks.outcome_blocks(
            outcome.posts, outcome.notes, outcome.suggestions, datetime.now(UTC), duplicate=outcome.duplicate
        )
        if outcome.approval is not None:
            # Mentions of the approvers (ids from the rule) stay mentions; nothing else is added.
            waiting = awaiting_note(outcome.approval, ctx.chat)
            layout.insert(
                1, {"type": "context", "elements": [{"type": "mrkdwn", "text": f":hourglass: {waiting}"}]}
            )
        assert ctx.channel_id is not None
        try:
            sent = await self.client.chat_postMessage(
                channel=ctx.channel_id, thread_ts=ctx.thread_id, text=text, blocks=layout, unfurl_links=False
            )
        except SlackApiError as exc:
            # The posts are queued whatever happened to the reply: say so privately, and how to get
            # replies in the channel, instead of an error that would make the user schedule twice.
            error = exc.response.get("error")
            log.warning("could not post the scheduling reply", extra={"error": error})
            if error in ("not_in_channel", "channel_not_found") and ctx.channel_id.startswith("D"):
                why = "I'm not in this conversation: the results will come to you by direct message."
            elif error in ("not_in_channel", "channel_not_found", "is_archived"):
                why = "I can't post in this channel: invite me with /invite @postbot to get updates here."
            else:
                why = f"I couldn't post this in the channel (Slack said {error})."
            await tell(f"{text}\n({why})")
            return
        answer = MessageRef(str(sent["channel"]), str(sent["ts"]))
        await self._remember_reply(ctx, outcome, answer)
        await self.approval.ask(ctx, outcome, answer)

    async def _remember_reply(self, ctx: ChatContext, outcome: ScheduleOutcome, reply: MessageRef) -> None:
        """The uploads' live progress goes under this reply; without it they only lose that."""
        try:
            await self.postbot.remember_reply(ctx, [p.id for p in outcome.posts], reply)
        except Exception:
            log.exception("could not record the scheduling reply")

    async def _schedule_from(
        self,
        ctx: ChatContext,
        text: str,
        source: Source,
        tell: Tell,
        *,
        now_post: bool = False,
        quiet_duplicate: bool = False,
        form: Form | None = None,
    ) -> None:
        outcome = await self._queue_posts(ctx, text, source, now_post=now_post, form=form)
        if outcome.duplicate and quiet_duplicate:
            return
        await self._reply_outcome(ctx, outcome, tell)

    # ------------------------------------------------------------------ slash commands

    async def on_schedule(self, ack: Any, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack(text=COMMAND_ACKS["/schedule"])
        await self._command_with_file(command, respond, now_post=False)

    async def on_post(self, ack: Any, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack(text=COMMAND_ACKS["/post"])
        await self._command_with_file(command, respond, now_post=True)

    async def _command_with_file(
        self, command: dict[str, Any], respond: AsyncRespond, *, now_post: bool
    ) -> None:
        tell = self._respond_tell(respond, command.get("user_id"))

        async def work() -> None:
            text = command.get("text", "").strip()
            if not text:
                raise UserError(
                    "What should I post, where and when?",
                    hint=f"e.g. /schedule tomorrow 6pm {platform_example(platform_infos())} Launch day",
                )
            text, link = split_url_flag(text)
            ctx = await self._command_ctx(command)
            if link is not None:
                # No message to thread under: the reply goes to the channel.
                await self._schedule_from(ctx, text, link, tell, now_post=now_post)
                return
            try:
                if not now_post and self.postbot.spreads(text):
                    # next / --every: every video of the newest upload's message or thread.
                    files = await self.postbot.latest_videos(ctx, window=self.window)
                else:
                    files = [await self._latest_file(ctx)]
            except MediaError:
                await self._check_present(ctx.channel_id)
                raise
            ctx = replace(ctx, thread_id=files[0].message_ts)
            if len(files) > 1:
                await self._schedule_batch(ctx, text, files, tell)
                return
            await self._schedule_from(ctx, text, files[0], tell, now_post=now_post)

        await self._guard(work, tell, command.get("command", "command"))

    async def _check_present(self, channel: str | None) -> None:
        """Slack sends slash commands from anywhere, but postbot sees uploads only where it is a
        member: in a DM between people, or a channel it wasn't invited to, "no video" would be the
        wrong answer. conversations.info says ``is_member``, or ``channel_not_found`` for a private
        channel the bot is not in (https://docs.slack.dev/reference/methods/conversations.info)."""
        if not channel:
            return
        if channel.startswith("D"):
            # postbot reads no direct messages (no im:history, no message.im in the manifest).
            raise UserError(
                "I don't see videos shared in direct messages.",
                hint="Share the video in a channel I'm in (/invite @postbot there), or schedule a link "
                "with --url.",
            )
        try:
            info = await self.client.conversations_info(channel=channel)
            present = bool((info.get("channel") or {}).get("is_member"))
        except SlackApiError as exc:
            if exc.response.get("error") != "channel_not_found":
                return  # missing_scope on an old install, a hiccup: the usual answer stands
            present = False
        if present:
            return
        raise UserError(
            "I'm not in this channel, so I don't see the videos shared here.",
            hint="Invite me with /invite @postbot, share the video again, then run the command.",
        )

    async def on_postbot(self, ack: Any, command: dict[str, Any], respond: AsyncRespond) -> None:
        """`/postbot <subcommand> ...`: every command but /schedule and /post, under one name that
        collides with no other app's (and not with Slack's built-in /status)."""
        sub, _, rest = command.get("text", "").strip().partition(" ")
        if sub.lower() != "approval":
            # /postbot escapes mentions (should_escape in the manifest) so /postbot approval gets
            # user and group ids; every other subcommand reads them as typed.
            rest = unescape(rest)
        await self._acked(
            ack,
            respond,
            lambda tell: self._run(sub.lower() or "help", command, rest, respond, tell),
            "/postbot",
            command.get("user_id"),
        )

    async def on_legacy(self, ack: Any, command: dict[str, Any], respond: AsyncRespond) -> None:
        """A top-level name from before /postbot (``/queue``): a workspace keeps sending them until
        an admin updates the app from the new manifest, and Slack shows "dispatch_failed" for a
        command nobody answers. It runs as ``/postbot queue`` and says so."""
        old = command.get("command", "")
        sub = LEGACY_COMMANDS[old]

        async def work(tell: Tell) -> None:
            note = (
                f"`{old}` is now `/{NAMESPACE} {sub}`; the old name goes away when an admin updates "
                "the app from postbot's new manifest."
            )
            try:
                await self._run(sub, command, command.get("text", "").strip(), respond, tell)
            finally:
                # Not through ``tell``: it would turn the old name in the note into the new one.
                fallback, layout = blocks.message(note)
                await respond(text=fallback, blocks=layout, replace_original=False)

        await self._acked(ack, respond, work, old, command.get("user_id"))

    async def _run(
        self, sub: str, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell
    ) -> None:
        run = self._subcommands().get(sub)
        if run is None:
            raise UserError(f"I don't know `/{NAMESPACE} {sub[:40]}`.", hint=f"/{NAMESPACE} help lists them.")
        await run(command, rest.strip(), respond, tell)

    def _subcommands(self) -> dict[str, Subcommand]:
        return {
            "queue": self._queue,
            "cancel": self._cancel,
            "reschedule": self._reschedule,
            "suggest": self._suggest,
            "accounts": self._accounts,
            "link": self._link,
            "unlink": self._unlink,
            "status": self._status,
            "pause": self._pause,
            "resume": self._resume,
            "default": self._default,
            "slots": self._slots,
            "results": self._results,
            "digest": self._digest,
            "approval": self._approval,
            "approve": self._approve,
            "reject": self._reject,
            "help": self._help,
        }

    async def _queue(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        posts = await self.postbot.list_queue(ctx, channel_only=True)
        text, layout = blocks.queue_blocks(posts, datetime.now(UTC))
        if free := free_slots_line(await self.postbot.free_slots(ctx)):
            text, layout = f"{text}\n{free}", [*layout, blocks.context_line(free)]
        await respond(text=text, blocks=layout, response_type="ephemeral")

    async def _cancel(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        view = await self.postbot.cancel(ctx, parse_post_id(rest))
        self.homes.changed(ctx.team_id)
        await tell(f"Cancelled #{view.id} ({view.platform.label}).")

    async def _reschedule(
        self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell
    ) -> None:
        parts = rest.split(maxsplit=1)
        if len(parts) < 2:
            raise UserError("Which post, and when?", hint=f"e.g. /{NAMESPACE} reschedule 12 tomorrow 9am")
        ctx = await self._command_ctx(command)
        view = await self.postbot.reschedule(ctx, parse_post_id(parts[0]), parts[1])
        self.homes.changed(ctx.team_id)
        await tell(f"Moved #{view.id} ({view.platform.label}) to {local_time(view.run_at, view.tz)}.")

    async def _suggest(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        outcome = await self.postbot.suggest(ctx, rest)
        text, layout = blocks.suggestion_blocks(outcome.suggestions, outcome.tz)
        await respond(text=text, blocks=layout, response_type="ephemeral")

    async def _link(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        if not rest:
            raise UserError("Which platform?", hint=f"e.g. /{NAMESPACE} link {_LINK_EXAMPLE}")
        ctx = await self._command_ctx(command)
        # The core refuses non-admins and sends the single-use link by DM, never into the channel.
        await tell(await self.postbot.link(ctx, rest))

    async def _unlink(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        # "youtube" unlinks every YouTube account, "youtube@brand" (or "youtube @brand") that one.
        word, _, handle = rest.replace(" @", "@", 1).partition("@")
        platform = platform_from_alias(word) if word else None
        if platform is None:
            raise UserError(
                f"I don't know the platform {word!r}." if word else "Which platform?",
                hint=f"e.g. /{NAMESPACE} unlink {_LINK_EXAMPLE}",
            )
        ctx = await self._command_ctx(command)
        await tell(unlink_text(await self.postbot.unlink(ctx, platform, handle.strip() or None)))

    async def _accounts(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        await tell(accounts_text(await self.postbot.accounts(ctx)))

    async def _status(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        said = status_text(await self.postbot.status(ctx), datetime.now(UTC))
        if free := free_slots_line(await self.postbot.free_slots(ctx)):
            said += f"\n{free}"
        await tell(said)

    async def _pause(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        await tell(pause_text(await self.postbot.pause(ctx, rest)))
        self.homes.changed(ctx.team_id)

    async def _resume(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        await tell(resume_text(await self.postbot.resume(ctx, rest)))
        self.homes.changed(ctx.team_id)

    async def _default(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        await tell(default_text(await self.postbot.set_default_account(ctx, rest)))

    async def _slots(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        await tell(schedule_text(await self.postbot.slots(ctx, rest)))

    async def _results(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        """Shown only to the member who asked: the numbers of posts from the channels they share
        with postbot and their own (ChatContext.visible_channels), as the Home tab lists them."""
        ctx = await self._command_ctx(command)
        ctx = replace(ctx, channels=await self.directory.channels(ctx.user_id))
        text, layout = blocks.results_blocks(await self.postbot.results(ctx, rest))
        await respond(text=text, blocks=layout, response_type="ephemeral", replace_original=False)

    async def _digest(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        if rest and rest.lower() != "off" and ctx.is_admin:
            await self._check_can_post(ctx.channel_id)
        await tell(digest_setting_text(await self.postbot.digest(ctx, rest)))

    async def _check_can_post(self, channel: str | None) -> None:
        """A digest set where postbot can't post would fail every week: a DM (postbot shares no
        files there), or a channel it is not in (``not_in_channel`` from files.completeUploadExternal,
        as from chat.postMessage). conversations.info says ``is_member``, and ``channel_not_found``
        for a private channel the bot is not in (https://docs.slack.dev/reference/methods/conversations.info)."""
        if not channel or channel.startswith("D"):
            raise UserError(
                "A digest goes to a channel, not a direct message.", hint="Run this in that channel."
            )
        try:
            info = await self.client.conversations_info(channel=channel)
            present = bool((info.get("channel") or {}).get("is_member"))
        except SlackApiError as exc:
            if exc.response.get("error") != "channel_not_found":
                return  # missing_scope on an old install, a hiccup: the digest's own send will say
            present = False
        if not present:
            raise UserError(
                "I'm not in this channel, so I couldn't post the digest here.",
                hint="Invite me with /invite @postbot, then set it again.",
            )

    async def _approval(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        rule = await self.postbot.set_approval(ctx, rest)
        shown = blocks.escape(namespaced(approval_rule_text(rule, ctx.chat)))
        # The approvers stay mentions (ids the rule holds); everything else is shown as written.
        for approver in rule.approvers if rule else ():
            mention = approver.mention(ctx.chat)
            shown = shown.replace(blocks.escape(mention), mention)
        await respond(text=shown, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": shown}}])

    async def _approve(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        outcome = await self.postbot.approve_text(ctx, rest)
        self.homes.changed(ctx.team_id)
        await tell(review_text(outcome))

    async def _reject(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        ctx = await self._command_ctx(command)
        outcome = await self.postbot.reject_text(ctx, rest)
        self.homes.changed(ctx.team_id)
        await tell(review_text(outcome, "Rejected"))

    async def _help(self, command: dict[str, Any], rest: str, respond: AsyncRespond, tell: Tell) -> None:
        await tell(HELP)

    # ------------------------------------------------------------------ events

    async def on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """Remember videos people upload, for a later /schedule (which carries no file)."""
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share", "thread_broadcast"):
            return
        channel, user = event.get("channel"), event.get("user")
        if not channel or not user:
            return
        if event.get("thread_ts") not in (None, event.get("ts")):
            self.replies.saw(channel, event)
        try:
            videos = await videos_in_message(self.client, event, channel_id=channel, user_id=user)
        except SlackApiError as exc:
            log.warning("files.info failed", extra={"error": exc.response.get("error")})
            return
        for file in videos:
            await self._remember(body["team_id"], file)

    async def on_file_shared(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        file = SharedFile(
            file_id=event["file_id"],
            channel_id=event["channel_id"],
            user_id=event["user_id"],
            name=None,
            mimetype=None,
            size_bytes=None,
            download_url=None,
            message_ts=None,
            shared_at=datetime.now(UTC),
        )
        try:
            file = await complete(self.client, file)
        except SlackApiError as exc:
            log.warning("files.info failed", extra={"error": exc.response.get("error"), "file": file.file_id})
            return
        await self._remember(body["team_id"], file)

    async def on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """A member opened postbot's App Home; the Home tab is drawn for them each time (the event
        also comes for the Messages tab: ``tab`` says which, https://api.slack.com/events/app_home_opened)."""
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        await self.homes.opened(body["team_id"], event["user"])

    async def _remember(self, team_id: str, file: SharedFile) -> None:
        ctx = ChatContext(
            chat=ChatKind.SLACK, team_id=team_id, user_id=file.user_id, channel_id=file.channel_id
        )
        await self.postbot.remember_video(ctx, file)

    async def on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """`@postbot tomorrow 6pm yt,ig Launch day` in the message that carries the video."""
        channel, user = event["channel"], event["user"]
        thread = thread_root(event)
        tell = self._ephemeral_tell(channel, user, existing_thread(event))

        async def work() -> None:
            text = strip_mentions(event.get("text", ""))
            if not text:
                await tell(HELP)
                return
            ctx = await self.directory.context(
                team_id=body["team_id"],
                user_id=user,
                channel_id=channel,
                thread_ts=thread,
                # The message itself is the request: an event Slack redelivers maps onto the same posts.
                request_id=f"slack-message:{channel}:{event['ts']}",
            )
            message = event if "files" in event else await self._message(channel, event)
            sources = await self._sources_in(message, channel, user)
            uploads = [s for s in sources if not isinstance(s, str)]
            if len(uploads) > 1:
                await self._schedule_batch(ctx, text, uploads, tell, quiet_duplicate=True)
                return
            await self._schedule_from(ctx, text, sources[0], tell, quiet_duplicate=True)

        await self._guard(work, tell, "app_mention")

    async def _message(self, channel: str, event: dict[str, Any]) -> dict[str, Any]:
        """The message an app_mention is about, read only in ways a bot token may. app_mention has
        been delivered without the upload's ``files``, and before or after the ``message`` event that
        has them: when the event has its files, they are used as they are (a Slack Connect stub is
        looked up with files.info); a top-level message is read back with conversations.history,
        whatever the order of the events, so the mention needs neither the other event nor a guess at
        "the latest upload".

        A reply in a thread cannot be read back: conversations.history returns top-level messages
        only, and "Bot user tokens may use [conversations.replies] for direct message and multi-party
        direct message conversations, but lack sufficient permissions to use this method on public
        and private channels" (https://docs.slack.dev/reference/methods/conversations.replies, usage
        info). So a reply's files come from its ``message`` event (waited for a moment when the
        app_mention came first), and a reply that brings neither a video nor a link is about the
        thread it is in: the thread's parent, a top-level message, is read with conversations.history."""
        if "files" in event:
            return event
        ts, root = event["ts"], event.get("thread_ts")
        if root and root != ts:
            if first_link(event.get("text", "")) is not None:
                return event
            reply = await self.replies.wait(channel, ts, REPLY_EVENT_WAIT_S)
            if reply is not None and reply.get("files"):
                return reply
            return await self._top_level(channel, str(root)) or event
        return await self._top_level(channel, ts) or event

    async def _top_level(self, channel: str, ts: str) -> dict[str, Any] | None:
        found = await self.client.conversations_history(
            channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        return next((m for m in found.get("messages") or [] if m.get("ts") == ts), None)

    async def _source_in(self, message: dict[str, Any], channel: str, user: str) -> Source:
        """The video a message carries (its first upload, or else a link in its text)."""
        return (await self._sources_in(message, channel, user))[0]

    async def _sources_in(self, message: dict[str, Any], channel: str, user: str) -> list[Source]:
        """The videos a message carries: its uploads (several make a batch), or else a link in its
        text. A remote file (a Drive or Dropbox file an app attached) is only an entry pointing
        elsewhere: the link in the text is fetched instead, under the link rules and without the bot
        token."""
        videos = await videos_in_message(
            self.client, message, channel_id=channel, user_id=message.get("user") or user
        )
        uploads: list[Source] = [v for v in videos if not v.external]
        if uploads:
            return uploads
        link = first_link(message.get("text", ""))
        if link is not None:
            return [link]
        if videos:
            return [videos[0]]  # remote only: the download says why it can't be used
        raise NO_VIDEO

    # ------------------------------------------------------------------ shortcut and modal

    async def on_shortcut(self, ack: Any, shortcut: dict[str, Any]) -> None:
        await ack()
        channel, user = shortcut["channel"]["id"], shortcut["user"]["id"]
        message = shortcut.get("message") or {}
        tell = self._ephemeral_tell(channel, user, existing_thread(message))

        # users.info runs beside the rest: its zone labels the time picker if it answers in time, and
        # it warms the cache so the submission has the zone at once.
        profile = asyncio.create_task(self.directory.user(user))

        async def work() -> None:
            # The trigger expires 3 s after the click: only a Slack Connect file costs a lookup first.
            source = await self._source_in(message, channel, user)
            metadata: dict[str, Any] = {
                "channel": channel,
                "thread": thread_root(message),
                "in_thread": existing_thread(message),
            }
            if isinstance(source, str):
                metadata["link"] = source
                name = source
            else:
                metadata["file"] = {k: v for k, v in source.__dict__.items() if k != "shared_at"}
                name = source.name or source.file_id
            caption = strip_mentions(message.get("text", ""))
            if isinstance(source, str):
                caption = " ".join(caption.replace(f"<{source}>", " ").split())
            # Which platforms are linked, for the checkboxes: one read, no users.info (the trigger
            # expires 3 s after the click).
            team = (shortcut.get("team") or {}).get("id") or ""
            asker = ChatContext(ChatKind.SLACK, team, user)
            linked = await self.postbot.linked_platforms(asker)
            await asyncio.wait({profile}, timeout=PROFILE_WAIT_S)
            slack_tz = profile.result().tz if profile.done() and not profile.exception() else None
            # The zone the picked time is read in (the profile's, else the one saved, else the team's).
            zone = await self.postbot.timezone_for(replace(asker, user_tz=slack_tz))
            try:
                view = blocks.schedule_modal(
                    name, caption, metadata, self.postbot.platforms(), linked, zone=zone
                )
            except ValueError:
                raise UserError(
                    "That link is too long for me to keep.", hint="Share a shorter link to the video."
                ) from None
            try:
                await self.client.views_open(trigger_id=shortcut["trigger_id"], view=view)
            except SlackApiError as exc:
                # A trigger_id is good for 3 seconds after the click
                # (https://docs.slack.dev/reference/methods/views.open#errors: expired_trigger_id): the
                # user only has to click again, nothing went wrong.
                if exc.response.get("error") not in ("expired_trigger_id", "invalid_trigger_id"):
                    raise
                raise UserError(
                    "Slack closed the window for opening the form before I could.",
                    hint="Use Schedule this post on the message again.",
                ) from None

        # Not queued: the trigger_id dies 3 s after the click, whatever else is going on.
        await self._guard(work, tell, "shortcut", queued=False)
        # Let users.info finish (the cache for the submission), whatever happened to the form.
        await asyncio.gather(profile, return_exceptions=True)

    async def on_modal(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        typed = (values.get("when", {}).get("when_text", {}).get("value") or "").strip()
        day = values.get("when_date", {}).get("date", {}).get("selected_date") or ""
        hour = values.get("when_time", {}).get("time", {}).get("selected_time") or ""
        chosen = values.get("platforms", {}).get("platforms_selected", {}).get("selected_options") or []
        caption = (values.get("caption", {}).get("caption_text", {}).get("value") or "").strip()
        metadata = json.loads(view.get("private_metadata") or "{}")
        user = body["user"]["id"]
        names = [o["value"] for o in chosen]
        options = blocks.modal_options(values, names)
        errors: dict[str, str] = {}
        if not chosen:
            errors["platforms"] = "Pick at least one platform."
        if typed and (day or hour):
            errors["when"] = "Type the time or pick it below, not both."
        elif not typed and not day:
            errors["when" if not hour else "when_date"] = "When should it go out? Type it, or pick a day."
        for name, problem in self.postbot.form_problems(options).items():
            errors[blocks.option_block_id(*name.split("-", 1))] = problem[:150]
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        # The pickers' values are ISO (YYYY-MM-DD, HH:mm), read in the user's zone like typed times.
        when = typed or f"{day} {hour}".strip()
        source: Source = (
            metadata["link"]
            if metadata.get("link")
            else SharedFile(**metadata["file"], shared_at=datetime.now(UTC))
        )
        # The caption goes in as typed, beside the command: a caption ending in "--word value" is
        # still caption here, and the option fields arrive as they were picked.
        text = f"{when} {','.join(names)}"
        form = Form(caption=caption, options=options)
        tell = self._ephemeral_tell(metadata["channel"], user, metadata.get("in_thread"))
        acked = False
        slot = contextlib.AsyncExitStack()

        async def close_form() -> None:
            nonlocal acked
            if not acked:
                acked = True
                await ack()

        async def read() -> None:
            # The facade has read the command: close the form now, then download and queue in a work
            # slot like every other command.
            await close_form()
            await slot.enter_async_context(self._work_slots)

        async def work() -> None:
            nonlocal acked
            try:
                # users.info (the zone), then one parse and one transaction, as for /schedule. A time
                # it can't read is shown under the field when that is known within the ack budget.
                ctx = await self.directory.context(
                    team_id=view.get("team_id") or body["team"]["id"],
                    user_id=user,
                    channel_id=metadata["channel"],
                    thread_ts=metadata.get("thread"),
                    request_id=f"slack-view:{view['id']}",
                )
                outcome = await self._queue_posts(ctx, text, source, now_post=False, read=read, form=form)
            except TimeParseError as exc:
                if acked:
                    # The form closed already: say what was typed, so nothing has to be remembered.
                    raise UserError(
                        f"{exc} (you typed “{when}”)", hint="Use Schedule this post on the message again."
                    ) from None
                acked = True
                # Shown under the field, so the user fixes it without losing what they typed.
                await ack(response_action="errors", errors={"when" if typed else "when_date": str(exc)[:150]})
                return
            except BaseException:
                await close_form()
                raise
            await self._reply_outcome(ctx, outcome, tell)

        async def ack_in_time() -> None:
            # Slack shows the user an error unless a view submission is answered within 3 seconds
            # (https://docs.slack.dev/tools/bolt-python/concepts/acknowledge): a slow or rate-limited
            # users.info, a busy database or a slow parse closes the form here instead of missing it.
            await asyncio.sleep(MODAL_ACK_BUDGET_S)
            await close_form()

        deadline = asyncio.create_task(ack_in_time())
        try:
            async with slot:
                await self._guard(work, tell, "modal", queued=False)
        finally:
            deadline.cancel()

    # ------------------------------------------------------------------ buttons

    async def _button_ctx(self, body: dict[str, Any]) -> ChatContext:
        return await self.directory.context(
            team_id=body["team"]["id"],
            user_id=body["user"]["id"],
            channel_id=(body.get("channel") or {}).get("id"),
        )

    async def _update_message(
        self, body: dict[str, Any], respond: AsyncRespond, layout: blocks.Blocks, text: str
    ) -> None:
        """Replace the clicked message. ``text`` is its new top-level text, what notifications and
        screen readers show: what the button did, not the time the post had before."""
        message = body.get("message") or {}
        if (body.get("container") or {}).get("is_ephemeral") or not message:
            await respond(text=text, blocks=layout, replace_original=bool(message))
            return
        await self.client.chat_update(
            channel=body["channel"]["id"], ts=message["ts"], text=text, blocks=layout
        )

    async def on_cancel_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        async def work(tell: Tell) -> None:
            ctx = await self._button_ctx(body)
            view = await self.postbot.cancel(ctx, int(action["value"]))
            self.homes.changed(ctx.team_id)
            # <@U…> is a mention (a control sequence); the rest is escaped like any text.
            note = f"#{view.id} {blocks.escape(view.platform.label)} cancelled by <@{ctx.user_id}>."
            if "message" not in body and (body.get("container") or {}).get("is_ephemeral"):
                # A click on an ephemeral message (the /queue listing) carries no copy of it
                # (https://api.slack.com/reference/interaction-payloads/block-actions): the listing is
                # drawn again from the queue, so it keeps every other post and their buttons.
                posts = await self.postbot.list_queue(ctx, channel_only=True)
                text, layout = blocks.queue_blocks(posts, datetime.now(UTC))
                note_block = {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}
                await respond(text=text, blocks=[*layout[:49], note_block], replace_original=True)
                return
            layout = blocks.retire_buttons(
                (body.get("message") or {}).get("blocks") or [], view.id, note, keep_cancel=False
            )
            await self._update_message(body, respond, layout, note)

        await self._acked(ack, respond, work, "cancel button", body["user"]["id"])

    async def on_slot_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        async def work(tell: Tell) -> None:
            ctx = await self._button_ctx(body)
            raw_id, stamp = action["value"].split(":")
            at = datetime.fromtimestamp(int(stamp), UTC)
            # An absolute ISO instant reads back exactly, whatever the user's zone.
            view = await self.postbot.reschedule(ctx, int(raw_id), at.isoformat())
            self.homes.changed(ctx.team_id)
            moved = blocks.escape(
                f"#{view.id} {view.platform.label} moved to {local_time(view.run_at, view.tz)}"
            )
            note = f"{moved} by <@{ctx.user_id}>."
            layout = blocks.retire_buttons(
                (body.get("message") or {}).get("blocks") or [], view.id, note, keep_cancel=True
            )
            await self._update_message(body, respond, layout, note)

        await self._acked(ack, respond, work, "slot button", body["user"]["id"])
