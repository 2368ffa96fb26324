"""Weekly posting slots as people type them: ``mon,wed,fri 18:00 youtube``.

A slot is a weekday and a wall-clock time, read in the team's zone when it is placed on the calendar
(core/schedule/week.py), so 18:00 stays 18:00 across a DST change. The words may come in any order:
days (``mon``, ``mon-fri``, ``weekdays``, ``weekends``, ``daily``), times (``18:00``, ``6pm``,
``9:30am``, several with commas) and platforms (``youtube``, ``yt,ig``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.domain import Platform, did_you_mean
from core.errors import UserError
from core.platforms import registry
from core.platforms.registry import ALIASES as PLATFORM_ALIASES
from core.render import example_platform
from core.timeparse.vocab import WEEKDAYS

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EXAMPLE = f"e.g. /slots add mon,wed,fri 18:00 {example_platform(registry.infos())}"
_GROUPS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekday": tuple(range(5)),
    "weekends": (5, 6),
    "weekend": (5, 6),
}
_TIME = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?", re.ASCII)


@dataclass(frozen=True)
class WeeklySpec:
    """What ``slots add`` named: each day at each time on each platform is one slot."""

    days: tuple[int, ...]  # 0 = Monday
    minutes: tuple[int, ...]  # minutes after local midnight
    platforms: tuple[Platform, ...]


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day(word: str) -> tuple[int, ...] | None:
    if word in _GROUPS:
        return _GROUPS[word]
    plain = word[:-1] if word.endswith("s") and word[:-1] in WEEKDAYS else word
    if plain in WEEKDAYS:
        return (WEEKDAYS[plain],)
    first, dash, last = word.partition("-")
    if dash and first in WEEKDAYS and last in WEEKDAYS:
        start, end = WEEKDAYS[first], WEEKDAYS[last]
        # "fri-mon" wraps over the weekend.
        return tuple((start + i) % 7 for i in range((end - start) % 7 + 1))
    return None


def _time(word: str) -> int | None:
    match = _TIME.fullmatch(word)
    if match is None:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if match.group(2) is None and half is None:
        # A bare number is not a time here ("18" could be a date): ask for 18:00 or 6pm.
        return None
    if minute > 59 or (half is None and hour > 23) or (half is not None and not 1 <= hour <= 12):
        raise UserError(f"'{word}' is not a time of day.", hint="Write 18:00 or 6pm. " + EXAMPLE)
    if half == "am":
        hour %= 12
    elif half == "pm":
        hour = hour % 12 + 12
    return hour * 60 + minute


def parse_weekly(text: str) -> WeeklySpec:
    """``mon,wed,fri 18:00 youtube`` → the days, times and platforms named; a word that is none of
    them is refused, named, with an example."""
    days: dict[int, None] = {}
    minutes: dict[int, None] = {}
    platforms: dict[Platform, None] = {}
    # "6 pm" is one time: join a lone am/pm to the number before it.
    words = re.sub(r"(\d)\s+(am|pm)\b", r"\1\2", text.lower()).replace(",", " ").split()
    for word in words:
        if word in ("and", "&", "+", "at", "on", "every"):
            continue
        if (found := _day(word)) is not None:
            days.update(dict.fromkeys(found))
        elif (minute := _time(word)) is not None:
            minutes[minute] = None
        elif word in PLATFORM_ALIASES:
            platforms[PLATFORM_ALIASES[word]] = None
        else:
            raise UserError(
                f"'{word[:40]}' is not a day, a time or a platform.{did_you_mean(word)}", hint=EXAMPLE
            )
    missing = [
        name for name, seen in (("days", days), ("times", minutes), ("platforms", platforms)) if not seen
    ]
    if missing:
        raise UserError(f"Which {' and '.join(missing)}?", hint=EXAMPLE)
    return WeeklySpec(tuple(sorted(days)), tuple(sorted(minutes)), tuple(platforms))
