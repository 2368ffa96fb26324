"""LinkedIn 3-legged OAuth with OpenID Connect userinfo for the member's identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.domain import Platform
from core.oauth.base import OAuthProvider, _after
from core.oauth.endpoints import Endpoints
from core.oauth.models import Profile, TokenSet


class LinkedInOAuth(OAuthProvider):
    # Refresh tokens go to approved partners only
    # (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens);
    # other apps get a 60-day access token and no refresh token, which is expiry, not revocation.
    platform = Platform.LINKEDIN
    defaults = Endpoints(
        authorize="https://www.linkedin.com/oauth/v2/authorization",
        token="https://www.linkedin.com/oauth/v2/accessToken",
        revoke="https://www.linkedin.com/oauth/v2/revoke",
        profile="https://api.linkedin.com/v2/userinfo",
    )
    default_scopes = ("openid", "profile", "w_member_social")
    # The redirect must be one of the app's "Authorized redirect URLs"
    # (https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow), whose
    # examples are all https; plain-http loopback is not documented, so postbot does not rely on it.
    loopback_redirect = False

    def parse_token(self, payload: Mapping[str, Any]) -> TokenSet:
        base = super().parse_token(payload)
        # refresh_token_expires_in counts from the first grant, not from this refresh.
        return TokenSet(
            access_token=base.access_token,
            refresh_token=base.refresh_token,
            expires_at=base.expires_at,
            refresh_expires_at=_after(self.clock(), payload.get("refresh_token_expires_in")),
            scope=base.scope,
        )

    def revoke_form(self, token: str, hint: str) -> dict[str, str]:
        return {"token": token, "client_id": self.client_id, "client_secret": self._client_secret}

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        info = await self._get_json(self.endpoints.profile, access_token=tokens.access_token)
        sub = str(info["sub"])
        name = str(
            info.get("name")
            or " ".join(filter(None, [info.get("given_name"), info.get("family_name")]))
            or sub
        )
        # Posts are authored by the member's URN, so that is the id publishers get.
        return Profile(account_id=f"urn:li:person:{sub}", display_name=name, handle=name)
