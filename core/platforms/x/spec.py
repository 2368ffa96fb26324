"""X: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.spec import PlatformSpec
from core.platforms.x import caps, media, slots
from core.platforms.x.oauth import XOAuth
from core.platforms.x.publisher import XPublisher
from core.platforms.x.results import XMetrics
from core.platforms.x.settings import SETTINGS
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    return XPublisher.from_settings(settings.platforms.for_platform("x"), http)


SPEC = PlatformSpec(
    platform=Platform.X,
    label="X",
    aliases=("x", "twitter", "tw"),
    publisher=build_publisher,
    oauth=XOAuth,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=XMetrics.from_settings,
    settings=SETTINGS,
    link_note=None,
    docs="https://docs.x.com/x-api/media/initialize-media-upload",
    options=(),
    api_versions=None,
    caps=caps.CAPS,
    short_option=None,
)
