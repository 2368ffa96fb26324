"""Limits on how often postbot should post: platform caps and audience fatigue.

Each platform's cadence lives in core/platforms/<name>/slots.py, its documented publishing caps in
core/platforms/<name>/caps.py. Spacing keeps a second post from eating the first one's reach; the
caps a whole deployment shares (YouTube's uploads per project per Pacific day) are counted across
teams (core/slots/occupancy.py).
"""

from __future__ import annotations

from core.domain import Platform
from core.platforms.caps import PublishingCap, project_day_cap
from core.platforms.registry import SPECS
from core.platforms.slots import Cadence

CADENCE: dict[Platform, Cadence] = {s.platform: s.cadence for s in SPECS}
# Per platform, the deployment-wide cap per calendar day that slots keep within (None: none).
PROJECT_CAPS: dict[Platform, PublishingCap | None] = {s.platform: project_day_cap(s.caps) for s in SPECS}

__all__ = ["CADENCE", "PROJECT_CAPS", "Cadence"]
