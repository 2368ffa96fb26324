"""dateparser for what the reader does not know ("Fri, 27 Nov 2026 18:00", "2026/12/12 20:00", "last week").

dateparser drops words it does not understand and still answers, which is how "7 tomorrow evening"
became tomorrow at the current clock time. Its answer is taken only when it can have accounted for
every word: each one is in dateparser's English vocabulary, none is a relation it is known to drop
("after", "to", "from"), a weekday said agrees with the date, and the time is not simply the clock
time of `now` (what dateparser returns when it lost the time that was written).
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from dateparser.conf import settings as default_settings
from dateparser.date import DateDataParser
from dateparser.languages.loader import default_loader

from core.errors import TimeParseError
from core.timeparse.resolve import Placed, localize
from core.timeparse.vocab import DEFAULT_TIME, NUMBER_WORDS, WEEKDAYS

_NTH = frozenset({"1st", "2nd", "3rd", "4th", "5th", "first", "second", "third", "fourth", "fifth"})
_NUMBERS = re.compile(r"\d+")
_YEAR_FIRST = re.compile(r"\b(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})\b")
_FRACTIONS = re.compile(r"\d/\d+[a-z]|[\u00bc-\u00be]", re.IGNORECASE)

# Words dateparser reads past without applying them ("3 days after tomorrow" → tomorrow).
_DROPPED_RELATIONS = frozenset({"after", "to", "past", "from", "till", "of"})


def _date_order(tz: str) -> str:
    return "MDY" if tz.startswith("America/") else "DMY"


@lru_cache(maxsize=64)
def _parser(base: datetime, order: str) -> DateDataParser:
    # Building a DateDataParser (settings, language data) costs more than a parse: keep them.
    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": base,
        "RETURN_TIME_AS_PERIOD": True,
        "DATE_ORDER": order,
        "PREFER_DAY_OF_MONTH": "first",
    }
    return DateDataParser(languages=["en"], settings=settings)


def warm() -> None:
    """Load dateparser's language data now rather than inside the first user's command."""
    parse("Fri, 27 Nov 2026 18:00", "UTC", datetime.now(UTC))  # a form only dateparser reads


@lru_cache(maxsize=1024)
def _accounted(text: str) -> bool:
    """Whether dateparser can have read every word of `text` (see the module docstring)."""
    words = text.lower().replace(",", " ").split()
    if _DROPPED_RELATIONS.intersection(words):
        return False
    if _FRACTIONS.search(text):
        return False  # "1/2h" and "½h" are durations, not 1 Feb or two hours: the reader's to read
    if all(
        (w.isdigit() and len(w) <= 2) or w in NUMBER_WORDS or w in {"in", "at", "on", "the"} for w in words
    ):
        return False  # "in 20", "ten": dateparser makes a day of the month of it
    if any(w in _NTH and n in WEEKDAYS for w, n in pairwise(words)):
        return False  # "4th friday": of which month? dateparser reads the 4th
    english = default_loader.get_locale("en")
    return bool(english.is_applicable(text, strip_timezone=True, settings=default_settings))


def parse(text: str, user_tz: str, now: datetime) -> Placed | None:
    if not _accounted(text):
        return None
    zone = ZoneInfo(user_tz)
    # dateparser works on naive wall-clock times here; zoneinfo then attaches the zone, which gets
    # DST gaps and overlaps right (dateparser's own TIMEZONE handling does not report them).
    # Equivalent mutant (tools/mutation.py): keeping tzinfo; dateparser answers naive either way.
    base = now.astimezone(zone).replace(tzinfo=None, microsecond=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = _parser(base, _date_order(user_tz)).get_date_data(text)
    found = data["date_obj"]
    if found is None:
        return None
    period = data["period"]
    if period == "time" and (found.hour, found.minute) == (base.hour, base.minute):
        return None  # the written time was lost, not read
    # Every number written must show in the answer; "tomorrow 9 30" came back as tomorrow, 09:00.
    shown = {
        found.year,
        found.year % 100,
        found.month,
        found.day,
        found.hour,
        found.hour % 12 or 12,
        found.minute,
    }
    if any(int(n) not in shown for n in _NUMBERS.findall(text)):
        return None
    # A year-first date is unambiguous, and must be the answer's: "2026/12/12 noon" came back as
    # today at noon (each number still showed somewhere: 12 as the month and as the hour). Refused
    # ("couldn't read") rather than read as another day.
    written = _YEAR_FIRST.search(text)
    if written is not None and tuple(map(int, written.groups())) != (found.year, found.month, found.day):
        return None
    said = [WEEKDAYS[w] for w in text.lower().replace(",", " ").replace(".", " ").split() if w in WEEKDAYS]
    if said and found.weekday() not in said:
        # Worded as the main reader words it (core/timeparse/resolve.py): the date, its day, the day said.
        raise TimeParseError(
            f"'{text}': {found:%a} {found.day} {found:%b} {found.year} is a {found:%A}, "
            f"not a {date(2024, 1, 1 + said[0]):%A}.",
            hint="Check the day and date, e.g. `fri 4 dec 6pm`.",
        )
    if period in {"week", "month", "year"}:
        raise TimeParseError(
            f"'{text}' names a {period}, not a day and time.",
            hint="Say which day, e.g. `monday 10am` or `dec 3 9:30am`.",
        )
    notes: list[str] = []
    date_only = period == "day"
    if found.tzinfo is not None:
        offset = found.utcoffset() or timedelta(0)
        fixed = timezone(offset)
        if date_only:
            found = datetime.combine(found.date(), time(*DEFAULT_TIME), fixed)
            notes.append(f"No time given: using {DEFAULT_TIME[0]:02d}:{DEFAULT_TIME[1]:02d}")
        return Placed(found.astimezone(UTC), user_tz, (*notes, f"read as UTC{found:%z}"), date_only)
    if date_only:
        found = datetime.combine(found.date(), time(*DEFAULT_TIME))
        notes.append(f"No time given: using {DEFAULT_TIME[0]:02d}:{DEFAULT_TIME[1]:02d}")
    aware, dst_note = localize(found, zone)
    if dst_note:
        notes.append(dst_note)
    return Placed(aware.astimezone(UTC), user_tz, tuple(notes), date_only)
