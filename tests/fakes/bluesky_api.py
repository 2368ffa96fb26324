"""A local fake of the Bluesky services postbot talks to: the entryway's OAuth authorization server,
the account's PDS, the PLC directory, the public AppView and the video service.

Two servers, like Bluesky's separate hosts: ``FakeBluesky`` (auth server + PDS + PLC + AppView on one
origin, which is how a self-hosted PDS serves its own OAuth) and its ``video`` service on another
origin, so service tokens for one audience are refused by the other. Every rule cites where it is
documented (read 6 Dec 2026):

OAuth (https://docs.bsky.app/docs/advanced-guides/oauth-client, "OAuth" below; RFCs as named):
- ``/.well-known/oauth-authorization-server`` with ``issuer`` = this origin, PAR, authorize, token
  and revocation endpoints, ``scopes_supported`` with ``atproto`` (OAuth, "Client and Server
  Metadata"); the PDS's ``/.well-known/oauth-protected-resource`` names it.
- PAR (RFC 9126) is required: the authorize endpoint takes only ``client_id`` + ``request_uri``
  (OAuth, "PAR"); a request_uri is single-use and expires (RFC 9126 §2.2).
- The client_id is the URL of the client's metadata, fetched at every PAR and token request and
  checked: ``client_id`` identical, ``dpop_bound_access_tokens: true``, the redirect_uri listed,
  the scope declared, ``private_key_jwt`` with ES256 keys in ``jwks`` (OAuth, "Client and Server
  Metadata", "Confidential Client Authentication"). One departure: Bluesky fetches only https
  client_ids; this fake also fetches ``http://127.0.0.1`` ones, the web process under test.
- Client assertions (RFC 7523): ``iss`` = ``sub`` = client_id, ``aud`` = issuer, signed by the
  ``kid`` key, never replayed (OAuth, "Confidential Client Authentication").
- PKCE S256 only (OAuth, "PKCE"); the code is bound to the DPoP key of the PAR request.
- DPoP (RFC 9449) on PAR, token and every PDS request: ``typ: dpop+jwt``, ES256, the ``jwk``, a
  fresh ``jti``, ``htm``/``htu`` matching, ``iat`` recent, the server's nonce, and towards the PDS
  ``ath`` = S256(access token) with ``Authorization: DPoP``; a missing or stale nonce is answered
  400 ``{"error": "use_dpop_nonce"}`` by the auth server and 401 with ``WWW-Authenticate: DPoP
  error="use_dpop_nonce"`` by the PDS, with ``DPoP-Nonce`` (OAuth, "DPoP"; RFC 9449 §8, §9).
  Auth server and PDS keep separate nonces, and ``rotate_nonces()`` changes them.
- Callback ``?code&state&iss`` (OAuth, "Callback and Access Token Request"; RFC 9207); token
  response ``token_type: DPoP``, ``sub`` = the DID, ``scope``; refresh tokens are single-use and
  rotate, a used or revoked one is ``invalid_grant`` (RFC 6749 §5.2).

PDS (lexicons in https://github.com/bluesky-social/atproto/tree/main/lexicons):
- ``com.atproto.server.getServiceAuth`` (``aud``, ``lxm``, ``exp``; ``BadExpiration`` for an
  expiry in the past or more than an hour ahead) → a JWT signed by the account's key.
- ``com.atproto.repo.createRecord`` of ``app.bsky.feed.post``: text ≤ 300 graphemes and 3,000 bytes,
  ``langs`` ≤ 3, facets inside the text's UTF-8 bytes without overlapping
  (https://docs.bsky.app/docs/advanced-guides/post-richtext), a video embed whose blob this PDS
  holds for the account, alt ≤ 1,000 graphemes (``app.bsky.embed.video``); a record key used before
  is refused. Each created record costs 3 of 5,000 points an hour; over that, 429 with
  ``ratelimit-*`` headers (https://docs.bsky.app/docs/advanced-guides/rate-limits).
- ``com.atproto.repo.getRecord`` (``RecordNotFound``), ``com.atproto.identity.resolveHandle``.
- Expired or unknown access tokens: 401 ``WWW-Authenticate: DPoP error="invalid_token"``.
PLC: ``GET /<did>`` → the DID document (id, alsoKnownAs, ``#atproto_pds`` service).
AppView: ``app.bsky.feed.getPosts`` (≤ 25 ``uris``) → posts with like/repost/reply/quote counts.

Video service (https://docs.bsky.app/docs/tutorials/video; lexicons/app/bsky/video/*):
- ``getUploadLimits`` needs a service token for ``did:web:<video host>`` and
  ``lxm=app.bsky.video.getUploadLimits``; it reports ``canUpload`` (false without a verified email:
  "Bluesky-hosted accounts need to have verified their account email before uploading video"),
  ``remainingDailyVideos`` and ``remainingDailyBytes`` (25 videos, 10 GB per rolling day by
  default).
- ``uploadVideo?did&name`` needs a service token from that DID for ``did:web:<PDS host>`` and
  ``lxm=com.atproto.repo.uploadBlob``; a supported video type (the official app's
  ``SUPPORTED_MIME_TYPES``), at most 300 MB; the answer is the job status, unwrapped as the docs'
  sample reads it. Bytes processed before give a job whose status (getJobStatus) fails
  ``already_exists`` but carries the earlier blob ("we recommend checking for the presence of a
  BlobRef ... regardless of the success or failure of the job").
- ``getJobStatus?jobId`` (no auth) → ``{"jobStatus": ...}``: in progress for ``processing_polls``
  polls (the processing delay), then ``JOB_STATE_COMPLETED`` with the blob, which the service has
  stored on the account's PDS; or ``JOB_STATE_FAILED`` with ``failureCode`` (a file that is not a
  video: ``validation_failure``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import regex
from aiohttp import web

from core.platforms.bluesky import dpop
from tests.fakes.injected import take
from tests.fakes.loopback import LoopbackFake, Rejected

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PROOF_MAX_AGE_S = 60
REQUEST_URI_TTL_S = 300
CODE_TTL_S = 300
ACCESS_TTL_S = 1800
POINTS_PER_HOUR = 5000
CREATE_POINTS = 3
DAILY_VIDEOS = 25
DAILY_BYTES = 10 * 1000**3
MAX_VIDEO_BYTES = 300 * 1000**2
VIDEO_TYPES = {"video/mp4", "video/mpeg", "video/webm", "video/quicktime"}
POST = "app.bsky.feed.post"
ENDPOINTS = ("par", "token", "create", "service_auth", "limits", "upload", "status", "get_posts")


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Rejected:
    return Rejected(web.json_response({"error": error, "message": message}, status=status, headers=headers))


def oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Rejected:
    body = {"error": error, "error_description": description}
    return Rejected(web.json_response(body, status=status, headers=headers))


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


@dataclass
class Injected:
    count: int
    status: int
    after: int = 0


@dataclass
class ParRequest:
    params: dict[str, str]
    jkt: str
    expires_at: float


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    challenge: str
    jkt: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class Grant:
    client_id: str
    jkt: str
    scope: str
    refresh_token: str
    access_tokens: list[str] = field(default_factory=list)
    revoked: bool = False


@dataclass
class Job:
    id: str
    did: str
    digest: str
    size: int
    mime: str
    polls: int = 0
    state: str = "JOB_STATE_CREATED"
    blob: dict[str, Any] | None = None
    error: str | None = None
    failure: str | None = None
    duplicate_of: str | None = None


@dataclass
class Record:
    uri: str
    cid: str
    value: dict[str, Any]
    counts: dict[str, int] = field(
        default_factory=lambda: {"likeCount": 0, "repostCount": 0, "replyCount": 0, "quoteCount": 0}
    )


@dataclass
class Recorded:
    method: str
    path: str
    status: int


class FakeVideoService(LoopbackFake):
    def __init__(self, owner: FakeBluesky) -> None:
        super().__init__()
        self.owner = owner

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_VIDEO_BYTES + 1, middlewares=[self.owner._record])
        app.router.add_get("/xrpc/app.bsky.video.getUploadLimits", self.owner._limits)
        app.router.add_post("/xrpc/app.bsky.video.uploadVideo", self.owner._upload)
        app.router.add_get("/xrpc/app.bsky.video.getJobStatus", self.owner._job_status)
        return app


class FakeBluesky(LoopbackFake):
    def __init__(self, *, handle: str = "acme.test", processing_polls: int = 2) -> None:
        super().__init__()
        self.video = FakeVideoService(self)
        self.handle = handle
        self.did = "did:plc:" + base64.b32encode(secrets.token_bytes(15)).decode().lower()
        # The account's signing key: service tokens are JWTs it signs.
        self.account_key = dpop.new_key()
        self.processing_polls = processing_polls
        self.email_verified = True
        self.daily_videos, self.daily_bytes = DAILY_VIDEOS, DAILY_BYTES
        self.uploads_today: list[tuple[float, int]] = []
        self.deny = 0
        self.as_nonce = secrets.token_urlsafe(12)
        self.pds_nonce = secrets.token_urlsafe(12)
        self.par_requests: dict[str, ParRequest] = {}
        self.codes: dict[str, Code] = {}
        self.grants: list[Grant] = []
        self.access: dict[str, tuple[Grant, float]] = {}
        self.seen_jti: set[str] = set()
        self.jobs: dict[str, Job] = {}
        self.blobs: dict[str, dict[str, Any]] = {}  # cid → blob ref, for this account
        self.processed: dict[str, str] = {}  # digest of the bytes → blob cid
        self.records: dict[str, Record] = {}  # rkey → record
        self.points: list[float] = []
        self.requests: list[Recorded] = []
        self.injected: dict[str, list[Injected]] = {name: [] for name in ENDPOINTS}
        self.protocol_errors: list[str] = []
        self.client_metadata_fetches = 0
        self.refresh_count = 0
        self.nonce_challenges = {"as": 0, "pds": 0}
        self.fail_next_job: str | None = None
        # How uploadVideo answers bytes it processed before: None as the docs describe it (a job whose
        # getJobStatus fails already_exists with the blob), or an HTTP status with the answer
        # atproto#3097 logged from the real service, a bare job status naming the job and
        # ``error: already_exists`` (the issue does not say which status it came with).
        self.duplicate_upload_status: int | None = None
        self.lost_create_answers = 0

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeBluesky:  # type: ignore[override]
        await super().start(port)
        await self.video.start()
        return self

    async def stop(self) -> None:
        await self.video.stop()
        await super().stop()

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/.well-known/oauth-authorization-server", self._as_metadata)
        app.router.add_get("/.well-known/oauth-protected-resource", self._resource_metadata)
        app.router.add_post("/oauth/par", self._par)
        app.router.add_get("/oauth/authorize", self._authorize)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/oauth/revoke", self._revoke)
        app.router.add_get("/xrpc/com.atproto.server.getServiceAuth", self._service_auth)
        app.router.add_get("/xrpc/com.atproto.identity.resolveHandle", self._resolve_handle)
        app.router.add_post("/xrpc/com.atproto.repo.createRecord", self._create_record)
        app.router.add_get("/xrpc/com.atproto.repo.getRecord", self._get_record)
        app.router.add_get("/xrpc/app.bsky.feed.getPosts", self._get_posts)
        app.router.add_get("/{did:did:plc:[a-z2-7]+}", self._plc)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response = await handler(request)
        except Rejected as rejected:
            response = rejected.response
        self.requests.append(Recorded(request.method, request.path, response.status))
        return response

    @property
    def issuer(self) -> str:
        return self.base_url

    def platform_settings(self, client_id: str, client_key_pem: str) -> dict[str, Any]:
        """What to put under ``platforms.bluesky`` so postbot talks to these fakes."""
        return {
            "auth_base_url": self.base_url,
            "upload_base_url": self.video.base_url,
            "base_url": self.base_url,
            "client_id": client_id,
            "client_secret": client_key_pem,
        }

    # --- test controls -------------------------------------------------------------------------

    def fail(self, endpoint: str, count: int = 1, *, status: int = 503, after: int = 0) -> None:
        self.injected[endpoint].append(Injected(count, status, after))

    def _injected(self, endpoint: str) -> None:
        plan = take(self.injected[endpoint])
        if plan is None:
            return
        if plan.status == 429:
            raise xrpc_error(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                {"ratelimit-remaining": "0", "ratelimit-reset": str(int(time.time()) + 1)},
            )
        raise xrpc_error(plan.status, "InternalServerError", "Internal Server Error")

    def expire_access_tokens(self) -> None:
        self.access = {token: (grant, 0.0) for token, (grant, _) in self.access.items()}

    def revoke_grants(self) -> None:
        for grant in self.grants:
            grant.revoked = True

    def rotate_nonces(self) -> None:
        self.as_nonce, self.pds_nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)

    def spend_daily_videos(self) -> None:
        now = time.time()
        self.uploads_today = [(now, 0)] * self.daily_videos

    def account_for(self, access_token: str) -> str | None:
        found = self.access.get(access_token)
        return self.did if found and found[1] > time.time() and not found[0].revoked else None

    # --- DPoP and client authentication ---------------------------------------------------------

    def _problem(self, message: str) -> None:
        self.protocol_errors.append(message)

    def _dpop(self, request: web.Request, *, nonce: str, server: str, access_token: str | None = None) -> str:
        """The proof's key thumbprint, or the rejection RFC 9449 prescribes."""
        header = request.headers.get("DPoP")
        if not header:
            self._problem(f"{request.path}: no DPoP proof")
            raise self._dpop_rejection(server, "invalid_dpop_proof", "DPoP proof required")
        try:
            head = json.loads(dpop.unb64url(header.split(".")[0]))
            jwk = head["jwk"]
            _, body = dpop.verify(header, dpop.public_key_from_jwk(jwk))
        except (ValueError, KeyError, IndexError):
            self._problem(f"{request.path}: bad DPoP proof")
            raise self._dpop_rejection(server, "invalid_dpop_proof", "bad DPoP proof") from None
        htu = f"{self.base_url}{request.path}"
        problems = [
            head.get("typ") != "dpop+jwt" and "typ",
            head.get("alg") != "ES256" and "alg",
            "d" in jwk and "private key in jwk",
            body.get("htm") != request.method and "htm",
            body.get("htu") != htu and f"htu {body.get('htu')} != {htu}",
            abs(time.time() - float(body.get("iat", 0))) > PROOF_MAX_AGE_S and "iat",
            body.get("jti") in self.seen_jti and "jti replayed",
            access_token is not None and body.get("ath") != dpop.access_token_hash(access_token) and "ath",
        ]
        wrong = [p for p in problems if p]
        if wrong:
            self._problem(f"{request.path}: DPoP {wrong}")
            raise self._dpop_rejection(server, "invalid_dpop_proof", f"bad DPoP proof: {wrong[0]}")
        if body.get("nonce") != nonce:
            self.nonce_challenges[server] += 1
            raise self._dpop_rejection(
                server, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof"
            )
        self.seen_jti.add(str(body["jti"]))
        return dpop.thumbprint(jwk)

    def _dpop_rejection(self, server: str, error: str, message: str) -> Rejected:
        if server == "as":
            return oauth_error(400, error, message, {"DPoP-Nonce": self.as_nonce})
        return Rejected(
            web.json_response(
                {"error": error, "message": message},
                status=401,
                headers={"WWW-Authenticate": f'DPoP error="{error}"', "DPoP-Nonce": self.pds_nonce},
            )
        )

    async def _client(self, form: dict[str, str]) -> dict[str, Any]:
        """Fetch and check the client's metadata, then its assertion; the metadata document."""
        client_id = form.get("client_id", "")
        parts = urlsplit(client_id)
        if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname == "127.0.0.1")):
            raise oauth_error(400, "invalid_client", "client_id must be an https URL")
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(client_id, follow_redirects=False)
        self.client_metadata_fetches += 1
        if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
            self._problem(f"client metadata answered {response.status_code}")
            raise oauth_error(400, "invalid_client", "client metadata could not be fetched")
        meta = response.json()
        checks = [
            meta.get("client_id") != client_id and "client_id differs from its URL",
            meta.get("dpop_bound_access_tokens") is not True and "dpop_bound_access_tokens",
            "atproto" not in str(meta.get("scope", "")).split() and "atproto scope",
            meta.get("token_endpoint_auth_method") != "private_key_jwt" and "auth method",
            meta.get("token_endpoint_auth_signing_alg") != "ES256" and "signing alg",
            "code" not in (meta.get("response_types") or []) and "response_types",
            urlsplit(str(meta.get("client_uri", ""))).hostname != parts.hostname and "client_uri host",
        ]
        wrong = [c for c in checks if c]
        if wrong:
            self._problem(f"client metadata: {wrong}")
            raise oauth_error(400, "invalid_client_metadata", str(wrong[0]))
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            self._problem("no client assertion")
            raise oauth_error(400, "invalid_client", "client authentication required")
        assertion = form.get("client_assertion", "")
        try:
            kid = json.loads(dpop.unb64url(assertion.split(".")[0])).get("kid")
            key = next(k for k in meta["jwks"]["keys"] if k.get("kid") == kid)
            _, claims = dpop.verify(assertion, dpop.public_key_from_jwk(key))
        except (ValueError, KeyError, StopIteration, IndexError):
            self._problem("client assertion not signed by a declared key")
            raise oauth_error(400, "invalid_client", "bad client assertion") from None
        claim_checks = [
            claims.get("iss") != client_id and "iss",
            claims.get("sub") != client_id and "sub",
            claims.get("aud") != self.issuer and "aud",
            claims.get("jti") in self.seen_jti and "jti replayed",
            abs(time.time() - float(claims.get("iat", 0))) > PROOF_MAX_AGE_S and "iat",
        ]
        wrong = [c for c in claim_checks if c]
        if wrong:
            self._problem(f"client assertion: {wrong}")
            raise oauth_error(400, "invalid_client", f"bad client assertion: {wrong[0]}")
        self.seen_jti.add(str(claims["jti"]))
        return dict(meta)

    # --- authorization server ------------------------------------------------------------------

    async def _as_metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "pushed_authorization_request_endpoint": f"{self.base_url}/oauth/par",
                "authorization_endpoint": f"{self.base_url}/oauth/authorize",
                "token_endpoint": f"{self.base_url}/oauth/token",
                "revocation_endpoint": f"{self.base_url}/oauth/revoke",
                "scopes_supported": ["atproto", "transition:generic", "transition:chat.bsky"],
                "require_pushed_authorization_requests": True,
                "dpop_signing_alg_values_supported": ["ES256"],
                "authorization_response_iss_parameter_supported": True,
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            }
        )

    async def _resource_metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"resource": self.base_url, "authorization_servers": [self.issuer]})

    async def _par(self, request: web.Request) -> web.Response:
        self._injected("par")
        form = {k: str(v) for k, v in (await request.post()).items()}
        jkt = self._dpop(request, nonce=self.as_nonce, server="as")
        meta = await self._client(form)
        if form.get("response_type") != "code":
            raise oauth_error(400, "unsupported_response_type", "response_type must be code")
        if form.get("code_challenge_method") != "S256" or not form.get("code_challenge"):
            self._problem("PAR without an S256 challenge")
            raise oauth_error(400, "invalid_request", "PKCE S256 is required")
        if form.get("redirect_uri") not in (meta.get("redirect_uris") or []):
            self._problem("redirect_uri not in the client metadata")
            raise oauth_error(400, "invalid_request", "redirect_uri is not registered")
        scopes = form.get("scope", "").split()
        if "atproto" not in scopes or not set(scopes) <= set(str(meta.get("scope", "")).split()):
            raise oauth_error(400, "invalid_scope", "scope must include atproto and be declared")
        if not form.get("state"):
            raise oauth_error(400, "invalid_request", "state is required")
        uri = f"urn:ietf:params:oauth:request_uri:req-{secrets.token_hex(16)}"
        self.par_requests[uri] = ParRequest(form, jkt, time.time() + REQUEST_URI_TTL_S)
        return web.json_response(
            {"request_uri": uri, "expires_in": REQUEST_URI_TTL_S},
            status=201,
            headers={"DPoP-Nonce": self.as_nonce},
        )

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if set(q) - {"client_id", "request_uri"}:
            self._problem(
                f"authorize carries {sorted(set(q) - {'client_id', 'request_uri'})}: PAR is required"
            )
        pushed = self.par_requests.pop(q.get("request_uri", ""), None)
        if (
            pushed is None
            or pushed.expires_at < time.time()
            or pushed.params["client_id"] != q.get("client_id")
        ):
            return web.Response(status=400, text="unknown or expired request_uri")
        params = pushed.params
        back = {"state": params["state"], "iss": self.issuer}
        if self.deny:
            self.deny -= 1
            back |= {"error": "access_denied", "error_description": "The user denied access"}
        else:
            code = secrets.token_urlsafe(24)
            self.codes[code] = Code(
                params["client_id"],
                params["redirect_uri"],
                params["code_challenge"],
                pushed.jkt,
                params["scope"],
                time.time() + CODE_TTL_S,
            )
            back["code"] = code
        raise web.HTTPFound(f"{params['redirect_uri']}?{urlencode(back)}")

    async def _token(self, request: web.Request) -> web.Response:
        self._injected("token")
        form = {k: str(v) for k, v in (await request.post()).items()}
        jkt = self._dpop(request, nonce=self.as_nonce, server="as")
        await self._client(form)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self.codes.get(form.get("code", ""))
            if code is None or code.used or code.expires_at < time.time():
                raise oauth_error(400, "invalid_grant", "Invalid code")
            code.used = True
            challenge = dpop.b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            wrong = [
                code.client_id != form.get("client_id") and "client_id",
                code.redirect_uri != form.get("redirect_uri") and "redirect_uri",
                code.challenge != challenge and "code_verifier",
                code.jkt != jkt and "DPoP key differs from the PAR request's",
            ]
            if any(wrong):
                self._problem(f"token: {[w for w in wrong if w]}")
                raise oauth_error(400, "invalid_grant", str(next(w for w in wrong if w)))
            grant = Grant(code.client_id, jkt, code.scope, "")
            self.grants.append(grant)
        elif grant_type == "refresh_token":
            grant = next((g for g in self.grants if g.refresh_token == form.get("refresh_token")), None)
            if grant is None or grant.revoked:
                raise oauth_error(400, "invalid_grant", "Invalid refresh token")
            if grant.jkt != jkt or grant.client_id != form.get("client_id"):
                self._problem("refresh with another DPoP key or client")
                raise oauth_error(400, "invalid_grant", "refresh token bound to another key")
            self.refresh_count += 1
        else:
            raise oauth_error(400, "unsupported_grant_type", str(grant_type))
        return web.json_response(self._mint(grant), headers={"DPoP-Nonce": self.as_nonce})

    def _mint(self, grant: Grant) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        # Single-use refresh tokens: each use gives the next one, the old one dies.
        grant.refresh_token = "rt-" + secrets.token_urlsafe(24)
        grant.access_tokens.append(access)
        self.access[access] = (grant, time.time() + ACCESS_TTL_S)
        return {
            "access_token": access,
            "token_type": "DPoP",
            "expires_in": ACCESS_TTL_S,
            "refresh_token": grant.refresh_token,
            "scope": grant.scope,
            "sub": self.did,
        }

    async def _revoke(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        await self._client(form)
        for grant in self.grants:
            if form.get("token") in (grant.refresh_token, *grant.access_tokens):
                grant.revoked = True
        return web.Response(status=200)

    # --- PDS -----------------------------------------------------------------------------------

    def _authed(self, request: web.Request) -> Grant:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("DPoP "):
            self._problem(f"{request.path}: Authorization is not DPoP")
            raise xrpc_error(401, "AuthMissing", "Authentication Required")
        token = auth.removeprefix("DPoP ")
        jkt = self._dpop(request, nonce=self.pds_nonce, server="pds", access_token=token)
        found = self.access.get(token)
        if found is None or found[0].revoked or found[1] <= time.time():
            raise Rejected(
                web.json_response(
                    {"error": "InvalidToken", "message": "Token has expired"},
                    status=401,
                    headers={"WWW-Authenticate": 'DPoP error="invalid_token"', "DPoP-Nonce": self.pds_nonce},
                )
            )
        if found[0].jkt != jkt:
            self._problem("access token used with another DPoP key")
            raise xrpc_error(401, "InvalidToken", "DPoP key mismatch")
        return found[0]

    async def _service_auth(self, request: web.Request) -> web.Response:
        self._injected("service_auth")
        self._authed(request)
        q = request.query
        exp = int(q.get("exp") or time.time() + 60)
        if exp <= time.time() or exp > time.time() + 3600:
            raise xrpc_error(400, "BadExpiration", "expiration must be in the next hour")
        if not q.get("aud", "").startswith("did:") or not q.get("lxm"):
            raise xrpc_error(400, "InvalidRequest", "aud and lxm are required")
        token = dpop.sign(
            self.account_key,
            {"typ": "JWT", "alg": "ES256"},
            {
                "iss": self.did,
                "aud": q["aud"],
                "lxm": q["lxm"],
                "exp": exp,
                "iat": int(time.time()),
                "jti": secrets.token_hex(8),
            },
        )
        return web.json_response({"token": token}, headers={"DPoP-Nonce": self.pds_nonce})

    async def _resolve_handle(self, request: web.Request) -> web.Response:
        handle = request.query.get("handle", "").lower()
        known = {self.handle: self.did, "friend.test": "did:plc:friendfriendfriendfriend"}
        if handle not in known:
            raise xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
        return web.json_response({"did": known[handle]})

    def _spend_points(self) -> None:
        now = time.time()
        self.points = [t for t in self.points if t > now - 3600]
        if (len(self.points) + 1) * CREATE_POINTS > POINTS_PER_HOUR:
            reset = int(min(self.points) + 3600)
            raise xrpc_error(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                {
                    "ratelimit-limit": str(POINTS_PER_HOUR),
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(reset),
                },
            )
        self.points.append(now)

    async def _create_record(self, request: web.Request) -> web.Response:
        self._injected("create")
        self._authed(request)
        body = await request.json()
        if body.get("repo") not in (self.did, self.handle) or body.get("collection") != POST:
            raise xrpc_error(400, "InvalidRequest", "repo or collection")
        rkey = str(body.get("rkey") or secrets.token_hex(7))
        if rkey in self.records:
            raise xrpc_error(400, "InvalidRequest", f"Record already exists at {rkey}")
        self._check_post(body.get("record") or {})
        self._spend_points()
        uri = f"at://{self.did}/{POST}/{rkey}"
        record = Record(uri, "bafyrei" + secrets.token_hex(20), body["record"])
        self.records[rkey] = record
        if self.lost_create_answers:
            # The record is made, but the answer never reaches the client (a dropped connection).
            self.lost_create_answers -= 1
            raise xrpc_error(502, "UpstreamFailure", "Bad Gateway")
        return web.json_response(
            {
                "uri": uri,
                "cid": record.cid,
                "commit": {"cid": "bafyrei" + secrets.token_hex(20), "rev": rkey},
            },
            headers={"DPoP-Nonce": self.pds_nonce},
        )

    def _check_post(self, record: dict[str, Any]) -> None:
        text = str(record.get("text", ""))
        problems = [
            record.get("$type") != POST and "$type",
            graphemes(text) > 300 and "text over 300 graphemes",
            len(text.encode()) > 3000 and "text over 3000 bytes",
            not record.get("createdAt") and "createdAt",
            len(record.get("langs") or []) > 3 and "more than 3 langs",
        ]
        size = len(text.encode())
        end = 0
        for facet in sorted(record.get("facets") or [], key=lambda f: f["index"]["byteStart"]):
            start, stop = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            if not 0 <= start < stop <= size or start < end:
                problems.append(f"facet {start}-{stop} outside the text or overlapping")
            end = stop
            for feature in facet.get("features") or []:
                if feature.get("$type") == "app.bsky.richtext.facet#mention" and not str(
                    feature.get("did", "")
                ).startswith("did:"):
                    problems.append("mention without a DID")
        embed = record.get("embed") or {}
        if embed:
            blob = embed.get("video") or {}
            cid = (blob.get("ref") or {}).get("$link")
            problems += [
                embed.get("$type") != "app.bsky.embed.video" and "embed type",
                cid not in self.blobs and "video blob not on this PDS",
                graphemes(str(embed.get("alt", ""))) > 1000 and "alt over 1000 graphemes",
            ]
            ratio = embed.get("aspectRatio")
            if ratio is not None and not (int(ratio.get("width", 0)) > 0 and int(ratio.get("height", 0)) > 0):
                problems.append("aspectRatio")
        wrong = [p for p in problems if p]
        if wrong:
            self._problem(f"createRecord: {wrong}")
            raise xrpc_error(400, "InvalidRecord", str(wrong[0]))

    async def _get_record(self, request: web.Request) -> web.Response:
        q = request.query
        record = self.records.get(q.get("rkey", ""))
        if record is None or q.get("repo") not in (self.did, self.handle) or q.get("collection") != POST:
            raise xrpc_error(400, "RecordNotFound", "Could not locate record")
        return web.json_response({"uri": record.uri, "cid": record.cid, "value": record.value})

    async def _get_posts(self, request: web.Request) -> web.Response:
        self._injected("get_posts")
        uris = request.query.getall("uris", [])
        if len(uris) > 25:
            raise xrpc_error(400, "InvalidRequest", "uris must not have more than 25 elements")
        posts = [
            {
                "uri": r.uri,
                "cid": r.cid,
                "author": {"did": self.did, "handle": self.handle},
                "record": r.value,
                "indexedAt": r.value.get("createdAt"),
                **r.counts,
            }
            for r in self.records.values()
            if r.uri in uris
        ]
        return web.json_response({"posts": posts})

    async def _plc(self, request: web.Request) -> web.Response:
        if request.match_info["did"] != self.did:
            return web.json_response({"message": "DID not registered"}, status=404)
        return web.json_response(
            {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": self.did,
                "alsoKnownAs": [f"at://{self.handle}"],
                "verificationMethod": [
                    {
                        "id": f"{self.did}#atproto",
                        "type": "Multikey",
                        "controller": self.did,
                        "publicKeyJwk": dpop.public_jwk(self.account_key),
                    }
                ],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": self.base_url,
                    }
                ],
            }
        )

    # --- video service -------------------------------------------------------------------------

    def _service_token(self, request: web.Request, *, aud: str, lxm: str) -> dict[str, Any]:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            _, claims = dpop.verify(token, self.account_key.public_key())
        except ValueError:
            self._problem(f"{request.path}: no valid service token")
            raise xrpc_error(401, "AuthMissing", "Authentication Required") from None
        wrong = [
            claims.get("aud") != aud and f"aud {claims.get('aud')} != {aud}",
            claims.get("lxm") != lxm and f"lxm {claims.get('lxm')} != {lxm}",
            float(claims.get("exp", 0)) <= time.time() and "expired",
        ]
        if any(wrong):
            self._problem(f"{request.path}: service token {[w for w in wrong if w]}")
            raise xrpc_error(401, "InvalidToken", str(next(w for w in wrong if w)))
        return claims

    def _did_web(self, base: str) -> str:
        return "did:web:" + urlsplit(base).netloc.replace(":", "%3A")

    def _allowance(self) -> tuple[int, int]:
        now = time.time()
        self.uploads_today = [(t, n) for t, n in self.uploads_today if t > now - 86_400]
        videos = self.daily_videos - len(self.uploads_today)
        return max(0, videos), max(0, self.daily_bytes - sum(n for _, n in self.uploads_today))

    async def _limits(self, request: web.Request) -> web.Response:
        self._injected("limits")
        self._service_token(
            request, aud=self._did_web(self.video.base_url), lxm="app.bsky.video.getUploadLimits"
        )
        videos, room = self._allowance()
        body: dict[str, Any] = {
            "canUpload": self.email_verified and videos > 0 and room > 0,
            "remainingDailyVideos": videos,
            "remainingDailyBytes": room,
        }
        if not self.email_verified:
            body["message"] = "You need to verify your email address before you can upload videos"
        elif videos <= 0 or room <= 0:
            body["message"] = "You have reached your daily upload limit"
        return web.json_response(body)

    async def _upload(self, request: web.Request) -> web.Response:
        self._injected("upload")
        claims = self._service_token(
            request, aud=self._did_web(self.base_url), lxm="com.atproto.repo.uploadBlob"
        )
        if request.query.get("did") != claims["iss"] or not request.query.get("name"):
            raise xrpc_error(400, "InvalidRequest", "did must be the token's issuer, and name is required")
        mime = request.headers.get("Content-Type", "")
        if mime not in VIDEO_TYPES:
            raise xrpc_error(400, "InvalidRequest", f"unsupported content type {mime}")
        digest, size, head = hashlib.sha256(), 0, b""
        async for piece in request.content.iter_chunked(1 << 20):
            digest.update(piece)
            size += len(piece)
            head = (head + piece)[:16] if len(head) < 16 else head
            if size > MAX_VIDEO_BYTES:
                raise xrpc_error(400, "InvalidRequest", "video is too large")
        videos, room = self._allowance()
        if not self.email_verified or videos <= 0 or room < size:
            raise xrpc_error(400, "InvalidRequest", "upload not allowed")
        job = Job("job-" + secrets.token_hex(8), claims["iss"], digest.hexdigest(), size, mime)
        if job.digest in self.processed:
            # Told by getJobStatus, as the docs describe it: the job fails, the earlier blob comes along.
            job.duplicate_of = self.processed[job.digest]
        else:
            self.uploads_today.append((time.time(), size))
            if self.fail_next_job or head[4:8] != b"ftyp":
                job.failure = self.fail_next_job or "validation_failure"
                self.fail_next_job = None
        self.jobs[job.id] = job
        if job.duplicate_of and self.duplicate_upload_status is not None:
            return web.json_response(
                {
                    "did": job.did,
                    "error": "already_exists",
                    "jobId": job.id,
                    "message": "Video already processed",
                    "state": "JOB_STATE_COMPLETED",
                },
                status=self.duplicate_upload_status,
            )
        return web.json_response(self._status(job))

    def _status(self, job: Job) -> dict[str, Any]:
        status: dict[str, Any] = {"jobId": job.id, "did": job.did, "state": job.state}
        if job.blob is not None:
            status["blob"] = job.blob
        if job.error:
            status["error"] = job.error
        if job.failure and job.state == "JOB_STATE_FAILED":
            status["failureCode"] = job.failure
            status["message"] = (
                "Video failed validation" if job.failure == "validation_failure" else job.failure
            )
        if job.state not in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED"):
            status["progress"] = min(99, job.polls * 100 // max(1, self.processing_polls))
        return status

    async def _job_status(self, request: web.Request) -> web.Response:
        self._injected("status")
        job = self.jobs.get(request.query.get("jobId", ""))
        if job is None:
            raise xrpc_error(400, "NotFound", "job not found")
        if job.state not in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED"):
            job.polls += 1
            if job.duplicate_of:
                job.state, job.error, job.blob = (
                    "JOB_STATE_FAILED",
                    "already_exists",
                    self.blobs[job.duplicate_of],
                )
            elif job.failure:
                job.state = "JOB_STATE_FAILED"
            elif job.polls > self.processing_polls:
                cid = "bafkrei" + job.digest[:52]
                job.blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": "video/mp4", "size": job.size}
                # The service stores the processed video on the account's PDS (docs, "behind the scenes").
                self.blobs[cid] = job.blob
                self.processed[job.digest] = cid
                job.state = "JOB_STATE_COMPLETED"
            else:
                job.state = "JOB_STATE_ENCODING"
        return web.json_response({"jobStatus": self._status(job)})
