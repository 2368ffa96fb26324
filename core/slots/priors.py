"""Per-platform engagement windows: when an audience is most likely to see and react to a post.

The windows are a coarse encoding (local time of the *audience*, by weekday) of published studies:
- Sprout Social, "Best times to post on social media" (2023 edition, engagement across ~34k
  customers' profiles; summarised in Social Media Today, 10 May 2023,
  https://www.socialmediatoday.com/news/report-best-times-to-post-social-platforms-twitter-instagram-tiktok-facebook-pintrist-linkedin/650006/):
  Instagram Mon 10-12, Tue 9-13, Wed 10-13, Fri 9-11, Sunday weakest; X/Twitter Tue-Fri 9-12;
  LinkedIn Tue-Wed 10-12 (Tue-Thu mornings good); TikTok midweek, afternoons and evenings
  (O'Dwyer's, 7 Jun 2023, "Midweek afternoons best post time for TikTok").
- YouTube is not in Sprout's study. Hootsuite's and SocialPilot's YouTube guides put uploads on
  weekday afternoons (about 14-17, so a video is indexed before evening viewing) and weekend late
  mornings; that is what the YouTube windows say. Treat them as the weakest of these priors.
A team's own results (history.py) adjust these once its posts have metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain import Platform

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = (MON, TUE, WED, THU, FRI)


@dataclass(frozen=True)
class Window:
    days: tuple[int, ...]
    start: int  # hour, inclusive
    end: int  # hour, exclusive
    weight: float
    label: str


WINDOWS: dict[Platform, tuple[Window, ...]] = {
    Platform.INSTAGRAM: (
        Window((TUE, WED), 10, 13, 1.0, "midweek late-morning peak"),
        Window((MON,), 10, 12, 0.9, "Monday late-morning peak"),
        Window((TUE,), 9, 10, 0.9, "Tuesday morning peak"),
        Window((FRI,), 9, 11, 0.9, "Friday morning peak"),
        Window((THU,), 10, 13, 0.8, "weekday late-morning window"),
        Window(WEEKDAYS, 13, 16, 0.6, "weekday early afternoon"),
        Window(WEEKDAYS, 18, 21, 0.5, "weekday evening"),
        Window((SAT,), 10, 13, 0.45, "weekend late morning"),
    ),
    Platform.X: (
        Window((TUE, WED, THU, FRI), 9, 12, 1.0, "weekday morning peak"),
        Window((MON,), 9, 12, 0.8, "Monday morning"),
        Window(WEEKDAYS, 12, 15, 0.65, "weekday midday"),
        Window(WEEKDAYS, 8, 9, 0.6, "weekday commute"),
        Window(WEEKDAYS, 17, 20, 0.45, "weekday evening"),
    ),
    Platform.LINKEDIN: (
        Window((TUE, WED), 10, 12, 1.0, "Tue/Wed late-morning peak"),
        Window((TUE, WED, THU), 8, 10, 0.85, "midweek working morning"),
        Window((THU,), 10, 12, 0.85, "Thursday late morning"),
        Window((TUE, WED, THU), 12, 15, 0.65, "midweek working afternoon"),
        Window((MON, FRI), 9, 12, 0.55, "working morning"),
    ),
    Platform.TIKTOK: (
        Window((TUE, WED, THU), 14, 18, 1.0, "midweek afternoon peak"),
        Window((TUE, WED, THU), 18, 22, 0.9, "midweek evening"),
        Window((MON, FRI), 14, 21, 0.75, "weekday afternoon/evening"),
        Window((SAT, SUN), 11, 21, 0.6, "weekend daytime"),
        Window(WEEKDAYS, 9, 14, 0.5, "weekday daytime"),
    ),
    Platform.YOUTUBE: (
        Window((THU, FRI), 14, 17, 1.0, "Thu/Fri afternoon, indexed before evening viewing"),
        Window((MON, TUE, WED), 14, 17, 0.85, "weekday afternoon, indexed before evening viewing"),
        Window((SAT, SUN), 9, 12, 0.8, "weekend late morning"),
        Window(WEEKDAYS, 12, 14, 0.6, "weekday midday"),
        Window(WEEKDAYS, 17, 20, 0.55, "weekday early evening"),
    ),
    # The sandbox publishes to a folder; ordinary working hours are as good a default as any.
    Platform.SANDBOX: (Window(WEEKDAYS, 9, 17, 1.0, "working hours"),),
}


def _baseline(hour: int) -> float:
    """Outside any documented window: awake hours are poor, the night is worst."""
    if 7 <= hour < 23:
        return 0.25
    return 0.05


def prior(platform: Platform, local: datetime) -> tuple[float, str | None]:
    """(weight 0..1, window label) for a post at this local wall time of an audience."""
    best: Window | None = None
    for window in WINDOWS[platform]:
        if local.weekday() in window.days and window.start <= local.hour < window.end:
            if best is None or window.weight > best.weight:
                best = window
    if best is None:
        return _baseline(local.hour), None
    return best.weight, best.label
