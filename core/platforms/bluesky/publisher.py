"""Bluesky: the video service's upload, then a post record with the video embed.

Protocol (https://docs.bsky.app/docs/tutorials/video, "Recommended method", read 6 Dec 2026):

1. ``GET <pds>/xrpc/com.atproto.server.getServiceAuth?aud=<video service DID>&lxm=
   app.bsky.video.getUploadLimits``, then ``GET <video>/xrpc/app.bsky.video.getUploadLimits`` with
   that token: ``canUpload``, ``remainingDailyVideos``, ``remainingDailyBytes``, ``message``
   (lexicons/app/bsky/video/getUploadLimits.json). A spent allowance waits; a refusal with room left
   (an unverified email: "Bluesky-hosted accounts need to have verified their account email before
   uploading video") fails, quoting Bluesky's message.
2. A service token "with an audience of your PDS, a scope allowing uploadBlob, and a slightly
   longer expiry - 30 minutes is recommended": ``aud=did:web:<pds host>``,
   ``lxm=com.atproto.repo.uploadBlob``.
3. ``POST <video>/xrpc/app.bsky.video.uploadVideo?did=<did>&name=<file name>`` with the bytes
   (streamed from the media storage) → a job status (``jobId``, ``state``, maybe ``blob``). The
   lexicon wraps it in ``{"jobStatus": ...}`` while the service answers it bare (atproto#3026, "The
   response misses jobStatus root object described in the lexicon"), as the docs' sample, Postiz's
   client and the official app read it; an ``unconfirmed_email`` refusal came wrapped
   (atproto#3097). Both shapes are taken.
4. ``GET <video>/xrpc/app.bsky.video.getJobStatus?jobId=`` until ``JOB_STATE_COMPLETED`` with a
   ``blob`` or ``JOB_STATE_FAILED`` (``error``, ``message``, ``failureCode``;
   lexicons/app/bsky/video/defs.json). A blob is used whenever one is present, "regardless of the
   success or failure of the job" (``already_exists``: the service processed these bytes before).
5. ``POST <pds>/xrpc/com.atproto.repo.createRecord`` an ``app.bsky.feed.post`` with text, facets
   (core/platforms/bluesky/text.py), ``langs`` and ``embed: {$type: app.bsky.embed.video, video,
   alt, aspectRatio}``.

Every PDS request carries the session's DPoP proof (core/platforms/bluesky/session.py); a 401 that
is not a nonce request refreshes the session once (core/publishers/http.py ``send_authorized``).
The PDS is whatever the account's DID document named, so its requests go through
``AccountHosts`` (core/platforms/bluesky/identity.py): a PDS whose name now resolves to a private or
loopback address fails the post, and no token is sent to it; an answer of it (an error's included)
is read only up to ``MAX_ANSWER_BYTES``, and one past that fails the post. The video service is the operator's
setting and goes through the shared client.

Resuming: the job id and then the blob are checkpointed, so a retry polls or posts instead of
uploading again. The record key (a TID) is chosen and checkpointed before createRecord, so a retry
after a lost answer asks ``com.atproto.repo.getRecord`` for that key before creating anything: the
post is never made twice.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.oauth.endpoints import resolve
from core.platforms.bluesky import text as richtext
from core.platforms.bluesky.identity import AccountHosts, Refused, Unreadable, local_network
from core.platforms.bluesky.oauth import BlueskyOAuth
from core.platforms.bluesky.session import DPoPHttp, Session
from core.publishers.base import (
    AuthError,
    PermanentError,
    PublishJob,
    PublishResult,
    RateLimited,
    TokenSource,
    TransientError,
)
from core.publishers.http import error_for_response, reset_epoch_to_delay, retry_transient, send_authorized

DEFAULT_VIDEO_URL = "https://video.bsky.app"
POST = "app.bsky.feed.post"
COMPLETED = "JOB_STATE_COMPLETED"
FAILED = "JOB_STATE_FAILED"
# The docs recommend 30 minutes for the upload's service token: processing may outlast a short one.
UPLOAD_TOKEN_S = 30 * 60
LIMITS_TOKEN_S = 60
# Bluesky says when a spent daily allowance reopens nowhere (getUploadLimits has no reset time);
# coming back every few hours finds the room as soon as the rolling day frees some.
ALLOWANCE_RETRY_S = 6 * 3600
READ_SIZE = 1024 * 1024
_VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm", "video/mpeg"}
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def tid(micros: int | None = None, clock_id: int | None = None) -> str:
    """A record key in the TID format (https://atproto.com/specs/tid): 53 bits of microseconds and
    10 bits of clock id, base32-sortable, 13 characters."""
    value = ((micros if micros is not None else time.time_ns() // 1000) << 10) | (
        (clock_id if clock_id is not None else secrets.randbelow(1024)) & 0x3FF
    )
    value &= (1 << 63) - 1
    out = []
    for _ in range(13):
        out.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def did_web(url: str) -> str:
    """The did:web of a service's host (a port's colon percent-encoded, https://w3c-ccg.github.io/did-method-web/)."""
    return "did:web:" + urlsplit(url).netloc.replace(":", "%3A")


def post_url(did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def _session(stored: str) -> Session:
    try:
        return Session.parse(stored)
    except ValueError:
        raise AuthError(
            "the stored Bluesky session can't be read",
            hint="An admin can re-link the account with /link bluesky.",
        ) from None


def _explain(response: httpx.Response) -> str:
    """XRPC errors are ``{"error": "Name", "message": "..."}``."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("jobStatus"), dict) and "error" not in body:
        # The video service's refusals can come inside a job status with an empty jobId, as the
        # unverified-email one did (atproto#3097).
        body = body["jobStatus"]
    if isinstance(body, dict):
        name, message = body.get("error"), body.get("message")
        if name and message:
            return f"{message} ({name})"
        if name or message:
            return str(message or name)
    return f"HTTP {response.status_code}"


def _error(response: httpx.Response, what: str) -> Exception:
    message = f"Bluesky refused to {what}: {_explain(response)}"
    if response.status_code == 429:
        # Bluesky's PDS sends the IETF draft's RateLimit-Reset as an epoch second
        # (https://docs.bsky.app/docs/advanced-guides/rate-limits).
        wait = reset_epoch_to_delay(response.headers.get("ratelimit-reset"))
        if wait is not None:
            return RateLimited(message, status_code=429, retry_after=wait)
    return error_for_response(response, message)


def _job_status(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("jobStatus")
        return dict(inner) if isinstance(inner, dict) else dict(body)
    return {}


class BlueskyPublisher:
    platform = Platform.BLUESKY
    requires_account = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        video_url: str = DEFAULT_VIDEO_URL,
        poll_interval_s: float = 1.5,
        max_processing_s: float = 600.0,
        max_inline_wait_s: float = 30.0,
        step_attempts: int = 3,
        retry_base_s: float = 0.5,
        allow_http: bool = False,
        hosts: AccountHosts | None = None,
    ) -> None:
        self.http = http
        self.hosts = hosts or AccountHosts(http, allow_http=allow_http)
        self.dpop = DPoPHttp(self.hosts)
        self.video = video_url.rstrip("/")
        self.poll_interval_s = poll_interval_s
        self.max_processing_s = max_processing_s
        self.max_inline_wait_s = max_inline_wait_s
        self.step_attempts = step_attempts
        self.retry_base_s = retry_base_s

    @classmethod
    def from_settings(
        cls, conf: PlatformSettings, http: httpx.AsyncClient, **kwargs: Any
    ) -> BlueskyPublisher:
        # The PDS rules are off exactly where linking's are: an entry server on plain http.
        entry = resolve(BlueskyOAuth.defaults_for(conf), conf).authorize
        return cls(
            http,
            video_url=conf.upload_base_url or DEFAULT_VIDEO_URL,
            allow_http=local_network(entry),
            **kwargs,
        )

    async def aclose(self) -> None:
        await self.hosts.aclose()

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get("bsky_uri"):
            return PublishResult(str(state["bsky_uri"]), str(state.get("remote_url") or "") or None)
        length = len(job.caption.encode("utf-8"))
        if length > richtext.MAX_BYTES:
            raise PermanentError(
                f"the post text is {length:,} bytes; Bluesky takes {richtext.MAX_BYTES:,}",
                hint="Shorten the text (emoji and non-Latin letters take several bytes each).",
            )
        if state.get("bsky_post_attempted") and state.get("bsky_rkey"):
            # Before anything else: a post whose answer was lost may exist already.
            found = await self._existing(tokens, str(state["bsky_rkey"]))
            if found is not None:
                return await self._done(job, found)
        blob = state.get("bsky_blob") or await self._video(job, tokens)
        return await self._post(job, tokens, blob)

    # --- the PDS -------------------------------------------------------------------------------

    async def _pds(
        self, tokens: TokenSource, method: str, nsid: str, what: str, **kwargs: Any
    ) -> httpx.Response:
        async def send(stored: str) -> httpx.Response:
            session = _session(stored)
            try:
                return await self.dpop.request(
                    method,
                    f"{session.pds}/xrpc/{nsid}",
                    key=session.key,
                    access_token=session.token,
                    **kwargs,
                )
            except Refused as exc:
                # Not retried: the account's identity points postbot at a server it won't send
                # tokens to, and only its holder (or a re-link after a move) can change that.
                raise PermanentError(
                    exc.message,
                    hint="If the account moved to another server, an admin can re-link it "
                    "with /link bluesky.",
                ) from None
            except Unreadable as exc:
                # Not retried either: no XRPC answer comes near the cap, so a server sending one
                # past it is broken or hostile, and each try would cost a worker the cap again.
                raise PermanentError(
                    exc.message,
                    hint="The account's Bluesky server (PDS) is misbehaving; if the account moved to "
                    "another server, an admin can re-link it with /link bluesky.",
                ) from None

        response = await send_authorized(tokens, send)
        if response.is_success:
            return response
        raise _error(response, what)

    async def _pds_step(self, tokens: TokenSource, method: str, nsid: str, what: str, **kwargs: Any) -> Any:
        """An idempotent PDS call, retried in place on 5xx and short rate-limit waits."""

        async def once() -> Any:
            response = await self._pds(tokens, method, nsid, what, **kwargs)
            return response.json() if response.content else {}

        return await retry_transient(
            once, attempts=self.step_attempts, base_s=self.retry_base_s, max_wait_s=self.max_inline_wait_s
        )

    async def _service_token(self, tokens: TokenSource, aud: str, lxm: str, ttl_s: int) -> str:
        body = await self._pds_step(
            tokens,
            "GET",
            "com.atproto.server.getServiceAuth",
            "grant the video service access",
            params={"aud": aud, "lxm": lxm, "exp": str(int(time.time()) + ttl_s)},
        )
        token = body.get("token") if isinstance(body, dict) else None
        if not token:
            raise TransientError("Bluesky did not return a service token")
        return str(token)

    async def _current(self, tokens: TokenSource) -> Session:
        try:
            return _session(await tokens.access_token())
        except httpx.TransportError as exc:
            raise TransientError(f"network error talking to Bluesky ({type(exc).__name__})") from exc

    # --- the video -----------------------------------------------------------------------------

    async def _video(self, job: PublishJob, tokens: TokenSource) -> dict[str, Any]:
        job_id = job.upload_state.get("bsky_job_id")
        if not job_id:
            await self._check_limits(job, tokens)
            status = await self._upload(job, tokens)
            if isinstance(status.get("blob"), dict):
                await job.checkpoint(bsky_blob=status["blob"])
                return dict(status["blob"])
            job_id = str(status["jobId"])
        return await self._wait(job, str(job_id))

    async def _check_limits(self, job: PublishJob, tokens: TokenSource) -> None:
        token = await self._service_token(
            tokens, did_web(self.video), "app.bsky.video.getUploadLimits", LIMITS_TOKEN_S
        )

        async def once() -> dict[str, Any]:
            try:
                response = await self.http.get(
                    f"{self.video}/xrpc/app.bsky.video.getUploadLimits",
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                raise TransientError(
                    f"network error talking to Bluesky's video service ({type(exc).__name__})"
                ) from exc
            if not response.is_success:
                raise _error(response, "report the account's video allowance")
            return dict(response.json())

        limits = await retry_transient(
            once, attempts=self.step_attempts, base_s=self.retry_base_s, max_wait_s=self.max_inline_wait_s
        )
        size = job.media.size_bytes
        said = str(limits.get("message") or limits.get("error") or "").strip()
        videos = limits.get("remainingDailyVideos")
        room = limits.get("remainingDailyBytes")
        spent = (isinstance(videos, int) and videos <= 0) or (isinstance(room, int) and room < size)
        if spent:
            raise RateLimited(
                "the account's daily Bluesky video allowance is used up"
                + (
                    f" ({videos} videos, {room:,} bytes left)"
                    if isinstance(videos, int) and isinstance(room, int)
                    else ""
                )
                + (f": {said}" if said else ""),
                retry_after=ALLOWANCE_RETRY_S,
                hint="Bluesky limits videos per account per day; the post goes out when there is room again.",
            )
        if not limits.get("canUpload", False):
            raise PermanentError(
                f"Bluesky won't take videos from this account{': ' + said if said else ''}",
                hint="Bluesky-hosted accounts must verify their email before uploading video "
                "(Settings → Account in the Bluesky app); then schedule it again.",
            )

    async def _upload(self, job: PublishJob, tokens: TokenSource) -> dict[str, Any]:
        session = await self._current(tokens)
        token = await self._service_token(
            tokens, did_web(session.pds), "com.atproto.repo.uploadBlob", UPLOAD_TOKEN_S
        )
        size = job.media.size_bytes
        mime = job.media.mime if job.media.mime in _VIDEO_TYPES else "video/mp4"
        name = job.media.original_name or f"post-{job.post_id}.mp4"

        async def content() -> AsyncIterator[bytes]:
            async for piece in job.source.stream(0, size, piece=READ_SIZE):
                yield piece

        async def once() -> dict[str, Any]:
            try:
                response = await self.http.post(
                    f"{self.video}/xrpc/app.bsky.video.uploadVideo",
                    params={"did": session.did, "name": name},
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": mime,
                        "Content-Length": str(size),
                    },
                    content=content(),
                )
            except httpx.TransportError as exc:
                raise TransientError(f"network error uploading to Bluesky ({type(exc).__name__})") from exc
            status = _job_status(response.json() if _is_json(response) else None)
            # An answer naming a job (or a blob) is the job to follow, whatever its HTTP status: bytes
            # processed before come back as ``error: already_exists`` with the earlier job's id
            # (atproto#3097 logged it from the real service without its status), and the official app
            # reads the answer that way, failing only one without a jobId (bluesky-social/social-app,
            # src/lib/media/video/upload.ts, read 6 Dec 2026).
            if response.is_success or status.get("jobId") or isinstance(status.get("blob"), dict):
                return status
            raise _error(response, "take the video")

        status = await retry_transient(
            once, attempts=self.step_attempts, base_s=self.retry_base_s, max_wait_s=self.max_inline_wait_s
        )
        if not status.get("jobId") and not isinstance(status.get("blob"), dict):
            raise TransientError("Bluesky's video service returned no job id")
        job.uploaded(size, size)
        if status.get("jobId"):
            await job.checkpoint(bsky_job_id=str(status["jobId"]))
        return status

    async def _wait(self, job: PublishJob, job_id: str) -> dict[str, Any]:
        job.processing()
        deadline = time.monotonic() + self.max_processing_s
        while True:

            async def once() -> dict[str, Any]:
                try:
                    response = await self.http.get(
                        f"{self.video}/xrpc/app.bsky.video.getJobStatus", params={"jobId": job_id}
                    )
                except httpx.TransportError as exc:
                    raise TransientError(f"network error talking to Bluesky ({type(exc).__name__})") from exc
                status = _job_status(response.json() if _is_json(response) else None)
                if response.is_success or isinstance(status.get("blob"), dict):
                    return status
                raise _error(response, "report the video's processing")

            status = await retry_transient(
                once, attempts=self.step_attempts, base_s=self.retry_base_s, max_wait_s=self.max_inline_wait_s
            )
            blob = status.get("blob")
            if isinstance(blob, dict):
                await job.checkpoint(bsky_blob=blob)
                return dict(blob)
            if status.get("state") == FAILED:
                # A new attempt uploads again rather than asking after a job that failed for good.
                await job.checkpoint(bsky_job_id=None)
                why = status.get("message") or status.get("error") or status.get("failureCode") or "failed"
                raise PermanentError(
                    f"Bluesky could not process the video: {why}",
                    hint="Check the file plays and is within Bluesky's limits (docs/platforms.md#bluesky), "
                    "then schedule it again.",
                )
            if time.monotonic() + self.poll_interval_s > deadline:
                # The job id is checkpointed: the next attempt goes straight back to polling.
                raise TransientError(
                    "Bluesky is still processing the video", retry_after=self.poll_interval_s
                )
            await asyncio.sleep(self.poll_interval_s)

    # --- the post ------------------------------------------------------------------------------

    async def _post(self, job: PublishJob, tokens: TokenSource, blob: dict[str, Any]) -> PublishResult:
        session = await self._current(tokens)
        state = job.upload_state
        rkey = str(state.get("bsky_rkey") or tid())
        created = str(state.get("bsky_created_at") or _now())
        await job.checkpoint(bsky_rkey=rkey, bsky_created_at=created, bsky_post_attempted=True)

        async def resolve(handle: str) -> str | None:
            try:
                body = await self._pds_step(
                    tokens,
                    "GET",
                    "com.atproto.identity.resolveHandle",
                    f"resolve @{handle}",
                    params={"handle": handle},
                )
            except PermanentError:
                return None  # no such handle: the mention stays plain text
            did = body.get("did") if isinstance(body, dict) else None
            return str(did) if did else None

        embed: dict[str, Any] = {"$type": "app.bsky.embed.video", "video": blob}
        alt = job.options.get("alt")
        if alt:
            embed["alt"] = str(alt)
        if job.media.width and job.media.height:
            embed["aspectRatio"] = {"width": job.media.width, "height": job.media.height}
        record: dict[str, Any] = {"$type": POST, "text": job.caption, "createdAt": created, "embed": embed}
        facets = await richtext.facets(job.caption, resolve)
        if facets:
            record["facets"] = facets
        langs = job.options.get("langs")
        if langs:
            record["langs"] = list(langs)
        # Not retried in place: a lost answer may mean the record exists; the retry looks first.
        response = await self._pds(
            tokens,
            "POST",
            "com.atproto.repo.createRecord",
            "create the post",
            json={"repo": session.did, "collection": POST, "rkey": rkey, "record": record},
        )
        uri = str(response.json().get("uri") or "")
        if not uri:
            raise TransientError("Bluesky did not return the new post's address")
        return await self._done(job, uri)

    async def _existing(self, tokens: TokenSource, rkey: str) -> str | None:
        session = await self._current(tokens)
        try:
            body = await self._pds_step(
                tokens,
                "GET",
                "com.atproto.repo.getRecord",
                "look for the post",
                params={"repo": session.did, "collection": POST, "rkey": rkey},
            )
        except PermanentError as exc:
            if isinstance(exc, AuthError):
                raise
            return None  # RecordNotFound: the post was never made
        uri = body.get("uri") if isinstance(body, dict) else None
        return str(uri) if uri else None

    async def _done(self, job: PublishJob, uri: str) -> PublishResult:
        did, _, rkey = uri.removeprefix("at://").partition(f"/{POST}/")
        url = post_url(did, rkey)
        await job.checkpoint(bsky_uri=uri, remote_id=uri, remote_url=url)
        return PublishResult(uri, url)


def _is_json(response: httpx.Response) -> bool:
    if "json" not in response.headers.get("content-type", ""):
        return False
    try:
        response.json()
    except ValueError:
        return False
    return True


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
