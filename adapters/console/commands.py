"""The console chat: lines typed at a prompt become the same core calls Slack and Discord make."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from datetime import UTC, datetime

from core.domain import AttachedImage, ChatContext, ChatKind, MediaInfo, MessageRef, PostView
from core.errors import DiskFull, UserError, is_disk_full
from core.render import (
    accounts_text,
    default_text,
    failure_dm_text,
    pause_text,
    platform_words,
    queue_text,
    result_text,
    resume_text,
    scheduled_summary,
    status_text,
    suggestions_text,
)
from core.service import Postbot, ScheduleOutcome, option_help, parse_post_id, platform_infos, read_image

HELP = f"""Commands:
  /schedule <when> <platforms> [caption] [--option value ...] --file <video> [--thumbnail <image>]
      e.g. /schedule tomorrow 6pm yt:unlisted,ig Launch day --tags launch,demo --file clip.mp4
  /post <platforms> [caption] [--option value ...] --file <video>    publish now
      Options: platform:value in the list (youtube:unlisted, tiktok:friends, linkedin:connections),
      platform@account (youtube@brand), and --name value at the start or end: {option_help()}
  /queue                                        upcoming posts
  /cancel <id>                                  cancel a queued post
  /reschedule <id> <when>                       move a queued post
  /suggest [platforms]                          the best free slots per platform
  /timezone <zone>                              the zone your times are read in, e.g. Europe/Berlin
  /pause [platform], /resume [platform]         hold publishing (due posts wait), then start it again
  /accounts                                     linked accounts (with linking set up)
  /default <platform>@<handle>                  the account posts go to when a command names none
  /status                                       per platform: queue, in flight, next due, 24 h success
  /help, /quit
Platforms: {platform_words(platform_infos())}."""

_FILE_OPTIONS = {
    name: re.compile(rf"""\s--{name}\s+("[^"]+"|'[^']+'|\S+)""") for name in ("file", "thumbnail")
}


def split_file_option(text: str, name: str = "file") -> tuple[str, str | None]:
    """Take ``--file PATH`` (or ``--thumbnail PATH``; quotes allowed) out of a command's text."""
    match = _FILE_OPTIONS[name].search(" " + text)
    if match is None:
        return text.strip(), None
    path = match.group(1).strip("\"'")
    rest = (" " + text)[: match.start()] + (" " + text)[match.end() :]
    return rest.strip(), path


class ConsoleNotifier:
    """Prints outcomes where the console user sees them."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out

    async def post_result(self, post: PostView) -> None:
        self.out(result_text(post))

    async def dm_failure(self, post: PostView) -> None:
        self.out("[DM] " + failure_dm_text(post))

    async def dm(self, team_id: str, user_id: str, text: str) -> None:
        self.out("[DM] " + text)

    async def say(self, team_id: str, channel_id: str, text: str) -> None:
        self.out(text)

    async def progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        # A terminal can't edit a line already scrolled past: each stage is a line of its own.
        self.out(text)
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
            return HELP
        if command == "/schedule":
            text, path = split_file_option(rest)
            text, image = await self._thumbnail(text)
            media = await self._media(path)
            return self._outcome(await self.postbot.schedule(self.ctx, text, media, thumbnail=image))
        if command == "/post":
            text, path = split_file_option(rest)
            text, image = await self._thumbnail(text)
            media = await self._media(path)
            return self._outcome(await self.postbot.post_now(self.ctx, text, media, thumbnail=image))
        if command == "/queue":
            return queue_text(await self.postbot.list_queue(self.ctx), self.clock())
        if command == "/cancel":
            post = await self.postbot.cancel(self.ctx, parse_post_id(rest))
            return f"Cancelled #{post.id} ({post.platform.label})."
        if command == "/reschedule":
            post_id, _, when = rest.partition(" ")
            post = await self.postbot.reschedule(self.ctx, parse_post_id(post_id), when)
            return f"Moved #{post.id} to {post.run_at.astimezone().strftime('%a %d %b %H:%M %Z')}."
        if command == "/suggest":
            found = await self.postbot.suggest(self.ctx, rest)
            return suggestions_text(found.suggestions, found.tz) or "No free slot in the coming week."
        if command == "/pause":
            return pause_text(await self.postbot.pause(self.ctx, rest))
        if command == "/resume":
            return resume_text(await self.postbot.resume(self.ctx, rest))
        if command == "/accounts":
            return accounts_text(await self.postbot.accounts(self.ctx))
        if command == "/default":
            return default_text(await self.postbot.set_default_account(self.ctx, rest))
        if command == "/status":
            return status_text(await self.postbot.status(self.ctx), self.clock())
        if command == "/timezone":
            return f"Times are now read and shown in {await self.postbot.set_timezone(self.ctx, rest)}."
        raise UserError(f"Unknown command {command}.", hint="Type /help for the list.")

    async def _thumbnail(self, text: str) -> tuple[str, AttachedImage | None]:
        text, path = split_file_option(text, "thumbnail")
        if path is None:
            return text, None
        return text, await read_image(path)

    async def _media(self, path: str | None) -> MediaInfo | None:
        if path is None:
            return None
        return await self.postbot.import_file(path)

    def _outcome(self, outcome: ScheduleOutcome) -> str:
        lines = [scheduled_summary(outcome.posts, self.clock())]
        lines += [f"Note: {note}" for note in outcome.notes]
        if outcome.duplicate:
            lines.append("(This request was already queued; nothing new was added.)")
        if outcome.suggestions:
            lines.append("Suggested slots (move with /reschedule <id> <when>):")
            lines.append(suggestions_text(outcome.suggestions, outcome.tz))
        return "\n".join(lines)
