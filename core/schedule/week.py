"""Weekly slots placed on the calendar in a zone.

A slot is a wall-clock time: 18:00 every Monday is 17:00 UTC in Berlin's winter and 16:00 in its
summer. On the night clocks go forward a slot in the skipped hour (02:30) does not exist; it is
moved forward by the gap (03:30), as zoneinfo's fold=0 and postbot's time reader do, and the answer
says so. On the night clocks go back a slot in the repeated hour happens twice; it is used once, at
the first occurrence (still summer time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.timeparse.resolve import localize


@dataclass(frozen=True)
class Occurrence:
    at: datetime  # aware, UTC
    # Set when DST moved or doubled the wall-clock time ("02:30 doesn't exist on Sun 29 Mar …").
    note: str | None = None


def occurrences(
    slots: Iterable[tuple[int, int]], tz: str, after: datetime, until: datetime
) -> Iterator[Occurrence]:
    """The instants of weekly ``slots`` ((weekday, minute of the local day)) strictly after ``after``
    and up to ``until``, in order, each instant once."""
    by_day: dict[int, list[int]] = {}
    for weekday, minute in set(slots):
        by_day.setdefault(weekday, []).append(minute)
    if not by_day:
        return
    zone = ZoneInfo(tz)
    day = after.astimezone(zone).date() - timedelta(days=1)
    last = until.astimezone(zone).date() + timedelta(days=1)
    seen: set[datetime] = set()
    while day <= last:
        found = []
        for minute in sorted(by_day.get(day.weekday(), ())):
            naive = datetime.combine(day, time(minute // 60, minute % 60))
            local, note = localize(naive, zone)
            at = local.astimezone(UTC)
            if after < at <= until and at not in seen:
                seen.add(at)
                found.append(Occurrence(at, note))
        yield from sorted(found, key=lambda o: o.at)
        day += timedelta(days=1)
