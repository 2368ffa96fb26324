"""Placing a Reading on the calendar: the user's zone, `now`, DST gaps and overlaps."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from core.errors import TimeParseError
from core.timeparse.reading import Reading
from core.timeparse.vocab import DEFAULT_TIME, NIGHT_PARTS, PM_PARTS, QUALIFIED_PARTS, WORD_TIMES
from core.timeparse.zones import resolve_abbreviation, season_mismatch

_DATE_HINT = "Check the date, e.g. `dec 3 9:30am` or `2026-12-01 18:00`."
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_WEEKS_AHEAD = {"this_week": 0, "next_week": 1, "week_after_next": 2}
# The hours a bare hour said with an afternoon or evening may stand for, once read after noon.
_PM_PART_HOURS = {
    **dict.fromkeys(("afternoon", "early afternoon", "late afternoon"), (12, 18)),
    **dict.fromkeys(("evening", "early evening", "late evening"), (17, 23)),
}
_NEXT_MODES = {"next": "next", "following": "the following"}  # mode → the words the note repeats


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


def _time_of_day(r: Reading, notes: list[str], local_now: datetime) -> tuple[time, int] | None:
    """(wall time, days to add to the named day), or None when no time was given."""
    if r.midnight:
        return time(0, 0), 1
    if r.same_time:
        return time(local_now.hour, local_now.minute), 0
    if r.clock is not None:
        hour, minute, second = r.clock.hour, r.clock.minute, r.clock.second
        if hour == 12 and r.clock.meridiem is None and r.part in NIGHT_PARTS:
            return time(0, minute, second), 1  # "twelve tonight" is midnight, at the end of the day
        if r.part in NIGHT_PARTS and (
            (r.clock.meridiem is None and 1 <= hour <= 4) or (r.clock.meridiem == "am" and hour <= 4)
        ):
            # "tonight at 1", "tonight 1am": after midnight; 13:00 is no part of a night.
            said = f"{hour or 12}{r.clock.meridiem or ''}"
            notes.append(f"{r.part} at {said} read as {hour:02d}:{minute:02d} after midnight")
            return time(hour, minute, second), 1
        if r.clock.meridiem is None and r.part in PM_PARTS and 1 <= hour <= 11:
            hour += 12
            first, last = _PM_PART_HOURS.get(r.part, (0, 23))
            if not first <= hour <= last:
                # "evening at 1" as 13:00, "afternoon at 9" as 21:00: neither is what the words say.
                said = f"'{r.part} at {r.clock.hour}'"
                raise TimeParseError(
                    f"{said} would be {hour:02d}:{minute:02d}, which is no {r.part} time.",
                    hint=f"Write `{r.clock.hour}pm` or `{r.clock.hour}am`.",
                )
        elif r.clock.bare and r.part is None:
            notes.append(
                f"{hour}:{r.clock.minute:02d} read as {hour:02d}:{r.clock.minute:02d} (24-hour clock): "
                f"write {hour}pm for the evening"
            )
        return time(hour, minute, second), 0
    if r.part is not None:
        h, m = WORD_TIMES[r.part]
        if r.part in QUALIFIED_PARTS:
            notes.append(f"{r.part} read as {h:02d}:{m:02d}")
        return time(h, m), 0
    return None


def _shift_month(today: date, months: int) -> tuple[int, int]:
    total = today.month - 1 + months
    return today.year + total // 12, total % 12 + 1


def _nth_weekday(year: int, month: int, n: int, weekday: int) -> date | None:
    if n < 0:
        last = date(year, month, calendar.monthrange(year, month)[1])
        found = last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))
        return found if found.month == month else None
    first = date(year, month, 1)
    found = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    return found if found.month == month else None


def _counted_back(year: int, month: int, back: int, not_before: date | None) -> date | None:
    """The day `back` days before the month's last; None when the month is shorter than that, or
    the day is before `not_before`."""
    length = calendar.monthrange(year, month)[1]
    found = date(year, month, length) - timedelta(days=back) if back < length else None
    return None if found is None or (not_before is not None and found < not_before) else found


def _on_calendar(year: int, month: int, day: int) -> date:
    if not 1 <= month <= 12:
        raise TimeParseError(f"There is no month {month}.", hint=_DATE_HINT)
    try:
        return date(year, month, day)
    except ValueError:
        raise TimeParseError(
            f"There is no {day} {calendar.month_abbr[month]} on the calendar.", hint=_DATE_HINT
        ) from None


def _named_date(r: Reading, today: date) -> date | None:
    """The day a date, a day of the month or an nth weekday names; None when none was said."""
    if r.last_day:
        # "the fourth last day of june" is the 27th: three days before the last.
        if r.date is None:
            last_year, last_month = _shift_month(today, r.month_shift or 0)
        else:  # "the last day of april [2027]": this year's, else next year's
            last_year, last_month = r.date[0] or today.year, r.date[1]
            if r.date[0] is None and _counted_back(last_year, last_month, r.days_before_last, today) is None:
                last_year += 1
        counted = _counted_back(last_year, last_month, r.days_before_last, None)
        if counted is None:
            n = r.days_before_last + 1
            raise TimeParseError(
                f"{calendar.month_name[last_month]} {last_year} has no {n}{_suffix(n)} last day.",
                hint=_DATE_HINT,
            )
        return counted
    if r.date is not None:
        year, month, day = r.date
        if year is not None:
            return _on_calendar(year, month, day)
        this_year = _on_calendar(today.year, month, day)
        if this_year >= today:
            return this_year
        try:
            return date(today.year + 1, month, day)
        except ValueError:  # 29 Feb
            raise TimeParseError(f"There is no 29 Feb in {today.year + 1}.", hint=_DATE_HINT) from None
    if r.day_of_month is not None:
        if r.month_shift is not None:
            return _on_calendar(*_shift_month(today, r.month_shift), r.day_of_month)
        # The next time the month shows that day: this month, else the next.
        if r.day_of_month >= today.day and r.day_of_month <= calendar.monthrange(today.year, today.month)[1]:
            return date(today.year, today.month, r.day_of_month)
        return _on_calendar(*_shift_month(today, 1), r.day_of_month)
    if r.nth_weekday is not None:
        n, weekday, named_month = r.nth_weekday
        if named_month is None:
            year, month = _shift_month(today, r.month_shift or 0)
            found = _nth_weekday(year, month, n, weekday)
        else:
            year, month = today.year, named_month
            found = _nth_weekday(year, month, n, weekday)
            if found is None or found < today:
                # This year's has passed, or this year's month has none ("fifth friday of may").
                year += 1
                found = _nth_weekday(year, month, n, weekday)
        if found is None:
            nth = _ORDINALS[n] if n > -2 else f"{_ORDINALS[-n]} last"
            raise TimeParseError(
                f"There is no {nth} {_DAY_NAMES[weekday]} in {calendar.month_name[month]} {year}.",
                hint=_DATE_HINT,
            )
        return found
    return None


def _days(r: Reading, today: date) -> tuple[list[date], bool]:
    """Candidate days, earliest first, and whether only the first may be used (no rolling forward).

    When a day is named twice ("fri 4 dec", "today 3 dec", "monday the 9th") both must agree: a
    weekday that contradicts its date is refused rather than one of them silently dropped."""
    named = _named_date(r, today)
    days: list[date]
    if named is not None:
        days, strict = [named], True
        if r.day_offset is not None and named != today + timedelta(days=r.day_offset):
            said = {0: "today", 1: "tomorrow"}.get(r.day_offset, f"{r.day_offset} days from today")
            raise TimeParseError(
                f"{said.capitalize()} is {_show(today + timedelta(days=r.day_offset))}, not {_show(named)}.",
                hint=_DATE_HINT,
            )
    elif r.day_offset is not None:
        days, strict = [today + timedelta(days=r.day_offset)], True
    elif r.business_day:
        # "next weekday": tomorrow, or Monday after a Friday or a weekend. Public holidays are not
        # known here, which the reply says.
        ahead = 1 if today.weekday() < 4 else 7 - today.weekday()
        days, strict = [today + timedelta(days=ahead)], True
    elif r.weekday is not None:
        ahead = (r.weekday - today.weekday()) % 7
        monday = today - timedelta(days=today.weekday())
        if r.weekday_mode == "this":
            days, strict = [today + timedelta(days=ahead)], True
        elif r.weekday_mode in _NEXT_MODES:
            days, strict = [today + timedelta(days=ahead or 7)], True
        elif r.weekday_mode in _WEEKS_AHEAD:
            days, strict = [monday + timedelta(days=7 * _WEEKS_AHEAD[r.weekday_mode] + r.weekday)], True
        else:
            days, strict = [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)], False
    else:
        days, strict = [today, today + timedelta(days=1)], False
    if r.weekday is not None and days[0].weekday() != r.weekday:
        raise TimeParseError(
            f"{_show(days[0])} is a {_DAY_NAMES[days[0].weekday()]}, not a {_DAY_NAMES[r.weekday]}.",
            hint=_DATE_HINT,
        )
    if r.day_shift:
        days = [d + timedelta(days=r.day_shift) for d in days]
    return days, strict


def _agrees(r: Reading, counted: date, today: date) -> None:
    """ "in 3 days on friday" said on a Tuesday is Friday; "in 2 weeks friday" is no day at all: the
    day named must be the day counted, rather than one of them silently dropped."""
    days, _ = _days(r, today)
    if r.weekday is not None and len(days) > 1:  # a bare weekday: any week's
        if counted.weekday() != r.weekday:
            raise TimeParseError(
                f"{_show(counted)} is a {_DAY_NAMES[counted.weekday()]}, not a {_DAY_NAMES[r.weekday]}.",
                hint=_DATE_HINT,
            )
    elif counted != days[0]:
        raise TimeParseError(
            f"Counted from today that is {_show(counted)}, not {_show(days[0])}.", hint=_DATE_HINT
        )


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _show(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b}"


def place(r: Reading, user_tz: str, now: datetime) -> Placed:
    notes: list[str] = list(r.notes)
    zone, zone_name = _zone(r, user_tz, notes)
    local_now = now.astimezone(zone)

    if r.relative:
        if not (r.days or r.months or r.has_time):
            return Placed(now.astimezone(UTC) + r.elapsed, zone_name, r.notes)
        wall = _add_months(local_now.replace(tzinfo=None), r.months) + timedelta(days=r.days)
        if r.has_day:
            _agrees(r, wall.date(), local_now.date())
        tod = _time_of_day(r, notes, local_now)
        if tod is not None:
            wall = datetime.combine(wall.date() + timedelta(days=tod[1]), tod[0])
        aware, dst_note = localize(wall, zone)
        if dst_note:
            notes.append(dst_note)
        return Placed((aware + r.elapsed).astimezone(UTC), zone_name, tuple(notes))

    days, strict = _days(r, local_now.date())
    if r.date_note:
        notes.append(f"{r.date_note} ({days[0]:%a} {days[0].day} {days[0]:%b})")
    tod = _time_of_day(r, notes, local_now)
    date_only = tod is None
    if tod is None:
        tod = (time(*DEFAULT_TIME), 0)
        if strict and days[0] == local_now.date() and local_now.time() >= tod[0]:
            # "today" said after 09:00: the rest of today, from the next half hour (the service
            # then picks the day's best free slot, as for any day without a time).
            later = local_now.replace(minute=0, second=0, microsecond=0) + timedelta(
                minutes=60 if local_now.minute >= 30 else 30
            )
            if later.date() == days[0]:
                tod = (later.time().replace(tzinfo=None), 0)
        notes.append(f"No time given: using {tod[0]:%H:%M}")
    elif r.midnight and r.has_day:
        d = days[0]
        notes.append(f"midnight read as the end of {_DAY_NAMES[d.weekday()][:3]} {d.day} {d:%b}")

    chosen: datetime | None = None
    dst_note = None
    for i, day in enumerate(days):
        wall = datetime.combine(day + timedelta(days=tod[1]), tod[0]) + timedelta(minutes=r.clock_shift)
        chosen, dst_note = localize(wall, zone)
        if chosen > now or strict or i == len(days) - 1:
            break
    assert chosen is not None
    if dst_note:
        notes.append(dst_note)
    if r.weekday_mode in _NEXT_MODES and r.weekday is not None:
        # "next fri" said on a Monday: the coming Friday or the one after? Say which was used.
        today = local_now.date()
        target = chosen.astimezone(zone).date()
        if target.isocalendar()[:2] == today.isocalendar()[:2]:
            said = _NEXT_MODES[r.weekday_mode]
            notes.append(f"{said} {_DAY_NAMES[r.weekday]} read as the coming one, {target.day} {target:%b}")
    if r.business_day:
        shown = _show(chosen.astimezone(zone).date())
        notes.append(f"next weekday read as {shown} (public holidays not counted)")
    if r.abbreviation is not None and isinstance(zone, ZoneInfo):
        in_effect = season_mismatch(r.abbreviation, zone_name, chosen.astimezone(zone).date())
        if in_effect is not None:
            notes.append(f"{r.abbreviation.upper()} read as {zone_name} ({in_effect} on that date)")
    return Placed(chosen.astimezone(UTC), zone_name, tuple(notes), date_only=date_only)
