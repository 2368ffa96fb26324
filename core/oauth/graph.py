"""OAuth against Meta's Graph API, as the platforms that link through it share it: Graph's error
envelope and its dead-token codes, and the long-lived token that is extended instead of refreshed.

Errors answer ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``; 190 (and 102,
463 expired, 467 invalid) is an access token that is dead (Handling Errors,
https://developers.facebook.com/docs/graph-api/guides/error-handling). A used or expired
authorization code is refused with HTTP 400.

Where no refresh token is issued, the code buys a one-hour token that is at once exchanged for a
60-day one (``GET /access_token?grant_type=<exchange grant>&client_secret=…&access_token=…``), and
"refreshing" extends that token itself (``GET /refresh_access_token?grant_type=<refresh grant>``): each
platform names its grants and its host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from core.oauth.base import OAuthProvider
from core.oauth.models import TokenSet

DEAD_TOKEN_CODES = frozenset({190, 102, 463, 467})


class GraphOAuth(OAuthProvider):
    """Graph's error envelope and dead grants."""

    def error_code(self, payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
        if isinstance(payload.get("error"), dict):
            err = payload["error"]
            return f"{err.get('type', 'OAuthException')}:{err.get('code')}", err.get("message")
        return super().error_code(payload)

    def is_dead_grant(self, error: str | None, *, grant: str, status: int) -> bool:
        if error and ":" in error:
            code = error.rsplit(":", 1)[1]
            if code.isdigit() and int(code) in DEAD_TOKEN_CODES:
                return True
            # A used or expired authorization code.
            if grant == "authorization_code" and status == 400:
                return True
        return super().is_dead_grant(error, grant=grant, status=status)


class LongLivedGraphOAuth(GraphOAuth):
    """A short-lived token exchanged at once for a long-lived one, which refreshing extends. The
    platform names the two grants and where the token endpoints sit (``_graph``)."""

    exchange_grant: ClassVar[str]
    refresh_grant: ClassVar[str]
    refreshes_access_token = True

    @property
    def _graph(self) -> str:
        """The host (scheme and authority) the long-lived token endpoints sit at the root of."""
        raise NotImplementedError

    def _granted_scope(self, short: TokenSet) -> str | None:
        """The scopes the link keeps: what the code's token named."""
        return short.scope

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> TokenSet:
        short = await super().exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=None)
        long = await self._graph_token(
            "/access_token",
            {
                "grant_type": self.exchange_grant,
                "client_secret": self._client_secret,
                "access_token": short.access_token,
            },
        )
        return TokenSet(
            access_token=long.access_token,
            expires_at=long.expires_at,
            scope=self._granted_scope(short),
            account_hint=short.account_hint,
        )

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        fresh = await self._graph_token(
            "/refresh_access_token", {"grant_type": self.refresh_grant, "access_token": tokens.access_token}
        )
        return TokenSet(
            access_token=fresh.access_token,
            expires_at=fresh.expires_at,
            scope=tokens.scope,
            account_hint=tokens.account_hint,
        )

    async def _graph_token(self, path: str, params: dict[str, str]) -> TokenSet:
        # GETs with the token in the query, as documented; httpx logging is kept at WARNING.
        response = await self._send("GET", self._graph + path, params=params)
        payload = self._json(response)
        self._raise_for_error(response, payload, grant=params["grant_type"])
        # The base reading: a platform's parse_token reads the code's answer (its user id, its
        # envelope), not these.
        return OAuthProvider.parse_token(self, payload)

    async def revoke(self, tokens: TokenSet) -> bool:
        # No revoke endpoint: unlinking deletes the tokens here, and the person removes the app in the
        # platform's settings.
        return False
