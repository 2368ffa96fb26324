"""Smart slot suggestions: when to post, per platform, for this team's audience.

`suggest(session, team_id, platforms, now, tz, n=3, audience_timezones=...)` ranks the coming
week's half-hour slots by documented engagement windows (priors.py) in the audience's zones,
adjusted by the team's own published results (history.py), skipping slots that crowd what is
queued, exceed a daily cap or the YouTube Data API quota (occupancy.py, rules.py).
`best_common_slot(...)` picks one time free on every platform of a batch (`best`/`auto`).
"""

from core.slots.suggest import Slot, best_common_slot, suggest

__all__ = ["Slot", "best_common_slot", "suggest"]
