"""Building each platform's OAuth client from the settings."""

from __future__ import annotations

import httpx

from core.config import Settings
from core.domain import Platform
from core.errors import UserError
from core.oauth.base import OAuthProvider
from core.oauth.endpoints import resolve
from core.oauth.providers.google import YouTubeOAuth
from core.oauth.providers.instagram import InstagramOAuth
from core.oauth.providers.linkedin import LinkedInOAuth
from core.oauth.providers.tiktok import TikTokOAuth
from core.oauth.providers.x import XOAuth

PROVIDERS: dict[Platform, type[OAuthProvider]] = {
    Platform.YOUTUBE: YouTubeOAuth,
    Platform.INSTAGRAM: InstagramOAuth,
    Platform.X: XOAuth,
    Platform.LINKEDIN: LinkedInOAuth,
    Platform.TIKTOK: TikTokOAuth,
}


class NotConfigured(UserError):
    pass


class OAuthClients:
    """One client per platform, built on first use and shared (they are stateless over ``http``)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._built: dict[Platform, OAuthProvider] = {}

    def linkable(self, platform: Platform) -> bool:
        return platform in PROVIDERS

    def get(self, platform: Platform) -> OAuthProvider:
        client = self._built.get(platform)
        if client is None:
            client = self._built[platform] = self._build(platform)
        return client

    def _build(self, platform: Platform) -> OAuthProvider:
        cls = PROVIDERS.get(platform)
        if cls is None:
            raise UserError(f"{platform.label} needs no account link.")
        conf = self.settings.platforms.for_platform(platform.value)
        secret = conf.client_secret.get_secret_value() if conf.client_secret else ""
        if not conf.client_id or not secret:
            env = f"POSTBOT_PLATFORMS__{platform.value.upper()}__CLIENT_SECRET"
            raise NotConfigured(
                f"{platform.label} linking isn't set up on this bot yet.",
                hint=f"The operator sets platforms.{platform.value}.client_id in the config and {env}.",
            )
        return cls(
            client_id=conf.client_id,
            client_secret=secret,
            endpoints=resolve(cls.defaults, conf),
            http=self.http,
            scopes=conf.oauth.scopes,
        )
