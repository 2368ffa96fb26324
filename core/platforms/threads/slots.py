"""When Threads posts do best (audience-local windows) and how often to post there.

Sources (read 2026-12-06 through the project's documentation search, which held no study of Threads
alone):
- Sprout Social's annual "best times to post" research (~2 billion engagements across 400,000
  profiles), as reported by Campaign Asia on 30 May 2024
  (https://www.campaignasia.com/article/engagement-grew-on-x-despite-controversy-research-finds/496329):
  "Tuesdays, Wednesdays and Thursdays are the best days to post on social media across all
  platforms, while Sunday is the worst day", and in the UK "Tuesday and Thursday between 9am and 2pm".
- Threads accounts are Instagram accounts and its feed mixes in people they follow there, so the
  Instagram windows' source (core/slots/priors.py: Sprout Social 2023, Instagram Mon 10-12, Tue 9-13,
  Wed 10-13, Fri 9-11) shapes the mornings here.
These are the weakest priors postbot has: a team's own results (core/slots/history.py) adjust them
once its Threads posts have metrics (results.py reads them).

Cadence: the API allows 250 posts a day (caps.py), far beyond what an audience wants; two hours
apart and four a day keeps one account's posts from crowding each other out of its followers' feeds.
"""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, SAT, THU, TUE, WED, WEEKDAYS, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE, WED, THU), 9, 14, 1.0, "midweek morning to early afternoon"),
    Window((MON,), 10, 12, 0.85, "Monday late morning"),
    Window((FRI,), 9, 11, 0.85, "Friday morning"),
    Window(WEEKDAYS, 14, 17, 0.55, "weekday afternoon"),
    Window(WEEKDAYS, 18, 21, 0.45, "weekday evening"),
    Window((SAT,), 10, 13, 0.35, "Saturday late morning"),
)

CADENCE = Cadence(timedelta(hours=2), 4)
