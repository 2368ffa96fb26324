"""The shape of a platform's posting windows and cadence; each platform package holds its values
(``core/platforms/<name>/slots.py``) and core/slots/ ranks times with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = (MON, TUE, WED, THU, FRI)


@dataclass(frozen=True)
class Window:
    days: tuple[int, ...]
    start: int  # hour, inclusive
    end: int  # hour, exclusive
    weight: float
    label: str


@dataclass(frozen=True)
class Cadence:
    """Minimum spacing between two posts of one account, and posts per audience day."""

    min_gap: timedelta
    daily_cap: int
