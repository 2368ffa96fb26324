"""The words people use for times, and the clock times postbot gives them.

These are documented for users in docs/times.md: change them there too.
"""

from __future__ import annotations

# "late evening", "early morning": a part of the day narrowed. Alone they name no agreed time, so the
# reply says which was used; with an hour ("late evening @ 9") they only say which side of noon it is.
QUALIFIED_PARTS: dict[str, tuple[int, int]] = {
    "early morning": (7, 0),
    "late morning": (11, 0),
    "early afternoon": (13, 0),
    "late afternoon": (16, 0),
    "early evening": (18, 0),
    "late evening": (21, 0),
    "late night": (23, 0),
}

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
    **QUALIFIED_PARTS,
}


# Words after which a bare hour ("tomorrow evening at 7") is read on the afternoon side of the clock.
PM_PARTS = frozenset(
    {"afternoon", "evening", "night", "tonight", "early afternoon", "late afternoon", "early evening"}
    | {"late evening", "late night"}
)
# Parts of the day that run past midnight: "tonight at 1" is 01:00 after midnight, not 13:00.
NIGHT_PARTS = frozenset({"night", "tonight", "late night"})

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

TOMORROW_WORDS = frozenset(
    {"tomorrow", "tmrw", "tmr", "tmw", "tomorow", "tommorow", "tommorrow", "2morrow", "2moro"}
)
TODAY_WORDS = frozenset({"today", "tdy", "2day"})

# Chat spellings read as the word they stand for, before anything else looks at them.
SPELLINGS: dict[str, str] = {
    "nxt": "next",
    "tonite": "tonight",
    "2nite": "tonight",
    "nite": "night",
    "morn": "morning",
    "eve": "evening",
    "mornin": "morning",
    "wk": "week",
    "wks": "weeks",
    "thrs": "thursday",
    "tho": "thursday",
    "mid-day": "midday",
    "til": "till",
    "approximately": "around",
    "approx": "around",
    "roughly": "around",
    "circa": "around",
    "ca": "around",
    "abt": "around",
    "about": "around",
}

# Long words a typo may be corrected to (one slip, two for long words), and only when the typed
# word means nothing else. The reply names every correction.
CORRECTABLE: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "tomorrow",
    "tonight",
    "morning",
    "afternoon",
    "evening",
    "midnight",
    "minutes",
    "hours",
)

ORDINAL_WORDS: dict[str, int] = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
# "twenty first" / "twenty-first" ... "thirty first" are read as two words (see reader).
ORDINAL_TENS: dict[str, int] = {"twenty": 20, "thirty": 30}

# Hour words for a clock said in words ("eight fifteen pm", "half nine").
HOUR_WORDS: dict[str, int] = {
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
}

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
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "half": 0.5,
    "quarter": 0.25,
    "couple": 2,
    "few": 3,
}

# Unit word → (kind, amount). Hours and minutes are elapsed time; days, weeks and months are
# calendar steps that keep the wall-clock time across a DST change ("in 3 days" stays at 10:30).
UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), ("minutes", 1 / 60)),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), ("minutes", 1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("minutes", 60)),
    **dict.fromkeys(("d", "day", "days"), ("days", 1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), ("days", 7)),
    **dict.fromkeys(("fortnight", "fortnights"), ("days", 14)),
    **dict.fromkeys(("mo", "mos", "month", "months"), ("months", 1)),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), ("months", 12)),
}

# Tens that take a unit word after them ("forty five", "twenty-five").
TENS = frozenset({"twenty", "thirty", "forty", "fifty"})

# Words that carry no meaning for the time itself ("at 6pm", "on friday", "the day after tomorrow").
# Hedges ("around 9", "9ish") schedule the time named: a post goes out at one instant anyway.
FILLER = frozenset({"at", "on", "@", "the", "around", "by", "of", "this", "ish", "sometime", "for"})
# After these a bare number is an hour ("at 6", "around 9").
CLOCK_CUES = frozenset({"at", "@", "around", "by"})
