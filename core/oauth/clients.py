"""Building each platform's OAuth client from the settings.

The client classes live in their platform's package (core/platforms/<name>/oauth.py) and are found
through the registry; it is imported when first needed because those classes import core.oauth.
"""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.errors import NotConfigured, UserError
from core.oauth.base import OAuthProvider
from core.oauth.endpoints import resolve


class OAuthClients:
    """One client per platform, built on first use and shared (they are stateless over ``http``)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._built: dict[Platform, OAuthProvider] = {}

    def linkable(self, platform: Platform) -> bool:
        return _provider(platform) is not None

    def provider_class(self, platform: Platform) -> type[OAuthProvider]:
        """The platform's provider class (its documented rules), without building a client."""
        cls = _provider(platform)
        if cls is None:
            raise KeyError(platform)
        return cls

    def get(self, platform: Platform) -> OAuthProvider:
        client = self._built.get(platform)
        if client is None:
            client = self._built[platform] = self._build(platform)
        return client

    async def aclose(self) -> None:
        for client in self._built.values():
            await client.aclose()

    def _build(self, platform: Platform) -> OAuthProvider:
        cls = _provider(platform)
        if cls is None:
            raise UserError(f"{platform.label} needs no account link.")
        conf = self.settings.platforms.for_platform(platform.value)
        secret = conf.client_secret.get_secret_value() if conf.client_secret else ""
        if not conf.client_id or not secret:
            env = f"POSTBOT_PLATFORMS__{platform.value.upper()}__CLIENT_SECRET"
            raise NotConfigured(
                f"{platform.label} linking isn't set up on this bot yet.",
                hint=f"The operator sets platforms.{platform.value}.client_id in the config and {env}.",
                platform=platform,
            )
        return cls(
            client_id=conf.client_id,
            client_secret=secret,
            endpoints=resolve(cls.defaults_for(conf), conf),
            http=self.http,
            scopes=conf.oauth.scopes,
        )


def _provider(platform: Platform) -> type[OAuthProvider] | None:
    from core.platforms.registry import spec

    return spec(platform).oauth
