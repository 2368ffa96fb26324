"""YouTube: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.spec import PlatformSpec
from core.platforms.youtube import caps, media, options, slots
from core.platforms.youtube.oauth import YouTubeOAuth
from core.platforms.youtube.publisher import DEFAULT_BASE_URL, YouTubePublisher
from core.platforms.youtube.results import YouTubeMetrics
from core.platforms.youtube.settings import YouTubeSettings
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    conf = settings.platforms.for_platform("youtube")
    return YouTubePublisher(
        http,
        base_url=conf.base_url or DEFAULT_BASE_URL,
        upload_base_url=conf.upload_base_url,
        chunk_size=conf.chunk_size_bytes,
    )


SPEC = PlatformSpec(
    platform=Platform.YOUTUBE,
    label="YouTube",
    aliases=("youtube", "yt"),
    publisher=build_publisher,
    oauth=YouTubeOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=YouTubeMetrics.from_settings,
    settings=YouTubeSettings,
    # https://developers.google.com/youtube/v3/docs/videos/insert (first note): until the operator's
    # Google project passes the API audit, every upload is locked private.
    link_note=(
        "If this bot's Google API project has not passed YouTube's API audit, YouTube keeps the "
        "videos it uploads private; the operator requests the audit at "
        "https://support.google.com/youtube/contact/yt_api_form."
    ),
    docs="https://developers.google.com/youtube/v3/docs/videos/insert",
    options=options.OPTIONS,
    api_versions=None,
    caps=caps.CAPS,
    short_option="privacy",
)
