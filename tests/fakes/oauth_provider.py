"""A local fake OAuth 2.0 authorization server per platform, speaking each provider's documented shapes.

One ``FakeOAuthProvider(platform)`` serves that platform's endpoints at their real paths, so pointing
``platforms.<p>.auth_base_url`` at it moves all of the platform's OAuth traffic here:

- youtube (Google): ``GET /o/oauth2/v2/auth``, ``POST /token``, ``POST /revoke``,
  ``GET /youtube/v3/channels?part=snippet&mine=true``. A refresh token is issued only for
  ``access_type=offline``; refreshing returns no new refresh token; a dead one is
  ``400 {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}``.
- x: ``GET /i/oauth2/authorize`` (PKCE S256 required), ``POST /2/oauth2/token`` (confidential client:
  HTTP Basic), ``POST /2/oauth2/revoke`` → ``{"revoked": true}``, ``GET /2/users/me`` →
  ``{"data": {"id", "name", "username"}}``. Refresh tokens rotate (the old one dies) and are only
  issued with ``offline.access``; a dead refresh token is ``400 invalid_request`` as X answers it.
- linkedin: ``GET /oauth/v2/authorization``, ``POST /oauth/v2/accessToken`` (id/secret in the form),
  ``POST /oauth/v2/revoke``, ``GET /v2/userinfo`` (OpenID ``sub``, ``name``). Refresh tokens only
  while ``partner`` is set: LinkedIn issues them to approved partners alone
  (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens).
- tiktok: ``GET /v2/auth/authorize/`` (``client_key``, comma-separated scopes; the web flow takes
  no PKCE, and a challenge, where one is sent, is TikTok's hex SHA-256, not RFC 7636's base64url),
  ``POST /v2/oauth/token/`` → ``open_id``, ``refresh_expires_in``...; errors
  ``{"error", "error_description", "log_id"}``; ``POST /v2/oauth/revoke/`` takes the access token;
  ``GET /v2/user/info/?fields=...`` → ``{"data": {"user": {...}}, "error": {"code": "ok"}}``.
- instagram (Business Login): ``GET /oauth/authorize``, ``POST /oauth/access_token`` →
  ``{"data": [{"access_token", "user_id", "permissions"}]}`` (a one-hour token),
  ``GET /access_token?grant_type=ig_exchange_token`` → 60-day token,
  ``GET /refresh_access_token?grant_type=ig_refresh_token``, ``GET /{version}/me?fields=user_id,username``.
  No refresh tokens and no revoke endpoint, like Instagram. (The fake does not enforce the
  "at least 24 hours old" refresh rule, so tests can refresh at once.)
- threads (https://developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions,
  .../long-lived-tokens): ``GET /oauth/authorize``, ``POST /oauth/access_token`` →
  ``{"access_token", "user_id"}`` (a one-hour token), ``GET /access_token?grant_type=th_exchange_token``
  → 60-day token, ``GET /refresh_access_token?grant_type=th_refresh_token``,
  ``GET /v1.0/me?fields=id,username``; Graph's error envelope. No refresh tokens, no revoke endpoint.
  (Like Instagram's, the 24-hour rule for refreshing is not enforced.)

Everywhere: codes are single-use and expire after 10 minutes (a replayed code is ``invalid_grant``
and, per RFC 6749 §4.1.2, kills the tokens it bought); ``redirect_uri`` must match the authorize
request; the PKCE verifier must hash to the challenge. The authorize endpoint plays the user: it
approves at once, or answers ``error=access_denied`` after ``deny_next()``.

``account_for(token)`` tells a fake platform API which account a live access token belongs to (wire
it as that fake's ``token_check``); ``expire_access_tokens()`` makes live tokens stale so the API
answers 401 and the client must refresh; ``revoke_grants()`` kills refresh tokens (``invalid_grant``).

Run on its own: ``python -m tests.fakes.oauth_provider --platform x --port 8792``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.loopback import LoopbackFake, serve_forever

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from core.crypto import Vault

CODE_TTL_S = 600
_TIKTOK_HEX_CHALLENGE = re.compile(r"[0-9a-f]{64}")
# Where the authorize request must carry an S256 challenge. Google (youtube) accepts one without
# requiring it (https://developers.google.com/identity/protocols/oauth2/web-server); like every
# provider here, once a code was issued for a challenge its exchange needs the matching verifier
# (RFC 7636 §4.6), which is what makes a stolen code useless in another flow.
PKCE_PLATFORMS = {"x"}
ACCESS_TTL = {
    "youtube": 3599,
    "x": 7200,
    "linkedin": 5_184_000,
    "tiktok": 86_400,
    "instagram": 3600,
    "threads": 3600,
}
IG_LONG_TTL = 5_183_944
# Meta's long-lived-token platforms: one access token extended by its own grant, no refresh token.
LONG_LIVED = {
    "instagram": ("ig_exchange_token", "ig_refresh_token"),
    "threads": ("th_exchange_token", "th_refresh_token"),
}


@dataclass
class FakeAccount:
    account_id: str
    name: str
    username: str


DEFAULT_ACCOUNTS = {
    "youtube": FakeAccount("UCfakechannel0000000000", "Acme Videos", "@acmevideos"),
    "x": FakeAccount("1467726470533754880", "Acme", "acme"),
    "linkedin": FakeAccount("782bbtaQ", "Ada Acme", "ada"),
    "tiktok": FakeAccount("-000xkTGwMaRlT6l2lM1rK4hMxhq2S6Y1Ig", "acme.tt", "acme.tt"),
    "instagram": FakeAccount("17841405793187218", "acme.ig", "acme.ig"),
    "threads": FakeAccount("25318902871034482", "acme.threads", "acme.threads"),
}


@dataclass
class PendingCode:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    offline: bool
    issued: float
    used: bool = False
    grant: Grant | None = None


@dataclass
class Grant:
    """What one consent bought: the live access tokens and the refresh token."""

    scope: str
    access_tokens: set[str] = field(default_factory=set)
    stale_tokens: set[str] = field(default_factory=set)
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class TokenCall:
    grant_type: str
    status: int


class FakeOAuthProvider(LoopbackFake):
    def __init__(
        self,
        platform: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        account: FakeAccount | None = None,
        access_ttl_s: int | None = None,
    ) -> None:
        super().__init__()
        if platform not in DEFAULT_ACCOUNTS:
            raise ValueError(f"no fake OAuth provider for {platform!r}")
        self.platform = platform
        self.client_id = client_id or f"{platform}-client-id"
        self.client_secret = client_secret or f"{platform}-client-secret-{secrets.token_hex(4)}"
        self.account = account or DEFAULT_ACCOUNTS[platform]
        self.access_ttl_s = access_ttl_s if access_ttl_s is not None else ACCESS_TTL[platform]
        self.codes: dict[str, PendingCode] = {}
        self.grants: list[Grant] = []
        self.token_calls: list[TokenCall] = []
        # LinkedIn: the app is an approved partner, so refresh tokens are issued (see the docstring).
        self.partner = True
        self.revoked_tokens: list[str] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.protocol_errors: list[str] = []
        self._deny = 0
        self._refresh_delay_s = 0.0

    # --- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        routes = {
            "youtube": [
                ("GET", "/o/oauth2/v2/auth", self._authorize),
                ("POST", "/token", self._token),
                ("POST", "/revoke", self._revoke),
                ("GET", "/youtube/v3/channels", self._profile),
            ],
            "x": [
                ("GET", "/i/oauth2/authorize", self._authorize),
                ("POST", "/2/oauth2/token", self._token),
                ("POST", "/2/oauth2/revoke", self._revoke),
                ("GET", "/2/users/me", self._profile),
            ],
            "linkedin": [
                ("GET", "/oauth/v2/authorization", self._authorize),
                ("POST", "/oauth/v2/accessToken", self._token),
                ("POST", "/oauth/v2/revoke", self._revoke),
                ("GET", "/v2/userinfo", self._profile),
            ],
            "tiktok": [
                ("GET", "/v2/auth/authorize/", self._authorize),
                ("POST", "/v2/oauth/token/", self._token),
                ("POST", "/v2/oauth/revoke/", self._revoke),
                ("GET", "/v2/user/info/", self._profile),
            ],
            "instagram": [
                ("GET", "/oauth/authorize", self._authorize),
                ("POST", "/oauth/access_token", self._token),
                ("GET", "/access_token", self._ig_exchange),
                ("GET", "/refresh_access_token", self._ig_refresh),
                ("GET", r"/{version:v\d+\.\d+}/me", self._profile),
            ],
            "threads": [
                ("GET", "/oauth/authorize", self._authorize),
                ("POST", "/oauth/access_token", self._token),
                ("GET", "/access_token", self._ig_exchange),
                ("GET", "/refresh_access_token", self._ig_refresh),
                ("GET", r"/{version:v\d+\.\d+}/me", self._profile),
            ],
        }[self.platform]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    def platform_settings(self) -> dict[str, Any]:
        """What to put under ``platforms.<platform>`` so postbot's OAuth talks to this fake."""
        return {
            "auth_base_url": self.base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    # --- test controls -------------------------------------------------------------------------

    def deny_next(self, count: int = 1) -> None:
        """The next authorizations come back as the user pressing Cancel (``error=access_denied``)."""
        self._deny += count

    def slow_refresh(self, seconds: float) -> None:
        """Refresh grants take this long, to widen the window for racing refreshes."""
        self._refresh_delay_s = seconds

    def expire_access_tokens(self) -> None:
        """Every live access token stops working (the platform API answers 401)."""
        for grant in self.grants:
            grant.stale_tokens |= grant.access_tokens
            grant.access_tokens.clear()

    def revoke_grants(self) -> None:
        """The user withdrew the app: refresh and access tokens are dead (``invalid_grant``)."""
        for grant in self.grants:
            grant.revoked = True
            grant.access_tokens.clear()

    def account_for(self, token: str) -> str | None:
        """The account a live access token belongs to, for a fake platform API's ``token_check``."""
        for grant in self.grants:
            if not grant.revoked and token in grant.access_tokens:
                return self.account.account_id
        return None

    @property
    def refresh_count(self) -> int:
        return sum(
            1
            for c in self.token_calls
            if c.grant_type in ("refresh_token", "ig_refresh_token", "th_refresh_token") and c.status == 200
        )

    def mint(self, *, scope: str | None = None) -> dict[str, Any]:
        """Tokens for the account as if a consent had just completed (seeds linked accounts in tests)."""
        grant = self._new_grant(scope or "default", offline=True)
        access = next(iter(grant.access_tokens))
        return {
            "access_token": access,
            "refresh_token": grant.refresh_token,
            "expires_in": self.access_ttl_s if self.platform not in LONG_LIVED else IG_LONG_TTL,
            "scope": grant.scope,
        }

    # --- shared pieces -------------------------------------------------------------------------

    def _new_token(self, kind: str) -> str:
        prefix = {
            "tiktok": "act." if kind == "access" else "rft.",
            "youtube": "ya29." if kind == "access" else "1//",
        }
        return prefix.get(self.platform, "") + secrets.token_urlsafe(24)

    def _new_grant(self, scope: str, *, offline: bool) -> Grant:
        grant = Grant(scope=scope)
        grant.access_tokens.add(self._new_token("access"))
        if offline and self.platform not in LONG_LIVED and (self.platform != "linkedin" or self.partner):
            grant.refresh_token = self._new_token("refresh")
        self.grants.append(grant)
        return grant

    def _oauth_error(self, status: int, error: str, description: str) -> web.Response:
        if self.platform == "threads":
            # graph.threads.net answers in Graph's envelope, the token endpoint too.
            return self._graph_error(
                description, code=190 if error == "invalid_token" else 100, status=status
            )
        if self.platform == "instagram":
            code = 190 if error == "invalid_token" else 100
            return web.json_response(
                {"error_type": "OAuthException", "code": code, "error_message": description}, status=status
            )
        body: dict[str, Any] = {"error": error, "error_description": description}
        if self.platform == "tiktok":
            body["log_id"] = secrets.token_hex(12)
        return web.json_response(body, status=status)

    def _reject(self, message: str) -> web.Response:
        self.protocol_errors.append(message)
        return web.Response(
            status=400,
            text=f"<html><body><h1>Error</h1><p>{message}</p></body></html>",
            content_type="text/html",
        )

    # --- authorize (the browser leg) -----------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.authorize_requests.append(q)
        id_param = "client_key" if self.platform == "tiktok" else "client_id"
        if q.get(id_param) != self.client_id:
            return self._reject(f"unknown {id_param}")
        if q.get("response_type") != "code":
            return self._reject("response_type must be code")
        redirect = q.get("redirect_uri")
        if not redirect or not redirect.startswith(("http://", "https://")):
            return self._reject("redirect_uri is required and must be absolute")
        if not q.get("scope"):
            return self._reject("scope is required")
        if self.platform == "tiktok" and " " in q["scope"]:
            return self._reject("TikTok scopes are comma-separated")
        if not q.get("state"):
            return self._reject("state is required")
        challenge = q.get("code_challenge")
        if (
            self.platform == "tiktok"
            and challenge is not None
            and not _TIKTOK_HEX_CHALLENGE.fullmatch(challenge)
        ):
            # TikTok's challenge is the SHA-256 of the verifier in hex (Login Kit for Desktop,
            # https://developers.tiktok.com/doc/login-kit-desktop); a base64url (RFC 7636) one is
            # refused as "Code verifier or code challenge is invalid". The web flow postbot uses
            # takes no challenge at all (https://developers.tiktok.com/doc/login-kit-web).
            self.protocol_errors.append("TikTok code_challenge is not hex SHA-256")
            return self._reject("Code verifier or code challenge is invalid.")
        if self.platform in PKCE_PLATFORMS:
            if not challenge or q.get("code_challenge_method") != "S256":
                return self._reject("code_challenge with code_challenge_method=S256 is required")
        sep = "&" if "?" in redirect else "?"
        if self._deny > 0:
            self._deny -= 1
            params = {
                "error": "access_denied",
                "error_description": "The user denied the request",
                "state": q["state"],
            }
            if self.platform in LONG_LIVED:
                params["error_reason"] = "user_denied"
            raise web.HTTPFound(redirect + sep + urlencode(params))
        code = secrets.token_urlsafe(32)
        offline = {
            "youtube": q.get("access_type") == "offline",
            "x": "offline.access" in q["scope"].split(),
        }.get(self.platform, True)
        self.codes[code] = PendingCode(
            client_id=self.client_id,
            redirect_uri=redirect,
            scope=q["scope"],
            challenge=challenge,
            offline=offline,
            issued=time.monotonic(),
        )
        location = redirect + sep + urlencode({"code": code, "state": q["state"]})
        if self.platform in LONG_LIVED:
            # Meta appends "#_" to the redirect (e.g. https://qiita.com/kawamurashin/items/5f7aadde537919fea2cb
            # shows ".../callback/?code=...#_" for Threads).
            location += "#_"
        raise web.HTTPFound(location)

    # --- token endpoint ------------------------------------------------------------------------

    def _client_ok(self, request: web.Request, form: dict[str, str]) -> bool:
        if self.platform == "x":
            header = request.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            try:
                raw = base64.b64decode(header[6:]).decode()
            except ValueError:
                return False
            return raw == f"{self.client_id}:{self.client_secret}"
        id_param = "client_key" if self.platform == "tiktok" else "client_id"
        return form.get(id_param) == self.client_id and form.get("client_secret") == self.client_secret

    async def _token(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/x-www-form-urlencoded":
            self.protocol_errors.append(f"token request with content type {request.content_type}")
            response = self._oauth_error(
                400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
            )
            self.token_calls.append(TokenCall("?", 400))
            return response
        form = {k: str(v) for k, v in (await request.post()).items()}
        grant_type = form.get("grant_type", "")
        response = await self._token_checked(request, form, grant_type)
        self.token_calls.append(TokenCall(grant_type, response.status))
        return response

    async def _token_checked(
        self, request: web.Request, form: dict[str, str], grant_type: str
    ) -> web.Response:
        if not self._client_ok(request, form):
            return self._oauth_error(401, "invalid_client", "Client authentication failed.")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type == "refresh_token" and self.platform not in LONG_LIVED:
            if self._refresh_delay_s:
                await asyncio.sleep(self._refresh_delay_s)
            return self._refresh(form)
        return self._oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    def _exchange(self, form: dict[str, str]) -> web.Response:
        code = self.codes.get(form.get("code", ""))
        if code is None:
            return self._oauth_error(400, "invalid_grant", "Authorization code is invalid.")
        if code.used:
            # RFC 6749 §4.1.2: a replayed code revokes what it was exchanged for.
            if code.grant is not None:
                code.grant.revoked = True
                code.grant.access_tokens.clear()
            return self._oauth_error(400, "invalid_grant", "Authorization code has already been used.")
        code.used = True
        if time.monotonic() - code.issued > CODE_TTL_S:
            return self._oauth_error(400, "invalid_grant", "Authorization code has expired.")
        if form.get("redirect_uri") != code.redirect_uri:
            self.protocol_errors.append("redirect_uri differs from the authorize request")
            return self._oauth_error(400, "invalid_grant", "redirect_uri does not match.")
        if code.challenge is not None and self.platform == "tiktok":
            # code_verifier is "required for mobile and desktop app only", hashed to hex
            # (https://developers.tiktok.com/doc/oauth-user-access-token-management).
            if hashlib.sha256(form.get("code_verifier", "").encode()).hexdigest() != code.challenge:
                self.protocol_errors.append("code_verifier does not match the code_challenge")
                return self._oauth_error(
                    400, "invalid_request", "Code verifier or code challenge is invalid."
                )
        elif code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                self.protocol_errors.append("code_verifier missing")
                return self._oauth_error(
                    400, "invalid_request", "Missing required parameter [code_verifier]."
                )
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if digest != code.challenge:
                self.protocol_errors.append("code_verifier does not match the code_challenge")
                return self._oauth_error(
                    400, "invalid_grant", "code_verifier does not match the code_challenge."
                )
        grant = self._new_grant(code.scope, offline=code.offline)
        code.grant = grant
        return self._token_response(grant, first=True)

    def _refresh(self, form: dict[str, str]) -> web.Response:
        token = form.get("refresh_token", "")
        grant = next((g for g in self.grants if g.refresh_token == token and token), None)
        if grant is None or grant.revoked:
            if self.platform == "x":
                return self._oauth_error(400, "invalid_request", "Value passed for the token was invalid.")
            if self.platform == "youtube":
                return self._oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            return self._oauth_error(
                400, "invalid_grant", "The refresh token is invalid, expired or revoked."
            )
        grant.stale_tokens |= grant.access_tokens
        grant.access_tokens = {self._new_token("access")}
        if self.platform == "x":
            # X rotates refresh tokens: the one just used is dead from now on.
            grant.refresh_token = self._new_token("refresh")
        return self._token_response(grant, first=False)

    def _token_response(self, grant: Grant, *, first: bool) -> web.Response:
        access = next(iter(grant.access_tokens))
        if self.platform == "threads":
            return web.json_response({"access_token": access, "user_id": int(self.account.account_id)})
        if self.platform == "instagram":
            return web.json_response(
                {
                    "data": [
                        {
                            "access_token": access,
                            "user_id": self.account.account_id,
                            "permissions": grant.scope,
                        }
                    ]
                }
            )
        body: dict[str, Any] = {"access_token": access, "expires_in": self.access_ttl_s}
        if self.platform == "youtube":
            body.update(token_type="Bearer", scope=grant.scope)
            if first and grant.refresh_token:
                body["refresh_token"] = grant.refresh_token
        elif self.platform == "x":
            body.update(token_type="bearer", scope=grant.scope)
            if grant.refresh_token:
                body["refresh_token"] = grant.refresh_token
        elif self.platform == "linkedin":
            body.update(
                refresh_token=grant.refresh_token,
                refresh_token_expires_in=31_536_000,
                scope=grant.scope.replace(" ", ","),
                token_type="Bearer",
                id_token=secrets.token_urlsafe(16),
            )
        elif self.platform == "tiktok":
            body.update(
                open_id=self.account.account_id,
                refresh_token=grant.refresh_token,
                refresh_expires_in=31_536_000,
                scope=grant.scope,
                token_type="Bearer",
            )
        return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- Instagram's long-lived token endpoints --------------------------------------------------

    def _ig_grant(self, token: str) -> Grant | None:
        for grant in self.grants:
            if not grant.revoked and (token in grant.access_tokens or token in grant.stale_tokens):
                return grant
        return None

    def _graph_error(self, message: str, code: int = 190, status: int = 400) -> web.Response:
        return web.json_response(
            {
                "error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "fbtrace_id": secrets.token_hex(8),
                }
            },
            status=status,
        )

    async def _ig_exchange(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        exchange, _ = LONG_LIVED[self.platform]
        if q.get("grant_type") != exchange or q.get("client_secret") != self.client_secret:
            self.token_calls.append(TokenCall(exchange, 400))
            return self._graph_error("Error validating client secret.", code=101)
        grant = self._ig_grant(q.get("access_token", ""))
        if grant is None or q.get("access_token", "") not in grant.access_tokens:
            self.token_calls.append(TokenCall(exchange, 400))
            return self._graph_error("Error validating access token: Session has expired.")
        long = self._new_token("access")
        grant.access_tokens = {long}
        self.token_calls.append(TokenCall(exchange, 200))
        return web.json_response({"access_token": long, "token_type": "bearer", "expires_in": IG_LONG_TTL})

    async def _ig_refresh(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        _, refresh = LONG_LIVED[self.platform]
        if self._refresh_delay_s:
            await asyncio.sleep(self._refresh_delay_s)
        grant = self._ig_grant(q.get("access_token", "")) if q.get("grant_type") == refresh else None
        if grant is None:
            self.token_calls.append(TokenCall(refresh, 400))
            return self._graph_error(
                "Error validating access token: The session has been invalidated because the user changed "
                "their password or Facebook has changed the session for security reasons."
            )
        grant.stale_tokens |= grant.access_tokens
        grant.access_tokens = {self._new_token("access")}
        self.token_calls.append(TokenCall(refresh, 200))
        return web.json_response(
            {
                "access_token": next(iter(grant.access_tokens)),
                "token_type": "bearer",
                "expires_in": IG_LONG_TTL,
            }
        )

    # --- revoke --------------------------------------------------------------------------------

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if self.platform != "youtube" and not self._client_ok(request, form):
            return self._oauth_error(401, "invalid_client", "Client authentication failed.")
        token = form.get("token", "")
        if self.platform == "tiktok" and any(token == g.refresh_token for g in self.grants):
            # TikTok's revoke takes the user ACCESS token
            # (https://developers.tiktok.com/doc/oauth-revoke-a-user-access-token): a refresh token
            # is not one, so nothing is revoked and the app stays connected.
            self.protocol_errors.append("TikTok revoke was sent a refresh token")
            return self._oauth_error(400, "invalid_request", "The access token is invalid or not found.")
        grant = next(
            (g for g in self.grants if token and (token == g.refresh_token or token in g.access_tokens)), None
        )
        if grant is None or grant.revoked:
            if self.platform == "youtube":
                return self._oauth_error(400, "invalid_token", "Token expired or revoked")
            # RFC 7009 §2.2: unknown tokens are not an error.
        else:
            grant.revoked = True
            grant.access_tokens.clear()
            self.revoked_tokens.append(token)
        if self.platform == "x":
            return web.json_response({"revoked": True})
        if self.platform == "linkedin":
            return web.Response(status=200)
        return web.json_response({})

    # --- identity ------------------------------------------------------------------------------

    def _bearer(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:]
        return request.query.get("access_token", "")

    async def _profile(self, request: web.Request) -> web.StreamResponse:
        token = self._bearer(request)
        acct = self.account
        if self.account_for(token) is None:
            return self._unauthorized()
        if self.platform == "youtube":
            if request.query.get("part") != "snippet" or request.query.get("mine") != "true":
                return self._reject("channels.list needs part=snippet&mine=true here")
            return web.json_response(
                {
                    "kind": "youtube#channelListResponse",
                    "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
                    "items": [
                        {
                            "kind": "youtube#channel",
                            "id": acct.account_id,
                            "snippet": {"title": acct.name, "customUrl": acct.username},
                        }
                    ],
                }
            )
        if self.platform == "x":
            return web.json_response(
                {"data": {"id": acct.account_id, "name": acct.name, "username": acct.username}}
            )
        if self.platform == "linkedin":
            first, _, last = acct.name.partition(" ")
            return web.json_response(
                {
                    "sub": acct.account_id,
                    "name": acct.name,
                    "given_name": first,
                    "family_name": last,
                    "locale": {"country": "US", "language": "en"},
                }
            )
        if self.platform == "tiktok":
            fields = set(request.query.get("fields", "").split(","))
            user = {
                "open_id": acct.account_id,
                "union_id": "u-" + acct.account_id,
                "display_name": acct.name,
                "avatar_url": "https://p16.tiktokcdn.com/a.jpeg",
            }
            return web.json_response(
                {
                    "data": {"user": {k: v for k, v in user.items() if k in fields}},
                    "error": {"code": "ok", "message": "", "log_id": secrets.token_hex(12)},
                }
            )
        fields = set(request.query.get("fields", "id").split(","))
        if self.platform == "threads":
            # Threads profiles (https://developers.facebook.com/docs/threads/threads-profiles): the id
            # is the threads-user-id the publishing endpoints take.
            me = {"id": acct.account_id, "username": acct.username, "name": acct.name}
            return web.json_response({k: v for k, v in me.items() if k in fields | {"id"}})
        me = {"id": "27" + acct.account_id[2:], "user_id": acct.account_id, "username": acct.username}
        return web.json_response({k: v for k, v in me.items() if k in fields | {"id"}})

    def _unauthorized(self) -> web.Response:
        if self.platform == "youtube":
            return web.json_response(
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "errors": [{"reason": "authError", "domain": "global"}],
                        "status": "UNAUTHENTICATED",
                    }
                },
                status=401,
            )
        if self.platform == "x":
            return web.json_response(
                {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
                status=401,
            )
        if self.platform == "linkedin":
            return web.json_response(
                {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}, status=401
            )
        if self.platform == "tiktok":
            return web.json_response(
                {
                    "data": {},
                    "error": {
                        "code": "access_token_invalid",
                        "message": "The access token is invalid or not found in the request.",
                        "log_id": secrets.token_hex(12),
                    },
                },
                status=401,
            )
        return self._graph_error("Invalid OAuth access token - Cannot parse access token")


# --- seeding a linked account for publisher tests ---------------------------------------------------


@dataclass(frozen=True)
class SeededAccount:
    account_row_id: int
    remote_account_id: str
    access_token: str
    refresh_token: str | None


async def seed_linked_account(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    fake: FakeOAuthProvider,
    *,
    chat: str = "console",
    team_external_id: str = "T-test",
    expires_in: int | None = None,
) -> SeededAccount:
    """A SocialAccount row holding tokens the fake really issued, encrypted as the linking flow does.

    ``expires_in`` overrides the stored expiry (e.g. 0 to make the next use refresh first).
    """
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from core.accounts.store import save_tokens
    from core.db.models import SocialAccount, Team
    from core.oauth.models import TokenSet

    minted = fake.mint()
    ttl = minted["expires_in"] if expires_in is None else expires_in
    tokens = TokenSet(
        access_token=minted["access_token"],
        refresh_token=minted["refresh_token"],
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        scope=minted["scope"],
    )
    remote = fake.account.account_id
    if fake.platform == "linkedin":
        remote = f"urn:li:person:{remote}"
    async with sessions.begin() as session:
        team = (
            await session.execute(select(Team).where(Team.chat == chat, Team.external_id == team_external_id))
        ).scalar_one_or_none()
        if team is None:
            team = Team(chat=chat, external_id=team_external_id, name="Test team")
            session.add(team)
            await session.flush()
        account = SocialAccount(
            team_id=team.id, platform=fake.platform, remote_account_id=remote, display_name=fake.account.name
        )
        session.add(account)
        await session.flush()
        save_tokens(account, tokens, vault)
    return SeededAccount(account.id, remote, tokens.access_token, tokens.refresh_token)


async def _serve(platform: str, port: int) -> None:
    fake = FakeOAuthProvider(platform)
    await serve_forever(
        fake,
        port,
        lambda: (
            f"fake {platform} OAuth on {fake.base_url} "
            f"(client_id={fake.client_id}, client_secret={fake.client_secret})"
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake OAuth 2.0 provider for one platform.")
    parser.add_argument("--platform", choices=sorted(DEFAULT_ACCOUNTS), required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve(args.platform, args.port))


if __name__ == "__main__":
    main()
