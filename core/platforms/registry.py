"""Every platform postbot publishes to, one ``PlatformSpec`` each; every list of platforms in the
code (names, labels, aliases, help texts, Discord choices, web pages, config sections, publishers,
OAuth clients, media rules, slot priors, results readers) is derived from ``SPECS``.

Adding a platform: a package ``core/platforms/<name>/`` with its ``spec.py``, a line here and a
member of ``core.domain.Platform``; docs/platforms.md walks through it, and
tests/test_platform_registry.py fails until every part is there.
"""

from __future__ import annotations

from core.domain import Platform, PlatformInfo
from core.platforms import options
from core.platforms.instagram.spec import SPEC as INSTAGRAM
from core.platforms.linkedin.spec import SPEC as LINKEDIN
from core.platforms.media import Rules
from core.platforms.sandbox.spec import SPEC as SANDBOX
from core.platforms.spec import PlatformSpec
from core.platforms.tiktok.spec import SPEC as TIKTOK
from core.platforms.x.spec import SPEC as X
from core.platforms.youtube.spec import SPEC as YOUTUBE

# The order users see them in (help texts, pickers); the sandbox, which needs no account, last.
SPECS: tuple[PlatformSpec, ...] = (YOUTUBE, INSTAGRAM, X, LINKEDIN, TIKTOK, SANDBOX)

_BY_PLATFORM: dict[Platform, PlatformSpec] = {s.platform: s for s in SPECS}

# Every word a user may type for a platform ("yt", "twitter", ...), lower case.
ALIASES: dict[str, Platform] = {alias: s.platform for s in SPECS for alias in s.aliases}


def spec(platform: Platform) -> PlatformSpec:
    return _BY_PLATFORM[platform]


def by_alias(word: str) -> Platform | None:
    return ALIASES.get(word.strip().lower())


def media_rules(platform: Platform) -> Rules:
    return _BY_PLATFORM[platform].media


def infos() -> tuple[PlatformInfo, ...]:
    """The plain data the chat adapters and web pages show, in display order."""
    return tuple(
        PlatformInfo(
            platform=s.platform,
            name=s.name,
            label=s.label,
            aliases=s.aliases,
            linkable=s.linkable,
            requires_account=s.linkable,
            options=tuple(options.info(o) for o in s.options),
            short_option=short.flag if s.short_option and (short := s.option(s.short_option)) else None,
        )
        for s in SPECS
    )
