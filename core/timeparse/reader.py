"""A fast, strict reader for the forms people type most often.

dateparser reads almost anything but costs about a millisecond per call (more on first use), so the
common shapes — ISO, "in N units", "tomorrow 6pm", "next fri at noon", "dec 3 9:30am PST" — are read
here with a few regexes. Anything this reader is not sure about returns None and goes to dateparser.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from functools import lru_cache

from core.errors import TimeParseError
from core.timeparse.reading import Clock, Reading
from core.timeparse.vocab import (
    FILLER,
    MONTHS,
    NUMBER_WORDS,
    TODAY_WORDS,
    TOMORROW_WORDS,
    UNITS,
    WEEKDAYS,
    WORD_TIMES,
)
from core.timeparse.zones import UTC_WORDS, iana_name, is_abbreviation, parse_offset

_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?(am|pm|a|p)?$")
_HHMM = re.compile(r"^([01]\d|2[0-3])([0-5]\d)$")
# "14h", "18h30": the French/German way; "2h" alone stays a duration ("in 2h").
_H_CLOCK = re.compile(r"^(\d{1,2})h(\d{2})?$")
_DAY_OF_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$")
_DOT_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})?$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:t(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(z|[+-]\d{2}:?\d{2})?)?$"
)
_COMPACT_DURATION = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
_COMPACT_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?[a-z]+)+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")

_MAX_UNITS = {"minutes": 60 * 24 * 3660, "days": 3660, "months": 120}
_MERIDIEM_WORDS = {"am": "am", "pm": "pm", "a": "am", "p": "pm"}


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("o'clock", "oclock")
    text = text.replace("@", " at ").replace(",", " ")
    # "next fri." / "dec. 3": a trailing dot on a word is punctuation, on "3.12." it is a date.
    return [t[:-1] if t.endswith(".") and t[:-1].isalpha() else t for t in text.split()]


class _Unread(Exception):
    """This reader does not understand the text (dateparser gets it)."""


_ONCE = frozenset({"day_offset", "weekday", "date", "clock", "part", "zone", "abbreviation", "offset"})


class _NotATime(Exception):
    """A token shaped like a clock time that no clock shows ("25pm", "14:75")."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


class _State:
    def __init__(self) -> None:
        self.r = Reading()
        self.after_at = False

    def set(self, **fields: object) -> None:
        for name in fields.keys() & _ONCE:
            if getattr(self.r, name) is not None:
                raise _Unread  # the same thing said twice: not a form this reader trusts
        if ("day_offset" in fields or "weekday" in fields or "date" in fields) and self.r.has_day:
            raise _Unread
        self.r = replace(self.r, **fields)  # type: ignore[arg-type]


def _number(tok: str) -> float | None:
    if _NUMBER.match(tok):
        return float(tok)
    return NUMBER_WORDS.get(tok)


def _duration(toks: list[str], i: int) -> tuple[timedelta, int, int, int]:
    """Read "2 hours and 30 minutes" / "1h30m" / "an hour and a half" at toks[i:].

    Returns (elapsed, days, months, tokens consumed); consumed == 0 when there is no duration.
    """
    elapsed, days, months, j = timedelta(0), 0, 0, i
    found = False
    last_unit = ""

    def add(amount: float, unit: str) -> None:
        nonlocal elapsed, days, months
        kind, scale = UNITS[unit]
        if amount * scale > _MAX_UNITS[kind]:
            # Far past any horizon, and big enough to overflow datetime arithmetic.
            raise TimeParseError(f"'{amount:g} {unit}' is too far ahead.", hint="Pick a time within a year.")
        if kind == "minutes":
            elapsed += timedelta(minutes=amount * scale)
        elif amount != int(amount):
            raise _Unread  # "1.5 days" is rare and ambiguous about the wall clock
        elif kind == "days":
            days += int(amount) * scale
        else:
            months += int(amount) * scale

    while j < len(toks):
        tok = toks[j]
        if found and tok == "and":
            if toks[j + 1 : j + 3] == ["a", "half"] and last_unit:
                add(0.5, last_unit)  # "an hour and a half"
                j += 3
                continue
            j += 1
            continue
        if _COMPACT_WHOLE.match(tok) and not _NUMBER.match(tok):
            parts = _COMPACT_DURATION.findall(tok)
            if not all(unit in UNITS for _, unit in parts):
                break
            for amount, unit in parts:
                add(float(amount), unit)
                last_unit = unit
            found, j = True, j + 1
            continue
        amount = _number(tok)
        if amount is None:
            break
        k = j + 1
        if tok == "half" and k < len(toks) and toks[k] in {"a", "an"}:
            k += 1  # "half an hour"
        elif tok in {"couple", "few"} and k < len(toks) and toks[k] == "of":
            k += 1
        if tok in {"a", "an"} and k < len(toks) and toks[k] in {"couple", "few"}:
            amount = NUMBER_WORDS[toks[k]]
            k += 1
            if k < len(toks) and toks[k] == "of":
                k += 1
        if toks[k : k + 3] == ["and", "a", "half"]:
            amount, k = amount + 0.5, k + 3  # "2 and a half hours"
        if k >= len(toks) or toks[k] not in UNITS:
            break
        add(amount, toks[k])
        last_unit = toks[k]
        found, j = True, k + 1
    if not found:
        return timedelta(0), 0, 0, 0
    if toks[j - 1] == "and":
        j -= 1
    return elapsed, days, months, j - i


_PAST_TO = {("half", "past"): 30, ("quarter", "past"): 15, ("quarter", "to"): -15}


def _spoken_clock_at(toks: list[str], i: int, st: _State) -> int:
    """ "half past six", "quarter to 9": an hour word read like a bare hour (24-hour unless told)."""
    offset = _PAST_TO.get((toks[i], toks[i + 1] if i + 1 < len(toks) else ""))
    if offset is None or i + 2 >= len(toks):
        return 0
    hour_tok = toks[i + 2]
    hour = int(hour_tok) if hour_tok.isdigit() else NUMBER_WORDS.get(hour_tok)
    if hour is None or hour != int(hour) or not 1 <= hour <= 12:
        return 0
    h, m = (int(hour), offset) if offset > 0 else (int(hour) - 1, 60 + offset)
    st.set(clock=Clock(h, m, None, bare=True))
    return 3


def _clock_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    if tok in {"half", "quarter"}:
        return _spoken_clock_at(toks, i, st)
    m = _CLOCK.match(tok)
    if m is None:
        hhmm = _HHMM.match(tok)
        # "1730" is a time; "2026" stays a year unless "at" says otherwise.
        if hhmm and (st.after_at or not _YEAR.match(tok)):
            st.set(clock=Clock(int(hhmm.group(1)), int(hhmm.group(2))))
            return 1
        hm = _H_CLOCK.match(tok)
        if hm and (hm.group(2) or int(hm.group(1)) >= 13 or st.after_at):
            hour, minute = int(hm.group(1)), int(hm.group(2) or 0)
            if hour > 23 or minute > 59:
                raise _NotATime(tok)
            st.set(clock=Clock(hour, minute))
            return 1
        return 0
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    meridiem = _MERIDIEM_WORDS.get(m.group(3) or "")
    used = 1
    if meridiem is None and i + 1 < len(toks) and toks[i + 1] in {"am", "pm"}:
        meridiem, used = toks[i + 1], 2
    if m.group(2) is None and meridiem is None:
        # A bare number is only a time when something says so: "at 6", "6 o'clock".
        if i + 1 < len(toks) and toks[i + 1] == "oclock":
            used = 2
        elif not st.after_at:
            return 0
    if "." in tok and meridiem is None:
        return 0  # "9.30" without am/pm: too close to a date to guess
    if meridiem is not None:
        if not 0 <= hour <= 12 or minute > 59:
            raise _NotATime(tok if used == 1 else f"{tok} {meridiem}")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    elif hour > 23 or minute > 59:
        if m.group(2) is None:
            return 0  # "25" may be a day of the month; dateparser can try
        raise _NotATime(tok)
    bare = m.group(2) is None and meridiem is None and 1 <= hour <= 11
    # "6 in the evening", "9 in the morning", "11 at night"
    rest = toks[i + used : i + used + 3]
    part: str | None = None
    if rest[:2] == ["in", "the"] and len(rest) == 3 and rest[2] in {"morning", "afternoon", "evening"}:
        part, used = rest[2], used + 3
    elif rest[:2] == ["at", "night"]:
        part, used = "night", used + 2
    if part is not None:
        if meridiem is None and part != "morning" and 1 <= hour <= 11:
            hour += 12
        meridiem, bare = ("am" if part == "morning" else "pm"), False
    st.set(clock=Clock(hour, minute, meridiem, bare))
    return used


def _day_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    nxt = toks[i + 1] if i + 1 < len(toks) else ""
    if tok in TODAY_WORDS:
        st.set(day_offset=0)
        return 1
    if tok in TOMORROW_WORDS:
        st.set(day_offset=1)
        return 1
    if tok == "day" and toks[i + 1 : i + 3] == ["after", "tomorrow"]:
        st.set(day_offset=2)
        return 3
    if tok == "tonight":
        st.set(day_offset=0, part="tonight")
        return 1
    if tok == "next" and nxt == "week" and i + 2 < len(toks) and toks[i + 2] in WEEKDAYS:
        st.set(weekday=WEEKDAYS[toks[i + 2]], weekday_mode="next_week")
        return 3
    if tok in {"next", "coming"} and nxt in WEEKDAYS:
        st.set(weekday=WEEKDAYS[nxt], weekday_mode="next")
        return 2
    if tok == "this" and nxt == "coming" and i + 2 < len(toks) and toks[i + 2] in WEEKDAYS:
        st.set(weekday=WEEKDAYS[toks[i + 2]], weekday_mode="this")
        return 3
    if tok == "this" and nxt in WEEKDAYS:
        st.set(weekday=WEEKDAYS[nxt], weekday_mode="this")
        return 2
    if tok == "this" and nxt in WORD_TIMES and nxt != "tonight":
        st.set(day_offset=0, part=nxt)
        return 2
    if tok in WEEKDAYS:
        if toks[i + 1 : i + 3] == ["next", "week"]:
            st.set(weekday=WEEKDAYS[tok], weekday_mode="next_week")
            return 3
        st.set(weekday=WEEKDAYS[tok])
        return 1
    return 0


def _year(tok: str) -> int | None:
    return int(tok) if _YEAR.match(tok) else None


def _calendar_at(toks: list[str], i: int, st: _State, user_tz: str) -> int:
    tok = toks[i]
    rest = toks[i + 1 :]
    if tok in MONTHS and rest:
        # "dec 3", "december 3rd 2026", "dec 3 at 9"
        dm = _DAY_OF_MONTH.match(rest[0])
        if dm is None:
            return 0
        used = 2
        year = _year(rest[1]) if len(rest) > 1 else None
        if year is not None:
            used = 3
        st.set(date=(year, MONTHS[tok], int(dm.group(1))))
        return used
    dm = _DAY_OF_MONTH.match(tok)
    if dm is not None and rest and (tok != dm.group(1) or rest[0] in MONTHS or rest[0] == "of"):
        # "3 dec", "3rd of december 2026"
        k = 1 if rest[0] == "of" else 0
        if k >= len(rest) or rest[k] not in MONTHS:
            return 0
        used = k + 2
        year = _year(rest[k + 1]) if len(rest) > k + 1 else None
        if year is not None:
            used += 1
        st.set(date=(year, MONTHS[rest[k]], int(dm.group(1))))
        return used
    m = _SLASH_DATE.match(tok)
    if m is not None:
        a, b = int(m.group(1)), int(m.group(2))
        month_first = user_tz.startswith("America/") or user_tz in {"US/Eastern", "US/Pacific"}
        month, day = (a, b) if month_first else (b, a)
        note = None
        if a <= 12 and b <= 12 and a != b:
            order = "month/day" if month_first else "day/month"
            note = f"{tok} read as {order}"
        y = m.group(3)
        year = None if y is None else (int(y) + 2000 if len(y) == 2 else int(y))
        st.set(date=(year, month, day), date_note=note)
        return 1
    m = _DOT_DATE.match(tok)
    if m is not None:
        y = m.group(3)
        st.set(date=(int(y) if y else None, int(m.group(2)), int(m.group(1))))
        return 1
    m = _ISO.match(tok)
    if m is not None:
        st.set(date=(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        if m.group(4) is not None:
            st.set(clock=Clock(int(m.group(4)), int(m.group(5))))
        zone = m.group(7)
        if zone == "z":
            st.set(zone="UTC")
        elif zone is not None:
            st.set(offset=parse_offset(zone))
        return 1
    return 0


def _zone_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    if tok in UTC_WORDS:
        if i + 1 < len(toks) and (off := parse_offset(toks[i + 1])) is not None:
            st.set(offset=off)
            return 2
        st.set(zone="UTC")
        return 1
    if is_abbreviation(tok):
        st.set(abbreviation=tok)
        return 2 if i + 1 < len(toks) and toks[i + 1] == "time" else 1
    name = iana_name(tok)
    if name is not None:
        st.set(zone=name)
        return 1
    if tok[0] in "+-" or tok.startswith(("utc", "gmt")):
        off = parse_offset(tok)
        if off is not None:
            st.set(offset=off)
            return 1
    return 0


def _relative_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    if tok == "in" or tok.startswith("+"):
        start = i + 1 if tok == "in" else i
        if tok.startswith("+"):
            toks = [*toks[:i], tok[1:], *toks[i + 1 :]]
        elapsed, days, months, n = _duration(toks, start)
        if n == 0:
            return 0
        used = start - i + n
    else:
        elapsed, days, months, n = _duration(toks, i)
        if n == 0:
            return 0
        tail = toks[i + n : i + n + 2]
        if tail == ["from", "now"] or tail == ["from", "today"]:
            used = n + 2
        elif tail[:1] == ["later"]:
            used = n + 1
        else:
            return 0
    if st.r.relative or st.r.has_day:
        raise _Unread
    st.set(relative=True, elapsed=elapsed, days=days, months=months)
    return used


def _part_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    if tok == "midnight":
        if st.r.midnight:
            raise _Unread
        st.set(midnight=True)
        return 1
    if tok in WORD_TIMES:
        if st.r.part is not None:
            if st.r.part == "tonight" and tok in {"night", "evening"}:
                return 1  # "tonight" already said it
            raise _Unread
        st.set(part=tok)
        return 1
    if tok == "end" and toks[i + 1 : i + 3] in (["of", "day"], ["of", "the"]):
        n = 3 if toks[i + 2] == "day" else (4 if toks[i + 3 : i + 4] == ["day"] else 0)
        if n:
            st.set(part="eod")
            return n
    if (
        tok == "in"
        and toks[i + 1 : i + 2] == ["the"]
        and toks[i + 2 : i + 3]
        in (
            ["morning"],
            ["afternoon"],
            ["evening"],
        )
    ):
        st.set(part=toks[i + 2])
        return 3
    if tok == "close" and toks[i + 1 : i + 3] == ["of", "business"]:
        st.set(part="eod")
        return 3
    return 0


@lru_cache(maxsize=8192)
def read(text: str, user_tz: str) -> Reading | None:
    """Read `text`, or None when it is not one of the forms this reader knows."""
    toks = _tokens(text)
    if not toks:
        return None
    st = _State()
    i = 0
    try:
        while i < len(toks):
            used = (
                _relative_at(toks, i, st)
                or _calendar_at(toks, i, st, user_tz)
                or _day_at(toks, i, st)
                or _part_at(toks, i, st)
                or _clock_at(toks, i, st)
                or _zone_at(toks, i, st)
            )
            if used:
                st.after_at = False
                i += used
                continue
            if toks[i] in FILLER:
                st.after_at = toks[i] in {"at", "@", "around", "about", "by"}
                i += 1
                continue
            return None
    except _Unread:
        return None
    except _NotATime as exc:
        raise TimeParseError(
            f"'{exc.token}' isn't a time of day.", hint="Write e.g. `6pm`, `18:00` or `9:30am`."
        ) from None
    r = st.r
    if not (r.relative or r.has_day or r.has_time):
        return None
    if r.relative and r.elapsed and (r.has_time or r.has_day):
        return None  # "in 2 hours at 5pm" contradicts itself
    return r
