"""The facade every chat adapter calls. It reads commands, applies the rules and queues posts;
adapters only translate chat payloads into these calls and the results back into chat.

Adapters import this module, core.domain, core.errors and the wording in core.render, nothing else
(tests/test_adapter_imports.py). A chat command is read once and written in one transaction: what
only reads (the user's zone, a recently shared file) reads without writing, and a video the command
carries is fetched after the command was read and before that transaction opens.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import metrics
from core.config import Settings
from core.domain import (
    MAX_POST_ID,
    AccountStatus,
    AccountView,
    AttachedImage,
    ChatContext,
    HomeDay,
    HomeView,
    LinkPreview,
    MediaInfo,
    MessageRef,
    PauseView,
    Platform,
    PlatformInfo,
    PlatformStatus,
    PostStatus,
    PostView,
    QuotaView,
    SharedFile,
    Slot,
    StatusView,
    UnlinkOutcome,
    WorkerView,
    did_you_mean,
    no_such_post,
    platform_from_alias,
)
from core.errors import MediaError, PermissionDenied, UserError, ValidationFailed
from core.media import links, recent, validation
from core.media.conversions import Conversion, Converter, estimate_seconds
from core.media.convert import Target, output_rate, scaled_size
from core.media.probe import MediaProbe
from core.media.storage import StoredMedia, url_signer
from core.media.storage.post_links import PostMediaLinks
from core.media.store import MediaSink, MediaStore
from core.platforms import chosen, registry
from core.platforms.options import Kind, Option, sniff_image
from core.store import accounts, pauses, posts, replies, teams, wakeups
from core.store.heartbeats import Heartbeats
from core.timeparse import ParsedWhen, parse_command, parse_when, preview
from core.timeparse.command import Flags, ParsedCommand, take_flags
from core.zones import resolve_zone
from core.zones import zone_choices as _zone_choices

if TYPE_CHECKING:
    from core.accounts.linking import AccountLinker, LinkOutcome
    from core.domain import ResultsReport

log = logging.getLogger(__name__)

# The settings type adapters see through ``Postbot.settings`` (which keys a chat reads: its own table).
__all__ = [
    "AttachedImage",
    "Form",
    "Postbot",
    "ScheduleOutcome",
    "Settings",
    "SuggestOutcome",
    "image_read_cap",
    "option_help",
    "parse_post_id",
    "platform_infos",
    "read_image",
    "zone_choices",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScheduleOutcome:
    posts: list[PostView]
    tz: str
    notes: list[str] = field(default_factory=list)
    # True when the same chat request was delivered twice and nothing new was queued.
    duplicate: bool = False
    suggestions: dict[Platform, list[Slot]] = field(default_factory=dict)
    # Files converted for some platforms (already started), each with its rough duration.
    conversions: list[Conversion] = field(default_factory=list)

    @property
    def run_at(self) -> datetime:
        return self.posts[0].run_at


@dataclass(frozen=True)
class SuggestOutcome:
    tz: str
    # Per platform, best first.
    suggestions: dict[Platform, list[Slot]]


Waker = Callable[[datetime], None]
# Fetches the video of a command once the command has been read: given the platforms it names, so an
# oversize file is refused before a byte moves (see Postbot.check_size and Postbot.receive).
MediaSource = Callable[[tuple[Platform, ...]], Awaitable[MediaInfo]]

NO_LINKING = UserError(
    "Account linking is not set up on this bot.",
    hint="The operator has to set POSTBOT_SECRET_KEY and the platforms' OAuth apps.",
)


def zone_choices(current: str) -> list[str]:
    """IANA zones matching what someone is typing, for a chat's autocomplete."""
    return _zone_choices(current)


_POST_ID = re.compile(r"#?([0-9]+)", re.ASCII)


def parse_post_id(text: str) -> int:
    """A post id as people type it in any chat: ``12`` or ``#12``. An id beyond 64 bits is "no such
    post", not an overflow in the database driver (issue 11 point 15)."""
    match = _POST_ID.fullmatch(text.strip())
    if match is None:
        raise UserError(
            f"'{text.strip()[:40]}' is not a post id.", hint="Use the number shown by /queue, e.g. 12."
        )
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > 19 or not 0 < int(digits) <= MAX_POST_ID:
        raise no_such_post(digits if len(digits) <= 40 else digits[:40] + "…")
    return int(digits)


def split_url_flag(text: str) -> tuple[str, str | None]:
    """A command's ``--url <link>`` taken out: (the rest of the command, the link or None)."""
    return links.split_url_flag(text)


def first_link(text: str) -> str | None:
    """The first http(s) link in a chat message, where a video may be shared instead of attached."""
    return links.first_link(text)


def option_help() -> str:
    """``--privacy (YouTube, TikTok), --kids (YouTube), …``: every option a command takes."""
    return chosen.flags_help()


# Read a little past the largest image any platform takes, so a bigger one is measured, not loaded.
_IMAGE_READ_CAP = max(
    (o.maximum or 0 for s in registry.SPECS for o in s.options if o.kind is Kind.IMAGE), default=0
)


def image_read_cap() -> int:
    """Bytes a chat needs to read of an attached image: one more than any platform takes, so an
    oversized one is measured (and refused saying its size) without loading all of it."""
    return _IMAGE_READ_CAP + 1


async def read_image(path: str) -> AttachedImage:
    """An image file on this machine (the console's ``--thumbnail``), read up to a byte past the
    largest size a platform takes, so an oversized one is refused without loading all of it."""
    source = Path(path).expanduser()

    def read() -> bytes:
        with source.open("rb") as fh:
            return fh.read(_IMAGE_READ_CAP + 1)

    try:
        data = await asyncio.to_thread(read)
    except (OSError, ValueError):
        shown = "".join(ch if ch.isprintable() else "?" for ch in path[:80])
        raise MediaError(f"No image at {shown}.", hint="Check the path given with --thumbnail.") from None
    return AttachedImage(name=source.name, data=data)


def platform_infos() -> tuple[PlatformInfo, ...]:
    """Every platform postbot knows, in display order (help texts, pickers, web pages)."""
    return registry.infos()


# (platform, linked account id, the post's options there, the video's duration) → what the platform
# refuses before queueing.
Preflight = Callable[[Platform, int, Mapping[str, Any], float | None], Awaitable[list[str]]]


class Postbot:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        media: MediaStore | None = None,
        linker: AccountLinker | None = None,
        wake: Waker | None = None,
        clock: Callable[[], datetime] = utcnow,
        converter: Converter | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        # None: files are taken or refused as they are (no conversion), whatever the settings say.
        self.converter = converter
        self.media = media if media is not None else MediaStore(settings.media_dir)
        # Videos shared as links (too big to attach), fetched under core/media/links.py's rules.
        self.links = links.LinkFetcher(settings.links)
        # None until a vault secret is configured: the bot still schedules, and says why it can't link.
        self.linker = linker
        self._wake = wake
        self.clock = clock
        self._breaker_states: Callable[[], Awaitable[dict[Platform, str]]] | None = None
        # Asks a platform what it refuses before a post is queued (TikTok's creator_info); None: no
        # such checks (set by bot/wiring.py when accounts can be linked).
        self._preflight: Preflight | None = None
        # Signs and checks postbot's own /media/ links (None without a vault secret).
        self._signer = url_signer(settings)
        # The same links bound to one post, dead once it is over (Instagram's video_url).
        self.post_links = (
            PostMediaLinks(self._signer, self.media.storage, self._post_unfinished)
            if self._signer is not None
            else None
        )

    def set_waker(self, wake: Waker | None) -> None:
        """The scheduler in this process wants to hear of new due times (others find them by polling)."""
        self._wake = wake

    def platforms(self) -> tuple[PlatformInfo, ...]:
        return platform_infos()

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.settings.max_schedule_horizon_days)

    async def timezone_for(self, ctx: ChatContext) -> str:
        """The zone ``ctx``'s times are read in. Only reads: nothing is stored for a look-up."""
        if ctx.user_tz:
            return ctx.user_tz
        async with self.sessions() as session:
            user_tz, team_tz = await teams.stored_zones(session, ctx)
        return user_tz or team_tz or self.settings.default_timezone

    async def preview_when(self, ctx: ChatContext, text: str) -> str:
        """How a typed time reads for ``ctx`` ("tomorrow 6pm → Wed 25 Nov, 18:00 Europe/Berlin")."""
        return preview(text, await self.timezone_for(ctx), self.clock())

    @staticmethod
    def form_problems(options: tuple[tuple[str, str], ...]) -> dict[str, str]:
        """What is wrong with a form's option fields (``<platform>-<flag>`` → message), to show
        under each field; the same checks /schedule makes."""
        return chosen.field_problems(options)

    async def _media(
        self, media: MediaInfo | MediaSource | None, platforms: tuple[Platform, ...]
    ) -> MediaInfo:
        if media is None:
            raise MediaError(
                "No video to post.",
                hint="Attach a video (or share it in this channel first), then run the command again.",
            )
        return media if isinstance(media, MediaInfo) else await media(platforms)

    async def fetch_link(self, link: str, platforms: tuple[Platform, ...]) -> MediaInfo:
        """The video behind a share link or https URL, streamed into the media store and capped by
        ``platforms``' size limits; a ``MediaError`` says why not (private address, sign-in, …)."""
        return await self.links.fetch(self.media, link, platforms)

    async def schedule(
        self,
        ctx: ChatContext,
        text: str,
        media: MediaInfo | MediaSource | None,
        *,
        thumbnail: AttachedImage | None = None,
        form: Form | None = None,
    ) -> ScheduleOutcome:
        """`/schedule <when> <platforms> [caption] [--name value ...] [--no-convert]` with a video:
        stored already, or fetched by ``media`` once the command has been read (so a typo costs no
        download). Options (``youtube:unlisted``, ``--tags a,b``) are read with the command and
        checked with the video, before anything is queued. A chat form gives its caption and option
        fields in ``form`` (``text`` then holds the time and platforms only)."""
        now = self.clock()
        text, convert = _take_no_convert(text)
        flags = _with_form(take_flags(text), form)
        tz = await self.timezone_for(ctx)
        command = _with_caption(parse_command(flags.text, tz, now, horizon=self.horizon), form)
        assert command.when is not None
        picked = _read_options(command, flags.pairs)
        stored = await self._media(media, command.platforms)
        request = _Request(command, picked, convert, thumbnail)
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            notes = [command.when.note] if command.when.note else []
            if command.when.auto or command.when.instant is None:
                run_at, note = await self._best_slot(session, member.team_id, command.platforms, now, tz)
                notes.append(note)
            elif command.when.date_only:
                run_at, notes = await self._slot_on_day(
                    session, member.team_id, command.platforms, now, command.when
                )
            else:
                run_at = command.when.instant
            outcome = await self._queue(session, ctx, member, tz, request, run_at, stored, notes)
            team_row_id = member.team_id
        self._notify_wake(outcome)
        if outcome.duplicate:
            return outcome
        return replace(outcome, suggestions=await self._alternatives(team_row_id, outcome, now))

    async def _alternatives(
        self, team_row_id: int, outcome: ScheduleOutcome, now: datetime
    ) -> dict[Platform, list[Slot]]:
        """Better slots to offer beside the reply. The posts are queued already (and are left out
        of the conflicts, since these slots are where they could move), so a failure here costs
        the offer, never the reply."""
        from core import slots

        platforms = tuple(dict.fromkeys(p.platform for p in outcome.posts))
        try:
            async with self.sessions() as session:
                found = await slots.suggest(
                    session,
                    team_row_id,
                    platforms,
                    now,
                    outcome.tz,
                    4,
                    audience_timezones=self.settings.audience_timezones,
                    exclude_posts=[p.id for p in outcome.posts],
                )
        except Exception:
            log.exception("slot suggestions failed")
            return {}
        # The slot a post already takes (`best` picked it) is no alternative to offer for it.
        taken = {(p.platform, p.run_at) for p in outcome.posts}
        return {
            platform: [s for s in offered if (platform, s.at) not in taken][:3]
            for platform, offered in found.items()
        }

    async def suggest(self, ctx: ChatContext, text: str = "", *, n: int = 3) -> SuggestOutcome:
        """`/suggest [platforms]`: the best free slots per platform (linked platforms when none named)."""
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            if text.strip():
                platforms = parse_command(text, tz, now, require_when=False).platforms
            else:
                platforms = tuple(await accounts.linked_platforms(session, member.team_id))
            if not platforms:
                raise UserError(
                    "No platform named and none linked yet.", hint="Try `/suggest youtube,instagram`."
                )
            found = await self._suggestions(session, member.team_id, platforms, now, tz, n=n)
        return SuggestOutcome(tz=tz, suggestions=found)

    async def _suggestions(
        self,
        session: AsyncSession,
        team_id: int,
        platforms: tuple[Platform, ...],
        now: datetime,
        tz: str,
        n: int = 3,
    ) -> dict[Platform, list[Slot]]:
        from core import slots

        return await slots.suggest(
            session, team_id, platforms, now, tz, n, audience_timezones=self.settings.audience_timezones
        )

    async def post_now(
        self,
        ctx: ChatContext,
        text: str,
        media: MediaInfo | MediaSource | None,
        *,
        thumbnail: AttachedImage | None = None,
        form: Form | None = None,
    ) -> ScheduleOutcome:
        """`/post <platforms> [caption] [--name value ...] [--no-convert]`: queued as due now, so the
        scheduler publishes it at once (after its conversion, if it needs one)."""
        text, convert = _take_no_convert(text)
        flags = _with_form(take_flags(text), form)
        tz = await self.timezone_for(ctx)
        command = _with_caption(parse_command(flags.text, tz, self.clock(), require_when=False), form)
        picked = _read_options(command, flags.pairs)
        stored = await self._media(media, command.platforms)
        request = _Request(command, picked, convert, thumbnail)
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            outcome = await self._queue(session, ctx, member, tz, request, now, stored, [])
            held = await pauses.paused(session, member.team_id)
        self._notify_wake(outcome)
        # A paused platform holds even a /post: the answer says so instead of "publishing now".
        marked = [replace(v, paused=held is None or v.platform in held) for v in outcome.posts]
        return replace(outcome, posts=marked)

    async def _common_slot(
        self,
        session: AsyncSession,
        team_id: int,
        platforms: tuple[Platform, ...],
        now: datetime,
        tz: str,
        *,
        moving: tuple[int, ...],
        between: tuple[datetime, datetime] | None = None,
    ) -> Slot | None:
        """One time for the whole batch, free on every platform (gaps, daily caps, YouTube quota)."""
        from core import slots

        return await slots.best_common_slot(
            session,
            team_id,
            platforms,
            now,
            tz,
            audience_timezones=self.settings.audience_timezones,
            exclude_posts=moving,
            between=between,
        )

    async def _best_slot(
        self,
        session: AsyncSession,
        team_id: int,
        platforms: tuple[Platform, ...],
        now: datetime,
        tz: str,
        *,
        moving: tuple[int, ...] = (),
    ) -> tuple[datetime, str]:
        chosen = await self._common_slot(session, team_id, platforms, now, tz, moving=moving)
        if chosen is None:
            raise UserError("No free slot was found in the coming days.", hint="Give a time, not 'best'.")
        return chosen.at, f"Picked the suggested slot: {chosen.reason}"

    async def _slot_on_day(
        self,
        session: AsyncSession,
        team_id: int,
        platforms: tuple[Platform, ...],
        now: datetime,
        when: ParsedWhen,
        *,
        moving: tuple[int, ...] = (),
    ) -> tuple[datetime, list[str]]:
        """A day without a time ("friday"): the day's best free slot, said so; the default time
        (already in `when`) when the day has none."""
        from zoneinfo import ZoneInfo

        assert when.instant is not None
        zone = ZoneInfo(when.tz)
        day = when.instant.astimezone(zone).date()
        start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
        chosen = await self._common_slot(
            session, team_id, platforms, now, when.tz, moving=moving, between=(start, end)
        )
        kept = [n for n in (when.note or "").split("; ") if n and not n.startswith("No time given")]
        if chosen is None:
            return when.instant, [when.note] if when.note else []
        return chosen.at, [*kept, f"No time given: picked the day's suggested slot: {chosen.reason}"]

    async def _queue(
        self,
        session: AsyncSession,
        ctx: ChatContext,
        member: teams.Member,
        tz: str,
        request: _Request,
        run_at: datetime,
        media: MediaInfo,
        notes: list[str],
    ) -> ScheduleOutcome:
        platforms, caption = request.command.platforms, request.command.caption
        picked = request.picked
        texts = {p: (c, _title(c)) for p, c in picked.captions.items()}
        title = _title(caption)
        convert = request.convert and self.converter is not None and self.settings.media.convert
        # Probing reads the file header from disk: keep it off the event loop.
        checked = await asyncio.to_thread(
            validation.plan, media, platforms, caption=caption, title=title, convert=convert, texts=texts
        )
        problems = _merge(checked.problems, chosen.frame_problems(picked, media.duration_s))
        linked, account_problems = await accounts.choose_accounts(
            session, member.team_id, platforms, picked.handles, ctx.channel_id
        )
        problems = _merge(problems, account_problems)
        for platform in platforms:
            if (
                registry.spec(platform).linkable
                and platform not in linked
                and platform.value not in account_problems
            ):
                problems.setdefault(platform.value, []).append(
                    f"no {platform.label} account linked: an admin can link it with /link {platform.value}."
                )
        images = _image_options(platforms, request.thumbnail, problems)
        if self._preflight is not None and not problems:
            for platform, account_id in linked.items():
                options = picked.options.get(platform, {})
                duration = checked.media.duration_s
                if found := await self._preflight(platform, account_id, options, duration):
                    problems[platform.value] = found
        if problems:
            raise ValidationFailed(problems)
        options = {p: dict(picked.options.get(p, {})) for p in platforms}
        if images and request.thumbnail is not None:
            key = await self.media.store_image(request.thumbnail.data, images[0][2])
            for platform, option, _ in images:
                options[platform][option.key] = key
        new = [
            posts.NewPost(
                platform=p,
                caption=texts.get(p, (caption, title))[0],
                title=(texts.get(p, (caption, title))[1] or "")[:_TITLE_COLUMN] or None,
                run_at=run_at,
                account_id=linked.get(p),
                options=options[p],
            )
            for p in platforms
        ]
        views, duplicate = await posts.queue_posts(
            session,
            member=member,
            media=media,
            posts=new,
            channel=ctx.channel_id,
            thread=ctx.thread_id,
            request_id=ctx.request_id,
            tz=tz,
            repeats=ctx.repeats,
        )
        if not duplicate:
            await wakeups.announce(session, run_at)
        conversions = self._start_conversions(media, checked)
        notes = [*notes, conversion_note(conversions)] if conversions else notes
        return ScheduleOutcome(posts=views, tz=tz, notes=notes, duplicate=duplicate, conversions=conversions)

    def _start_conversions(self, media: MediaInfo, checked: validation.Plan) -> list[Conversion]:
        """Start each distinct conversion now (platforms needing the same one share it), so it is
        usually done long before the posts fall due."""
        if self.converter is None or not checked.targets:
            return []
        by_key: dict[str, list[Platform]] = {}
        targets: dict[str, Target] = {}
        for platform, target in checked.targets.items():
            by_key.setdefault(target.key, []).append(platform)
            targets[target.key] = target
        facts = checked.media
        out = []
        for key, platforms in by_key.items():
            target = targets[key]
            self.converter.start(media, target)
            out.append(
                Conversion(
                    target=target,
                    platforms=tuple(p.value for p in platforms),
                    estimate_s=estimate_seconds(
                        target,
                        size_bytes=facts.size_bytes,
                        duration_s=facts.duration_s,
                        pixel_rate=_pixel_rate(facts, target),
                    ),
                    reasons=tuple(r for p in platforms for r in checked.reasons.get(p, ())),
                )
            )
        return out

    def _notify_wake(self, outcome: ScheduleOutcome) -> None:
        if self._wake is not None and outcome.posts and not outcome.duplicate:
            self._wake(min(p.run_at for p in outcome.posts))

    async def list_queue(self, ctx: ChatContext, *, channel_only: bool = False) -> list[PostView]:
        """The upcoming posts ``ctx``'s user may see (``ChatContext.visible_channels``)."""
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            channel = ctx.channel_id if channel_only else None
            viewer = posts.Viewer(member.user_id, ctx.visible_channels)
            views = await posts.list_queue(session, member.team_id, tz=tz, channel=channel, viewer=viewer)
            held = await pauses.paused(session, member.team_id)
        return [
            replace(v, paused=True)
            if v.status is PostStatus.QUEUED and (held is None or v.platform in held)
            else v
            for v in views
        ]

    # -- operating the team's publishing (admins) --------------------------------------------------

    @staticmethod
    def _check_admin(ctx: ChatContext, what: str) -> None:
        if not ctx.is_admin:
            raise PermissionDenied(f"Only an admin can {what}.")

    @staticmethod
    def _platform_word(text: str) -> Platform | None:
        word = text.strip()
        if not word or word.lower() in ("all", "everything"):
            return None
        platform = platform_from_alias(word)
        if platform is None:
            raise UserError(
                f"I don't know the platform {word!r}.{did_you_mean(word)}",
                hint="e.g. /pause youtube, or /pause for all of them",
            )
        return platform

    async def pause(self, ctx: ChatContext, text: str = "") -> PauseView:
        """`/pause [platform]`: the team's due posts (on that platform) wait, queued, until /resume."""
        self._check_admin(ctx, "pause publishing")
        platform = self._platform_word(text)
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            changed = await pauses.pause(session, member.team_id, platform, by=ctx.user_id, at=self.clock())
            return await self._pause_view(session, member.team_id, platform, changed)

    async def resume(self, ctx: ChatContext, text: str = "") -> PauseView:
        """`/resume [platform]`: lift the pause; the scheduler starts the held posts at once."""
        self._check_admin(ctx, "resume publishing")
        platform = self._platform_word(text)
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            if platform is not None and await pauses.paused(session, member.team_id) is None:
                raise UserError(
                    "Every platform is paused, not one by one.", hint="/resume lifts the pause on all."
                )
            before = await pauses.paused(session, member.team_id)
            lifted = await pauses.resume(session, member.team_id, platform)
            if lifted:
                await wakeups.announce(session, now)
            view = await self._pause_view(
                session, member.team_id, platform, bool(lifted), resuming=True, before=before
            )
        if lifted and self._wake is not None:
            self._wake(now)
        return view

    async def results(self, ctx: ChatContext, text: str = "") -> ResultsReport:
        """`/results [platform] [7d|30d]`: per platform the period's views, likes and comments beside
        the period before, and the best posts with their links (numbers from core/scheduler/results.py)."""
        from core.domain import PlatformResults, ResultsReport
        from core.store import results as result_store

        days = 7
        words = []
        for word in text.split():
            span = re.fullmatch(r"(\d{1,3})\s*d(?:ays?)?", word.lower())
            if span:
                days = int(span.group(1))
                if days not in (7, 30):
                    raise UserError(
                        f"Results cover 7 or 30 days, not {days}.", hint="e.g. /results youtube 30d"
                    )
            else:
                words.append(word)
        platform = self._platform_word(" ".join(words))
        now = self.clock()
        span_td = timedelta(days=days)
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            current = await result_store.team_numbers(
                session, member.team_id, since=now - span_td, until=now, platform=platform
            )
            previous = await result_store.team_numbers(
                session, member.team_id, since=now - 2 * span_td, until=now - span_td, platform=platform
            )
        rows = []
        for info in platform_infos():
            now_posts = [p for p in current if p.platform is info.platform]
            then_posts = [p for p in previous if p.platform is info.platform]
            if not now_posts and not then_posts:
                continue
            read = [p for p in now_posts if p.views is not None or p.likes is not None]
            rows.append(
                PlatformResults(
                    platform=info.platform,
                    posts=len(now_posts),
                    views=sum(p.views or 0 for p in now_posts),
                    likes=sum(p.likes or 0 for p in now_posts),
                    comments=sum(p.comments or 0 for p in now_posts),
                    previous_posts=len(then_posts),
                    previous_views=sum(p.views or 0 for p in then_posts),
                    previous_likes=sum(p.likes or 0 for p in then_posts),
                    previous_comments=sum(p.comments or 0 for p in then_posts),
                    best=sorted(read, key=lambda p: (p.views or 0, p.likes or 0), reverse=True)[:3],
                    without_numbers=len(now_posts) - len(read),
                )
            )
        return ResultsReport(days=days, until=now, tz=member.zone, platforms=rows, posts=current)

    async def save_results_chart(self, report: ResultsReport) -> Path:
        """Draw ``report``'s chart (views per post and platform) into the data folder; its path."""
        from core.charts import png, views_figure

        folder = self.settings.data_dir / "charts"
        path = folder / f"results-{report.until:%Y%m%d-%H%M}-{report.days}d.png"

        def draw() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png(views_figure(report.posts, days=report.days, tz=report.tz)))

        # Drawing takes tens of milliseconds of CPU: off the event loop.
        await asyncio.to_thread(draw)
        return path

    async def status(self, ctx: ChatContext) -> StatusView:
        """`/status` (admins): per platform the queue, what runs, what is next, the last day's
        success rate and the breaker; the workers alive, how much of each deployment-wide daily
        publishing cap (core/platforms/<name>/caps.py: YouTube's uploads) today used, then the
        team's latest failures per platform."""
        from core.slots.occupancy import project_posts_today
        from core.slots.rules import PROJECT_CAPS

        self._check_admin(ctx, "see postbot's status")
        now = self.clock()
        stale = timedelta(seconds=self.settings.scheduler.heartbeat_stale_s)
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            counts = await posts.platform_counts(session, member.team_id, since=now - timedelta(days=1))
            held = await pauses.paused(session, member.team_id)
            failures = await posts.recent_failures(session, member.team_id, tz=tz, limit=50)
            spent = {
                platform: (cap, await project_posts_today(session, platform, cap, now))
                for platform, cap in PROJECT_CAPS.items()
                if cap is not None and cap.limit is not None
            }
        seen = await Heartbeats(self.sessions).seen(within=stale, now=now)
        breakers = await self._breaker_states() if self._breaker_states is not None else {}
        rows = []
        for info in platform_infos():
            c = counts.get(info.platform, posts.PlatformCounts())
            breaker = breakers.get(info.platform)
            if not (c.queued or c.running or c.published or c.failed or breaker not in (None, "closed")):
                continue
            rows.append(
                PlatformStatus(
                    platform=info.platform,
                    queued=c.queued,
                    running=c.running,
                    paused=held is None or info.platform in held,
                    next_due=c.next_due,
                    published_24h=c.published,
                    failed_24h=c.failed,
                    breaker=breaker if self._breaker_states is not None else None,
                )
            )
        return StatusView(
            platforms=rows,
            last_errors=_latest_per_platform(failures, LAST_ERRORS_PER_PLATFORM),
            tz=tz,
            paused=held,
            workers=[
                WorkerView(w.worker_id, round((now - w.seen_at).total_seconds(), 1), w.in_flight)
                for w in seen
            ],
            workers_within_s=stale.total_seconds(),
            quotas=[
                QuotaView(platform, used, cap.limit or 0, cap.counts, cap.resets)
                for platform, (cap, used) in spent.items()
            ],
        )

    async def home(self, ctx: ChatContext, *, days: int = 7) -> HomeView:
        """The member's home page (Slack's Home tab): the team's queued posts for the next ``days``
        days, by day in the member's zone; the linked accounts; the latest results. Posts only from
        channels the member is in, and their own (``ChatContext.visible_channels``)."""
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            viewer = posts.Viewer(member.user_id, ctx.visible_channels)
            queued = await posts.list_queue(session, member.team_id, tz=tz, limit=200, viewer=viewer)
            recent = await posts.recent_results(session, member.team_id, tz=tz, viewer=viewer)
            held = await pauses.paused(session, member.team_id)
        zone = ZoneInfo(tz)
        today = now.astimezone(zone).date()
        week = [HomeDay(today + timedelta(days=i), []) for i in range(days)]
        for post in queued:
            offset = (post.run_at.astimezone(zone).date() - today).days
            if offset >= days:
                continue
            if post.status is PostStatus.QUEUED:
                post = replace(post, paused=held is None or post.platform in held)
            # Overdue (held by a pause, or waiting for a worker): shown today.
            week[max(offset, 0)].posts.append(post)
        accounts = await self.linker.list_accounts(ctx) if self.linker is not None else None
        return HomeView(tz=tz, week=week, accounts=accounts, recent=recent, paused=held)

    def set_preflight(self, preflight: Preflight | None) -> None:
        """A platform's own checks of a post before it is queued, by the account it goes out as."""
        self._preflight = preflight

    def set_breaker_states(self, states: Callable[[], Awaitable[dict[Platform, str]]] | None) -> None:
        """The fleet's circuit breakers as the database holds them, for /status (None: not shown)."""
        self._breaker_states = states

    async def _pause_view(
        self,
        session: AsyncSession,
        team_id: int,
        named: Platform | None,
        changed: bool,
        *,
        resuming: bool = False,
        before: set[Platform] | None = None,
    ) -> PauseView:
        """Counts the due posts the pauses now hold, or (``resuming``) those the lift let go."""
        held = await pauses.paused(session, team_id)
        due = await posts.due_queued(session, team_id, self.clock())

        def holds(pause: set[Platform] | None, platform: Platform) -> bool:
            return pause is None or platform in pause

        if resuming:
            count = sum(n for p, n in due.items() if holds(before, p) and not holds(held, p))
        else:
            count = sum(n for p, n in due.items() if holds(held, p))
        return PauseView(
            named=named,
            changed=changed,
            paused=None if held is None else frozenset(held),
            held_due=count,
        )

    async def cancel(self, ctx: ChatContext, post_id: int) -> PostView:
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            post = await posts.get(session, member.team_id, post_id, tz=tz)
            self._check_owner(ctx, post.author_id, post_id, "cancel")
            return await posts.cancel(session, member.team_id, post_id, tz=tz)

    async def reschedule(self, ctx: ChatContext, post_id: int, when_text: str) -> PostView:
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            post = await posts.get(session, member.team_id, post_id, tz=tz)
            self._check_owner(ctx, post.author_id, post_id, "move")
            when = parse_when(when_text, tz, now, horizon=self.horizon)
            if when.instant is None:
                run_at, _ = await self._best_slot(
                    session, member.team_id, (post.platform,), now, tz, moving=(post.id,)
                )
            elif when.date_only:
                run_at, _ = await self._slot_on_day(
                    session, member.team_id, (post.platform,), now, when, moving=(post.id,)
                )
            else:
                run_at = when.instant
            view = await posts.reschedule(session, member.team_id, post_id, run_at, tz=tz)
            await wakeups.announce(session, run_at)
        if self._wake is not None:
            self._wake(view.run_at)
        return view

    async def set_timezone(self, ctx: ChatContext, text: str, *, team_wide: bool = False) -> str:
        """`/timezone <zone>`: the zone your times are read and shown in (Discord tells bots none).

        ``team_wide`` sets the team's default instead (admins only). Returns the IANA name.
        """
        zone = resolve_zone(text)
        if team_wide and not ctx.is_admin:
            raise PermissionDenied("Only an admin can set the server's time zone.")
        async with self.sessions.begin() as session:
            await teams.set_zone(
                session, ctx, zone, team_wide=team_wide, default_tz=self.settings.default_timezone
            )
        return zone

    @staticmethod
    def _check_owner(ctx: ChatContext, author_id: str, post_id: int, verb: str) -> None:
        if ctx.user_id != author_id and not ctx.is_admin:
            raise PermissionDenied(f"Only the author of #{post_id} or an admin can {verb} it.")

    # -- media the chats hand over ---------------------------------------------------------------

    @staticmethod
    def check_size(size_bytes: int, platforms: tuple[Platform, ...]) -> None:
        """Refuse a file too big for one of ``platforms`` before fetching it."""
        problem = validation.oversize_message(size_bytes, platforms)
        if problem is not None:
            raise MediaError(problem)

    @staticmethod
    def upload_limit(platforms: tuple[Platform, ...]) -> int | None:
        """The most bytes every one of ``platforms`` accepts (None: no limit known)."""
        return validation.max_upload_bytes(platforms)

    @asynccontextmanager
    async def receive(
        self, name: str, *, max_bytes: int | None, declared_bytes: int | None = None
    ) -> AsyncIterator[MediaSink]:
        """Stream a video into the media store; ``sink.info`` describes it once the block ends. A
        stream longer than the chat's ``declared_bytes`` is cut there, whatever ``max_bytes`` allows."""
        async with self.media.receive(name, max_bytes=max_bytes, declared_bytes=declared_bytes) as sink:
            yield sink

    async def remember_reply(self, ctx: ChatContext, post_ids: list[int], reply: MessageRef) -> None:
        """Record the message that answered the command which queued ``post_ids``: their uploads
        show live progress under it."""
        if not post_ids:
            return
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            await replies.remember(session, member.team_id, post_ids, reply)

    async def reply_to(self, post_id: int) -> MessageRef | None:
        """The message that answered the command which queued ``post_id`` (see remember_reply)."""
        async with self.sessions() as session:
            return await replies.reply_to(session, post_id)

    async def import_file(self, path: str | Path) -> MediaInfo:
        """A local file into the media store (the console's ``--file``)."""
        return await self.media.import_file(path)

    async def remember_video(self, ctx: ChatContext, file: SharedFile) -> bool:
        """Record a file shared in chat for a later command that carries none; False if not a video."""
        return await recent.remember(
            self.sessions,
            ctx,
            default_tz=self.settings.default_timezone,
            file_id=file.file_id,
            name=file.name,
            mimetype=file.mimetype,
            size_bytes=file.size_bytes,
            download_url=file.download_url,
            message_ts=file.message_ts,
            shared_at=file.shared_at,
        )

    async def latest_video(self, ctx: ChatContext, *, window: timedelta) -> SharedFile:
        """The newest video ``ctx``'s user shared in ``ctx``'s channel within ``window``."""
        return await recent.latest(self.sessions, ctx, window=window, now=self.clock())

    # -- accounts ----------------------------------------------------------------------------------

    @property
    def can_link(self) -> bool:
        return self.linker is not None

    def _linker(self) -> AccountLinker:
        if self.linker is None:
            raise NO_LINKING
        return self.linker

    async def link(self, ctx: ChatContext, platform_word: str, *, loopback: bool = False) -> str:
        """`/link <platform>`: DM the admin a single-use link; returns the in-channel acknowledgement.
        ``loopback``: the OAuth callback comes back to this machine (the console's own web server)."""
        return await self._linker().request_link(ctx, platform_word, loopback=loopback)

    async def unlink(self, ctx: ChatContext, platform: Platform, handle: str | None = None) -> UnlinkOutcome:
        """`/unlink youtube` (every YouTube account) or `/unlink youtube@brand` (that one)."""
        return await self._linker().unlink(ctx, platform, handle.lstrip("@") if handle else None)

    async def accounts(self, ctx: ChatContext) -> list[AccountView]:
        """`/accounts`: every linked account, the one each platform's posts from this channel go to
        (when none is named) marked."""
        views = await self._linker().list_accounts(ctx)
        async with self.sessions() as session:
            team_id = await teams.find(session, ctx)
            usual = await accounts.usual_accounts(session, team_id, ctx.channel_id) if team_id else set()
        return [replace(v, default_here=v.row_id in usual) for v in views]

    async def set_default_account(self, ctx: ChatContext, text: str) -> AccountView:
        """`/postbot default youtube@brand` (admins): the account this channel's YouTube posts go to
        when a command names none."""
        self._check_admin(ctx, "choose the channel's default account")
        platform, handle = _platform_and_handle(text)
        if ctx.channel_id is None:
            raise UserError("A default account is set in a channel.", hint="Run it in the channel it is for.")
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            row = await accounts.set_default(
                session, member.team_id, ctx.channel_id, platform, handle, by=ctx.user_id, at=self.clock()
            )
            from core.accounts.linking import account_view

            return account_view(row, default_here=True)

    async def linked_platforms(self, ctx: ChatContext) -> set[Platform] | None:
        """Platforms ready to post to (the sandbox always is); None when linking is not set up here."""
        if self.linker is None:
            return None
        accounts = await self.linker.list_accounts(ctx)
        # A platform that needs no account (the sandbox) is always ready.
        ready = {i.platform for i in platform_infos() if not i.requires_account}
        return {a.platform for a in accounts if a.status is AccountStatus.ACTIVE} | ready

    async def open_link(self, platform: Platform, state: str, cookie: str | None) -> LinkPreview:
        """A /link URL opened in a browser: which team and chat it links to; binds the browser."""
        return await self._linker().open_link(platform, state, cookie)

    async def authorize_url(self, platform: Platform, state: str, cookie: str | None) -> str:
        """Where the confirmed link goes: the platform's consent page (the binding browser only)."""
        return await self._linker().authorize_url(platform, state, cookie)

    async def complete_link(
        self,
        platform: Platform,
        state: str | None,
        *,
        cookie: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None,
    ) -> LinkOutcome:
        """The OAuth callback: store the account's tokens (or raise a LinkError saying why not)."""
        return await self._linker().complete_link(
            platform, state, cookie=cookie, code=code, error=error, error_description=error_description
        )

    async def open_video(
        self, key: str, expires: str | None, sig: str | None, post: str | None = None
    ) -> StoredMedia | None:
        """The stored video behind one of postbot's signed ``/media/<key>`` links (handed to platforms
        that fetch the video by URL); None when the link is forged, altered or expired, or when it
        belongs to a post that is over."""
        if post is not None:
            return await self.post_links.open(key, expires, sig, post) if self.post_links else None
        if self._signer is None or not self._signer.check(key, expires, sig):
            return None
        return StoredMedia(self.media.storage, key)

    async def _post_unfinished(self, post_id: int) -> bool:
        async with self.sessions() as session:
            return await posts.is_unfinished(session, post_id)

    async def refresh_fleet_metrics(self) -> None:
        """Gauges that describe every process, read from the database when /metrics is scraped."""
        if self.media.blobs is not None:
            metrics.MEDIA_STORED_BYTES.set(await self.media.blobs.stored_bytes())
        stale = timedelta(seconds=self.settings.scheduler.heartbeat_stale_s)
        metrics.WORKERS_ALIVE.set(len(await Heartbeats(self.sessions).seen(within=stale)))

    async def health(self) -> dict[str, Any]:
        """``/health``: the database answers, its schema is at the migrations' head, the media store
        takes videos and some scheduler, in any process, recorded a heartbeat lately; ``status`` is
        "unavailable" and ``failed`` names the checks when one does not (core/health.py)."""
        from core import health

        stale = timedelta(seconds=self.settings.scheduler.heartbeat_stale_s)
        return await health.report(self.sessions, self.media.storage, stale=stale, now=self.clock())


@dataclass(frozen=True)
class Form:
    """What a chat's form (the Slack modal, Discord's command options) gives beside the command's
    time and platforms: the caption as typed, never read for options, and option fields as
    (``<platform>-<name>``, value) pairs, checked exactly like ``--<platform>-<name> value``."""

    caption: str = ""
    options: tuple[tuple[str, str], ...] = ()
    # Options typed in one field as ``--name value`` pairs (Discord's ``options``).
    flags: str = ""


def _with_form(flags: Flags, form: Form | None) -> Flags:
    if form is None:
        return flags
    typed = take_flags(form.flags) if form.flags.strip() else Flags(text="")
    if typed.text:
        raise UserError(
            f"'{typed.text[:40]}' is not an option.",
            hint="The options field takes --name value pairs, e.g. --tags launch,demo --kids no.",
        )
    return Flags(text=flags.text, pairs=(*flags.pairs, *form.options, *typed.pairs))


def _with_caption(command: ParsedCommand, form: Form | None) -> ParsedCommand:
    if form is None or not form.caption:
        return command
    joined = f"{command.caption}\n{form.caption}" if command.caption else form.caption
    return replace(command, caption=joined.strip())


@dataclass(frozen=True)
class _Request:
    """A schedule or post-now command as read, before anything is written."""

    command: ParsedCommand
    picked: chosen.Chosen
    convert: bool
    thumbnail: AttachedImage | None


_DEFAULT_HELP = "e.g. /postbot default youtube@brand (the handles are in /accounts)"


def _platform_and_handle(text: str) -> tuple[Platform, str]:
    """``youtube@brand``, ``youtube @brand`` or ``yt brand``."""
    words = text.replace("@", " @", 1).split()
    platform = platform_from_alias(words[0]) if words else None
    if platform is None:
        raise UserError(
            f"Which platform? '{(words or [''])[0][:40]}' is not one."
            if words
            else "Which platform and account?",
            hint=_DEFAULT_HELP,
        )
    if len(words) != 2 or not words[1].lstrip("@"):
        raise UserError(f"Which {platform.label} account?", hint=_DEFAULT_HELP)
    return platform, words[1].lstrip("@")


def _read_options(command: ParsedCommand, pairs: tuple[tuple[str, str], ...]) -> chosen.Chosen:
    """The command's options, read once; a mistyped one is refused before the video is fetched (a
    typo costs no download). What needs the video (a cover frame past its end) is checked with it."""
    found = chosen.resolve(command.platforms, command.picks, pairs)
    if found.problems:
        raise ValidationFailed(found.problems)
    return found


def _title(caption: str) -> str | None:
    """A post's title (YouTube's): its caption's first line, whole, so a platform's title limit is
    checked against what was written (YouTube's 100 characters are reported, not cut)."""
    return caption.strip().split("\n", 1)[0] or None


# scheduled_posts.title's width: a first line longer than this is only ever a title for platforms
# without one (YouTube refuses it before anything is stored).
_TITLE_COLUMN = 300


def _merge(*groups: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in groups:
        for platform, found in group.items():
            out.setdefault(platform, []).extend(found)
    return out


def _image_options(
    platforms: tuple[Platform, ...], image: AttachedImage | None, problems: dict[str, list[str]]
) -> list[tuple[Platform, Option, str]]:
    """The chosen platforms that take the attached image (YouTube's thumbnail) and its type; a
    wrong type or size is added to ``problems`` with what the platform takes."""
    if image is None:
        return []
    found = []
    for platform in platforms:
        option = next((o for o in registry.spec(platform).options if o.kind is Kind.IMAGE), None)
        if option is None:
            continue
        mime = sniff_image(image.data[:16])
        if mime not in option.mimes:
            problems.setdefault(platform.value, []).append(
                f"the {option.label.lower()} must be {option.allowed()}; "
                f"{image.name or 'the attached file'} is not a JPEG or PNG."
            )
        elif option.maximum is not None and len(image.data) > option.maximum:
            problems.setdefault(platform.value, []).append(
                f"the {option.label.lower()} is {len(image.data) / 1e6:.1f} MB; {platform.label} takes "
                f"{option.allowed()}."
            )
        else:
            found.append((platform, option, mime))
    if not found and not any(problems.get(p.value) for p in platforms):
        takers = [s.label for s in registry.SPECS if any(o.kind is Kind.IMAGE for o in s.options)]
        raise UserError(
            "None of this post's platforms takes an attached image.",
            hint=f"{' and '.join(takers)} takes one as a thumbnail.",
        )
    return found


# /status shows the newest few failures of each platform, newest first.
LAST_ERRORS_PER_PLATFORM = 3


def _latest_per_platform(failures: list[PostView], n: int) -> list[PostView]:
    """``failures`` (newest first) cut to ``n`` per platform, grouped in display order."""
    order = {info.platform: i for i, info in enumerate(platform_infos())}
    kept: dict[Platform, list[PostView]] = {}
    for post in failures:
        group = kept.setdefault(post.platform, [])
        if len(group) < n:
            group.append(post)
    return [post for platform in sorted(kept, key=order.__getitem__) for post in kept[platform]]


_NO_CONVERT = re.compile(r"(?:^|\s)--no-convert(?=\s|$)")


def _take_no_convert(text: str) -> tuple[str, bool]:
    """Remove ``--no-convert`` from a command; False when it was there (refuse, don't convert)."""
    stripped, found = _NO_CONVERT.subn(" ", text)
    return (stripped.strip(), False) if found else (text, True)


def _pixel_rate(facts: MediaProbe, target: Target) -> float:
    width, height = scaled_size(facts.width or 1920, facts.height or 1080, target)
    return width * height * float(output_rate(facts.frame_rate, target))


def _about(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    return f"about {round(seconds / 60)} min"


def conversion_note(conversions: list[Conversion]) -> str:
    """One line for the scheduling reply: what gets converted, for whom, why and roughly how long."""
    parts = []
    for c in conversions:
        labels = " and ".join(Platform(p).label for p in c.platforms)
        why = "; ".join(dict.fromkeys(c.reasons))
        parts.append(f"{c.target.describe()} for {labels} ({why}), {_about(c.estimate_s)}")
    return (
        "The video will be "
        + "; ".join(parts)
        + ". Converting has started; a post due before it is done waits for it."
    )
