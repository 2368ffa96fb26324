"""A fast, strict reader for the forms people type.

dateparser reads almost anything but costs about a millisecond per call and silently drops words
it does not know, so this reader reads every word itself: ISO, "in N units", "tomorrow 6pm",
"next fri at noon", "ten to noon", "second monday in may", "fri 4 dec 1745", "dec 3 9:30am PST".
Anything it cannot account for word by word returns None (see `scan` for the word it stopped at);
when.py then decides whether the dateparser fallback may try.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache

from core.errors import TimeParseError
from core.timeparse.reading import Clock, Reading
from core.timeparse.vocab import (
    CLOCK_CUES,
    CORRECTABLE,
    FILLER,
    HOUR_WORDS,
    MONTHS,
    NUMBER_WORDS,
    ORDINAL_TENS,
    ORDINAL_WORDS,
    QUALIFIED_PARTS,
    SPELLINGS,
    TENS,
    TODAY_WORDS,
    TOMORROW_WORDS,
    UNITS,
    WEEKDAYS,
    WORD_TIMES,
)
from core.timeparse.zones import UTC_WORDS, city_zone, iana_name, is_abbreviation, parse_offset

_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?(am|pm|a|p)?$")
_CLOCK_SECONDS = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(am|pm|a|p)?$")  # "14:05:30", "9:01:10am"
# "18.15h", "18:15h": the h only says it is the 24-hour clock.
_CLOCK_H_SUFFIX = re.compile(r"^\d{1,2}[.:]\d{2}h$")
# "445pm", "0930am", "845": hours and minutes run together.
_COMPACT_CLOCK = re.compile(r"^(\d{1,2})(\d{2})(am|pm|a|p)?$")
_HHMM = re.compile(r"^([01]\d|2[0-3])([0-5]\d)$")
# "14h", "18h30": the French/German way; "2h" alone stays a duration ("in 2h").
_H_CLOCK = re.compile(r"^(\d{1,2})h(\d{2})?$")
_DAY_OF_MONTH = re.compile(r"^(\d{1,2})(st|nd|rd|th)?$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$")
_DOT_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})?$")
_DOT_PAIR = re.compile(r"^(\d{1,2})\.(\d{1,2})$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:t(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(z|[+-]\d{2}:?\d{2})?)?$"
)
_COMPACT_DURATION = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
_COMPACT_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?[a-z]+)+$")
_HM_DURATION = re.compile(r"^(\d{1,2})h(\d{1,2})$")  # "in 2h30"
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_FRACTION = re.compile(r"^(\d+)/(\d+)$")
_FRACTION_UNIT = re.compile(r"^(\d+)/(\d+)([a-z]+)$")  # "in 1/2h"

_MAX_UNITS = {"minutes": 60 * 24 * 3660, "days": 3660, "months": 120}
_MERIDIEM_WORDS = {"am": "am", "pm": "pm", "a": "am", "p": "pm"}
_PUNCTUATION = str.maketrans(dict.fromkeys(',;!?()[]"', " "))
_WEEKDAY_PLURALS = {f"{name}s": day for name, day in WEEKDAYS.items() if len(name) > 3}
_SHIFT_WORDS = {"before": -1, "to": -1, "till": -1, "after": 1, "past": 1, "from": 1}
_PARTS_AFTER_CLOCK = frozenset({"tonight", "night", "morning", "afternoon", "evening"})
_NTH = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_NTH_DIGITS = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
_IN_HEDGES = frozenset({"around", "like", "just", "only"})
# "3 days hence", "15 minutes out", "2 hours later": elapsed from now.
_AND_A_PART: dict[tuple[str, ...], float] = {("a", "half"): 0.5, ("a", "quarter"): 0.25}
_FROM_NOW_TAILS = frozenset({"later", "hence", "out"})
# "next business day": the words after "next" that name the next Monday-to-Friday day.
_BUSINESS_DAY = (["weekday"], ["workday"], ["business", "day"], ["working", "day"], ["work", "day"])
_MERIDIEM_DOTS = re.compile(r"\b([ap])\.m\b\.?")
# "2½ hours", "in ½h": the fraction characters as the fractions the reader knows.
_VULGAR = {"\u00bd": " 1/2", "\u00bc": " 1/4", "\u00be": " 3/4"}
# After a 24-hour clock time, "hrs" / "hours" / "h" / "uhr" only say what it is ("18.15 hrs").
_CLOCK_SUFFIXES = (["h"], ["hrs"], ["hours"], ["uhr"])
_MIDDAY_SPLIT = re.compile(r"\bmid\s+(day|night)\b")  # "mid day" is midday


def _split(token: str) -> list[str]:
    """One typed token as the words it stands for ("six-thirty", "9ish", "noon-ish", "wed.")."""
    token = token.rstrip("'\u2019")  # "2 days' time"
    if token.endswith(".") and not _DOT_DATE.match(token):
        token = token.rstrip(".")
    if not token:
        return []
    token = SPELLINGS.get(token, token)
    if token.startswith("now+") and len(token) > 4:
        return ["now", *_split(token[3:])]  # "now+25min"
    if _CLOCK_H_SUFFIX.match(token):
        return [token[:-1].replace(".", ":")]  # a clock, never a day.month ("12.05h")
    if "-" in token[1:] and not _ISO.match(token) and not token.startswith(("utc", "gmt")):
        parts = token.split("-")
        if all(parts) and parts[-1] == "ish":
            return ["around", *(w for p in parts[:-1] for w in _split(p))]
        if all(p.isalpha() for p in parts):
            return [SPELLINGS.get(p, p) for p in parts]
    if token.endswith("ish") and len(token) > 3:
        stem = token[:-3]
        if stem in WORD_TIMES or stem in HOUR_WORDS or _CLOCK.match(stem):
            return ["around", stem]
    return [token]


def _tokens(text: str) -> list[str]:
    text = text.lower()
    if ".m" in text:
        text = _MERIDIEM_DOTS.sub(r"\1m", text)  # "p.m.", "p.m", "a.m."
    text = "".join(_VULGAR.get(c, c) for c in text) if not text.isascii() else text
    text = text.replace("o'clock", " oclock").replace("o\u2019clock", " oclock").replace("o clock", "oclock")
    text = text.replace("@", " at ").replace("~", " around ").translate(_PUNCTUATION)
    if "mid " in text:
        text = _MIDDAY_SPLIT.sub(r"mid\1", text)
    return [word for tok in text.split() for word in _split(tok)]


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance: one typo (a slip, a missing, extra or swapped letter) is 1."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=1024)
def _correct(token: str) -> str | None:
    """The one word a typo stands for ("thrusday" → "thursday"), or None."""
    if len(token) < 5 or not token.isalpha():
        return None
    limit = 2 if len(token) >= 7 else 1
    scored = sorted(
        (_distance(token, word), word) for word in CORRECTABLE if abs(len(word) - len(token)) <= limit
    )
    if not scored or scored[0][0] > limit:
        return None
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None  # two words as close: don't guess
    return scored[0][1]


class _Unread(Exception):
    """This reader does not understand the text."""


_ONCE = frozenset(
    {
        "day_offset",
        "weekday",
        "date",
        "day_of_month",
        "nth_weekday",
        "month_shift",
        "clock",
        "part",
        "zone",
        "abbreviation",
        "offset",
    }
)


class _NotATime(Exception):
    """A token shaped like a clock time that no clock shows ("25pm", "14:75")."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


class _State:
    def __init__(self) -> None:
        self.r = Reading()
        self.after_at = False  # the previous word says a bare number is an hour ("at 6")
        self.cue = False  # set by a handler: the next word is an hour ("ten to [noon]")
        self.notes: list[str] = []

    def set(self, **fields: object) -> None:
        for name in fields.keys() & _ONCE:
            old = getattr(self.r, name)
            if old is not None and old != fields[name]:
                raise _Unread  # two different things said for one slot: not a form to guess at
        self.r = replace(self.r, **fields)  # type: ignore[arg-type]


def _amount(toks: list[str], k: int) -> tuple[float, int] | None:
    """A number at toks[k] ("2", "1/4", "1 1/2", "a", "an", "a couple of", "forty five"): (value, tokens)."""
    if k >= len(toks):
        return None
    tok = toks[k]
    nxt = toks[k + 1] if k + 1 < len(toks) else ""
    if nxt == "quarters" and tok in {"three", "3"}:
        return 0.75, 2  # "in three quarters of an hour"
    if (f := _FRACTION.match(tok)) is not None:
        return (int(f.group(1)) / int(f.group(2)), 1) if int(f.group(2)) else None
    if _NUMBER.match(tok):
        f = _FRACTION.match(nxt)
        if f is not None and 0 < int(f.group(1)) < int(f.group(2)):
            return float(tok) + int(f.group(1)) / int(f.group(2)), 2  # "1 1/2 hours"
        return float(tok), 1
    if tok in {"a", "an"}:
        if nxt in {"couple", "few", "half", "quarter"}:
            return NUMBER_WORDS[nxt], 3 if toks[k + 2 : k + 3] == ["of"] else 2
        return 1.0, 1
    if tok in TENS and HOUR_WORDS.get(nxt, 10) < 10:
        return NUMBER_WORDS[tok] + HOUR_WORDS[nxt], 2
    if tok in NUMBER_WORDS:
        return NUMBER_WORDS[tok], 2 if tok in {"couple", "few"} and nxt == "of" else 1
    return None


def _duration(toks: list[str], i: int) -> tuple[timedelta, int, int, int]:
    """Read "2 hours and 30 minutes" / "1h30m" / "an hour and a half" / "3/4 of an hour" at toks[i:].

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
            days += int(amount * scale)
        else:
            months += int(amount * scale)

    while j < len(toks):
        tok = toks[j]
        if found and tok == "and":
            part = _AND_A_PART.get(tuple(toks[j + 1 : j + 3]))
            if part is not None and last_unit:
                add(part, last_unit)  # "an hour and a half", "an hour and a quarter"
                j += 3
                continue
            j += 1
            continue
        if (hm := _HM_DURATION.match(tok)) is not None:
            add(int(hm.group(1)), "h")
            add(int(hm.group(2)), "m")
            found, last_unit, j = True, "m", j + 1
            continue
        fu = _FRACTION_UNIT.match(tok)
        if fu is not None and fu.group(3) in UNITS and int(fu.group(2)):
            add(int(fu.group(1)) / int(fu.group(2)), fu.group(3))
            found, last_unit, j = True, fu.group(3), j + 1
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
        got = _amount(toks, j)
        if got is None:
            break
        amount, k = got[0], j + got[1]
        # "half an hour", "3/4 of an hour", "a quarter of an hour"
        while (
            toks[k : k + 1]
            and toks[k] in {"of", "an", "a"}
            and k + 1 < len(toks)
            and toks[k + 1] in {*UNITS, "an", "a"}
        ):
            k += 1
        if toks[k : k + 1] == ["and"] and (part := _AND_A_PART.get(tuple(toks[k + 1 : k + 3]))) is not None:
            amount, k = amount + part, k + 3  # "3 and a half hours"
        elif toks[k : k + 1] == ["and"] and (f := _FRACTION.match(toks[k + 1] if k + 1 < len(toks) else "")):
            if not 0 < int(f.group(1)) < int(f.group(2)):
                break
            amount, k = amount + int(f.group(1)) / int(f.group(2)), k + 2  # "1 and 1/2 hours"
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


def _relative_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    if tok == "now" or (tok == "next" and toks[i + 1 : i + 2] == ["hour"]):
        if tok == "next":
            # The top of the next hour, or an hour from now? Either is a fair reading: say which.
            elapsed, days, months, used = timedelta(hours=1), 0, 0, 2
            st.notes.append("'next hour' read as in 1 hour")
        else:
            # "now + 25 minutes", "now plus 2h", "now +25min"
            sign = toks[i + 1] if i + 1 < len(toks) else ""
            skip = 2 if sign in {"+", "plus"} else 1
            if sign not in {"+", "plus"} and not (sign.startswith("+") and len(sign) > 1):
                return 0
            rest = [*toks[: i + skip], *(t.removeprefix("+") for t in toks[i + skip :])]
            elapsed, days, months, n = _duration(rest, i + skip)
            if n == 0:
                return 0
            used = skip + n
    elif tok == "in" or tok.startswith("+"):
        start = i + 1 if tok == "in" else i
        if tok.startswith("+"):
            toks = [*toks[:i], tok[1:], *toks[i + 1 :]]
        while start < len(toks) and toks[start] in _IN_HEDGES:
            start += 1  # "in roughly 2 hours", "in like 10 min"
        elapsed, days, months, n = _duration(toks, start)
        if n == 0:
            got = _amount(toks, start) if tok == "in" and toks[start : start + 1] != ["a"] else None
            if got is not None and start + got[1] == len(toks):
                return _bare_in(got[0], st) + start - i + got[1] - 1
            return 0
        used = start - i + n
        if toks[i + used : i + used + 2] == ["from", "now"]:
            used += 2  # "in 5 hours from now"
        elif toks[i + used : i + used + 1] == ["time"]:
            used += 1  # "in 2 days time", "in 15 minutes' time"
    else:
        got = _amount(toks, i)
        if got is not None and got[0] == int(got[0]) and i + got[1] < len(toks):
            plural = toks[i + got[1]]
            if plural in _WEEKDAY_PLURALS and toks[i + got[1] + 1 : i + got[1] + 3] in (
                ["from", "now"],
                ["from", "today"],
            ):
                # "2 mondays from now": the second Monday after today
                st.set(weekday=_WEEKDAY_PLURALS[plural], weekday_mode="next", day_shift=7 * (int(got[0]) - 1))
                return got[1] + 3
        elapsed, days, months, n = _duration(toks, i)
        if n == 0:
            return 0
        tail = toks[i + n : i + n + 2]
        if tail == ["from", "now"] or tail == ["from", "today"]:
            used = n + 2
        elif tail[:1] and tail[0] in _FROM_NOW_TAILS:
            used = n + 1
        elif tail[:1] and tail[0] in _SHIFT_WORDS:
            return _shift(tail[0], elapsed, days, months, st) and n + 1
        elif tail[:1] and (tail[0] in TODAY_WORDS or tail[0] in TOMORROW_WORDS) and days and not elapsed:
            # British "a week today", "a fortnight tomorrow": that many days after the day named
            return _shift("after", elapsed, days, months, st) and n
        else:
            return 0
    if st.r.relative or st.r.has_day:
        raise _Unread
    st.set(relative=True, elapsed=elapsed, days=days, months=months)
    return used


def _bare_in(number: float, st: _State) -> int:
    """ "in 20": people mean minutes; said back so that a different meaning shows."""
    minutes = int(number)
    if minutes != number or not 5 <= minutes <= 120:
        raise TimeParseError(
            f"'in {number:g}': {number:g} what?", hint=f"Write `in {number:g} min` or `in {number:g} hours`."
        )
    if st.r.relative or st.r.has_day:
        raise _Unread
    st.set(relative=True, elapsed=timedelta(minutes=minutes))
    st.notes.append(f"in {minutes} read as {minutes} minutes")
    return 1


def _shift(word: str, elapsed: timedelta, days: int, months: int, st: _State) -> int:
    """ "3 days after tomorrow" shifts the day; "25 minutes before 3pm" shifts the clock."""
    sign = _SHIFT_WORDS[word]
    if months or (days and elapsed) or st.r.relative:
        raise _Unread
    if days:
        if word not in {"before", "after", "from"} or st.r.day_shift:
            raise _Unread
        st.set(day_shift=sign * days)
        return 1
    if word == "from" or st.r.clock_shift:
        raise _Unread
    st.set(clock_shift=sign * int(elapsed.total_seconds() // 60))
    st.cue = True
    return 1


def _spoken_shift_at(toks: list[str], i: int, st: _State) -> int:
    """ "ten to noon", "quarter past 9", "20 past seven", "half past four"; British "half nine"."""
    lead = 1 if toks[i] == "a" and toks[i + 1 : i + 2] == ["quarter"] else 0  # "a quarter past 2pm"
    tok = toks[i + lead]
    if tok == "half" and i + 1 < len(toks) and toks[i + 1] not in _SHIFT_WORDS:
        hour = _hour_number(toks[i + 1])
        if hour is None:
            return 0
        st.set(clock=Clock(hour, 30, None, bare=True))
        return 2
    if tok in {"quarter", "half"}:
        minutes, used = (15 if tok == "quarter" else 30), 1 + lead
    else:
        got = _amount(toks, i)
        if got is None or toks[i] in {"a", "an"}:
            return 0
        minutes, used = int(got[0]), got[1]
        if minutes != got[0] or not 1 <= minutes <= 59:
            return 0
    word = toks[i + used] if i + used < len(toks) else ""
    if word not in {"past", "to", "till", "after", "before"} or i + used + 1 >= len(toks):
        return 0
    nxt = toks[i + used + 1]
    if _hour_number(nxt) is None and nxt not in {"noon", "midday", "midnight"} and not _CLOCK.match(nxt):
        return 0
    if st.r.clock_shift:
        raise _Unread
    st.set(clock_shift=_SHIFT_WORDS[word] * minutes)
    st.cue = True
    if word in {"to", "till"} and tok.isdigit() and minutes <= 12:
        # "5 to 6pm" may be meant as a range from 5 to 6: say which reading was taken.
        st.notes.append(f"'{tok} {word} {nxt}' read as {minutes} minutes before {nxt}, not a range")
    return used + 1


def _hour_number(tok: str) -> int | None:
    if tok.isdigit() and 1 <= int(tok) <= 12:
        return int(tok)
    return HOUR_WORDS.get(tok)


def _minute_words(toks: list[str], k: int) -> tuple[int, int] | None:
    """Minutes said in words after an hour word: "fifteen", "thirty", "forty five", "oh five"."""
    tok = toks[k] if k < len(toks) else ""
    nxt = toks[k + 1] if k + 1 < len(toks) else ""
    if tok in {"oh", "o"} and HOUR_WORDS.get(nxt, 10) < 10:
        return HOUR_WORDS[nxt], 2
    if tok in TENS:
        unit = HOUR_WORDS.get(nxt, 10)
        return (int(NUMBER_WORDS[tok]) + unit, 2) if unit < 10 else (int(NUMBER_WORDS[tok]), 1)
    value = NUMBER_WORDS.get(tok)
    if value is not None and value == int(value) and 10 <= value <= 59:
        return int(value), 1
    return None


def _clock_context(toks: list[str], k: int, st: _State) -> bool:
    """Whether a bare number ending at toks[k-1] is an hour: "7 tomorrow evening", "tonight 9"."""
    nxt = toks[k] if k < len(toks) else ""
    if nxt in _PARTS_AFTER_CLOCK or nxt in TODAY_WORDS or nxt in TOMORROW_WORDS or nxt == "oclock":
        return True
    if nxt in WEEKDAYS or toks[k : k + 3] in (
        ["in", "the", "morning"],
        ["in", "the", "afternoon"],
        ["in", "the", "evening"],
    ):
        return True
    at_end = k == len(toks) or all(is_abbreviation(t) or t in UTC_WORDS for t in toks[k:])
    return at_end and (st.r.has_day or st.r.part is not None)


def _finish_clock(
    toks: list[str],
    i: int,
    used: int,
    st: _State,
    hour: int,
    minute: int | None,
    meridiem: str | None,
    shown: str,
    second: int = 0,
) -> int:
    """Set the clock read at toks[i:i+used], taking a following "pm" / "o'clock" / "in the morning"."""
    if meridiem is None and i + used < len(toks) and toks[i + used] in {"am", "pm"}:
        meridiem, used, shown = toks[i + used], used + 1, f"{shown} {toks[i + used]}"
    if minute is None and meridiem is None:
        # A bare number is only a time when something says so: "at 6", "6 o'clock", "8 tonight".
        if toks[i + used : i + used + 1] == ["oclock"]:
            used += 1
            if toks[i + used : i + used + 1] in (["am"], ["pm"]):  # "six o'clock pm"
                meridiem, used = toks[i + used], used + 1
        elif not (st.after_at or _clock_context(toks, i + used, st)):
            return 0
    m = minute or 0
    if meridiem is not None:
        if not 0 <= hour <= 12 or m > 59:
            raise _NotATime(shown)
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    elif hour > 23 or m > 59:
        if minute is None:
            return 0  # "25" may be a day of the month
        raise _NotATime(shown)
    bare = minute is None and meridiem is None and 1 <= hour <= 11
    if minute is not None and meridiem is None and toks[i + used : i + used + 1] in _CLOCK_SUFFIXES:
        used += 1  # "18.15 hrs", "1730 hours"
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
    st.set(clock=Clock(hour, m, meridiem, bare, second))
    return used


def _clock_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    if tok in HOUR_WORDS:
        minutes = _minute_words(toks, i + 1)
        if minutes is not None:
            return _finish_clock(toks, i, 1 + minutes[1], st, HOUR_WORDS[tok], minutes[0], None, tok)
        return _finish_clock(toks, i, 1, st, HOUR_WORDS[tok], None, None, tok)
    s = _CLOCK_SECONDS.match(tok)
    if s is not None:
        if int(s.group(3)) > 59:
            raise _NotATime(tok)
        meridiem = _MERIDIEM_WORDS.get(s.group(4) or "")
        return _finish_clock(toks, i, 1, st, int(s.group(1)), int(s.group(2)), meridiem, tok, int(s.group(3)))
    m = _CLOCK.match(tok)
    if m is not None:
        if "." in tok and m.group(3) is None and int(m.group(1)) > 23:
            return 0
        minute = int(m.group(2)) if m.group(2) is not None else None
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if minute is None and m.group(3) is None and len(nxt) == 2 and nxt.isdigit() and int(nxt) < 60:
            if int(m.group(1)) > 23 or not (st.after_at or st.r.has_day or st.r.part is not None):
                return 0
            used = _finish_clock(toks, i, 2, st, int(m.group(1)), int(nxt), None, f"{tok} {nxt}")
            clock = st.r.clock
            if clock is not None and clock.meridiem is None and 1 <= clock.hour <= 11:
                st.r = replace(st.r, clock=replace(clock, bare=True))  # say it was read as morning
            return used
        return _finish_clock(
            toks, i, 1, st, int(m.group(1)), minute, _MERIDIEM_WORDS.get(m.group(3) or ""), tok
        )
    c = _COMPACT_CLOCK.match(tok)
    if c is not None and (c.group(3) or len(tok) == 3):
        # "445pm", "0930am"; "845" only where a clock is expected ("845 in the morning", "at 930")
        hour, minute = int(c.group(1)), int(c.group(2))
        meridiem = _MERIDIEM_WORDS.get(c.group(3) or "")
        if meridiem is None and not (
            st.after_at
            or st.r.has_day
            or _clock_context(toks, i + 1, st)
            or toks[i + 1 : i + 2] in (["am"], ["pm"])
        ):
            return 0
        if minute > 59:
            raise _NotATime(tok)
        return _finish_clock(toks, i, 1, st, hour, minute, meridiem, tok)
    hhmm = _HHMM.match(tok)
    # "1730" is a time; "2026" stays a year unless "at" says otherwise.
    if hhmm and (st.after_at or not _YEAR.match(tok)):
        return _finish_clock(toks, i, 1, st, int(hhmm.group(1)), int(hhmm.group(2)), None, tok)
    hm = _H_CLOCK.match(tok)
    if hm and (hm.group(2) or int(hm.group(1)) >= 13 or st.after_at or st.r.has_day):
        hour, minute = int(hm.group(1)), int(hm.group(2) or 0)
        if hour > 23 or minute > 59:
            raise _NotATime(tok)
        st.set(clock=Clock(hour, minute))
        return 1
    return 0


_WEEK_PHRASES: dict[tuple[str, ...], str] = {
    ("this", "week"): "this_week",
    ("next", "week"): "next_week",
    ("of", "this", "week"): "this_week",
    ("of", "next", "week"): "next_week",
    ("of", "the", "week"): "this_week",
    ("of", "the", "next", "week"): "next_week",
    ("of", "the", "week", "after", "next"): "week_after_next",
    ("the", "week", "after", "next"): "week_after_next",
    ("week", "after", "next"): "week_after_next",
    ("following", "week"): "next_week",
    ("the", "following", "week"): "next_week",
    ("of", "the", "following", "week"): "next_week",
}


def _day_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    nxt = toks[i + 1] if i + 1 < len(toks) else ""
    if tok in TODAY_WORDS:
        st.set(day_offset=0)
        return 1
    if tok in TOMORROW_WORDS:
        st.set(day_offset=1)
        return 1
    if tok == "yesterday":
        st.set(day_offset=-1)
        return 1
    if tok == "day" and toks[i + 1 : i + 3] == ["after", "tomorrow"]:
        st.set(day_offset=2)
        return 3
    if tok in {"following", "next"} and nxt == "day":
        st.set(day_offset=1)
        return 2
    said = next((w for w in _BUSINESS_DAY if toks[i + 1 : i + 1 + len(w)] == w), None)
    if tok == "next" and said is not None:
        if st.r.business_day:
            raise _Unread
        st.set(business_day=True)
        return 1 + len(said)
    if tok == "following" and nxt in WEEKDAYS:
        st.set(weekday=WEEKDAYS[nxt], weekday_mode="following")
        return 2
    if tok == "tonight":
        st.set(day_offset=0, part="tonight")
        return 1
    if tok in {"next", "this", "following"} and nxt == "month":
        st.set(month_shift=0 if tok == "this" else 1)
        return 2
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
        if toks[i + 1 : i + 3] == ["after", "next"]:
            st.set(weekday=WEEKDAYS[tok], weekday_mode="next", day_shift=st.r.day_shift + 7)
            return 3
        for phrase, mode in sorted(_WEEK_PHRASES.items(), key=lambda kv: -len(kv[0])):
            if tuple(toks[i + 1 : i + 1 + len(phrase)]) == phrase:
                st.set(weekday=WEEKDAYS[tok], weekday_mode=mode)
                return 1 + len(phrase)
        st.set(weekday=WEEKDAYS[tok])
        return 1
    return 0


def _year(tok: str) -> int | None:
    return int(tok) if _YEAR.match(tok) else None


def _ordinal(toks: list[str], k: int) -> tuple[int, int, bool] | None:
    """A day of the month at toks[k]: (day, tokens, said as an ordinal ("3rd", "third"))."""
    tok = toks[k] if k < len(toks) else ""
    nxt = toks[k + 1] if k + 1 < len(toks) else ""
    if tok in ORDINAL_TENS and nxt in ORDINAL_WORDS and ORDINAL_WORDS[nxt] < 10:
        return ORDINAL_TENS[tok] + ORDINAL_WORDS[nxt], 2, True  # "twenty first"
    if tok in ORDINAL_WORDS:
        return ORDINAL_WORDS[tok], 1, True
    dm = _DAY_OF_MONTH.match(tok)
    if dm is not None:
        return int(dm.group(1)), 1, dm.group(2) is not None
    return None


_DAY_HINT = "Name one day, e.g. `the fourth last day of june 5pm` or `next weekday 9am`."


def _from_last(toks: list[str], i: int) -> tuple[int, int] | None:
    """ "last" (1), "second last" / "2nd to last" / "penultimate" / "next to last" (2), "fourth from
    last" (4) at toks[i]: (n, tokens up to and including "last")."""
    tok = toks[i]
    if tok == "last":
        return 1, 1
    if tok == "penultimate":
        return 2, 1
    if tok == "next" and toks[i + 1 : i + 3] == ["to", "last"]:
        return 2, 3
    got = _ordinal(toks, i)
    if got is None or not got[2] or not 2 <= got[0] <= 31:
        return None
    k = i + got[1] + (1 if toks[i + got[1] : i + got[1] + 1] in (["to"], ["from"]) else 0)
    return (got[0], k + 1 - i) if toks[k : k + 1] == ["last"] else None


def _month_spec(toks: list[str], k: int) -> tuple[int | None, int | None, int] | None:
    """After "of"/"in": a month name (with a year?), "the month", "this month", "next month".

    Returns (month, month_shift, tokens)."""
    if k < len(toks) and toks[k] in {"of", "in"}:
        k0, k = k, k + 1
    else:
        return None
    tok = toks[k] if k < len(toks) else ""
    nxt = toks[k + 1] if k + 1 < len(toks) else ""
    if tok in MONTHS:
        return MONTHS[tok], None, k + 1 - k0
    if tok in {"the", "this"} and nxt == "month":
        return None, 0, k + 2 - k0
    if tok == "next" and nxt == "month":
        return None, 1, k + 2 - k0
    return None


def _calendar_at(toks: list[str], i: int, st: _State, user_tz: str) -> int:
    tok = toks[i]
    rest = toks[i + 1 :]
    month_first = user_tz.startswith("America/") or user_tz in {"US/Eastern", "US/Pacific"}
    if tok in MONTHS and rest:
        # "dec 3", "december 3rd 2026", "jan first", "dec 3 at 9"
        got = _ordinal(toks, i + 1)
        if got is None or not 1 <= got[0] <= 31:
            return 0
        used = 1 + got[1]
        year = _year(toks[i + used]) if i + used < len(toks) else None
        if year is not None:
            used += 1
        st.set(date=(year, MONTHS[tok], got[0]))
        return used
    back = _from_last(toks, i) if tok == "penultimate" or "last" in toks[i : i + 3] else None
    if back is not None and toks[i + back[1] : i + back[1] + 1] == ["day"]:
        # "the last day of april", "last day of the month", "the fourth last day of june"
        spec = _month_spec(toks, i + back[1] + 1)
        if spec is None or st.r.last_day:
            return 0
        month, shift, n = spec
        used = back[1] + 1 + n
        st.set(last_day=True, days_before_last=back[0] - 1)
        if month is None:
            st.set(month_shift=shift)
            return used
        year = _year(toks[i + used]) if i + used < len(toks) else None
        st.set(date=(year, month, 0))
        return used + (year is not None)
    if back is not None and back[0] > 1 and i + back[1] < len(toks) and toks[i + back[1]] in WEEKDAYS:
        # "the second last friday of june": counted back from the month's last Friday
        spec = _month_spec(toks, i + back[1] + 1)
        if spec is None:
            return 0
        month, shift, n = spec
        st.set(nth_weekday=(-back[0], WEEKDAYS[toks[i + back[1]]], month))
        if shift is not None:
            st.set(month_shift=shift)
        return back[1] + 1 + n
    nth = _NTH.get(tok) or _NTH_DIGITS.get(tok)
    if nth is not None and rest and rest[0] in WEEKDAYS:
        # "second monday in may", "last thursday of the month", "the 3rd friday of next month"
        spec = _month_spec(toks, i + 2)
        if spec is None:
            return 0
        month, shift, n = spec
        st.set(nth_weekday=(nth, WEEKDAYS[rest[0]], month))
        if shift is not None:
            st.set(month_shift=shift)
        return 2 + n
    got = _ordinal(toks, i)
    if got is not None and 1 <= got[0] <= 31:
        day, n, said_ordinal = got
        if said_ordinal and toks[i + n : i + n + 1] == ["day"]:
            # "the second day of march", "the first day of next month"
            spec = _month_spec(toks, i + n + 1)
            if spec is None:
                return 0
            month, shift, spec_used = spec
            used = n + 1 + spec_used
            if month is None:
                st.set(day_of_month=day, month_shift=shift)
                return used
            year = _year(toks[i + used]) if i + used < len(toks) else None
            st.set(date=(year, month, day))
            return used + (year is not None)
        k = i + n + (1 if toks[i + n : i + n + 1] == ["of"] else 0)
        if k < len(toks) and toks[k] in MONTHS:
            # "3 dec", "3rd of december 2026", "the third of january"
            used = k + 1 - i
            year = _year(toks[k + 1]) if k + 1 < len(toks) else None
            if year is not None:
                used += 1
            st.set(date=(year, MONTHS[toks[k]], day))
            return used
        spec = _month_spec(toks, i + n)
        this_or_next = spec is not None and spec[0] is None
        if (said_ordinal and not (k < len(toks) and toks[k] in WEEKDAYS)) or this_or_next:
            # "the 3rd", "on the twelfth", "the 5th of next month", "14 of this month"
            st.set(day_of_month=day)
            if spec is not None and spec[0] is None:
                st.set(month_shift=spec[1])
                return n + spec[2]
            return n
    m = _SLASH_DATE.match(tok)
    if m is not None:
        a, b = int(m.group(1)), int(m.group(2))
        month, day = (a, b) if month_first else (b, a)
        note = None
        if a <= 12 and b <= 12 and a != b:
            order = "month/day" if month_first else "day/month"
            note = f"{tok} read as {order}"
        elif month > 12 and day <= 12:
            # "26/4" from a month/day zone (or "4/26" from a day/month one) can only be the other order
            month, day = day, month
            note = f"{tok} read as {'day/month' if month_first else 'month/day'}"
        y = m.group(3)
        year = None if y is None else (int(y) + 2000 if len(y) == 2 else int(y))
        st.set(date=(year, month, day), date_note=note)
        return 1
    m = _DOT_DATE.match(tok)
    if m is not None:
        y = m.group(3)
        st.set(date=(int(y) if y else None, int(m.group(2)), int(m.group(1))))
        return 1
    m = _DOT_PAIR.match(tok)
    if m is not None and not month_first and 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(1)) <= 31:
        # "12.05", "1.2": day.month, as written in Europe; "15.30" / "8.45" stay clock times.
        if toks[i + 1 : i + 2] in (["am"], ["pm"], *_CLOCK_SUFFIXES):
            return 0  # "12.05 pm", "12.05 hrs": a clock time
        note = f"{tok} read as day.month" if int(m.group(1)) <= 23 and len(m.group(2)) == 2 else None
        st.set(date=(None, int(m.group(2)), int(m.group(1))), date_note=note)
        return 1
    m = _ISO.match(tok)
    if m is not None:
        st.set(date=(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        if m.group(4) is not None:
            st.set(clock=Clock(int(m.group(4)), int(m.group(5)), second=int(m.group(6) or 0)))
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
    for words in (2, 1):
        name = city_zone(" ".join(toks[i : i + words]))
        if name is not None and len(toks[i : i + words]) == words:
            st.set(zone=name)
            return words + (1 if toks[i + words : i + words + 1] == ["time"] else 0)  # "london time"
    if tok[0] in "+-" or tok.startswith(("utc", "gmt")):
        off = parse_offset(tok)
        if off is not None:
            st.set(offset=off)
            return 1
    return 0


def _part_at(toks: list[str], i: int, st: _State) -> int:
    tok = toks[i]
    if tok in {"12", "twelve"} and toks[i + 1 : i + 2] in (["noon"], ["midday"], ["midnight"]):
        return _part_at(toks, i + 1, st) and 2  # "twelve noon", "12 midnight": the 12 only repeats it
    if tok == "midnight":
        if st.r.midnight:
            raise _Unread
        st.set(midnight=True)
        return 1
    if tok == "same" and toks[i + 1 : i + 2] == ["time"]:
        st.set(same_time=True)
        return 2
    qualified = f"{tok} {toks[i + 1]}" if tok in {"early", "late"} and i + 1 < len(toks) else ""
    used = 2
    if tok in {"early", "late"} and toks[i + 1 : i + 3] == ["in", "the"] and i + 3 < len(toks):
        qualified, used = f"{tok} {toks[i + 3]}", 4  # "late in the evening"
    elif (
        tok == "in"
        and toks[i + 1 : i + 2] == ["the"]
        and i + 3 < len(toks)
        and toks[i + 2] in {"early", "late"}
    ):
        qualified, used = f"{toks[i + 2]} {toks[i + 3]}", 4  # "in the late evening"
    if qualified in QUALIFIED_PARTS:
        # "late evening", "early morning"; "late evening @ 9" is then 21:00 (see resolve.py)
        if st.r.part is not None:
            raise _Unread
        st.set(part=qualified)
        return used
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
        and toks[i + 2 : i + 3] in (["morning"], ["afternoon"], ["evening"])
    ):
        st.set(part=toks[i + 2])
        return 3
    if tok == "close" and toks[i + 1 : i + 3] == ["of", "business"]:
        st.set(part="eod")
        return 3
    return 0


@dataclass(frozen=True)
class Scan:
    reading: Reading | None
    stuck: str | None = None  # the first word nothing could read, when that is why there is no reading
    read_before: bool = False  # whether words before `stuck` were read ("tomorrow blorp 6pm")


def _step(toks: list[str], i: int, st: _State, user_tz: str) -> int:
    return (
        _relative_at(toks, i, st)
        or _spoken_shift_at(toks, i, st)
        or _calendar_at(toks, i, st, user_tz)
        or _day_at(toks, i, st)
        or _part_at(toks, i, st)
        or _clock_at(toks, i, st)
        or _zone_at(toks, i, st)
    )


@lru_cache(maxsize=8192)
def scan(text: str, user_tz: str) -> Scan:
    """Read `text` word by word; say which word stopped the reading when one did."""
    toks = _tokens(text)
    if not toks:
        return Scan(None)
    st = _State()
    i = 0
    try:
        while i < len(toks):
            used = _step(toks, i, st, user_tz)
            if not used and toks[i] not in FILLER and (fixed := _correct(toks[i])) is not None:
                st.notes.append(f"read '{toks[i]}' as '{fixed}'")
                toks[i] = fixed
                used = _step(toks, i, st, user_tz)
            if used:
                st.after_at, st.cue = st.cue, False
                i += used
                continue
            if toks[i] in FILLER:
                st.after_at = toks[i] in CLOCK_CUES
                i += 1
                continue
            return Scan(None, toks[i], read_before=st.r != Reading())
    except _Unread:
        return Scan(None)
    except _NotATime as exc:
        raise TimeParseError(
            f"'{exc.token}' isn't a time of day.", hint="Write e.g. `6pm`, `18:00` or `9:30am`."
        ) from None
    r = replace(st.r, notes=tuple(st.notes))
    if not (r.relative or r.has_day or r.has_time):
        return Scan(None)
    if r.relative and r.elapsed and (r.has_time or r.has_day):
        return Scan(None)  # "in 2 hours at 5pm" contradicts itself
    if r.day_shift and not r.has_day:
        return Scan(None)  # "3 days after" what?
    if r.clock_shift and not (r.clock is not None or r.part is not None or r.midnight):
        return Scan(None)
    if r.day_of_month is not None and (r.last_day or r.nth_weekday is not None):
        # "the 3rd, the last day of june": two days of the month; reading either would be a guess.
        raise TimeParseError(f"'{text}' names two different days of the month.", hint=_DAY_HINT)
    if r.business_day and (r.day_offset is not None or r.weekday is not None or r.date is not None):
        raise TimeParseError(f"'{text}' names the next weekday and another day.", hint=_DAY_HINT)
    if r.month_shift is not None and r.day_of_month is None and r.nth_weekday is None and not r.last_day:
        return Scan(None)  # "next month" names a month, not a day
    return Scan(r, None)


def read(text: str, user_tz: str) -> Reading | None:
    """Read `text`, or None when it is not one of the forms this reader knows."""
    return scan(text, user_tz).reading
