"""One publisher per platform of the registry, built from the settings."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.errors import ConfigError
from core.platforms.registry import SPECS
from core.publishers.base import HoldsConnections, Publisher
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

    async def aclose(self) -> None:
        for publisher in self._publishers.values():
            if isinstance(publisher, HoldsConnections):
                await publisher.aclose()

    def retry_policy(self, platform: Platform) -> RetryPolicy:
        base = self.settings.scheduler
        override = self.settings.platforms.for_platform(platform.value).max_attempts
        return RetryPolicy(
            max_attempts=override or base.max_attempts, base_s=base.backoff_base_s, max_s=base.backoff_max_s
        )


def _build_all(settings: Settings, http: httpx.AsyncClient) -> dict[Platform, Publisher]:
    return {spec.platform: spec.publisher(settings, http) for spec in SPECS}
