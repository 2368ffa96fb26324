"""The posting schedule: ``/postbot slots`` shows a channel's weekly slots per platform in the team's
zone and (admins) adds, removes or clears them; the next free slots shown beside /queue, /status
and the Home tab. ``/schedule next`` places posts in them (scheduling.py, through core/schedule).
"""

from __future__ import annotations

from core.domain import ChatContext, ScheduleView
from core.schedule import plan
from core.service.base import ServiceBase
from core.store import teams


class PostingSchedule(ServiceBase):
    async def slots(self, ctx: ChatContext, text: str = "") -> ScheduleView:
        """`/postbot slots [add <days> <times> <platforms> | remove … | clear [platform]]`: the
        channel's weekly posting slots in the team's zone and each platform's next free ones;
        changing them is for admins."""
        change = plan.read_change(text)
        if change.action != "show":
            self._check_admin(ctx, "change the posting schedule")
        now = self.clock()
        channel = plan.channel_key(ctx.channel_id)
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            said = await plan.apply(session, member.team_id, channel, change, by=ctx.user_id)
            tz = await plan.team_zone(session, member.team_id, self.settings.default_timezone)
            found = await plan.rows(session, member.team_id, channel, tz, now)
        return ScheduleView(tz=tz, platforms=found, changed=said or None)

    async def free_slots(self, ctx: ChatContext) -> ScheduleView:
        """The channel's schedule with each platform's next free slot (for /queue, /status, the Home
        tab). Only reads; no platforms where the channel has no schedule."""
        now = self.clock()
        async with self.sessions() as session:
            team_id = await teams.find(session, ctx)
            if team_id is None:
                return ScheduleView(tz=self.settings.default_timezone, platforms=[])
            tz = await plan.team_zone(session, team_id, self.settings.default_timezone)
            found = await plan.rows(session, team_id, plan.channel_key(ctx.channel_id), tz, now, n=1)
        return ScheduleView(tz=tz, platforms=found)
