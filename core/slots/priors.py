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
Each platform's windows live in core/platforms/<name>/slots.py; a team's own results (history.py)
adjust them once its posts have metrics.
"""

from __future__ import annotations

from datetime import datetime

from core.domain import Platform
from core.platforms.registry import spec
from core.platforms.slots import Window


def _baseline(hour: int) -> float:
    """Outside any documented window: awake hours are poor, the night is worst."""
    if 7 <= hour < 23:
        return 0.25
    return 0.05


def prior(platform: Platform, local: datetime) -> tuple[float, str | None]:
    """(weight 0..1, window label) for a post at this local wall time of an audience."""
    best: Window | None = None
    for window in spec(platform).windows:
        if local.weekday() in window.days and window.start <= local.hour < window.end:
            if best is None or window.weight > best.weight:
                best = window
    if best is None:
        return _baseline(local.hour), None
    return best.weight, best.label
