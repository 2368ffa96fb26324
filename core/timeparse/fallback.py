"""dateparser for everything the fast reader does not know ("a week from tomorrow", "3rd of next month")."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser

from core.errors import TimeParseError
from core.timeparse.resolve import Placed, localize
from core.timeparse.vocab import DEFAULT_TIME


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
    parse("a week from tomorrow", "UTC", datetime.now(UTC))


def parse(text: str, user_tz: str, now: datetime) -> Placed | None:
    zone = ZoneInfo(user_tz)
    # dateparser works on naive wall-clock times here; zoneinfo then attaches the zone, which gets
    # DST gaps and overlaps right (dateparser's own TIMEZONE handling does not report them).
    base = now.astimezone(zone).replace(tzinfo=None, microsecond=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = _parser(base, _date_order(user_tz)).get_date_data(text)
    found = data["date_obj"]
    if found is None:
        return None
    period = data["period"]
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
