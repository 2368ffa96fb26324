"""The command grammar: `<when> <platforms> [caption]` (or `<platforms> [caption]` for /post).

A platform in the list may carry a value for its short option and an account handle:
``youtube:unlisted``, ``youtube@brand``, ``yt@brand:private``; only a token whose name is a platform
is read so. Options proper are ``--name value`` pairs at the very start or the very end of the command
(``take_flags``); ``--something`` in the middle of a caption stays caption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.domain import Platform, did_you_mean
from core.errors import PlatformParseError, TimeParseError
from core.platforms import registry
from core.platforms.registry import ALIASES as PLATFORM_ALIASES
from core.render import platform_example, platform_words
from core.timeparse.when import ParsedWhen, example, parse_when, place_text

PLATFORM_HELP = f"Use {platform_words(registry.infos(), last='or')}."
_JOINERS = frozenset({",", "&", "+", "and"})


@dataclass(frozen=True)
class Pick:
    """What a platform's entry in the list said beyond its name."""

    # The value of the platform's short option (``unlisted`` in ``youtube:unlisted``).
    value: str | None = None
    # The account handle (``brand`` in ``youtube@brand``).
    handle: str | None = None


@dataclass(frozen=True)
class ParsedCommand:
    when: ParsedWhen | None
    when_text: str
    platforms: tuple[Platform, ...]
    caption: str
    picks: dict[Platform, Pick] = field(default_factory=dict)


# name[@handle][:value]; the name must be a platform's, or the token is not part of the list.
_ENTRY = re.compile(r"([a-z0-9]+)(?:@@?([^\s,:@]{1,100}))?(?::([^\s,:@]{1,60}))?")


def _entry(part: str) -> tuple[str, str | None, str | None] | None:
    match = _ENTRY.fullmatch(part)
    if match is None or match.group(1) not in PLATFORM_ALIASES:
        return None
    return match.group(1), match.group(2), match.group(3)


def _names(token: str) -> list[str]:
    return [p for p in token.split(",") if p]


def _parts(token: str) -> list[str]:
    """The platform names of a list token, without handles or values ("yt@brand:private" → "yt")."""
    return [(e[0] if (e := _entry(p.lower())) else p.lower()) for p in _names(token)]


def _unknown_in_list(token: str) -> str | None:
    """The first unknown name in a comma list that also names a real platform ("yt,facebook")."""
    parts = _parts(token)
    if "," not in token or not any(p in PLATFORM_ALIASES for p in parts):
        return None
    return next((p for p in parts if p not in PLATFORM_ALIASES), None)


def _is_list(token: str) -> bool:
    parts = _parts(token)
    return bool(parts) and all(p in PLATFORM_ALIASES for p in parts)


def _platforms_at(tokens: list[str], i: int) -> tuple[tuple[Platform, ...], int, dict[Platform, Pick]]:
    """Platforms starting at tokens[i] ("yt,ig", "yt, ig", "yt , ig"); (platforms, tokens used, picks)."""
    names: list[str] = []
    picks: dict[Platform, Pick] = {}
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
            raise _unknown(unknown)
        if not _is_list(tok) or (names and not expect_more):
            break
        for part in _names(tok):
            entry = _entry(part.lower())
            assert entry is not None
            platform = PLATFORM_ALIASES[entry[0]]
            if entry[1] is not None or entry[2] is not None:
                # The handle keeps its case for messages; matching ignores it.
                handle = _entry_handle(part)
                earlier = picks.get(platform, Pick())
                picks[platform] = Pick(
                    value=entry[2] if entry[2] is not None else earlier.value,
                    handle=handle if handle is not None else earlier.handle,
                )
        names.extend(_parts(tok))
        expect_more = tok.endswith(",")
        j += 1
    seen: dict[Platform, None] = {}
    for name in names:
        seen.setdefault(PLATFORM_ALIASES[name], None)
    return tuple(seen), j - i, picks


def _unknown(word: str) -> PlatformParseError:
    return PlatformParseError(f"Unknown platform '{word}'.{did_you_mean(word)}", hint=PLATFORM_HELP)


def _entry_handle(part: str) -> str | None:
    match = _ENTRY.fullmatch(part.lower())
    if match is None or match.group(2) is None:
        return None
    return part[match.start(2) : match.end(2)]


def _no_platforms(tokens: list[str], tz: str, now: datetime, require_when: bool) -> PlatformParseError:
    """Explain a command with no platform: name the word that stood where the platform goes."""
    if not tokens:
        return PlatformParseError("Which platforms? None named.", hint=PLATFORM_HELP)
    if not require_when:
        return _unknown(tokens[0])
    # The longest leading run of words that reads as a time; the word after it was meant as a platform.
    for k in range(min(len(tokens), 8), 0, -1):
        try:
            placed = place_text(" ".join(tokens[:k]), tz, now)
        except TimeParseError:
            placed = None
        if placed is not None:
            if k == len(tokens):
                return PlatformParseError("Which platforms? None named.", hint=PLATFORM_HELP)
            return _unknown(tokens[k])
    example = f"tomorrow 6pm {platform_example(registry.infos())} Launch day"
    return PlatformParseError(
        "Which platforms? None named.",
        hint=f"Write `<when> <platforms> [caption]`, e.g. `{example}`. {PLATFORM_HELP}",
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
        platforms, used, picks = _platforms_at(tokens, i)
        if not platforms:
            continue
        when_text = " ".join(tokens[:i])
        caption = _caption(text, tokens, i + used)
        if not require_when:
            return ParsedCommand(when=None, when_text="", platforms=platforms, caption=caption, picks=picks)
        if not when_text:
            raise TimeParseError("When should this be posted? No time given.", hint=example(now))
        return ParsedCommand(
            when=parse_when(when_text, tz, now, horizon=horizon),
            when_text=when_text,
            platforms=platforms,
            caption=caption,
            picks=picks,
        )
    raise _no_platforms(tokens, tz, now, require_when)


def _caption(text: str, tokens: list[str], start: int) -> str:
    """The caption exactly as typed (line breaks and spacing kept) after the first `start` tokens."""
    pos = 0
    for tok in tokens[:start]:
        pos = text.index(tok, pos) + len(tok)
    return text[pos:].strip()


# ``--name value`` pairs. A value is one word, or a quoted text ("...", '...', “...”) for captions.
_FLAG = re.compile(r"--([a-z][a-z0-9-]{0,60})", re.IGNORECASE)
_TOKEN = re.compile(r"\"[^\"]*\"(?=\s|$)|'[^']*'(?=\s|$)|“[^”]*”(?=\s|$)|\S+")
_QUOTES = {'"': '"', "'": "'", "“": "”"}


@dataclass(frozen=True)
class Flags:
    """The options typed as ``--name value``, in order, with the text that is left."""

    text: str
    pairs: tuple[tuple[str, str], ...] = ()


def _unquote(token: str) -> str:
    if len(token) >= 2 and _QUOTES.get(token[0]) == token[-1]:
        return token[1:-1]
    return token


def take_flags(text: str) -> Flags:
    """Take the ``--name value`` pairs off the start and the end of a command.

    Only a run of complete pairs touching the start, or one reaching the very end, counts: "Launch
    -- live now" or "the --best day" keep their dashes, while "Launch --tags a,b" gives ``tags``. A
    name that is no option is refused later, with the options the chosen platforms take.
    """
    spans = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]

    def is_flag(k: int) -> bool:
        return k < len(spans) and _FLAG.fullmatch(spans[k][2]) is not None

    def pairs_from(k: int, stop: int) -> list[tuple[str, str]] | None:
        found = []
        while k < stop:
            if not is_flag(k) or k + 1 >= stop or is_flag(k + 1):
                return None
            found.append((spans[k][2][2:].lower(), _unquote(spans[k + 1][2])))
            k += 2
        return found

    lead: list[tuple[str, str]] = []
    k = 0
    while is_flag(k) and k + 1 < len(spans) and not is_flag(k + 1):
        lead.append((spans[k][2][2:].lower(), _unquote(spans[k + 1][2])))
        k += 2
    start = k
    end = len(spans)
    trail: list[tuple[str, str]] = []
    for i in range(start, len(spans)):
        if is_flag(i) and (found := pairs_from(i, len(spans))) is not None:
            trail, end = found, i
            break
    if not lead and not trail:
        return Flags(text=text)
    begin = spans[start][0] if start < len(spans) else len(text)
    finish = spans[end - 1][1] if end > start else begin
    return Flags(text=text[begin:finish].strip(), pairs=tuple(lead + trail))
