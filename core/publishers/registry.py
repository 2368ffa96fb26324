"""Which publisher handles which platform, built from the settings."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.errors import ConfigError
from core.publishers.base import Publisher
from core.publishers.sandbox import SandboxPublisher
from core.scheduler.retry import RetryPolicy


class PublisherRegistry:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._publishers: dict[Platform, Publisher] = _build_all(settings, http)

    def register(self, publisher: Publisher) -> None:
        self._publishers[publisher.platform] = publisher

    def get(self, platform: Platform) -> Publisher:
        try:
            return self._publishers[platform]
        except KeyError:
            raise ConfigError(f"no publisher configured for {platform.value}") from None

    def retry_policy(self, platform: Platform) -> RetryPolicy:
        base = self.settings.scheduler
        override = self.settings.platforms.for_platform(platform.value).max_attempts
        return RetryPolicy(
            max_attempts=override or base.max_attempts, base_s=base.backoff_base_s, max_s=base.backoff_max_s
        )


def _build_all(settings: Settings, http: httpx.AsyncClient) -> dict[Platform, Publisher]:
    from core.publishers.instagram import InstagramPublisher
    from core.publishers.linkedin import LinkedInPublisher
    from core.publishers.tiktok import DEFAULT_BASE_URL as TIKTOK_URL
    from core.publishers.tiktok import TikTokPublisher
    from core.publishers.x import XPublisher
    from core.publishers.youtube import DEFAULT_BASE_URL as YOUTUBE_URL
    from core.publishers.youtube import YouTubePublisher

    conf = settings.platforms
    publishers: list[Publisher] = [
        SandboxPublisher(settings.sandbox_dir),
        YouTubePublisher(
            http,
            base_url=conf.youtube.base_url or YOUTUBE_URL,
            upload_base_url=conf.youtube.upload_base_url,
            chunk_size=conf.youtube.chunk_size_bytes,
        ),
        TikTokPublisher(
            http, base_url=conf.tiktok.base_url or TIKTOK_URL, chunk_size=conf.tiktok.chunk_size_bytes
        ),
        InstagramPublisher.from_settings(conf.instagram, http),
        XPublisher.from_settings(conf.x, http),
        LinkedInPublisher.from_settings(conf.linkedin, http),
    ]
    return {p.platform: p for p in publishers}
