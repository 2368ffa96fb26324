"""YouTube through Google's OAuth 2.0 for web server applications."""

from __future__ import annotations

from typing import ClassVar

from core.domain import Platform
from core.oauth.base import OAuthProvider
from core.oauth.endpoints import Endpoints
from core.oauth.errors import OAuthError
from core.oauth.models import Profile, TokenSet


class YouTubeOAuth(OAuthProvider):
    platform = Platform.YOUTUBE
    defaults = Endpoints(
        authorize="https://accounts.google.com/o/oauth2/v2/auth",
        token="https://oauth2.googleapis.com/token",
        revoke="https://oauth2.googleapis.com/revoke",
        profile="https://www.googleapis.com/youtube/v3/channels",
    )
    default_scopes = (
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
    )
    # PKCE for a confidential web client too: Google accepts code_challenge/code_challenge_method on
    # the authorize request of web server apps and then requires the matching code_verifier at the
    # token endpoint (https://developers.google.com/identity/protocols/oauth2/web-server,
    # RFC 7636 §4). It stops a victim's code, pasted into another flow's callback, from being redeemed
    # there (issue 11 point 4).
    uses_pkce = True
    # "Redirect URIs must use the HTTPS scheme, not plain HTTP. Localhost URIs (including localhost
    # IP address URIs) are exempt from this rule."
    # (https://developers.google.com/identity/protocols/oauth2/web-server#uri-validation)
    loopback_redirect = True
    # offline + consent: Google only returns a refresh token when both are asked for.
    extra_authorize_params: ClassVar[dict[str, str]] = {
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }

    def revoke_form(self, token: str, hint: str) -> dict[str, str]:
        # Google's revoke takes the token alone; it revokes the whole grant.
        return {"token": token}

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        payload = await self._get_json(
            self.endpoints.profile,
            access_token=tokens.access_token,
            params={"part": "snippet", "mine": "true"},
        )
        items = payload.get("items") or []
        if not items:
            raise OAuthError("this Google account has no YouTube channel: create one, then link again")
        channel = items[0]
        snippet = channel.get("snippet") or {}
        title = str(snippet.get("title") or channel["id"])
        custom = snippet.get("customUrl")
        handle = str(custom) if custom else title
        return Profile(account_id=str(channel["id"]), display_name=title, handle=handle)
