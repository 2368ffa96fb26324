"""Time zones written in a command: IANA names, UTC offsets and (often ambiguous) abbreviations."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

# Abbreviation → candidate zones, most common reading first. When the user's own zone uses the
# abbreviation (a Chicago user's CST, a Dublin user's IST) that zone wins; otherwise the user's zone
# may point at a regional reading (AFFINITY); otherwise the first candidate. Ambiguous ones are
# always reported back to the user.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "pst": ("America/Los_Angeles",),
    "pdt": ("America/Los_Angeles",),
    "pt": ("America/Los_Angeles",),
    "mst": ("America/Denver", "America/Phoenix"),
    "mdt": ("America/Denver",),
    "mt": ("America/Denver",),
    "cst": ("America/Chicago", "Asia/Shanghai", "America/Havana"),
    "cdt": ("America/Chicago",),
    "ct": ("America/Chicago",),
    "est": ("America/New_York",),
    "edt": ("America/New_York",),
    "et": ("America/New_York",),
    "akst": ("America/Anchorage",),
    "akdt": ("America/Anchorage",),
    "hst": ("Pacific/Honolulu",),
    "ast": ("America/Halifax", "Asia/Riyadh"),
    "adt": ("America/Halifax",),
    "nst": ("America/St_Johns",),
    "ndt": ("America/St_Johns",),
    "bst": ("Europe/London", "Asia/Dhaka"),
    "ist": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "wet": ("Europe/Lisbon",),
    "west": ("Europe/Lisbon",),
    "cet": ("Europe/Paris",),
    "cest": ("Europe/Paris",),
    "met": ("Europe/Paris",),
    "eet": ("Europe/Athens",),
    "eest": ("Europe/Athens",),
    "msk": ("Europe/Moscow",),
    "gst": ("Asia/Dubai",),
    "pkt": ("Asia/Karachi",),
    "ict": ("Asia/Bangkok",),
    "wib": ("Asia/Jakarta",),
    "sgt": ("Asia/Singapore",),
    "hkt": ("Asia/Hong_Kong",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "awst": ("Australia/Perth",),
    "acst": ("Australia/Adelaide",),
    "acdt": ("Australia/Adelaide",),
    "aest": ("Australia/Sydney",),
    "aedt": ("Australia/Sydney",),
    "nzst": ("Pacific/Auckland",),
    "nzdt": ("Pacific/Auckland",),
    "brt": ("America/Sao_Paulo",),
    "art": ("America/Argentina/Buenos_Aires",),
    "sast": ("Africa/Johannesburg",),
    "wat": ("Africa/Lagos",),
    "cat": ("Africa/Maputo",),
    "eat": ("Africa/Nairobi",),
}

# Spelled-out regions people write after a time ("9am pacific").
REGION_WORDS: dict[str, str] = {
    "pacific": "pt",
    "mountain": "mt",
    "central": "ct",
    "eastern": "et",
}

UTC_WORDS = frozenset({"utc", "gmt", "z", "zulu"})

# User zones that point an ambiguous abbreviation at its non-default reading.
AFFINITY: dict[str, dict[str, str]] = {
    "cst": {
        "Asia/Shanghai": "Asia/Shanghai",
        "Asia/Chongqing": "Asia/Shanghai",
        "Asia/Harbin": "Asia/Shanghai",
        "Asia/Urumqi": "Asia/Shanghai",
        "Asia/Taipei": "Asia/Taipei",
        "Asia/Macau": "Asia/Macau",
        "Asia/Hong_Kong": "Asia/Shanghai",
        "America/Havana": "America/Havana",
    },
    "ast": dict.fromkeys(
        ("Asia/Riyadh", "Asia/Kuwait", "Asia/Baghdad", "Asia/Qatar", "Asia/Bahrain", "Asia/Aden"),
        "Asia/Riyadh",
    ),
    "bst": {"Asia/Dhaka": "Asia/Dhaka"},
    "ist": {"Asia/Tel_Aviv": "Asia/Jerusalem"},
    "mst": {"America/Phoenix": "America/Phoenix", "America/Hermosillo": "America/Phoenix"},
}

_OFFSET = re.compile(r"^(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d{2}))?$")


@lru_cache(maxsize=1)
def _iana_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def iana_name(token: str) -> str | None:
    """The canonical IANA name for a token like "europe/berlin", or None."""
    if "/" not in token:
        return None
    return _iana_by_lower().get(token.lower())


def parse_offset(token: str) -> timedelta | None:
    """ "+02:00", "-0530", "utc+2", "gmt-5" → the offset; None when it is not one."""
    m = _OFFSET.match(token)
    if m is None:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if m.group(1) == "-" else delta


@lru_cache(maxsize=512)
def _names_used(zone: str) -> frozenset[str]:
    """Abbreviations a zone shows in winter and summer (both hemispheres' seasons)."""
    tz = ZoneInfo(zone)
    year = datetime.now().year
    return frozenset((datetime(year, m, 1, 12, tzinfo=tz).tzname() or "").lower() for m in (1, 7))


def resolve_abbreviation(abbr: str, user_tz: str) -> tuple[str, bool]:
    """(IANA zone, ambiguous?) for an abbreviation, read in the light of the user's zone."""
    key = REGION_WORDS.get(abbr, abbr)
    candidates = ABBREVIATIONS[key]
    ambiguous = len(candidates) > 1
    if key in _names_used(user_tz):
        return user_tz, ambiguous
    preferred = AFFINITY.get(key, {}).get(user_tz)
    if preferred is not None:
        return preferred, ambiguous
    return candidates[0], ambiguous


# The tz database's areas; the legacy country folders (Brazil/, Canada/, Chile/, Mexico/) hold aliases named
# after directions and regions ("East", "Central", "Pacific"), which in chat are ordinary words.
_CITY_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)
# Zone names that people type as ordinary words, holidays or surnames: "christmas eve 6pm" is not 18:00 on
# Christmas Island, and "north"/"south"/"act" are Australian legacy aliases. Such a word is left unread, so
# the command is refused naming it instead of posting at a silently wrong time.
_NOT_CITIES = frozenset(
    {
        "act",
        "casey",
        "center",
        "christmas",
        "currie",
        "davis",
        "easter",
        "knox",
        "knox in",
        "lindeman",
        "midway",
        "north",
        "oral",
        "palmer",
        "regina",
        "reunion",
        "south",
        "stanley",
        "troll",
        "victoria",
        "virgin",
        "wake",
        "yancowinna",
    }
)


@lru_cache(maxsize=1)
def _zones_by_city() -> dict[str, str]:
    """ "london" → Europe/London, "new york" → America/New_York: a city that names one zone only."""
    seen: dict[str, list[str]] = {}
    for name in available_timezones():
        if name.startswith(_CITY_AREAS):
            seen.setdefault(name.rsplit("/", 1)[1].replace("_", " ").lower(), []).append(name)
    return {city: names[0] for city, names in seen.items() if len(names) == 1 and city not in _NOT_CITIES}


def city_zone(words: str) -> str | None:
    """The zone a city's name stands for ("london time", "9am tokyo"), or None."""
    return _zones_by_city().get(words)


def is_abbreviation(token: str) -> bool:
    return token in ABBREVIATIONS or token in REGION_WORDS


def season_mismatch(abbr: str, zone: str, on: date) -> str | None:
    """The abbreviation actually in effect when the user wrote the other one (PST in July → PDT)."""
    key = REGION_WORDS.get(abbr, abbr)
    if len(key) <= 2:  # "PT", "ET": season-neutral on purpose
        return None
    in_effect = (datetime(on.year, on.month, on.day, 12, tzinfo=ZoneInfo(zone)).tzname() or "").lower()
    if in_effect == key or not in_effect.isalpha():
        return None
    return in_effect.upper()
