"""Finding the IANA zone a person means ("Berlin", "new york", "europe/berlin", "UTC")."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from core.errors import UserError

_EXAMPLE = "Use a city or an IANA zone, e.g. `Europe/Berlin`, `America/New_York` or `Tokyo`."


@lru_cache(maxsize=1)
def _by_key() -> dict[str, str]:
    """Every zone under its full name and under its city, in lower case with spaces for '_'."""
    names: dict[str, str] = {}
    cities: dict[str, list[str]] = {}
    for zone in available_timezones():
        if zone.startswith(("Etc/", "SystemV/")) or zone in ("localtime", "Factory"):
            continue
        names[_key(zone)] = zone
        cities.setdefault(_key(zone.rsplit("/", 1)[-1]), []).append(zone)
    for city, zones in cities.items():
        # A city name that two zones share (rare) must be given in full.
        if len(zones) == 1:
            names.setdefault(city, zones[0])
    names["utc"] = "UTC"
    return names


def _key(text: str) -> str:
    return text.strip().lower().replace("_", " ")


def resolve_zone(text: str) -> str:
    """The IANA name for ``text``, or a UserError saying what to type."""
    if not text.strip():
        raise UserError("Which time zone?", hint=_EXAMPLE)
    # The abbreviations the time reader knows ("9:30am PST") name a zone here too, before the legacy
    # fixed-offset IANA names "EST" and "MST", which would drop daylight saving time.
    from core.timeparse.zones import ABBREVIATIONS

    readings = ABBREVIATIONS.get(_key(text))
    zone = readings[0] if readings else _by_key().get(_key(text))
    if zone is None:
        raise UserError(f"I don't know the time zone '{text.strip()}'.", hint=_EXAMPLE)
    try:
        ZoneInfo(zone)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - the list came from zoneinfo itself
        raise UserError(f"I don't know the time zone '{text.strip()}'.", hint=_EXAMPLE) from exc
    return zone


def zone_choices(prefix: str, limit: int = 25) -> list[str]:
    """Zones whose name or city starts with ``prefix`` (for chat autocomplete)."""
    key = _key(prefix)
    found = sorted({z for k, z in _by_key().items() if k.startswith(key) or _key(z).startswith(key)})
    return found[:limit]
