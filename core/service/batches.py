"""Several videos with one command: a Slack message with several files, a Discord command with
several attachments, the console's several ``--file``. Each video goes into the channel's next free
slots in turn (``next``), or one ``--every 2d`` after the other from a start time; one answer lists
them all, and a video that can't go (too big, too long, unreadable) is refused with its reason while
the others are queued.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import ChatContext, MediaInfo, Platform, PostView
from core.errors import MediaError, UserError, ValidationFailed
from core.platforms import registry
from core.render import already_scheduled, example_platform
from core.schedule import plan
from core.service.reading import Form, _read_options, _Request, _take_no_convert, _with_caption, _with_form
from core.service.scheduling import MediaSource, ScheduleOutcome, Scheduling
from core.store import posts, teams
from core.timeparse import parse_command
from core.timeparse.command import Flags, take_flags

# The most videos one command takes: a week of clips, twice over; more is likelier a mistake.
MAX_VIDEOS = 20
_EVERY = re.compile(r"(\d{1,3})\s*(h|d|w)", re.IGNORECASE)
_ONE = example_platform(registry.infos())
EVERY_HINT = f"e.g. /schedule mon 18:00 {_ONE} Clip --every 2d, or /schedule next {_ONE} Clip"


@dataclass(frozen=True)
class BatchItem:
    """One video of a batch: queued (``outcome``) or refused (``problem``)."""

    name: str
    outcome: ScheduleOutcome | None = None
    problem: str | None = None


@dataclass(frozen=True)
class BatchOutcome:
    tz: str
    items: list[BatchItem]
    notes: list[str]

    @property
    def queued(self) -> list[ScheduleOutcome]:
        return [i.outcome for i in self.items if i.outcome is not None]

    @property
    def duplicate(self) -> bool:
        """Every video had been queued by this same request before (a redelivery)."""
        return bool(self.queued) and all(o.duplicate for o in self.queued)


def _reason(exc: UserError) -> str:
    if isinstance(exc, ValidationFailed):
        return "; ".join(f"{platform}: {p}" for platform, ps in exc.problems.items() for p in ps)
    return str(exc)


def read_every(value: str) -> timedelta:
    """``2d``, ``12h``, ``1w``: the step between videos."""
    match = _EVERY.fullmatch(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise UserError(f"'--every {value[:20]}' is not a step between videos.", hint=EVERY_HINT)
    n, unit = int(match.group(1)), match.group(2).lower()
    return {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


def _step(start: datetime, step: timedelta, i: int, tz: str) -> datetime:
    """The ``i``-th time from ``start``: days and weeks on the wall clock of ``tz`` (18:00 stays
    18:00 across a DST change), hours as elapsed time."""
    if step % timedelta(days=1):
        return start + i * step
    local = start.astimezone(ZoneInfo(tz)).replace(tzinfo=None) + i * step
    from core.timeparse.resolve import localize

    return localize(local, ZoneInfo(tz))[0]


def _spreads(text: str) -> bool:
    flags = take_flags(text)
    if any(k == "every" for k, _ in flags.pairs):
        return True
    try:
        # The zone and clock don't matter here: only whether the time reads as ``next``.
        command = parse_command(flags.text, "UTC", datetime.now(UTC))
    except UserError:
        return False
    return command.when is not None and command.when.next_slot


class Batches(Scheduling):
    @staticmethod
    def spreads(text: str) -> bool:
        """Whether a command places videos one after another (``next``, or ``--every``), so a chat
        hands it every video shared with the newest one instead of that one alone."""
        return _spreads(text)

    async def schedule_many(
        self,
        ctx: ChatContext,
        text: str,
        videos: Sequence[tuple[str, MediaInfo | MediaSource]],
        *,
        form: Form | None = None,
    ) -> BatchOutcome:
        """`/schedule next <platforms> [caption]` or `/schedule <start> <platforms> [caption] --every
        2d` with several videos (``(name, video)`` in order): each is fetched, checked and queued on
        its own, so one that can't go is refused with its reason and the others still go."""
        if not videos:
            raise MediaError("No video to post.", hint="Attach the videos, then run the command again.")
        if len(videos) > MAX_VIDEOS:
            raise UserError(
                f"{len(videos)} videos in one command is more than {MAX_VIDEOS}.",
                hint="Schedule them in a few commands.",
            )
        now = self.clock()
        text, convert = _take_no_convert(text)
        flags = _with_form(take_flags(text), form)
        steps = [v for k, v in flags.pairs if k == "every"]
        flags = Flags(text=flags.text, pairs=tuple((k, v) for k, v in flags.pairs if k != "every"))
        tz = await self.timezone_for(ctx)
        command = _with_caption(parse_command(flags.text, tz, now, horizon=self.horizon), form)
        when = command.when
        assert when is not None
        every = read_every(steps[-1]) if steps else None
        if when.next_slot and every is not None:
            raise UserError("Give either next or --every, not both.", hint=EVERY_HINT)
        if not when.next_slot and (every is None or when.instant is None):
            raise UserError(
                "Several videos go either into the channel's schedule (next) or one --every few days "
                "from a start time.",
                hint=EVERY_HINT,
            )
        picked = _read_options(command, flags.pairs)
        request = _Request(command, picked, convert, None)
        start = when.instant
        notes = [when.note] if when.note and not when.next_slot else []
        if start is not None and every is not None:
            last = _step(start, every, len(videos) - 1, when.tz)
            if last > now + self.horizon:
                raise UserError(
                    f"The last of {len(videos)} videos would be {(last - now).days} days ahead; postbot "
                    f"schedules at most {self.horizon.days} days ahead.",
                    hint="Use a shorter --every, or fewer videos.",
                )
        # Each video is fetched before the transaction, as a single command's is.
        fetched: list[tuple[str, MediaInfo | None, str | None]] = []
        for name, video in videos:
            try:
                fetched.append((name, await self._media(video, command.platforms), None))
            except UserError as exc:
                fetched.append((name, None, _reason(exc)))
        items: list[BatchItem] = []
        async with self.sessions.begin() as session:
            if session.get_bind().dialect.name == "sqlite":
                # SQLite: the write lock first, so a second command waits for this one (busy_timeout)
                # and then reads what it queued. Upgrading a read to a write after another command
                # committed fails at once ("database is locked"), instead of answering "already
                # scheduled". A write that changes nothing still takes the lock.
                await session.execute(sql_text("UPDATE teams SET id = id WHERE 0 = 1"))
            member = await teams.member(session, ctx, self.settings.default_timezone)
            placed = 0
            for i, (name, stored, problem) in enumerate(fetched):
                if stored is None:
                    items.append(BatchItem(name, problem=problem))
                    continue
                run_at = None if start is None or every is None else _step(start, every, placed, when.tz)
                # Each video is its own request: a redelivered command queues none of them twice.
                one = replace(
                    ctx,
                    request_id=f"{ctx.request_id}#{i}" if ctx.request_id else None,
                    repeats=tuple(f"{r}#{i}" for r in ctx.repeats),
                )
                # Nothing is posted twice: a video already queued or published on a platform from
                # this channel (the same bytes: a command run again in a thread that gained a
                # video takes the earlier ones too) is not queued there again.
                earlier = await self._earlier(session, one, member, tz, command.platforms, stored)
                left = tuple(p for p in command.platforms if p not in {e.platform for e in earlier})
                if not left:
                    items.append(BatchItem(name, problem=already_scheduled(earlier)))
                    continue
                asked = replace(request, command=replace(command, platforms=left)) if earlier else request
                try:
                    # A video refused halfway (a platform's slots all taken) leaves nothing behind.
                    async with session.begin_nested():
                        outcome = await self._queue(
                            session, one, member, tz, asked, run_at, stored, [], once=True
                        )
                except UserError as exc:
                    items.append(BatchItem(name, problem=_reason(exc)))
                    continue
                except IntegrityError:
                    # Another command queued the same video meanwhile (the unique key of
                    # migration 0017 let only one of them in): that post stands.
                    if not (earlier := await self._earlier(session, one, member, tz, left, stored)):
                        raise
                    items.append(BatchItem(name, problem=already_scheduled(earlier)))
                    continue
                placed += 1
                # The answer's line for the video says where it went: only the other notes stay.
                kept = [n for n in outcome.notes if not n.startswith(plan.PLACED)]
                if earlier:
                    said = already_scheduled(earlier)
                    kept.append(f"{said[0].upper()}{said[1:]}.")
                items.append(BatchItem(name, outcome=replace(outcome, notes=kept)))
        for item in items:
            if item.outcome is not None:
                self._notify_wake(item.outcome)
        return BatchOutcome(tz=tz, items=items, notes=notes)

    async def _earlier(
        self,
        session: AsyncSession,
        ctx: ChatContext,
        member: teams.Member,
        tz: str,
        platforms: Sequence[Platform],
        media: MediaInfo,
    ) -> list[PostView]:
        return await posts.already_posted(
            session,
            member,
            channel=ctx.channel_id,
            platforms=platforms,
            sha256=media.sha256,
            request_id=ctx.request_id,
            repeats=ctx.repeats,
            tz=tz,
        )
