"""When Facebook Page posts do best (audience-local windows) and how often to post there.

Source: Sprout Social's 2023 "Best times to post on social media" (engagement across its ~34k
customers' profiles, local time), as summarised by Social Media Today, 10 May 2023
(https://www.socialmediatoday.com/news/report-best-times-to-post-social-platforms-twitter-instagram-tiktok-facebook-pintrist-linkedin/650006/,
the study core/slots/priors.py cites for the other platforms): Facebook "Mondays from 8am to 1pm,
Tuesdays from 8 am to 2 pm, Wednesdays from 8 am to 1 pm, Thursdays from 8 am to noon", "mornings are
better ... weekdays perform better than weekends", and "Sundays are the worst days for engagement".
The study reads all Page posts, not Reels alone; the weights are postbot's ranking of its windows,
Friday and Saturday mornings a step below the named days and Sunday left to the baseline.
Cadence: at most two Page posts a day, three hours apart, as for the other feed-first platforms.
"""

from __future__ import annotations

from datetime import timedelta

from core.platforms.slots import FRI, MON, SAT, THU, TUE, WED, Cadence, Window

WINDOWS: tuple[Window, ...] = (
    Window((TUE,), 8, 14, 1.0, "Tuesday morning to early afternoon peak"),
    Window((MON, WED), 8, 13, 0.95, "Monday and Wednesday morning peak"),
    Window((THU,), 8, 12, 0.9, "Thursday morning peak"),
    Window((FRI,), 8, 12, 0.6, "Friday morning"),
    Window((MON, TUE, WED, THU, FRI), 13, 17, 0.45, "weekday afternoon"),
    Window((SAT,), 9, 12, 0.35, "Saturday morning"),
)

CADENCE = Cadence(timedelta(hours=3), 2)
