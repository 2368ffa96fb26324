"""Reading `<when> <platforms> [caption]` the way people type it.

First version by the lead; the time-parsing work (issue 8) owns and extends this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser

from core.domain import PLATFORM_ALIASES, Platform
from core.errors import PlatformParseError, TimeParseError

_EXAMPLE = "Try e.g. `tomorrow 6pm youtube,instagram My caption` or `in 2 hours x Launch!`."
_PLATFORM_HELP = "Use youtube (yt), instagram (ig), x (twitter), linkedin (li), tiktok (tt) or sandbox."


@dataclass(frozen=True)
class ParsedWhen:
    instant: datetime | None
    tz: str
    auto: bool = False
    note: str | None = None


@dataclass(frozen=True)
class ParsedCommand:
    when: ParsedWhen | None
    when_text: str
    platforms: tuple[Platform, ...]
    caption: str


def _platform_list(token: str) -> tuple[Platform, ...] | None:
    parts = [p for p in token.lower().split(",") if p]
    if not parts or any(p not in PLATFORM_ALIASES for p in parts):
        return None
    seen: dict[Platform, None] = {}
    for p in parts:
        seen.setdefault(PLATFORM_ALIASES[p], None)
    return tuple(seen)


def parse_when(
    text: str, tz: str, now: datetime, *, horizon: timedelta = timedelta(days=365)
) -> ParsedWhen:
    text = text.strip()
    if not text:
        raise TimeParseError("When should this be posted? No time given.", hint=_EXAMPLE)
    if text.lower() in {"best", "auto"}:
        return ParsedWhen(instant=None, tz=tz, auto=True)
    zone = ZoneInfo(tz)
    base = now.astimezone(zone).replace(tzinfo=None)
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "TIMEZONE": tz,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "RELATIVE_BASE": base,
        },
    )
    if parsed is None:
        raise TimeParseError(f"I couldn't read '{text}' as a time.", hint=_EXAMPLE)
    instant = parsed.astimezone(UTC)
    if instant <= now:
        raise TimeParseError(
            f"'{text}' is in the past ({parsed:%a %d %b %H:%M} {tz}).", hint=_EXAMPLE
        )
    if instant > now + horizon:
        raise TimeParseError(f"'{text}' is more than {horizon.days} days ahead.", hint=_EXAMPLE)
    return ParsedWhen(instant=instant, tz=tz)


def parse_command(
    text: str,
    tz: str,
    now: datetime,
    *,
    require_when: bool = True,
    horizon: timedelta = timedelta(days=365),
) -> ParsedCommand:
    tokens = text.split()
    for i, token in enumerate(tokens):
        platforms = _platform_list(token)
        if platforms is None:
            continue
        when_text = " ".join(tokens[:i])
        caption = " ".join(tokens[i + 1 :])
        if not require_when:
            if when_text:
                raise PlatformParseError(f"Unknown platform '{tokens[0]}'.", hint=_PLATFORM_HELP)
            return ParsedCommand(when=None, when_text="", platforms=platforms, caption=caption)
        return ParsedCommand(
            when=parse_when(when_text, tz, now, horizon=horizon),
            when_text=when_text,
            platforms=platforms,
            caption=caption,
        )
    bad = next((t for t in tokens if "," in t), None)
    if bad is not None:
        unknown = [p for p in bad.lower().split(",") if p and p not in PLATFORM_ALIASES]
        raise PlatformParseError(f"Unknown platform '{unknown[0]}'.", hint=_PLATFORM_HELP)
    raise PlatformParseError("Which platforms? None named.", hint=_PLATFORM_HELP)


def preview(text: str, tz: str, now: datetime) -> str:
    when = parse_when(text, tz, now)
    if when.auto or when.instant is None:
        return f"{text} → best suggested slot"
    local = when.instant.astimezone(ZoneInfo(tz))
    return f"{text} → {local:%a %d %b, %H:%M} {tz}"
