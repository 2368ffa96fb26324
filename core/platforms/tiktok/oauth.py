"""TikTok Login Kit for Web (OAuth v2): ``client_key`` instead of client_id, comma-separated scopes.

postbot links accounts through a web redirect, which is Login Kit for Web: its authorize request has
no code_challenge (https://developers.tiktok.com/doc/login-kit-web) and the token request's
code_verifier is "required for mobile and desktop app only"
(https://developers.tiktok.com/doc/oauth-user-access-token-management). The desktop flow's challenge
is a hex SHA-256, not RFC 7636's base64url, and TikTok refuses the latter, so sending RFC PKCE here
broke linking. The state parameter and the single-use link keep the flow bound to one browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.domain import Platform
from core.oauth.base import OAuthProvider, _after
from core.oauth.endpoints import Endpoints
from core.oauth.errors import OAuthError
from core.oauth.models import Profile, TokenSet


class TikTokOAuth(OAuthProvider):
    platform = Platform.TIKTOK
    defaults = Endpoints(
        authorize="https://www.tiktok.com/v2/auth/authorize/",
        token="https://open.tiktokapis.com/v2/oauth/token/",
        revoke="https://open.tiktokapis.com/v2/oauth/revoke/",
        profile="https://open.tiktokapis.com/v2/user/info/",
    )
    # video.list: results are read with /v2/video/query/ (core/platforms/tiktok/results.py).
    default_scopes = ("user.info.basic", "video.upload", "video.publish", "video.list")
    scope_separator = ","
    uses_pkce = False
    client_id_param = "client_key"
    # Login Kit for Web: "URIs must be absolute and begin with https"
    # (https://developers.tiktok.com/doc/login-kit-web, Configure redirect URI). Only Login Kit for
    # Desktop takes loopback hosts, and postbot speaks the web flow.
    loopback_redirect = False

    def parse_token(self, payload: Mapping[str, Any]) -> TokenSet:
        base = super().parse_token(payload)
        return TokenSet(
            access_token=base.access_token,
            refresh_token=base.refresh_token,
            expires_at=base.expires_at,
            refresh_expires_at=_after(self.clock(), payload.get("refresh_expires_in")),
            scope=base.scope,
            account_hint=str(payload["open_id"]) if payload.get("open_id") else None,
        )

    async def revoke(self, tokens: TokenSet) -> bool:
        # TikTok revokes with the user ACCESS token and disconnects the app; it has no refresh-token
        # revocation (https://developers.tiktok.com/doc/oauth-revoke-a-user-access-token). An
        # expired access token is refreshed first so that the revoke still reaches the grant.
        usable = tokens
        if tokens.expires_at is not None and tokens.expires_at <= self.clock() and tokens.refresh_token:
            try:
                usable = await self.refresh(tokens)
            except OAuthError:
                usable = tokens
        return await super().revoke(
            TokenSet(access_token=usable.access_token, refresh_token=None, expires_at=usable.expires_at)
        )

    def revoke_form(self, token: str, hint: str) -> dict[str, str]:
        return {"client_key": self.client_id, "client_secret": self._client_secret, "token": token}

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        payload = await self._get_json(
            self.endpoints.profile,
            access_token=tokens.access_token,
            params={"fields": "open_id,union_id,avatar_url,display_name"},
        )
        error = payload.get("error") or {}
        if error.get("code") not in (None, "ok"):
            raise OAuthError(
                f"TikTok refused the user info request ({error.get('code')})", error=str(error.get("code"))
            )
        user = (payload.get("data") or {}).get("user") or {}
        open_id = str(user.get("open_id") or tokens.account_hint or "")
        if not open_id:
            raise OAuthError("TikTok's user info named no account")
        name = str(user.get("display_name") or open_id)
        return Profile(account_id=open_id, display_name=name, handle=name)
