"""When x posts do best (audience-local windows, see core/slots/priors.py for the sources)
and how often to post there."""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, THU, TUE, WED, WEEKDAYS, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE, WED, THU, FRI), 9, 12, 1.0, "weekday morning peak"),
    Window((MON,), 9, 12, 0.8, "Monday morning"),
    Window(WEEKDAYS, 12, 15, 0.65, "weekday midday"),
    Window(WEEKDAYS, 8, 9, 0.6, "weekday commute"),
    Window(WEEKDAYS, 17, 20, 0.45, "weekday evening"),
)

CADENCE = Cadence(timedelta(minutes=45), 8)
