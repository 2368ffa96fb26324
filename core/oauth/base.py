"""The OAuth 2.0 authorization-code client every platform builds on (RFC 6749, RFC 7636, RFC 7009).

Each platform module overrides only where its provider departs from the RFC: parameter names,
client authentication, response envelopes, how the account's identity is fetched.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.oauth.endpoints import Endpoints
from core.oauth.errors import InvalidGrant, OAuthError, ProviderUnavailable
from core.oauth.models import Profile, TokenSet
from core.oauth.pkce import make_verifier, s256_challenge


def utcnow() -> datetime:
    return datetime.now(UTC)


class OAuthProvider:
    platform: ClassVar[Platform]
    defaults: ClassVar[Endpoints]
    default_scopes: ClassVar[tuple[str, ...]]
    scope_separator: ClassVar[str] = " "
    uses_pkce: ClassVar[bool] = False
    client_id_param: ClassVar[str] = "client_id"
    # "basic": HTTP Basic with id:secret (RFC 6749 §2.3.1); "body": both in the form.
    client_auth: ClassVar[str] = "body"
    extra_authorize_params: ClassVar[Mapping[str, str]] = {}
    # True where the provider extends the access token itself (Instagram's ig_refresh_token), so an
    # account renews without a refresh token.
    refreshes_access_token: ClassVar[bool] = False
    # Whether the provider takes a plain-http loopback redirect (http://127.0.0.1:<port>/...), so an
    # account can be linked from `postbot console` on a laptop, its callback served by the console's
    # own web server. False where the provider insists on https; each True cites its documentation.
    loopback_redirect: ClassVar[bool] = False
    # OAuth error codes that mean the grant itself is dead (re-link needed), not a transient fault.
    dead_grant_errors: ClassVar[frozenset[str]] = frozenset({"invalid_grant"})

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        endpoints: Endpoints,
        http: httpx.AsyncClient,
        scopes: list[str] | None = None,
        clock: Any = utcnow,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.endpoints = endpoints
        self.http = http
        self.scopes = tuple(scopes) if scopes else self.default_scopes
        self.clock = clock

    @classmethod
    def defaults_for(cls, settings: PlatformSettings) -> Endpoints:
        """The documented endpoints for these settings (a provider whose URLs carry a configurable
        API version builds them here)."""
        return cls.defaults

    async def aclose(self) -> None:
        """Close connections of the provider's own, besides the shared ``http`` (Bluesky keeps a
        checked client for the servers accounts name): at shutdown."""

    @property
    def has_revoke(self) -> bool:
        return self.endpoints.revoke is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, token_url={self.endpoints.token!r})"

    # -- authorize ---------------------------------------------------------------------------------

    def authorize_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        params: dict[str, str] = {
            self.client_id_param: self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": self.scope_separator.join(self.scopes),
            "state": state,
            **self.extra_authorize_params,
        }
        if self.uses_pkce:
            if not code_challenge:
                raise ValueError(f"{self.platform.label} needs a PKCE code challenge")
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        return f"{self.endpoints.authorize}?{urlencode(params)}"

    def new_link_secret(self) -> str:
        """What a link's state row keeps, encrypted and bound to the state, until its callback: the
        PKCE verifier. A provider that needs more per link (AT Protocol's DPoP key) keeps it here."""
        return make_verifier()

    async def begin(self, *, state: str, redirect_uri: str, secret: str | None) -> str:
        """Where the confirmed link sends the browser. Most providers take the request in the URL; one
        that needs it pushed first (PAR, RFC 9126) does that here."""
        challenge = s256_challenge(secret) if secret else None
        return self.authorize_url(state=state, redirect_uri=redirect_uri, code_challenge=challenge)

    async def check_issuer(self, issuer: str | None) -> None:
        """RFC 9207: a provider that names itself in the callback (``iss``) checks the name here, so a
        code from another server is never exchanged. Most providers send none."""

    def client_metadata(self, redirect_uri: str) -> dict[str, Any] | None:
        """The client metadata document postbot's web process serves at
        ``/oauth/<platform>/client-metadata.json`` for providers whose client_id is that URL (AT
        Protocol); None for the rest, which register clients in a developer console."""
        return None

    # -- token endpoint ----------------------------------------------------------------------------

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.uses_pkce:
            if not code_verifier:
                raise ValueError(f"{self.platform.label} needs the PKCE code verifier")
            form["code_verifier"] = code_verifier
        return await self._token_request(form)

    def can_refresh(self, tokens: TokenSet) -> bool:
        """Whether these tokens can be renewed at all. LinkedIn, for one, issues refresh tokens only
        to approved partners; without one the access token simply runs out and needs a new link."""
        return self.refreshes_access_token or tokens.refresh_token is not None

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        """A refresh_token grant. Keeps the old refresh token when the provider does not rotate it."""
        if not tokens.refresh_token:
            raise InvalidGrant(
                f"{self.platform.label} gave no refresh token for this account", error="invalid_grant"
            )
        fresh = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        if fresh.refresh_token is None:
            return TokenSet(
                access_token=fresh.access_token,
                refresh_token=tokens.refresh_token,
                expires_at=fresh.expires_at,
                refresh_expires_at=tokens.refresh_expires_at,
                scope=fresh.scope or tokens.scope,
                account_hint=fresh.account_hint,
            )
        return fresh

    async def _token_request(self, form: dict[str, str]) -> TokenSet:
        headers = {"Accept": "application/json"}
        body = dict(form)
        if self.client_auth == "basic":
            raw = f"{self.client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        else:
            body[self.client_id_param] = self.client_id
            body["client_secret"] = self._client_secret
        response = await self._send("POST", self.endpoints.token, data=body, headers=headers)
        payload = self._json(response)
        self._raise_for_error(response, payload, grant=form["grant_type"])
        return self.parse_token(payload)

    def parse_token(self, payload: Mapping[str, Any]) -> TokenSet:
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuthError(f"{self.platform.label} answered the token request without an access token")
        now = self.clock()
        return TokenSet(
            access_token=access,
            refresh_token=payload.get("refresh_token") or None,
            expires_at=_after(now, payload.get("expires_in")),
            refresh_expires_at=_after(now, payload.get("refresh_token_expires_in")),
            scope=_scope_text(payload.get("scope")),
        )

    # -- revoke and identity -----------------------------------------------------------------------

    async def revoke(self, tokens: TokenSet) -> bool:
        """Revoke at the provider (RFC 7009). False when the provider has no revoke endpoint."""
        if self.endpoints.revoke is None:
            return False
        token = tokens.refresh_token or tokens.access_token
        hint = "refresh_token" if tokens.refresh_token else "access_token"
        response = await self._send("POST", self.endpoints.revoke, data=self.revoke_form(token, hint))
        if response.status_code < 400:
            return True
        payload = self._json(response)
        # RFC 7009 §2.2: a token that is already invalid is as good as revoked.
        if self.error_code(payload)[0] == "invalid_token":
            return True
        self._raise_for_error(response, payload, grant="revoke")
        return True

    def revoke_form(self, token: str, hint: str) -> dict[str, str]:
        return {
            "token": token,
            "token_type_hint": hint,
            self.client_id_param: self.client_id,
            "client_secret": self._client_secret,
        }

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        raise NotImplementedError

    async def fetch_accounts(self, tokens: TokenSet) -> list[tuple[Profile, TokenSet]]:
        """Every account one consent links, each with the tokens it posts with. One, the profile's,
        for most providers; several where one login manages several (Facebook Pages, each with its
        own Page token)."""
        return [(await self.fetch_profile(tokens), tokens)]

    async def _get_json(self, url: str, *, access_token: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self._send(
            "GET", url, params=params, headers={"Authorization": f"Bearer {access_token}"}
        )
        payload = self._json(response)
        if response.status_code >= 400:
            self._raise_for_error(response, payload, grant="profile")
        return payload

    # -- plumbing ----------------------------------------------------------------------------------

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            # The exception text can carry the URL, whose query may hold a token: keep only its kind.
            raise ProviderUnavailable(
                f"could not reach {self.platform.label} ({type(exc).__name__})"
            ) from None
        if response.status_code >= 500:
            raise ProviderUnavailable(
                f"{self.platform.label} is having trouble (HTTP {response.status_code})",
                status_code=response.status_code,
            )
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            return {}
        return payload if isinstance(payload, dict) else {"data": payload}

    def error_code(self, payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The provider's (error, description) from an error body, RFC 6749 §5.2 shape."""
        error = payload.get("error")
        if isinstance(error, str):
            desc = payload.get("error_description")
            return error, desc if isinstance(desc, str) else None
        return None, None

    def _raise_for_error(self, response: httpx.Response, payload: Mapping[str, Any], *, grant: str) -> None:
        error, description = self.error_code(payload)
        if error is None and response.status_code < 400:
            return
        detail = f": {description[:200]}" if description else ""
        what = grant.replace("_", " ")
        code = error or response.status_code
        message = f"{self.platform.label} refused the {what} request ({code}){detail}"
        if self.is_dead_grant(error, grant=grant, status=response.status_code):
            raise InvalidGrant(message, error=error, status_code=response.status_code)
        raise OAuthError(message, error=error, status_code=response.status_code)

    def is_dead_grant(self, error: str | None, *, grant: str, status: int) -> bool:
        return error in self.dead_grant_errors


def _after(now: datetime, seconds: Any) -> datetime | None:
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return None
    return now + timedelta(seconds=value) if value > 0 else None


def _scope_text(scope: Any) -> str | None:
    if isinstance(scope, list):
        return " ".join(str(s) for s in scope)
    return str(scope) if scope else None
