"""Scheduling: ``/schedule`` (at a time, ``best``, a day's best slot), ``/post`` (now), ``/suggest``
and the time preview; the one transaction that checks a post against its platforms and accounts and
queues it, and the conversions it starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import (
    ApprovalRule,
    AttachedImage,
    ChatContext,
    MediaInfo,
    Platform,
    PostStatus,
    PostView,
    Slot,
)
from core.errors import MediaError, UserError, ValidationFailed
from core.media import validation
from core.media.conversions import Conversion, estimate_seconds
from core.media.convert import Target, output_rate, scaled_size
from core.media.probe import MediaProbe
from core.platforms import chosen, registry
from core.render import platform_example
from core.schedule import plan
from core.service.reading import (
    _TITLE_COLUMN,
    Form,
    _image_options,
    _merge,
    _read_options,
    _Request,
    _take_no_convert,
    _title,
    _with_caption,
    _with_form,
)
from core.service.slot_picking import SlotPicking
from core.store import accounts, pauses, posts, teams, wakeups
from core.timeparse import parse_command, preview
from core.timeparse.command import take_flags

log = logging.getLogger(__name__)


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
    # The channel's approval rule when the posts wait for an approver (who to ask, and where).
    approval: ApprovalRule | None = None

    @property
    def run_at(self) -> datetime:
        return self.posts[0].run_at


@dataclass(frozen=True)
class SuggestOutcome:
    tz: str
    # Per platform, best first.
    suggestions: dict[Platform, list[Slot]]


# Fetches the video of a command once the command has been read: given the platforms it names, so an
# oversize file is refused before a byte moves (see Postbot.check_size and Postbot.receive).
MediaSource = Callable[[tuple[Platform, ...]], Awaitable[MediaInfo]]


class Scheduling(SlotPicking):
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
            run_at: datetime | None
            if command.when.next_slot:
                # Each platform's next free slot, claimed once the post has passed its checks.
                run_at = None
            elif command.when.auto or command.when.instant is None:
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
        if outcome.duplicate or run_at is None:
            # Posts placed in the schedule's slots are where the team wants them: no alternatives.
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
                    "No platform named and none linked yet.",
                    hint=f"Try `/suggest {platform_example(registry.infos())}`.",
                )
            found = await self._suggestions(session, member.team_id, platforms, now, tz, n=n)
        return SuggestOutcome(tz=tz, suggestions=found)

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
            outcome = await self._queue(session, ctx, member, tz, request, now, stored, [], now_post=True)
            held = await pauses.paused(session, member.team_id)
        self._notify_wake(outcome)
        # A paused platform holds even a /post: the answer says so instead of "publishing now".
        marked = [replace(v, paused=held is None or v.platform in held) for v in outcome.posts]
        return replace(outcome, posts=marked)

    async def _queue(
        self,
        session: AsyncSession,
        ctx: ChatContext,
        member: teams.Member,
        tz: str,
        request: _Request,
        run_at: datetime | None,
        media: MediaInfo,
        notes: list[str],
        *,
        now_post: bool = False,
        once: bool = False,
    ) -> ScheduleOutcome:
        """Check and queue one video on its platforms at ``run_at``, or (None) each platform in the
        next free slot of the channel's posting schedule (core/schedule). ``once``: the posts hold
        the video's key on their platform and channel (posts.queue_posts)."""
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
        placement: plan.Placement | None = None
        if run_at is None:
            placement = await self._place_next(session, ctx, member, platforms)
            notes = [*notes, *placement.notes]
            times = placement.at
        else:
            times = dict.fromkeys(platforms, run_at)
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
                run_at=times[p],
                account_id=linked.get(p),
                options=options[p],
            )
            for p in platforms
        ]
        rule = await self._approval_needed(session, member.team_id, ctx)
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
            awaiting=rule is not None,
            on_approval=now_post,
            once=once,
        )
        if placement is not None:
            await plan.settle(session, placement, {v.platform: v.id for v in views}, duplicate)
            if not duplicate:
                zone = await plan.team_zone(session, member.team_id, self.settings.default_timezone)
                notes = [*notes, plan.placed_note(placement, zone)]
        if not duplicate:
            await wakeups.announce(session, min(times.values()))
        conversions = self._start_conversions(media, checked)
        notes = [*notes, conversion_note(conversions)] if conversions else notes
        waiting = rule if any(v.status is PostStatus.AWAITING for v in views) else None
        return ScheduleOutcome(
            posts=views,
            tz=tz,
            notes=notes,
            duplicate=duplicate,
            conversions=conversions,
            approval=waiting,
        )

    async def _place_next(
        self, session: AsyncSession, ctx: ChatContext, member: teams.Member, platforms: tuple[Platform, ...]
    ) -> plan.Placement:
        """Claim each platform's next free slot of the channel's schedule (core/schedule/plan.py)."""
        return await plan.place_next(
            session,
            member.team_id,
            plan.channel_key(ctx.channel_id),
            platforms,
            await plan.team_zone(session, member.team_id, self.settings.default_timezone),
            now=self.clock(),
            horizon=self.horizon,
        )

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
