"""What a time expression says, before it is placed on a calendar (see resolve.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Clock:
    hour: int
    minute: int
    meridiem: str | None = None  # "am" / "pm" when the user wrote one
    bare: bool = False  # "at 6": an hour with neither minutes nor am/pm
    second: int = 0  # "14:05:30": kept, so the post goes out at the moment written


@dataclass(frozen=True)
class Reading:
    """A parsed expression; independent of `now`, so it can be cached by text."""

    # "in 2 hours" / "in 3 days at 5pm": elapsed time, and calendar days/months kept on the wall clock.
    relative: bool = False
    elapsed: timedelta = timedelta(0)
    days: int = 0
    months: int = 0
    # Day: an offset from today, a weekday, a calendar date (year may be None), a day of the month
    # ("the 3rd"), or an nth weekday of a month ("second monday in may"). Several may be said at
    # once ("fri 4 dec", "today 3 dec"): they must then name the same day.
    day_offset: int | None = None
    weekday: int | None = None
    # "" (next one not in the past), "this", "next", "following" (as "next", and said so),
    # "this_week", "next_week", "week_after_next"
    weekday_mode: str = ""
    date: tuple[int | None, int, int] | None = None
    date_note: str | None = None
    day_of_month: int | None = None
    # (n, weekday, month or None): n is 1..5, or -n for "nth last" ("second last friday" is -2).
    nth_weekday: tuple[int, int, int | None] | None = None
    # "this month" (0) / "next month" (1): the month of a day_of_month or nth_weekday without a name.
    month_shift: int | None = None
    # Days added to the named day ("3 days after tomorrow", "monday after next").
    day_shift: int = 0
    # Minutes added to the named clock time ("ten to noon", "25 minutes before 3pm").
    clock_shift: int = 0
    same_time: bool = False  # "same time tomorrow": the clock time it is now
    # "the last day of april" (date day 0 = the month's last) / "of the month" (with month_shift)
    last_day: bool = False
    # "the fourth last day of june": that many days before the month's last (3 here).
    days_before_last: int = 0
    # "next weekday", "next business day": the first Monday-to-Friday day after today.
    business_day: bool = False
    # Time of day.
    clock: Clock | None = None
    part: str | None = None  # morning / evening / ... (see vocab.WORD_TIMES)
    midnight: bool = False
    # Zone written in the text: an IANA name, or an abbreviation to resolve, or a fixed offset.
    zone: str | None = None
    abbreviation: str | None = None
    offset: timedelta | None = None
    # What the reader assumed on the way (typos it corrected, "in 20" as minutes): told to the user.
    notes: tuple[str, ...] = ()

    @property
    def has_day(self) -> bool:
        return (
            self.day_offset is not None
            or self.weekday is not None
            or self.date is not None
            or self.day_of_month is not None
            or self.nth_weekday is not None
            or self.last_day
            or self.business_day
        )

    @property
    def has_time(self) -> bool:
        return self.clock is not None or self.part is not None or self.midnight or self.same_time
