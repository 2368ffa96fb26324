"""A channel's posting schedule: weekly slots per platform, and the next free one.

A slot is a weekday and a wall-clock time in the team's zone (week.py places them on the calendar,
DST gaps and repeats included); store.py keeps them per channel and claims a slot for a post so two
commands at once never take the same one (a unique key on the claim, not a read-then-write).
"""

from core.schedule.week import Occurrence, occurrences

__all__ = ["Occurrence", "occurrences"]
