"""Bluesky linking through AT Protocol OAuth, as a confidential web client.

What Bluesky requires of a web service (https://docs.bsky.app/docs/advanced-guides/oauth-client,
read 6 Dec 2026; the spec is https://atproto.com/specs/oauth):

- The client_id is the https URL of a client metadata JSON document, which postbot's web process
  serves at ``<web.public_url>/oauth/bluesky/client-metadata.json`` (:meth:`client_metadata`). A
  web service is a "confidential" client: ``token_endpoint_auth_method: private_key_jwt`` (ES256)
  with its public key in the document's ``jwks``; the private key is the operator's
  ``platforms.bluesky.client_secret`` (a P-256 PEM). Confidential sessions also last longer: the
  guide's essay and Bluesky's server give public clients two-week sessions.
- The flow starts from a server (the entryway ``https://bsky.social`` unless ``auth_base_url``
  says otherwise), so /link needs no handle: its protected-resource metadata names the
  authorization server, whose metadata gives the PAR, authorize and token endpoints.
- PAR with PKCE (S256), the state, the scopes and a client assertion; DPoP from that first request,
  with a key made for this link and kept for the whole session (:meth:`new_link_secret` keeps it
  encrypted with the link's state until the callback). The server's first answer is
  ``use_dpop_nonce``; the request is signed again with the nonce (core/platforms/bluesky/session.py).
- The callback's ``iss`` must be that authorization server (RFC 9207); the token response's ``sub``
  is the account's DID, whose document names its PDS, whose metadata must name the same
  authorization server, or the link is refused.
- Tokens are DPoP-bound; refresh tokens rotate (single use), which core/accounts/tokens.py's
  per-account lock already guards. They are stored with the session's DPoP key (session.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from core.domain import Platform
from core.oauth.base import OAuthProvider
from core.oauth.endpoints import Endpoints
from core.oauth.errors import InvalidGrant, OAuthError, ProviderUnavailable
from core.oauth.models import Profile, TokenSet
from core.oauth.pkce import make_verifier, s256_challenge
from core.platforms.bluesky import dpop
from core.platforms.bluesky.identity import (
    AccountHosts,
    Resolver,
    ServerMetadata,
    handle_of,
    local_network,
    pds_of,
)
from core.platforms.bluesky.session import DPoPHttp, Session, origin

log = logging.getLogger(__name__)

METADATA_NAME = "client-metadata.json"


def client_id_for(redirect_uri: str) -> str:
    """The client_id postbot's web process answers for: the metadata URL beside the callback."""
    return redirect_uri.rsplit("/", 1)[0] + "/" + METADATA_NAME


class BlueskyOAuth(OAuthProvider):
    platform = Platform.BLUESKY
    # ``authorize`` names the server a link starts from (its origin); the endpoints actually used
    # come from that server's metadata, as atproto requires. ``profile`` is the PLC directory, where
    # did:plc documents are read.
    defaults = Endpoints(
        authorize="https://bsky.social/oauth/authorize",
        token="https://bsky.social/oauth/token",
        revoke="https://bsky.social/oauth/revoke",
        profile="https://plc.directory",
    )
    # "atproto" is required; transition:generic is what lets a session create posts, upload blobs
    # and ask for service auth (https://atproto.com/specs/oauth#authorization-scopes).
    default_scopes = ("atproto", "transition:generic")
    uses_pkce = True
    # A web client's redirect must be https on the client_id's host; no loopback exception applies
    # to a confidential client.
    loopback_redirect: ClassVar[bool] = False

    def __init__(self, *, hosts: AccountHosts | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Every endpoint used comes from a server's metadata (the token endpoint a refresh posts to
        # is whatever the stored issuer's metadata says), so all of them go the checked way.
        self.hosts = hosts or AccountHosts(self.http, allow_http=local_network(self.endpoints.authorize))
        self.dpop = DPoPHttp(self.hosts)
        self.resolver = Resolver(self.hosts, plc=self.endpoints.profile)

    async def aclose(self) -> None:
        await self.hosts.aclose()

    @property
    def entry(self) -> str:
        return origin(self.endpoints.authorize)

    def _client_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            return dpop.load_client_key(self._client_secret)
        except ValueError:
            raise OAuthError(
                "platforms.bluesky.client_secret is not an EC P-256 private key in PEM form "
                "(docs/setup/bluesky.md shows how to make one)"
            ) from None

    # -- the client metadata document ------------------------------------------------------------

    def client_metadata(self, redirect_uri: str) -> dict[str, Any] | None:
        try:
            key = self._client_key()
        except OAuthError as exc:
            log.warning("bluesky client metadata unavailable", extra={"error": exc.message})
            return None
        public = dpop.public_jwk(key) | {"use": "sig", "alg": "ES256"}
        public["kid"] = dpop.thumbprint(public)
        parts = urlsplit(redirect_uri)
        return {
            "client_id": client_id_for(redirect_uri),
            "application_type": "web",
            "client_name": "postbot",
            "client_uri": f"{parts.scheme}://{parts.netloc}",
            "dpop_bound_access_tokens": True,
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [redirect_uri],
            "response_types": ["code"],
            "scope": " ".join(self.scopes),
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": {"keys": [public]},
        }

    # -- the link ----------------------------------------------------------------------------------

    def new_link_secret(self) -> str:
        return json.dumps({"pkce": make_verifier(), "dpop": dpop.private_jwk(dpop.new_key())})

    @staticmethod
    def _secret(secret: str | None) -> tuple[str, ec.EllipticCurvePrivateKey]:
        try:
            data = json.loads(secret or "")
            return str(data["pkce"]), dpop.key_from_jwk(data["dpop"])
        except (ValueError, KeyError, TypeError):
            raise OAuthError("this Bluesky link was started by another version of postbot") from None

    def _assertion_form(self, issuer: str, fields: dict[str, str]) -> Callable[[], dict[str, str]]:
        key = self._client_key()

        def build() -> dict[str, str]:
            return fields | {
                "client_id": self.client_id,
                "client_assertion_type": dpop.ASSERTION_TYPE,
                "client_assertion": dpop.client_assertion(key, client_id=self.client_id, audience=issuer),
            }

        return build

    async def _post(
        self, url: str, key: ec.EllipticCurvePrivateKey, form: Callable[[], dict[str, str]]
    ) -> httpx.Response:
        try:
            response = await self.dpop.request(
                "POST", url, key=key, form=form, headers={"Accept": "application/json"}
            )
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"could not reach Bluesky ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise ProviderUnavailable(
                f"Bluesky is having trouble (HTTP {response.status_code})", status_code=response.status_code
            )
        return response

    async def begin(self, *, state: str, redirect_uri: str, secret: str | None) -> str:
        expected = client_id_for(redirect_uri)
        if self.client_id != expected:
            # The authorization server fetches the client_id: it must be this web process's document.
            raise OAuthError(f"platforms.bluesky.client_id must be {expected} (it is {self.client_id})")
        verifier, key = self._secret(secret)
        meta = await self.resolver.server_metadata(self.entry)
        form = self._assertion_form(
            meta.issuer,
            {
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.scopes),
                "state": state,
                "code_challenge": s256_challenge(verifier),
                "code_challenge_method": "S256",
            },
        )
        response = await self._post(meta.par, key, form)
        payload = self._json(response)
        self._raise_for_error(response, payload, grant="authorization")
        request_uri = payload.get("request_uri")
        if not isinstance(request_uri, str) or not request_uri:
            raise OAuthError("Bluesky accepted the authorization request but returned no request_uri")
        return f"{meta.authorize}?{urlencode({'client_id': self.client_id, 'request_uri': request_uri})}"

    async def check_issuer(self, issuer: str | None) -> None:
        meta = await self.resolver.server_metadata(self.entry)
        if issuer != meta.issuer:
            raise OAuthError(
                f"the callback came from {issuer or 'an unnamed server'}, not {meta.issuer}, so its code "
                "was not used"
            )

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> TokenSet:
        verifier, key = self._secret(code_verifier)
        meta = await self.resolver.server_metadata(self.entry)
        form = self._assertion_form(
            meta.issuer,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        payload = await self._tokens(meta, key, form, grant="authorization_code")
        did = str(payload["sub"])
        pds = await self._pds_of(did, meta.issuer)
        return self._token_set(payload, key, did=did, pds=pds, issuer=meta.issuer, previous_refresh=None)

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        try:
            session = Session.parse(tokens.refresh_token or "", "refresh_token")
        except ValueError:
            raise InvalidGrant(
                "Bluesky gave no refresh token for this account", error="invalid_grant"
            ) from None
        meta = await self.resolver.authorization_server(session.issuer)
        form = self._assertion_form(
            meta.issuer, {"grant_type": "refresh_token", "refresh_token": session.token}
        )
        payload = await self._tokens(meta, session.key, form, grant="refresh_token")
        if payload["sub"] != session.did:
            raise InvalidGrant("Bluesky refreshed the tokens of another account", error="invalid_grant")
        return self._token_set(
            payload,
            session.key,
            did=session.did,
            pds=session.pds,
            issuer=session.issuer,
            previous_refresh=session.token,
        )

    async def _tokens(
        self,
        meta: ServerMetadata,
        key: ec.EllipticCurvePrivateKey,
        form: Callable[[], dict[str, str]],
        *,
        grant: str,
    ) -> dict[str, Any]:
        response = await self._post(meta.token, key, form)
        payload = self._json(response)
        self._raise_for_error(response, payload, grant=grant)
        if str(payload.get("token_type", "")).lower() != "dpop":
            raise OAuthError("Bluesky issued tokens that are not DPoP-bound")
        if not str(payload.get("sub", "")).startswith("did:"):
            raise OAuthError("Bluesky's token response names no account (sub)")
        if "atproto" not in str(payload.get("scope", "")).split():
            raise OAuthError("Bluesky granted no atproto scope")
        if not payload.get("access_token"):
            raise OAuthError("Bluesky answered the token request without an access token")
        return payload

    async def _pds_of(self, did: str, issuer: str) -> str:
        """The account's PDS, after checking that it trusts ``issuer`` (the spec's last step)."""
        doc = await self.resolver.did_document(did)
        pds = pds_of(doc)
        if pds is None:
            raise OAuthError("the Bluesky account's identity names no PDS")
        if issuer not in await self.resolver.issuers_of(pds):
            raise OAuthError(
                f"{issuer} is not the authorization server of this account's PDS, so nothing was linked"
            )
        return pds

    def _token_set(
        self,
        payload: dict[str, Any],
        key: ec.EllipticCurvePrivateKey,
        *,
        did: str,
        pds: str,
        issuer: str,
        previous_refresh: str | None,
    ) -> TokenSet:
        now = self.clock()
        refresh = payload.get("refresh_token") or previous_refresh
        expires_in = payload.get("expires_in")
        return TokenSet(
            access_token=Session(str(payload["access_token"]), key, did, pds, issuer).dump("access_token"),
            refresh_token=Session(str(refresh), key, did, pds, issuer).dump("refresh_token")
            if refresh
            else None,
            expires_at=now + timedelta(seconds=int(expires_in))
            if isinstance(expires_in, int) and expires_in > 0
            else None,
            scope=str(payload.get("scope") or "") or None,
            account_hint=did,
        )

    # -- identity and revoke -----------------------------------------------------------------------

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        session = Session.parse(tokens.access_token)
        handle = handle_of(await self.resolver.did_document(session.did))
        # A handle the DID document claims counts only when it resolves back to the same DID.
        if handle and await self.resolver.resolve_handle(session.pds, handle) != session.did:
            handle = None
        name = handle or session.did
        return Profile(account_id=session.did, display_name=name, handle=f"@{handle}" if handle else name)

    async def revoke(self, tokens: TokenSet) -> bool:
        try:
            session = Session.parse(tokens.refresh_token or tokens.access_token, "refresh_token")
            hint = "refresh_token"
        except ValueError:
            session, hint = Session.parse(tokens.access_token), "access_token"
        meta = await self.resolver.authorization_server(session.issuer)
        if meta.revoke is None:
            return False
        form = self._assertion_form(meta.issuer, {"token": session.token, "token_type_hint": hint})
        response = await self._post(meta.revoke, session.key, form)
        if response.status_code >= 400:
            payload = self._json(response)
            if self.error_code(payload)[0] == "invalid_token":
                return True
            self._raise_for_error(response, payload, grant="revoke")
        return True
