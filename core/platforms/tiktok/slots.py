"""When tiktok posts do best (audience-local windows, see core/slots/priors.py for the sources)
and how often to post there."""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, SAT, SUN, THU, TUE, WED, WEEKDAYS, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE, WED, THU), 14, 18, 1.0, "midweek afternoon peak"),
    Window((TUE, WED, THU), 18, 22, 0.9, "midweek evening"),
    Window((MON, FRI), 14, 21, 0.75, "weekday afternoon/evening"),
    Window((SAT, SUN), 11, 21, 0.6, "weekend daytime"),
    Window(WEEKDAYS, 9, 14, 0.5, "weekday daytime"),
)

CADENCE = Cadence(timedelta(hours=2), 4)
