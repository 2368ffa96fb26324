"""Instagram: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.instagram import caps, media, options, slots, versions
from core.platforms.instagram.oauth import InstagramOAuth
from core.platforms.instagram.publisher import InstagramPublisher
from core.platforms.instagram.results import InstagramMetrics
from core.platforms.instagram.settings import SETTINGS
from core.platforms.spec import PlatformSpec
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    return InstagramPublisher.from_settings(settings.platforms.for_platform("instagram"), http)


SPEC = PlatformSpec(
    platform=Platform.INSTAGRAM,
    label="Instagram",
    aliases=("instagram", "ig", "insta"),
    publisher=build_publisher,
    oauth=InstagramOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=InstagramMetrics.from_settings,
    settings=SETTINGS,
    link_note=None,
    docs="https://developers.facebook.com/docs/instagram-platform/content-publishing",
    options=options.OPTIONS,
    api_versions=versions.VERSIONS,
    caps=caps.CAPS,
    short_option=None,
)
