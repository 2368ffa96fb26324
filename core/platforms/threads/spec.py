"""Threads: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.spec import PlatformSpec
from core.platforms.threads import caps, media, options, slots
from core.platforms.threads.oauth import ThreadsOAuth
from core.platforms.threads.publisher import ThreadsPublisher
from core.platforms.threads.results import ThreadsMetrics
from core.platforms.threads.settings import SETTINGS
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    return ThreadsPublisher.from_settings(settings.platforms.for_platform("threads"), http)


SPEC = PlatformSpec(
    platform=Platform.THREADS,
    label="Threads",
    aliases=("threads", "th"),
    publisher=build_publisher,
    oauth=ThreadsOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=ThreadsMetrics.from_settings,
    settings=SETTINGS,
    link_note=(
        "Threads downloads each video from postbot's web.public_url, so the web process must be "
        "reachable from the internet when a Threads post goes out."
    ),
    docs="https://developers.facebook.com/docs/threads/posts",
    options=options.OPTIONS,
    short_option="reply_control",
    # One version (v1.0) and no sunset published: see versions.py.
    api_versions=None,
    caps=caps.CAPS,
)
