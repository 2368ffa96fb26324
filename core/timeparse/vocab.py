"""The words people use for times, and the clock times postbot gives them.

These are documented for users in docs/times.md: change them there too.
"""

from __future__ import annotations

# Part-of-day words → (hour, minute). "midnight" is special-cased by the reader: it is the *end* of
# the named day (24:00), because "Friday midnight" almost always means the night after Friday.
WORD_TIMES: dict[str, tuple[int, int]] = {
    "morning": (9, 0),
    "afternoon": (14, 0),
    "evening": (18, 0),
    "night": (20, 0),
    "tonight": (20, 0),
    "noon": (12, 0),
    "midday": (12, 0),
    "eod": (17, 0),
    "cob": (17, 0),
}

# Words after which a bare hour ("tomorrow evening at 7") is read on the afternoon side of the clock.
PM_PARTS = frozenset({"afternoon", "evening", "night", "tonight"})

# A date given without a time ("friday", "dec 3") is scheduled at this local time, and the reply
# says so: the user sees the assumption instead of it being made silently.
DEFAULT_TIME: tuple[int, int] = (9, 0)

WEEKDAYS: dict[str, int] = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "weds": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}

MONTHS: dict[str, int] = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}

TOMORROW_WORDS = frozenset({"tomorrow", "tmrw", "tmr", "tmw", "tomorow", "tommorow", "tommorrow"})
TODAY_WORDS = frozenset({"today", "tdy"})

NUMBER_WORDS: dict[str, float] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    "half": 0.5,
    "couple": 2,
    "few": 3,
}

# Unit word → (kind, amount). Hours and minutes are elapsed time; days, weeks and months are
# calendar steps that keep the wall-clock time across a DST change ("in 3 days" stays at 10:30).
UNITS: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), ("minutes", 1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("minutes", 60)),
    **dict.fromkeys(("d", "day", "days"), ("days", 1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), ("days", 7)),
    **dict.fromkeys(("fortnight", "fortnights"), ("days", 14)),
    **dict.fromkeys(("mo", "mos", "month", "months"), ("months", 1)),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), ("months", 12)),
}

# Words that carry no meaning for the time itself ("at 6pm", "on friday", "the day after tomorrow").
FILLER = frozenset({"at", "on", "@", "the", "around", "about", "by", "of", "this"})
