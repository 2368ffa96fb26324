"""X (Twitter) OAuth 2.0 Authorization Code with PKCE, as a confidential client."""

from __future__ import annotations

from core.domain import Platform
from core.oauth.base import OAuthProvider
from core.oauth.endpoints import Endpoints
from core.oauth.models import Profile, TokenSet


class XOAuth(OAuthProvider):
    platform = Platform.X
    defaults = Endpoints(
        authorize="https://x.com/i/oauth2/authorize",
        token="https://api.x.com/2/oauth2/token",
        revoke="https://api.x.com/2/oauth2/revoke",
        profile="https://api.x.com/2/users/me",
    )
    # offline.access is what makes X issue a refresh token at all.
    default_scopes = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
    uses_pkce = True
    client_auth = "basic"
    # "Don't use localhost as a callback URL. Instead of using localhost, please use a custom host
    # locally or http(s)://127.0.0.1" (https://docs.x.com/resources/fundamentals/developer-apps).
    loopback_redirect = True

    def is_dead_grant(self, error: str | None, *, grant: str, status: int) -> bool:
        # X answers a used, rotated-away or revoked refresh token with invalid_request, not invalid_grant.
        if grant == "refresh_token" and error == "invalid_request":
            return True
        return super().is_dead_grant(error, grant=grant, status=status)

    def revoke_form(self, token: str, hint: str) -> dict[str, str]:
        # Client credentials travel in the Basic header for confidential clients.
        return {"token": token, "token_type_hint": hint}

    async def revoke(self, tokens: TokenSet) -> bool:
        if self.endpoints.revoke is None:
            return False
        import base64

        raw = base64.b64encode(f"{self.client_id}:{self._client_secret}".encode()).decode()
        for token, hint in ((tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token")):
            if not token:
                continue
            response = await self._send(
                "POST",
                self.endpoints.revoke,
                data=self.revoke_form(token, hint),
                headers={"Authorization": f"Basic {raw}"},
            )
            if response.status_code >= 400:
                self._raise_for_error(response, self._json(response), grant="revoke")
        return True

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        payload = await self._get_json(self.endpoints.profile, access_token=tokens.access_token)
        user = payload["data"]
        username = str(user["username"])
        return Profile(
            account_id=str(user["id"]), display_name=str(user.get("name") or username), handle=f"@{username}"
        )
