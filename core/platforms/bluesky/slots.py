"""When Bluesky posts do best (audience-local windows) and how often to post there.

Sources (read 6 Dec 2026), both vendor summaries without published methods, so a weak prior:
- TheBlue.social, "Bluesky Post Formats: What Analytics Reveal" (23 Jul 2025,
  https://theblue.social/articles/bluesky-post-formats-what-analytics-reveal): peaks at 9-11,
  12-14 and 16-18.
- Mediafast, "Schedule Bluesky posts" (https://www.mediafa.st/schedule-bluesky-posts): weekdays
  8-10 and 12-13 (US Eastern), Tuesday and Wednesday strongest, Friday evenings and weekends weakest.
A team's own results (core/slots/history.py) soon count for more than these.
"""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import SAT, SUN, TUE, WED, WEEKDAYS, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE, WED), 9, 11, 1.0, "Tuesday/Wednesday morning"),
    Window(WEEKDAYS, 8, 11, 0.85, "weekday morning"),
    Window(WEEKDAYS, 12, 14, 0.75, "weekday midday"),
    Window(WEEKDAYS, 16, 18, 0.55, "weekday late afternoon"),
    Window((SAT, SUN), 10, 13, 0.3, "weekend late morning"),
)

# The Following feed is chronological: spaced posts don't bury each other in followers' feeds.
CADENCE = Cadence(timedelta(minutes=60), 6)
