"""When Facebook Page posts do best (audience-local windows) and how often to post there.

Sources, read 6 Dec 2026: Sprout Social's "Best times to post on Facebook" (weekday mornings from 9
to noon, strongest Tuesday to Thursday; weekends weakest) and Hootsuite's "Best time to post on
Facebook" (weekday mornings 8 to 12, Tuesday and Wednesday strongest). Both read engagement across
their customers' Pages, not Reels alone; the weights are postbot's ranking of their windows.
Cadence: one or two posts a day is what both advise for Pages, so three hours apart and at most two.
"""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, SAT, SUN, THU, TUE, WED, WEEKDAYS, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE, WED), 9, 12, 1.0, "midweek morning peak"),
    Window((THU,), 9, 12, 0.9, "Thursday morning peak"),
    Window((MON, FRI), 9, 11, 0.8, "weekday morning"),
    Window(WEEKDAYS, 12, 14, 0.6, "weekday lunchtime"),
    Window(WEEKDAYS, 18, 20, 0.45, "weekday evening"),
    Window((SAT, SUN), 10, 12, 0.35, "weekend late morning"),
)

CADENCE = Cadence(timedelta(hours=3), 2)
