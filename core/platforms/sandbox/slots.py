"""When sandbox posts do best (audience-local windows, see core/slots/priors.py for the sources)
and how often to post there."""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import WEEKDAYS, Cadence, Window

# The sandbox publishes to a folder; ordinary working hours are as good a default as any.
WINDOWS: tuple[Window, ...] = (Window(WEEKDAYS, 9, 17, 1.0, "working hours"),)

CADENCE = Cadence(timedelta(minutes=30), 24)
