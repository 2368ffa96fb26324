"""TikTok: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.spec import PlatformSpec
from core.platforms.tiktok import caps, media, options, slots
from core.platforms.tiktok.oauth import TikTokOAuth
from core.platforms.tiktok.publisher import DEFAULT_BASE_URL, TikTokPublisher
from core.platforms.tiktok.results import TikTokMetrics
from core.platforms.tiktok.settings import TikTokSettings
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    conf = settings.platforms.section("tiktok", TikTokSettings)
    return TikTokPublisher(
        http,
        base_url=conf.base_url or DEFAULT_BASE_URL,
        chunk_size=conf.chunk_size_bytes,
        pull_from_url_prefixes=conf.pull_from_url_prefixes,
    )


SPEC = PlatformSpec(
    platform=Platform.TIKTOK,
    label="TikTok",
    aliases=("tiktok", "tt"),
    publisher=build_publisher,
    oauth=TikTokOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=TikTokMetrics.from_settings,
    settings=TikTokSettings,
    link_note=None,
    docs="https://developers.tiktok.com/doc/content-posting-api-reference-direct-post",
    options=options.OPTIONS,
    api_versions=None,
    caps=caps.CAPS,
    short_option="privacy",
)
