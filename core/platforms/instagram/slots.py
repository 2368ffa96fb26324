"""When instagram posts do best (audience-local windows, see core/slots/priors.py for the sources)
and how often to post there."""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, SAT, THU, TUE, WED, WEEKDAYS, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE, WED), 10, 13, 1.0, "midweek late-morning peak"),
    Window((MON,), 10, 12, 0.9, "Monday late-morning peak"),
    Window((TUE,), 9, 10, 0.9, "Tuesday morning peak"),
    Window((FRI,), 9, 11, 0.9, "Friday morning peak"),
    Window((THU,), 10, 13, 0.8, "weekday late-morning window"),
    Window(WEEKDAYS, 13, 16, 0.6, "weekday early afternoon"),
    Window(WEEKDAYS, 18, 21, 0.5, "weekday evening"),
    Window((SAT,), 10, 13, 0.45, "weekend late morning"),
)

CADENCE = Cadence(timedelta(hours=3), 3)
