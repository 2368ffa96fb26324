"""Facebook Pages: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.facebook import caps, media, options, slots, versions
from core.platforms.facebook.oauth import FacebookOAuth
from core.platforms.facebook.publisher import FacebookPublisher
from core.platforms.facebook.results import FacebookMetrics
from core.platforms.facebook.settings import SETTINGS
from core.platforms.spec import PlatformSpec
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    return FacebookPublisher.from_settings(settings.platforms.for_platform("facebook"), http)


SPEC = PlatformSpec(
    platform=Platform("facebook"),
    label="Facebook",
    aliases=("facebook", "fb"),
    publisher=build_publisher,
    oauth=FacebookOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=FacebookMetrics.from_settings,
    settings=SETTINGS,
    link_note=(
        "Each Page you chose in Facebook's dialog is its own account (facebook@<page> in a command); "
        "to add a Page later, link again and choose it too."
    ),
    docs="https://developers.facebook.com/docs/video-api/guides/reels-publishing",
    options=options.OPTIONS,
    api_versions=versions.VERSIONS,
    caps=caps.CAPS,
    short_option=None,
)
