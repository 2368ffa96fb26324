"""When youtube posts do best (audience-local windows, see core/slots/priors.py for the sources)
and how often to post there."""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, SAT, SUN, THU, TUE, WED, WEEKDAYS, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((THU, FRI), 14, 17, 1.0, "Thu/Fri afternoon, indexed before evening viewing"),
    Window((MON, TUE, WED), 14, 17, 0.85, "weekday afternoon, indexed before evening viewing"),
    Window((SAT, SUN), 9, 12, 0.8, "weekend late morning"),
    Window(WEEKDAYS, 12, 14, 0.6, "weekday midday"),
    Window(WEEKDAYS, 17, 20, 0.55, "weekday early evening"),
)

# Audience fatigue, not the API: four hours apart fill a waking day with four. The project's upload
# quota (core/platforms/youtube/caps.py, shared by every team) is counted by core/slots/occupancy.py.
CADENCE = Cadence(timedelta(hours=4), 4)
