"""Sandbox: everything postbot knows about it, in one place for the registry."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.platforms.sandbox import media, slots
from core.platforms.sandbox.publisher import SandboxPublisher
from core.platforms.sandbox.settings import SETTINGS
from core.platforms.spec import PlatformSpec
from core.publishers.base import Publisher


def build_publisher(settings: Settings, http: httpx.AsyncClient) -> Publisher:
    return SandboxPublisher(settings.platform_dir("sandbox"))


SPEC = PlatformSpec(
    platform=Platform.SANDBOX,
    label="Sandbox",
    aliases=("sandbox",),
    publisher=build_publisher,
    oauth=None,
    media=media.MEDIA,
    windows=slots.WINDOWS,
    cadence=slots.CADENCE,
    results=None,
    settings=SETTINGS,
    link_note=None,
    docs="docs/platforms.md#sandbox",
    options=(),
    api_versions=None,
    caps=(),
    short_option=None,
)
