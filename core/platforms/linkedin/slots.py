"""When linkedin posts do best (audience-local windows, see core/slots/priors.py for the sources)
and how often to post there."""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, THU, TUE, WED, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE, WED), 10, 12, 1.0, "Tue/Wed late-morning peak"),
    Window((TUE, WED, THU), 8, 10, 0.85, "midweek working morning"),
    Window((THU,), 10, 12, 0.85, "Thursday late morning"),
    Window((TUE, WED, THU), 12, 15, 0.65, "midweek working afternoon"),
    Window((MON, FRI), 9, 12, 0.55, "working morning"),
)

CADENCE = Cadence(timedelta(hours=12), 2)
