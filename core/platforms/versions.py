"""API versions as data: which versions of a platform's API postbot speaks, and when each is sunset.

A platform whose API is versioned by the caller (LinkedIn's ``LinkedIn-Version`` header, Meta's
``/vNN.0/`` path) declares an ``ApiVersions`` table in its package, each row read from the platform's
own page on a stated date. Versions expire on a date, so a default that works today is an outage on
that date: ``check_versions`` says, for every versioned platform, whether the version this
deployment sends is supported, close to its sunset, or past it, and what to change. The operations
alerts (core/watch.py) and ``postbot doctor`` call it; tests/test_api_versions.py fails when a
default comes within ``DEFAULT_MARGIN_DAYS`` of its sunset, so it is bumped before the outage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from core.config import PlatformSettings

if TYPE_CHECKING:
    from core.config import PlatformsSettings
    from core.domain import Platform

# A default version must have at least this many days left (tests/test_api_versions.py).
DEFAULT_MARGIN_DAYS = 60


@dataclass(frozen=True)
class ApiVersion:
    name: str
    # The day the platform stops serving it; None: not announced yet on the source page.
    sunset: date | None


@dataclass(frozen=True)
class ApiVersions:
    """One platform's versions, newest first, as its documentation listed them on ``read_on``."""

    # What carries the version on the wire ("LinkedIn-Version header", "Graph API path").
    carrier: str
    # The setting that chooses it.
    setting: str
    default: str
    versions: tuple[ApiVersion, ...]
    # The page the sunset dates come from, and the day it was read.
    source: str
    read_on: date
    # The version a deployment sends given its settings (an explicit URL may carry its own).
    configured: Callable[[PlatformSettings], str]

    def __post_init__(self) -> None:
        if self.default not in {v.name for v in self.versions}:
            raise ValueError(f"default version {self.default} is not in its own table")

    def find(self, name: str) -> ApiVersion | None:
        return next((v for v in self.versions if v.name == name), None)

    def newest_dated(self) -> ApiVersion | None:
        """The newest version whose sunset date is published: the one to move to."""
        return next((v for v in self.versions if v.sunset is not None), None)


def configured_setting(conf: PlatformSettings, default: str) -> str:
    return conf.api_version or default


class VersionState(StrEnum):
    SUPPORTED = "supported"
    ENDING = "ending"  # within the warning window of its sunset
    PAST = "past"  # sunset: the platform refuses it (or silently serves another version)
    UNKNOWN = "unknown"  # not in postbot's table: newer than it, or a typo


@dataclass(frozen=True)
class VersionCheck:
    platform: Platform
    version: str
    state: VersionState
    sunset: date | None
    days_left: int | None
    # postbot's default, not an explicit setting: the fix is then a newer postbot (or the setting).
    is_default: bool
    # The deployment has an app for this platform (a client id) or chose its version on purpose.
    in_use: bool
    setting: str
    suggested: str | None
    source: str
    read_on: date

    @property
    def ok(self) -> bool:
        return self.state is VersionState.SUPPORTED

    def message(self) -> str:
        """One line for an operator: what is wrong and how to fix it."""
        label = self.platform.label
        if self.state is VersionState.SUPPORTED:
            when = f"until {self.sunset:%d %b %Y}" if self.sunset else "no sunset announced"
            return f"{label} API version {self.version} is supported ({when})."
        if self.state is VersionState.UNKNOWN:
            return (
                f"{label} API version {self.version} ({self.setting}) is not in postbot's table of "
                f"versions (read {self.read_on:%d %b %Y}); check it against {self.source}."
            )
        fix = f'set {self.setting} = "{self.suggested}"' if self.suggested else f"set {self.setting}"
        if self.is_default:
            fix += " (or upgrade postbot, whose default this is)"
        assert self.sunset is not None
        if self.state is VersionState.PAST:
            return (
                f"{label} API version {self.version} was sunset on {self.sunset:%d %b %Y}: {label} "
                f"refuses postbot's calls. Fix: {fix}. Source: {self.source}"
            )
        return (
            f"{label} API version {self.version} is sunset on {self.sunset:%d %b %Y}, in "
            f"{self.days_left} days; after that {label} posts fail. Fix: {fix}. Source: {self.source}"
        )


def check(
    platform: Platform, table: ApiVersions, conf: PlatformSettings, today: date, *, warn_days: int
) -> VersionCheck:
    version = table.configured(conf)
    row = table.find(version)
    sunset = row.sunset if row else None
    days_left = (sunset - today).days if sunset else None
    if row is None:
        state = VersionState.UNKNOWN
    elif days_left is not None and days_left <= 0:
        state = VersionState.PAST
    elif days_left is not None and days_left <= warn_days:
        state = VersionState.ENDING
    else:
        state = VersionState.SUPPORTED
    newest = table.newest_dated()
    suggested = newest.name if newest and newest.name != version else None
    return VersionCheck(
        platform=platform,
        version=version,
        state=state,
        sunset=sunset,
        days_left=days_left,
        is_default=conf.api_version is None and version == table.default,
        in_use=conf.client_id is not None or conf.api_version is not None,
        setting=table.setting,
        suggested=suggested,
        source=table.source,
        read_on=table.read_on,
    )


def check_versions(platforms: PlatformsSettings, today: date, *, warn_days: int = 30) -> list[VersionCheck]:
    """For every platform whose API is versioned: the version these settings send on ``today``, and
    whether it is supported, within ``warn_days`` of its sunset, past it, or unknown to postbot.

    Platforms in display order; read ``in_use`` to leave out platforms this deployment has no app for.
    """
    from core.platforms.registry import SPECS

    return [
        check(s.platform, s.api_versions, platforms.for_platform(s.name), today, warn_days=warn_days)
        for s in SPECS
        if s.api_versions is not None
    ]
