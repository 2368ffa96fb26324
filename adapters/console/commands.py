"""The console chat: lines typed at a prompt become the same core calls Slack and Discord make."""

from __future__ import annotations

import getpass
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from core.domain import (
    AttachedImage,
    ChatContext,
    ChatKind,
    MediaInfo,
    MessageRef,
    Platform,
    PostStatus,
    PostView,
    ResultsReport,
    did_you_mean,
    platform_from_alias,
)
from core.errors import DiskFull, MediaError, NotConfigured, UserError, is_disk_full
from core.render import (
    account_example,
    accounts_text,
    approval_rule_text,
    awaiting_note,
    batch_text,
    default_text,
    digest_text,
    example_platform,
    failure_dm_text,
    free_slots_line,
    local_time,
    pause_text,
    platform_words,
    queue_text,
    result_text,
    results_text,
    resume_text,
    review_text,
    schedule_text,
    scheduled_summary,
    short_example,
    short_option_examples,
    status_text,
    suggestions_text,
    unlink_text,
)
from core.service import (
    MediaSource,
    Postbot,
    ScheduleOutcome,
    option_help,
    parse_post_id,
    platform_infos,
    read_image,
    split_url_flag,
)

# Examples come from the registry, as every list of platforms does (core/render.py).
_PLATFORMS = platform_infos()
_EXAMPLE = example_platform(_PLATFORMS)
_SHORT_EXAMPLE = short_example(_PLATFORMS, option=True)

_COMMANDS = f"""Commands:
  /schedule <when> <platforms> [caption] [--option value ...] --file <video> [--thumbnail <image>]
      several --file: each into the next free slots (when: next), or --every 2d from a start time
      e.g. /schedule tomorrow 6pm {_SHORT_EXAMPLE} Launch day --tags launch,demo --file clip.mp4
      --url <link> instead of --file: a public https link to the video (Drive, Dropbox, OneDrive, …)
  /post <platforms> [caption] [--option value ...] --file <video>    publish now
      Options: platform:value in the list ({short_option_examples(_PLATFORMS)}),
      platform@account ({account_example(_PLATFORMS)}), and --name value at the start or end: {option_help()}
  /queue                                        upcoming posts
  /cancel <id>                                  cancel a queued post
  /reschedule <id> <when>                       move a queued post
  /suggest [platforms]                          the best free slots per platform
  /timezone <zone>                              the zone your times are read in, e.g. Europe/Berlin
  /pause [platform], /resume [platform]         hold publishing (due posts wait), then start it again
  /approve <id> [now|<when>]                    approve a post awaiting approval (at a new time)
  /reject <id> [reason]                         reject it; its author is told why
  /approval [on [people] | off]                 posts from others wait for these approvers (admins)
  /slots [add <days> <times> <platforms>]       the posting schedule, e.g. /slots add mon,wed,fri 18:00 yt;
         [remove …] [clear [platform]]          /schedule next <platforms> … takes each one's next free slot
"""
_ACCOUNTS = """  /link <platform>                              connect an account: open the link printed here
  /unlink <platform>[@handle]                   disconnect it
  /accounts                                     linked accounts and their health
  /default <platform>@<handle>                  the account posts go to when a command names none
"""
_NO_ACCOUNTS = """\
  /link, /unlink, /accounts, /default           need POSTBOT_SECRET_KEY (postbot init makes one)
"""
_END = f"""\
  /status                                       per platform: queue, in flight, next due, 24 h success
  /results [platform] [7d|30d]                  views, likes, comments against the period before; best
                                                posts; a chart of views per post in the data folder
  /help, /quit (or Ctrl-D, Ctrl-C)
Platforms: {platform_words(platform_infos())}."""


def help_text(*, linking: bool) -> str:
    """What this console supports: the account commands only where linking is set up."""
    return _COMMANDS + (_ACCOUNTS if linking else _NO_ACCOUNTS) + _END


HELP = help_text(linking=True)

_FILE_OPTIONS = {
    name: re.compile(rf"""\s--{name}\s+("[^"]+"|'[^']+'|\S+)""") for name in ("file", "thumbnail")
}


_EVERY = re.compile(r"(?:^|\s)--every(?:\s|=|$)")


def split_file_options(text: str) -> tuple[str, list[str]]:
    """Take every ``--file PATH`` out of a command: several make a batch (``/schedule next …``)."""
    paths: list[str] = []
    while True:
        text, path = split_file_option(text)
        if path is None:
            return text, paths
        paths.append(path)


def split_file_option(text: str, name: str = "file") -> tuple[str, str | None]:
    """Take ``--file PATH`` (or ``--thumbnail PATH``; quotes allowed) out of a command's text."""
    match = _FILE_OPTIONS[name].search(" " + text)
    if match is None:
        return text.strip(), None
    path = match.group(1).strip("\"'")
    rest = (" " + text)[: match.start()] + (" " + text)[match.end() :]
    return rest.strip(), path


class ConsoleNotifier:
    """Prints outcomes where the console user sees them, each once.

    ``live(post_id, text)`` shows an upload's progress in a line the terminal edits in place (the
    prompt's status line); ``live(post_id, None)`` clears it. Without it (piped output) progress is
    not printed: a pipe can't edit a line, and the result line says how it ended."""

    def __init__(
        self, out: Callable[[str], None], *, live: Callable[[int, str | None], None] | None = None
    ) -> None:
        self.out = out
        self.live = live
        # Posts whose outcome was printed: the relay's final progress may arrive after it, and must
        # not bring the finished upload back into the status line.
        self._ended: OrderedDict[int, None] = OrderedDict()

    def _end(self, post_id: int) -> None:
        self._ended[post_id] = None
        while len(self._ended) > 1000:
            self._ended.popitem(last=False)
        if self.live is not None:
            self.live(post_id, None)

    async def post_result(self, post: PostView) -> None:
        self._end(post.id)
        # A failure is said once, by dm_failure, which always follows it and also says what to do.
        if post.status is PostStatus.PUBLISHED:
            self.out(result_text(post))

    async def dm_failure(self, post: PostView) -> None:
        self._end(post.id)
        self.out(failure_dm_text(post))

    async def dm(self, team_id: str, user_id: str, text: str) -> None:
        self.out("[DM] " + text)

    async def say(self, team_id: str, channel_id: str, text: str) -> None:
        self.out(text)

    async def digest(self, team_id: str, channel_id: str, report: ResultsReport, chart: bytes | None) -> None:
        # The console shows the numbers; /results writes the chart to the data folder.
        self.out(digest_text(report))

    async def progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        if self.live is not None and post.id not in self._ended:
            self.live(post.id, text)
        return message or MessageRef("console", str(post.id))


class ConsoleAdapter:
    def __init__(
        self,
        postbot: Postbot,
        *,
        user: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.postbot = postbot
        self.clock = clock
        self.ctx = ChatContext(
            chat=ChatKind.CONSOLE,
            team_id="local",
            team_name="console",
            user_id=user or getpass.getuser(),
            channel_id="console",
            # Whoever runs the console owns the installation.
            is_admin=True,
        )

    async def handle(self, line: str) -> str:
        """Run one typed line and return what to print. Bad input comes back as a message."""
        line = line.strip()
        if not line:
            return ""
        command, _, rest = line.partition(" ")
        try:
            return await self._dispatch(command.lower(), rest.strip())
        except UserError as exc:
            return f"✗ {exc}"
        except Exception as exc:
            # A full disk (the media store or SQLite) is a state of the machine, not a bug: say so and
            # keep the prompt (issue 11 point 13). Anything else is a bug and still surfaces.
            if is_disk_full(exc):
                return f"✗ {DiskFull()}"
            raise

    async def _dispatch(self, command: str, rest: str) -> str:
        if command in ("/help", "help", "?"):
            return help_text(linking=self.postbot.can_link)
        # --every spaces videos apart: with one --file it is a batch of one, as in Slack and Discord.
        if command == "/schedule" and (len(split_file_options(rest)[1]) > 1 or _EVERY.search(rest)):
            return await self._batch(rest)
        if command in ("/schedule", "/post"):
            text, media, image = await self._video(rest)
            try:
                if command == "/schedule":
                    return self._outcome(await self.postbot.schedule(self.ctx, text, media, thumbnail=image))
                return self._outcome(await self.postbot.post_now(self.ctx, text, media, thumbnail=image))
            except MediaError as exc:
                if media is not None:
                    raise
                # The core's hint speaks of sharing the video in the channel, which the console has
                # no way to do.
                raise MediaError(
                    "No video to post.",
                    hint=f"Give it with --file <path> or --url <link>, e.g. {command} "
                    f"{'tomorrow 6pm ' if command == '/schedule' else ''}{_EXAMPLE} Hello --file clip.mp4",
                ) from exc
        if command == "/link":
            return await self._link(rest)
        if command == "/unlink":
            return await self._unlink(rest)
        if command == "/queue":
            said = queue_text(await self.postbot.list_queue(self.ctx), self.clock())
            free = free_slots_line(await self.postbot.free_slots(self.ctx))
            return f"{said}\n{free}" if free else said
        if command == "/cancel":
            post = await self.postbot.cancel(self.ctx, parse_post_id(rest))
            return f"Cancelled #{post.id} ({post.platform.label})."
        if command == "/reschedule":
            post_id, _, when = rest.partition(" ")
            post = await self.postbot.reschedule(self.ctx, parse_post_id(post_id), when)
            return f"Moved #{post.id} to {local_time(post.run_at, post.tz)}."
        if command == "/suggest":
            found = await self.postbot.suggest(self.ctx, rest)
            return suggestions_text(found.suggestions, found.tz) or "No free slot in the coming week."
        if command == "/pause":
            return pause_text(await self.postbot.pause(self.ctx, rest))
        if command == "/resume":
            return resume_text(await self.postbot.resume(self.ctx, rest))
        if command == "/accounts":
            return accounts_text(
                await self.postbot.accounts(self.ctx), place="this console", default_command="/default"
            )
        if command == "/default":
            return default_text(await self.postbot.set_default_account(self.ctx, rest), place="this console")
        if command == "/status":
            return status_text(await self.postbot.status(self.ctx), self.clock())
        if command == "/results":
            report = await self.postbot.results(self.ctx, rest)
            text = results_text(report)
            if report.posts:
                text += f"\nChart: {await self.postbot.save_results_chart(report)}"
            return text
        if command == "/approval":
            return approval_rule_text(await self.postbot.set_approval(self.ctx, rest), ChatKind.CONSOLE)
        if command == "/approve":
            return review_text(await self.postbot.approve_text(self.ctx, rest))
        if command == "/reject":
            return review_text(await self.postbot.reject_text(self.ctx, rest), "Rejected")
        if command == "/slots":
            return schedule_text(await self.postbot.slots(self.ctx, rest))
        if command == "/timezone":
            return f"Times are now read and shown in {await self.postbot.set_timezone(self.ctx, rest)}."
        raise UserError(f"Unknown command {command}.", hint="Type /help for the list.")

    async def _thumbnail(self, text: str) -> tuple[str, AttachedImage | None]:
        text, path = split_file_option(text, "thumbnail")
        if path is None:
            return text, None
        return text, await read_image(path)

    async def _video(self, rest: str) -> tuple[str, MediaInfo | MediaSource | None, AttachedImage | None]:
        """The command's text without its ``--file``, ``--url`` and ``--thumbnail``, and the video: a
        local file imported now, or a link fetched once the command has been read (a typo costs no
        download)."""
        text, path = split_file_option(rest)
        text, link = split_url_flag(text)
        text, image = await self._thumbnail(text)
        if path is not None and link is not None:
            raise UserError("Give the video as --file or as --url, not both.")
        if link is not None:
            url = link

            async def fetch(platforms: tuple[Platform, ...]) -> MediaInfo:
                return await self.postbot.fetch_link(url, platforms)

            return text, fetch, image
        return text, (await self.postbot.import_file(path) if path is not None else None), image

    async def _link(self, rest: str) -> str:
        if not rest:
            raise UserError("Which platform?", hint=f"e.g. /link {_EXAMPLE}")
        # At the console the person typing is the operator: the chats' "the operator has to set…"
        # would send them looking for someone else. Say what to set and where, to them.
        if not self.postbot.can_link:
            raise UserError(
                "Account linking is not set up here yet.",
                hint="Set POSTBOT_SECRET_KEY (`postbot init` makes one) and the platform's OAuth app "
                "(docs/setup/<platform>.md), then start the console again.",
            )
        # The link is printed here (the console's "DM"); its callback comes back to this process's
        # own web server at web.public_url.
        try:
            await self.postbot.link(self.ctx, rest, loopback=True)
        except NotConfigured as exc:
            if exc.platform is None:
                raise
            name = exc.platform.value
            raise UserError(
                exc.message,
                hint=f"Set platforms.{name}.client_id in postbot.toml and "
                f"POSTBOT_PLATFORMS__{name.upper()}__CLIENT_SECRET in your environment, then start the "
                f"console again; docs/setup/{name}.md shows where to get them.",
            ) from exc
        return (
            "Open that link in a browser on this machine. When the platform sends you back, "
            "this console stores the account and says so here."
        )

    async def _unlink(self, rest: str) -> str:
        # "youtube" unlinks every YouTube account, "youtube@brand" (or "youtube @brand") that one.
        word, _, handle = rest.replace(" @", "@", 1).partition("@")
        platform = platform_from_alias(word.strip()) if word.strip() else None
        if platform is None:
            raise UserError(
                f"I don't know the platform {word.strip()!r}.{did_you_mean(word)}"
                if word.strip()
                else "Which platform?",
                hint=f"e.g. /unlink {_EXAMPLE}",
            )
        return unlink_text(await self.postbot.unlink(self.ctx, platform, handle.strip() or None))

    async def _batch(self, rest: str) -> str:
        """`/schedule next yt Clips --file a.mp4 --file b.mp4`: several videos, one answer. A file
        that can't be read is refused in its line; the others are still scheduled."""
        text, paths = split_file_options(rest)
        text, link = split_url_flag(text)
        if link is not None:
            if not paths:
                raise UserError(
                    "--every spaces several videos apart, and a --url brings one video.",
                    hint="Give that one a time without --every, or the videos as --file a.mp4 --file b.mp4.",
                )
            raise UserError("Give several videos as --file, or one as --url, not both.")
        if not paths:
            raise MediaError(
                "No video to post.", hint="Give each with --file <path>: --file a.mp4 --file b.mp4."
            )
        if split_file_option(text, "thumbnail")[1] is not None:
            raise UserError("A thumbnail goes with one video.", hint="Schedule that video on its own.")

        def importer(path: str) -> MediaSource:
            async def fetch(platforms: tuple[Platform, ...]) -> MediaInfo:
                return await self.postbot.import_file(path)

            return fetch

        videos = [(Path(p).name, importer(p)) for p in paths]
        batch = await self.postbot.schedule_many(self.ctx, text, videos)
        items = [
            (i.name, i.outcome.posts if i.outcome else None, i.problem, i.outcome.notes if i.outcome else [])
            for i in batch.items
        ]
        return batch_text(items, self.clock(), duplicate=batch.duplicate)

    def _outcome(self, outcome: ScheduleOutcome) -> str:
        lines = [scheduled_summary(outcome.posts, self.clock())]
        lines += [f"Note: {note}" for note in outcome.notes]
        if outcome.approval is not None:
            lines.append(awaiting_note(outcome.approval, ChatKind.CONSOLE))
        if outcome.duplicate:
            lines.append("(This request was already queued; nothing new was added.)")
        if outcome.suggestions:
            lines.append("Suggested slots (move with /reschedule <id> <when>):")
            lines.append(suggestions_text(outcome.suggestions, outcome.tz))
        return "\n".join(lines)
