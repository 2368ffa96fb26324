"""Threads OAuth: the Authorization Window, then a short-lived token exchanged for a 60-day one.

Get Access Tokens (https://developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions,
read 2026-12-06): the Authorization Window is ``https://threads.com/oauth/authorize`` (older pages and
Postiz say threads.net, which redirects there) with ``client_id`` (the *Threads* app id),
``redirect_uri`` (exactly one of the app's valid OAuth redirect URIs), comma-separated ``scope``,
``response_type=code`` and ``state``; the code goes to ``POST https://graph.threads.net/oauth/access_token``
(client id and secret in the form) for a one-hour token and the ``user_id``.

Long-lived tokens (https://developers.facebook.com/docs/threads/get-started/long-lived-tokens): the
short-lived token is exchanged at once with ``GET /access_token?grant_type=th_exchange_token``
(client secret, token) for a token "valid for 60 days" that "can be refreshed as long as they are at
least 24 hours old but have not expired" with ``GET /refresh_access_token?grant_type=th_refresh_token``;
"Tokens that have not been refreshed in 60 days will expire and can no longer be refreshed". There is
no refresh token: like Instagram's, the access token is extended itself (``refreshes_access_token``),
so core/accounts/keepalive.py renews it in its last week and core/accounts/tokens.py before it runs
out. No revoke endpoint is documented: unlinking deletes the tokens here, and the person removes the
app under Threads' Settings → Account → Website permissions.

Postiz (libraries/nestjs-libraries/src/integrations/social/threads.provider.ts) speaks the same flow:
authorization_code, th_exchange_token, th_refresh_token, ``/v1.0/me?fields=id,username,...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from core.domain import Platform
from core.oauth.endpoints import Endpoints
from core.oauth.errors import OAuthError
from core.oauth.graph import LongLivedGraphOAuth
from core.oauth.models import Profile, TokenSet
from core.platforms.threads import versions

GRAPH = "https://graph.threads.net"
SCOPES = ("threads_basic", "threads_content_publish", "threads_manage_insights")


class ThreadsOAuth(LongLivedGraphOAuth):
    platform = Platform.THREADS
    defaults = Endpoints(
        authorize="https://threads.com/oauth/authorize",
        token=f"{GRAPH}/oauth/access_token",
        revoke=None,
        profile=f"{GRAPH}/{versions.DEFAULT}/me",
    )
    # threads_basic is "required for all Threads endpoints", threads_content_publish for publishing,
    # threads_manage_insights for the insights results.py reads (Get Started, Authorization:
    # https://developers.facebook.com/docs/threads/get-started).
    default_scopes = SCOPES
    scope_separator = ","
    # Threads' errors and long-lived tokens are Graph's (core/oauth/graph.py), with its own grants.
    exchange_grant = "th_exchange_token"
    refresh_grant = "th_refresh_token"
    # The redirect must exactly match one of the app's "valid OAuth URIs" (Get Access Tokens), which
    # Meta's app dashboard takes as https addresses; no loopback exception is documented.
    loopback_redirect = False

    @property
    def _graph(self) -> str:
        # The long-lived token endpoints sit at the root of the token endpoint's host.
        parts = urlsplit(self.endpoints.token)
        return f"{parts.scheme}://{parts.netloc}"

    def parse_token(self, payload: Mapping[str, Any]) -> TokenSet:
        base = super().parse_token(payload)
        user_id = payload.get("user_id")
        return replace(base, refresh_token=None, account_hint=str(user_id) if user_id is not None else None)

    def _granted_scope(self, short: TokenSet) -> str | None:
        # The answer names no scopes: the consent asked for ours, and a missing one shows as a
        # refusal (results.py, the publisher).
        return short.scope or self.scope_separator.join(self.scopes)

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        # Threads profiles: GET /me?fields=id,username (https://developers.facebook.com/docs/threads/threads-profiles).
        payload = await self._get_json(
            self.endpoints.profile, access_token=tokens.access_token, params={"fields": "id,username"}
        )
        account = payload.get("id") or tokens.account_hint
        if not account:
            raise OAuthError("Threads' profile named no account")
        username = str(payload.get("username") or account)
        return Profile(account_id=str(account), display_name=username, handle=f"@{username}")
