"""Where a team's audience lives: `audience_timezones` entries like "America/New_York" or
"Europe/Berlin=0.3" (a share; shares are normalised, a bare zone counts 1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError


@dataclass(frozen=True)
class AudienceZone:
    zone: str
    share: float

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


def parse_audience(entries: Sequence[str], fallback: str) -> tuple[AudienceZone, ...]:
    """The audience's zones with shares summing to 1; the user's own zone when none is configured."""
    raw: list[tuple[str, float]] = []
    for entry in entries:
        name, _, weight = entry.partition("=")
        name = name.strip()
        try:
            ZoneInfo(name)
            share = float(weight) if weight.strip() else 1.0
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"config error: audience_timezones: bad entry {entry!r}") from exc
        if share <= 0:
            raise ConfigError(f"config error: audience_timezones: share must be positive in {entry!r}")
        raw.append((name, share))
    if not raw:
        raw = [(fallback, 1.0)]
    total = sum(s for _, s in raw)
    return tuple(AudienceZone(z, s / total) for z, s in raw)
