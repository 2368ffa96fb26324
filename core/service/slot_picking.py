"""Finding a free time for a post: the best slots per platform, one slot free on every platform of a
batch, the best slot of a given day. Shared by scheduling (``best``, a day without a time) and the
queue (rescheduling).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import Platform, Slot
from core.errors import UserError
from core.service.base import ServiceBase
from core.timeparse import ParsedWhen


class SlotPicking(ServiceBase):
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
