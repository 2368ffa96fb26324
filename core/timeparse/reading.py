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


@dataclass(frozen=True)
class Reading:
    """A parsed expression; independent of `now`, so it can be cached by text."""

    # "in 2 hours" / "in 3 days at 5pm": elapsed time, and calendar days/months kept on the wall clock.
    relative: bool = False
    elapsed: timedelta = timedelta(0)
    days: int = 0
    months: int = 0
    # Day: an offset from today, a weekday, or a calendar date (year may be None).
    day_offset: int | None = None
    weekday: int | None = None
    weekday_mode: str = ""  # "" (next one not in the past), "this", "next", "next_week"
    date: tuple[int | None, int, int] | None = None
    date_note: str | None = None
    # Time of day.
    clock: Clock | None = None
    part: str | None = None  # morning / evening / ... (see vocab.WORD_TIMES)
    midnight: bool = False
    # Zone written in the text: an IANA name, or an abbreviation to resolve, or a fixed offset.
    zone: str | None = None
    abbreviation: str | None = None
    offset: timedelta | None = None

    @property
    def has_day(self) -> bool:
        return self.day_offset is not None or self.weekday is not None or self.date is not None

    @property
    def has_time(self) -> bool:
        return self.clock is not None or self.part is not None or self.midnight
