"""What postbot must know about one platform: everything lives in that platform's package and is
gathered in one ``PlatformSpec`` that core/platforms/registry.py lists.

Every field is required (no defaults), so a platform that forgets a part fails at import and in
mypy; a platform that has no results reader or needs no OAuth says so with an explicit ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from core.config import PlatformSettings, Settings
from core.domain import Platform
from core.oauth.base import OAuthProvider
from core.platforms.caps import PublishingCap
from core.platforms.media import Rules
from core.platforms.options import Option
from core.platforms.results import MetricsReader
from core.platforms.slots import Cadence, Window
from core.platforms.versions import ApiVersions
from core.publishers.base import Publisher

PublisherFactory = Callable[[Settings, httpx.AsyncClient], Publisher]
ReaderFactory = Callable[[httpx.AsyncClient, PlatformSettings], MetricsReader]


@dataclass(frozen=True)
class PlatformSpec:
    platform: Platform
    label: str
    # Every word a user may type for it, its name first ("youtube", "yt").
    aliases: tuple[str, ...]
    publisher: PublisherFactory
    # None: the platform needs no linked account (the sandbox).
    oauth: type[OAuthProvider] | None
    media: Rules
    windows: tuple[Window, ...]
    cadence: Cadence
    # None: postbot cannot read this platform's results yet (slot suggestions use the priors only).
    results: ReaderFactory | None
    # The model of its [platforms.<name>] config section, with its defaults: ``SETTINGS`` of its
    # settings.py, where core/config.py reads it (a test checks the two agree).
    settings: type[PlatformSettings]
    # Where its API is documented (docs/platforms.md has the full table).
    docs: str
    # Told to the admin who links an account, when the platform has a catch worth knowing.
    link_note: str | None
    # What a post may say beyond its caption (core/platforms/options.py), in the order forms show them.
    options: tuple[Option, ...]
    # The key of the option ``<platform>:<value>`` sets in a command (``youtube:unlisted``); None: none.
    short_option: str | None
    # The API versions postbot may send and their sunset dates (core/platforms/versions.py); None:
    # the platform's API is not versioned by the caller with a sunset (a fixed path such as /v3).
    api_versions: ApiVersions | None
    # How many posts the platform lets postbot publish, per project or account and window, each
    # cited (core/platforms/caps.py); () when it documents none.
    caps: tuple[PublishingCap, ...]

    @property
    def name(self) -> str:
        return self.platform.value

    @property
    def linkable(self) -> bool:
        return self.oauth is not None

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)

    def option_by_flag(self, flag: str) -> Option | None:
        return next((o for o in self.options if o.flag == flag), None)
