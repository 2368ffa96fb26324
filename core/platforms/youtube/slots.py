"""When youtube posts do best (audience-local windows, see core/slots/priors.py for the sources)
and how often to post there."""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, SAT, SUN, THU, TUE, WED, WEEKDAYS, Cadence, Window

# YouTube Data API: a project has 10,000 units a day, reset at midnight Pacific Time, and
# videos.insert costs 1,600 units (https://developers.google.com/youtube/v3/determine_quota_cost).
# The quota belongs to the Google Cloud project — every team of this deployment shares it.
DAILY_UNITS = 10_000
UPLOAD_UNITS = 1_600
QUOTA_ZONE = "America/Los_Angeles"


def uploads_per_day(daily_units: int = DAILY_UNITS, cost: int = UPLOAD_UNITS) -> int:
    return daily_units // cost


WINDOWS: tuple[Window, ...] = (
    Window((THU, FRI), 14, 17, 1.0, "Thu/Fri afternoon, indexed before evening viewing"),
    Window((MON, TUE, WED), 14, 17, 0.85, "weekday afternoon, indexed before evening viewing"),
    Window((SAT, SUN), 9, 12, 0.8, "weekend late morning"),
    Window(WEEKDAYS, 12, 14, 0.6, "weekday midday"),
    Window(WEEKDAYS, 17, 20, 0.55, "weekday early evening"),
)

CADENCE = Cadence(timedelta(hours=4), uploads_per_day())
