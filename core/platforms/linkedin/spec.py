"""LinkedIn: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.linkedin import caps, media, options, slots, versions
from core.platforms.linkedin.oauth import LinkedInOAuth
from core.platforms.linkedin.publisher import LinkedInPublisher
from core.platforms.linkedin.results import LinkedInMetrics
from core.platforms.linkedin.settings import LinkedInSettings
from core.platforms.spec import PlatformSpec
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    return LinkedInPublisher.from_settings(settings.platforms.section("linkedin", LinkedInSettings), http)


SPEC = PlatformSpec(
    platform=Platform.LINKEDIN,
    label="LinkedIn",
    aliases=("linkedin", "li"),
    publisher=build_publisher,
    oauth=LinkedInOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=LinkedInMetrics.from_settings,
    settings=LinkedInSettings,
    link_note=None,
    docs="https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api",
    options=options.OPTIONS,
    api_versions=versions.VERSIONS,
    caps=caps.CAPS,
    short_option="visibility",
)
