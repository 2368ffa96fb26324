"""Bluesky: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.bluesky import caps, media, options, slots
from core.platforms.bluesky.oauth import BlueskyOAuth
from core.platforms.bluesky.publisher import BlueskyPublisher
from core.platforms.bluesky.results import BlueskyMetrics
from core.platforms.bluesky.settings import SETTINGS
from core.platforms.spec import PlatformSpec
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    return BlueskyPublisher.from_settings(settings.platforms.for_platform("bluesky"), http)


SPEC = PlatformSpec(
    platform=Platform("bluesky"),
    label="Bluesky",
    aliases=("bluesky", "bsky"),
    publisher=build_publisher,
    oauth=BlueskyOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=BlueskyMetrics.from_settings,
    settings=SETTINGS,
    link_note=(
        "Bluesky-hosted accounts must have verified their email before they can post video, and "
        "Bluesky limits video uploads per account per day."
    ),
    docs="https://docs.bsky.app/docs/tutorials/video",
    options=options.OPTIONS,
    short_option=None,
    api_versions=None,
    caps=caps.CAPS,
)
