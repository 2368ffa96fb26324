"""Placing a Reading on the calendar: the user's zone, `now`, DST gaps and overlaps."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from core.errors import TimeParseError
from core.timeparse.reading import Reading
from core.timeparse.vocab import DEFAULT_TIME, PM_PARTS, WORD_TIMES
from core.timeparse.zones import resolve_abbreviation, season_mismatch

_DATE_HINT = "Check the date, e.g. `dec 3 9:30am` or `2026-12-01 18:00`."
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Placed:
    instant: datetime  # aware, UTC
    tz: str  # the zone the text was read in
    notes: tuple[str, ...]
    date_only: bool = False


def localize(naive: datetime, zone: tzinfo) -> tuple[datetime, str | None]:
    """Attach `zone` to a wall-clock time, saying so when DST makes that time odd.

    A time in the spring-forward gap (02:30 on the night clocks jump to 03:00) does not exist; it
    is moved forward by the gap, as zoneinfo's fold=0 does. A time in the autumn overlap happens
    twice; the first occurrence (still summer time) is used.
    """
    first = naive.replace(tzinfo=zone, fold=0)
    if not isinstance(zone, ZoneInfo):
        return first, None
    back = first.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != naive:
        day = f"{naive:%a} {naive.day} {naive:%b}"
        return back, f"{naive:%H:%M} doesn't exist on {day} (clocks go forward): using {back:%H:%M}"
    second = naive.replace(tzinfo=zone, fold=1)
    if second.utcoffset() != first.utcoffset():
        day = f"{naive:%a} {naive.day} {naive:%b}"
        return first, f"{naive:%H:%M} happens twice on {day} (clocks go back): using the first, {first:%Z}"
    return first, None


def _add_months(d: datetime, months: int) -> datetime:
    total = d.month - 1 + months
    year, month = d.year + total // 12, total % 12 + 1
    return d.replace(year=year, month=month, day=min(d.day, calendar.monthrange(year, month)[1]))


def _zone(r: Reading, user_tz: str, notes: list[str]) -> tuple[tzinfo, str]:
    if r.offset is not None:
        sign = "-" if r.offset < timedelta(0) else "+"
        minutes = abs(int(r.offset.total_seconds())) // 60
        return timezone(r.offset), f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    if r.abbreviation is not None:
        name, ambiguous = resolve_abbreviation(r.abbreviation, user_tz)
        if ambiguous:
            notes.append(f"{r.abbreviation.upper()} read as {name}")
        return ZoneInfo(name), name
    if r.zone is not None:
        return ZoneInfo(r.zone), r.zone
    return ZoneInfo(user_tz), user_tz


def _time_of_day(r: Reading, notes: list[str]) -> tuple[time, int] | None:
    """(wall time, days to add to the named day), or None when no time was given."""
    if r.midnight:
        return time(0, 0), 1
    if r.clock is not None:
        hour = r.clock.hour
        if r.clock.meridiem is None and r.part in PM_PARTS and 1 <= hour <= 11:
            hour += 12
        elif r.clock.bare and r.part is None:
            notes.append(
                f"{hour}:{r.clock.minute:02d} read as {hour:02d}:{r.clock.minute:02d} (24-hour clock): "
                f"write {hour}pm for the evening"
            )
        return time(hour, r.clock.minute), 0
    if r.part is not None:
        h, m = WORD_TIMES[r.part]
        return time(h, m), 0
    return None


def _days(r: Reading, today: date) -> tuple[list[date], bool]:
    """Candidate days, earliest first, and whether only the first may be used (no rolling forward)."""
    if r.day_offset is not None:
        return [today + timedelta(days=r.day_offset)], True
    if r.weekday is not None:
        ahead = (r.weekday - today.weekday()) % 7
        if r.weekday_mode == "this":
            return [today + timedelta(days=ahead)], True
        if r.weekday_mode == "next":
            return [today + timedelta(days=ahead or 7)], True
        if r.weekday_mode == "next_week":
            monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
            return [monday + timedelta(days=r.weekday)], True
        return [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)], False
    if r.date is not None:
        year, month, day = r.date
        try:
            if year is not None:
                return [date(year, month, day)], True
            this_year = date(today.year, month, day)
        except ValueError:
            raise TimeParseError(
                f"There is no {day} {calendar.month_abbr[month]} on the calendar.", hint=_DATE_HINT
            ) from None
        if this_year >= today:
            return [this_year], True
        try:
            return [date(today.year + 1, month, day)], True
        except ValueError:  # 29 Feb
            raise TimeParseError(f"There is no 29 Feb in {today.year + 1}.", hint=_DATE_HINT) from None
    return [today, today + timedelta(days=1)], False


def place(r: Reading, user_tz: str, now: datetime) -> Placed:
    notes: list[str] = []
    zone, zone_name = _zone(r, user_tz, notes)
    local_now = now.astimezone(zone)

    if r.relative:
        if not (r.days or r.months or r.has_time):
            return Placed(now.astimezone(UTC) + r.elapsed, zone_name, ())
        wall = _add_months(local_now.replace(tzinfo=None), r.months) + timedelta(days=r.days)
        tod = _time_of_day(r, notes)
        if tod is not None:
            wall = datetime.combine(wall.date() + timedelta(days=tod[1]), tod[0])
        aware, dst_note = localize(wall, zone)
        if dst_note:
            notes.append(dst_note)
        return Placed((aware + r.elapsed).astimezone(UTC), zone_name, tuple(notes))

    days, strict = _days(r, local_now.date())
    if r.date_note:
        notes.append(f"{r.date_note} ({days[0]:%a} {days[0].day} {days[0]:%b})")
    tod = _time_of_day(r, notes)
    date_only = tod is None
    if tod is None:
        tod = (time(*DEFAULT_TIME), 0)
        notes.append(f"No time given: using {DEFAULT_TIME[0]:02d}:{DEFAULT_TIME[1]:02d}")
    elif r.midnight and r.has_day:
        d = days[0]
        notes.append(f"midnight read as the end of {_DAY_NAMES[d.weekday()][:3]} {d.day} {d:%b}")

    chosen: datetime | None = None
    dst_note = None
    for i, day in enumerate(days):
        wall = datetime.combine(day + timedelta(days=tod[1]), tod[0])
        chosen, dst_note = localize(wall, zone)
        if chosen > now or strict or i == len(days) - 1:
            break
    assert chosen is not None
    if dst_note:
        notes.append(dst_note)
    if r.weekday_mode == "next" and r.weekday is not None:
        # "next fri" said on a Monday: the coming Friday or the one after? Say which was used.
        today = local_now.date()
        target = chosen.astimezone(zone).date()
        if target.isocalendar()[:2] == today.isocalendar()[:2]:
            notes.append(f"next {_DAY_NAMES[r.weekday]} read as the coming one, {target.day} {target:%b}")
    if r.abbreviation is not None and isinstance(zone, ZoneInfo):
        in_effect = season_mismatch(r.abbreviation, zone_name, chosen.astimezone(zone).date())
        if in_effect is not None:
            notes.append(f"{r.abbreviation.upper()} read as {zone_name} ({in_effect} on that date)")
    return Placed(chosen.astimezone(UTC), zone_name, tuple(notes), date_only=date_only)
