"""Operating the team's publishing (admins): ``/pause`` and ``/resume``, ``/status``, and the
process's ``/health`` and fleet metrics.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import metrics
from core.domain import (
    ChatContext,
    PauseView,
    Platform,
    PlatformStatus,
    PostView,
    QuotaView,
    StatusView,
    WorkerView,
)
from core.errors import UserError
from core.service.base import ServiceBase, platform_infos
from core.store import pauses, posts, teams, wakeups
from core.store.heartbeats import Heartbeats


class Operations(ServiceBase):
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
            busy = c.queued or c.running or c.awaiting or c.published or c.failed
            if not (busy or breaker not in (None, "closed")):
                continue
            rows.append(
                PlatformStatus(
                    platform=info.platform,
                    queued=c.queued,
                    running=c.running,
                    awaiting=c.awaiting,
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
