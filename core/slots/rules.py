"""Limits on how often postbot should post: platform quotas and audience fatigue.

Each platform's cadence lives in core/platforms/<name>/slots.py. Spacing keeps a second post from
eating the first one's reach. Instagram's own API cap is 50 API-published posts per rolling 24 h
(content_publishing_limit); the caps are far below it because followers tire long before that.
"""

from __future__ import annotations

from core.domain import Platform
from core.platforms.registry import SPECS
from core.platforms.slots import Cadence
from core.platforms.youtube.slots import QUOTA_ZONE as YOUTUBE_QUOTA_ZONE
from core.platforms.youtube.slots import uploads_per_day as youtube_uploads_per_day

CADENCE: dict[Platform, Cadence] = {s.platform: s.cadence for s in SPECS}

__all__ = ["CADENCE", "YOUTUBE_QUOTA_ZONE", "Cadence", "youtube_uploads_per_day"]
