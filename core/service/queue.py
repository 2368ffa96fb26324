"""The queue: what is queued (``/queue``, the Slack Home tab's week), and cancelling and moving a
post (its author or an admin).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from core.domain import MAX_POST_ID, ChatContext, HomeDay, HomeView, PostStatus, PostView, no_such_post
from core.errors import UserError
from core.results_report import build_report
from core.schedule import plan
from core.service.slot_picking import SlotPicking
from core.store import pauses, posts, teams, wakeups
from core.timeparse import parse_when

_POST_ID = re.compile(r"#?([0-9]+)", re.ASCII)


def parse_post_id(text: str) -> int:
    """A post id as people type it in any chat: ``12`` or ``#12``. An id beyond 64 bits is "no such
    post", not an overflow in the database driver (issue 11 point 15)."""
    if not text.strip():
        raise UserError("Which post?", hint="Use the number shown by /queue, e.g. 12.")
    match = _POST_ID.fullmatch(text.strip())
    if match is None:
        raise UserError(
            f"'{text.strip()[:40]}' is not a post id.", hint="Use the number shown by /queue, e.g. 12."
        )
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > 19 or not 0 < int(digits) <= MAX_POST_ID:
        raise no_such_post(digits if len(digits) <= 40 else digits[:40] + "…")
    return int(digits)


class Queue(SlotPicking):
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

    async def home(self, ctx: ChatContext, *, days: int = 7) -> HomeView:
        """The member's home page (Slack's Home tab): the team's queued posts for the next ``days``
        days, by day in the member's zone; the linked accounts; the latest results. Posts only from
        channels the member is in, and their own (``ChatContext.visible_channels``); the results are the
        last 7 days' of those posts."""
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            viewer = posts.Viewer(member.user_id, ctx.visible_channels)
            queued = await posts.list_queue(session, member.team_id, tz=tz, limit=200, viewer=viewer)
            recent = await posts.recent_results(session, member.team_id, tz=tz, viewer=viewer)
            held = await pauses.paused(session, member.team_id)
            results = await build_report(session, member.team_id, until=now, days=7, tz=tz, viewer=viewer)
            team_tz = await plan.team_zone(session, member.team_id, self.settings.default_timezone)
            schedule = await plan.channel_rows(
                session, member.team_id, list(ctx.visible_channels), team_tz, now
            )
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
        return HomeView(
            tz=tz,
            week=week,
            accounts=accounts,
            recent=recent,
            paused=held,
            results=results,
            schedule=schedule,
        )

    async def cancel(self, ctx: ChatContext, post_id: int) -> PostView:
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            post = await posts.get(session, member.team_id, post_id, tz=tz)
            self._check_owner(ctx, post.author_id, post_id, "cancel")
            view = await posts.cancel(session, member.team_id, post_id, tz=tz)
        if post.status is PostStatus.AWAITING:
            # Its approval requests stop offering buttons (after the commit, so they read it cancelled).
            self._decided()
        return view

    async def reschedule(self, ctx: ChatContext, post_id: int, when_text: str) -> PostView:
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            post = await posts.get(session, member.team_id, post_id, tz=tz)
            self._check_owner(ctx, post.author_id, post_id, "move")
            when = parse_when(when_text, tz, now, horizon=self.horizon)
            placement: plan.Placement | None = None
            if when.next_slot:
                # The next free slot of the schedule of the channel the post came from.
                placement = await plan.place_next(
                    session,
                    member.team_id,
                    plan.channel_key(post.channel_id),
                    (post.platform,),
                    await plan.team_zone(session, member.team_id, self.settings.default_timezone),
                    now=now,
                    horizon=self.horizon,
                )
                run_at = placement.at[post.platform]
            elif when.instant is None:
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
            if placement is not None:
                await plan.settle(session, placement, {post.platform: post.id}, duplicate=False)
            if await self._changed(session, ctx, member.team_id, view):
                view = await posts.get(session, member.team_id, post_id, tz=tz)
            await wakeups.announce(session, run_at)
        if self._wake is not None:
            self._wake(view.run_at)
        return view
