"""The command grammar: `<when> <platforms> [caption]` (or `<platforms> [caption]` for /post)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain import Platform
from core.errors import PlatformParseError, TimeParseError
from core.platforms import registry
from core.platforms.registry import ALIASES as PLATFORM_ALIASES
from core.render import platform_words
from core.timeparse.when import EXAMPLE, ParsedWhen, parse_when, place_text

PLATFORM_HELP = f"Use {platform_words(registry.infos(), last='or')}."
_JOINERS = frozenset({",", "&", "+", "and"})


@dataclass(frozen=True)
class ParsedCommand:
    when: ParsedWhen | None
    when_text: str
    platforms: tuple[Platform, ...]
    caption: str


def _parts(token: str) -> list[str]:
    return [p for p in token.lower().split(",") if p]


def _unknown_in_list(token: str) -> str | None:
    """The first unknown name in a comma list that also names a real platform ("yt,facebook")."""
    parts = _parts(token)
    if "," not in token or not any(p in PLATFORM_ALIASES for p in parts):
        return None
    return next((p for p in parts if p not in PLATFORM_ALIASES), None)


def _is_list(token: str) -> bool:
    parts = _parts(token)
    return bool(parts) and all(p in PLATFORM_ALIASES for p in parts)


def _platforms_at(tokens: list[str], i: int) -> tuple[tuple[Platform, ...], int]:
    """Platforms starting at tokens[i] ("yt,ig", "yt, ig", "yt , ig"); (platforms, tokens used)."""
    names: list[str] = []
    j = i
    expect_more = False
    while j < len(tokens):
        tok = tokens[j]
        if tok in _JOINERS and names:
            # Only a joiner when another platform follows: "yt and friends" keeps "and" in the caption.
            if j + 1 < len(tokens) and _is_list(tokens[j + 1]):
                expect_more, j = True, j + 1
                continue
            break
        if (unknown := _unknown_in_list(tok)) is not None:
            raise PlatformParseError(f"Unknown platform '{unknown}'.", hint=PLATFORM_HELP)
        if not _is_list(tok) or (names and not expect_more):
            break
        names.extend(_parts(tok))
        expect_more = tok.endswith(",")
        j += 1
    seen: dict[Platform, None] = {}
    for name in names:
        seen.setdefault(PLATFORM_ALIASES[name], None)
    return tuple(seen), j - i


def _no_platforms(tokens: list[str], tz: str, now: datetime, require_when: bool) -> PlatformParseError:
    """Explain a command with no platform: name the word that stood where the platform goes."""
    if not tokens:
        return PlatformParseError("Which platforms? None named.", hint=PLATFORM_HELP)
    if not require_when:
        return PlatformParseError(f"Unknown platform '{tokens[0]}'.", hint=PLATFORM_HELP)
    # The longest leading run of words that reads as a time; the word after it was meant as a platform.
    for k in range(min(len(tokens), 8), 0, -1):
        try:
            placed = place_text(" ".join(tokens[:k]), tz, now)
        except TimeParseError:
            placed = None
        if placed is not None:
            if k == len(tokens):
                return PlatformParseError("Which platforms? None named.", hint=PLATFORM_HELP)
            return PlatformParseError(f"Unknown platform '{tokens[k]}'.", hint=PLATFORM_HELP)
    return PlatformParseError(
        "Which platforms? None named.",
        hint=f"Write `<when> <platforms> [caption]`, e.g. `tomorrow 6pm youtube,instagram Launch day`. "
        f"{PLATFORM_HELP}",
    )


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
        if not require_when and i > 0:
            break
        if not _is_list(token) and _unknown_in_list(token) is None:
            continue
        platforms, used = _platforms_at(tokens, i)
        if not platforms:
            continue
        when_text = " ".join(tokens[:i])
        caption = _caption(text, tokens, i + used)
        if not require_when:
            return ParsedCommand(when=None, when_text="", platforms=platforms, caption=caption)
        if not when_text:
            raise TimeParseError("When should this be posted? No time given.", hint=EXAMPLE)
        return ParsedCommand(
            when=parse_when(when_text, tz, now, horizon=horizon),
            when_text=when_text,
            platforms=platforms,
            caption=caption,
        )
    raise _no_platforms(tokens, tz, now, require_when)


def _caption(text: str, tokens: list[str], start: int) -> str:
    """The caption exactly as typed (line breaks and spacing kept) after the first `start` tokens."""
    pos = 0
    for tok in tokens[:start]:
        pos = text.index(tok, pos) + len(tok)
    return text[pos:].strip()
