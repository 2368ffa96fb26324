"""Publishing caps as data: how many posts a platform lets postbot publish, per what, per which window.

Each platform's spec lists the caps its documentation states (``PlatformSpec.caps``), each with the
page and the day it was read. Slot suggestions (core/slots/occupancy.py) keep clear of the
deployment-wide caps with a number, ``/status`` shows how much of them today's posts used, and the
fakes in tests/fakes enforce the same caps with the platform's own error. A cap whose number the
platform does not publish, or publishes in two ways, has ``limit=None`` and says where the number
comes from at publish time (Instagram's ``content_publishing_limit``) or which error tells it
(TikTok's ``spam_risk_too_many_posts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class CapScope(StrEnum):
    # The deployment's API project or app: every team of this postbot shares it.
    PROJECT = "project"
    # One linked account (a channel, a creator, a user).
    ACCOUNT = "account"


@dataclass(frozen=True)
class PublishingCap:
    scope: CapScope
    # How many per window; None: not published as one number (see ``note``).
    limit: int | None
    # What is counted ("videos.insert calls", "API-published posts").
    counts: str
    # A calendar day in ``zone`` when set (YouTube's quota day, midnight Pacific); else a rolling
    # ``window`` ending now.
    zone: str | None
    window: timedelta
    # The platform's own error when the cap is spent.
    error: str
    source: str
    read_on: date
    # What the number depends on, or where postbot reads it.
    note: str = ""
    # How people name ``zone`` ("Pacific time").
    zone_label: str = ""

    def day_start(self, now: datetime) -> datetime:
        """Where the window that holds ``now`` begins."""
        if self.zone is None:
            return now - self.window
        tz = ZoneInfo(self.zone)
        return datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)

    def period(self, at: datetime) -> date | None:
        """The calendar day (in ``zone``) a post at ``at`` counts against; None for rolling caps."""
        return at.astimezone(ZoneInfo(self.zone)).date() if self.zone else None

    @property
    def resets(self) -> str:
        if self.zone is None:
            hours = round(self.window.total_seconds() / 3600)
            return f"rolling {hours} h"
        return f"midnight {self.zone_label or self.zone}"

    def describe(self) -> str:
        amount = f"{self.limit:,}" if self.limit is not None else "a number the platform sets"
        per = "per project (every team)" if self.scope is CapScope.PROJECT else "per account"
        window = f"a day ({self.resets})" if self.zone else self.resets
        return f"{amount} {self.counts} {per} per {window}"


def project_day_cap(caps: tuple[PublishingCap, ...]) -> PublishingCap | None:
    """The deployment-wide cap with a number and a calendar day: what slot suggestions and
    ``/status`` count against."""
    return next(
        (c for c in caps if c.scope is CapScope.PROJECT and c.limit is not None and c.zone is not None),
        None,
    )
