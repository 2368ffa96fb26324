"""Every platform postbot publishes to, and the only place outside a platform's own package that
names it. ``NAMES`` is the list; each name is a package ``core/platforms/<name>/`` whose ``spec.py``
holds a ``SPEC`` (a ``PlatformSpec``) and whose ``settings.py`` holds its config model. Everything
else that lists platforms is derived from here: the ``core.domain.Platform`` enum, the config's
``[platforms.<name>]`` sections, names, labels, aliases, help texts, Discord choices, web pages,
publishers, OAuth clients, media rules, slot priors, results readers.

Adding a platform: the package, and its name in ``NAMES`` (docs/platforms.md walks through it);
tests/test_platform_registry.py fails until every part is there, and when a module outside the
package names the platform in code.

The specs are imported on first use, not when this module is: ``core.domain`` reads ``NAMES`` to
build ``Platform``, and every spec imports ``Platform``.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.domain import Platform, PlatformInfo
    from core.platforms.media import Rules
    from core.platforms.spec import PlatformSpec

# One line per platform: the name users type, its package and its config section. The order is the
# one users see (help texts, pickers); the sandbox, which needs no account, last.
NAMES: tuple[str, ...] = (
    "youtube",
    "instagram",
    "x",
    "linkedin",
    "tiktok",
    "facebook",
    "bluesky",
    "threads",
    "sandbox",
)

# Built on first use (module __getattr__ below); declared here for the type checker.
SPECS: tuple[PlatformSpec, ...]
# Every word a user may type for a platform ("yt", "twitter", ...), lower case.
ALIASES: dict[str, Platform]


@functools.cache
def _specs() -> tuple[PlatformSpec, ...]:
    specs: tuple[PlatformSpec, ...] = tuple(
        importlib.import_module(f"core.platforms.{name}.spec").SPEC for name in NAMES
    )
    for name, s in zip(NAMES, specs, strict=True):
        if s.name != name:
            raise RuntimeError(f"core/platforms/{name}/spec.py describes {s.name!r}, not {name!r}")
    return specs


@functools.cache
def _by_platform() -> dict[Platform, PlatformSpec]:
    return {s.platform: s for s in _specs()}


@functools.cache
def _aliases() -> dict[str, Platform]:
    return {alias: s.platform for s in _specs() for alias in s.aliases}


def __getattr__(name: str) -> object:
    if name == "SPECS":
        return _specs()
    if name == "ALIASES":
        return _aliases()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def spec(platform: Platform) -> PlatformSpec:
    return _by_platform()[platform]


def by_alias(word: str) -> Platform | None:
    return _aliases().get(word.strip().lower())


def media_rules(platform: Platform) -> Rules:
    return _by_platform()[platform].media


def infos() -> tuple[PlatformInfo, ...]:
    """The plain data the chat adapters and web pages show, in display order."""
    from core.domain import PlatformInfo
    from core.platforms import options

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
        for s in _specs()
    )
