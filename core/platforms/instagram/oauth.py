"""Instagram API with Instagram Login (Business Login for Instagram).

Instagram issues no refresh token. The code buys a one-hour token, which is at once exchanged for a
60-day long-lived token; "refreshing" extends that long-lived token itself (ig_refresh_token). There
is no revoke endpoint: unlinking deletes the tokens on our side, and the user removes the app in
Instagram's settings to withdraw the grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.config import PlatformSettings
from core.domain import Platform
from core.oauth.endpoints import Endpoints
from core.oauth.errors import OAuthError
from core.oauth.graph import LongLivedGraphOAuth
from core.oauth.models import Profile, TokenSet
from core.platforms.instagram import versions

GRAPH = "https://graph.instagram.com"
GRAPH_VERSION = versions.DEFAULT


class InstagramOAuth(LongLivedGraphOAuth):
    platform = Platform.INSTAGRAM
    defaults = Endpoints(
        authorize="https://www.instagram.com/oauth/authorize",
        token="https://api.instagram.com/oauth/access_token",
        revoke=None,
        profile=f"{GRAPH}/{GRAPH_VERSION}/me",
    )
    # manage_insights: results are read from the Reel's insights (core/platforms/instagram/results.py).
    default_scopes = (
        "instagram_business_basic",
        "instagram_business_content_publish",
        "instagram_business_manage_insights",
    )
    scope_separator = ","
    # Graph's long-lived tokens (core/oauth/graph.py), with Instagram's own grants.
    exchange_grant = "ig_exchange_token"
    refresh_grant = "ig_refresh_token"
    # Business Login's redirect must exactly match a "Valid OAuth Redirect URI" of the app
    # (https://developers.facebook.com/docs/instagram-platform/reference/oauth-authorize), and Meta's
    # examples and app settings use https addresses only: no loopback is documented.
    loopback_redirect = False

    @classmethod
    def defaults_for(cls, settings: PlatformSettings) -> Endpoints:
        # The profile call is versioned like the publisher's (platforms.instagram.api_version).
        version = settings.api_version or GRAPH_VERSION
        return replace(cls.defaults, profile=f"{GRAPH}/{version}/me")

    @property
    def _graph(self) -> str:
        # The long-lived token endpoints sit at the root of the profile endpoint's host.
        return _origin(self.endpoints.profile)

    def error_code(self, payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
        # Two envelopes: {"error_type", "code", "error_message"} from api.instagram.com and
        # {"error": {"type", "code", "message"}} from graph.instagram.com.
        if "error_type" in payload and not isinstance(payload.get("error"), dict):
            return f"{payload['error_type']}:{payload.get('code')}", payload.get("error_message")
        # Graph's envelope (core/oauth/graph.py).
        return super().error_code(payload)

    def parse_token(self, payload: Mapping[str, Any]) -> TokenSet:
        # Business Login wraps the short-lived token in {"data": [...]}; the older shape is flat.
        data = payload.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            payload = data[0]
        base = super().parse_token(payload)
        user_id = payload.get("user_id")
        return TokenSet(
            access_token=base.access_token,
            expires_at=base.expires_at,
            scope=_permissions(payload.get("permissions")) or base.scope,
            account_hint=str(user_id) if user_id is not None else None,
        )

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        payload = await self._get_json(
            self.endpoints.profile,
            access_token=tokens.access_token,
            params={"fields": "user_id,username"},
        )
        account = payload.get("user_id") or payload.get("id") or tokens.account_hint
        if not account:
            raise OAuthError("Instagram's profile named no account")
        username = str(payload.get("username") or account)
        return Profile(account_id=str(account), display_name=username, handle=f"@{username}")


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _permissions(value: Any) -> str | None:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value) if value else None
