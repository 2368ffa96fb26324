"""A local fake of TikTok's Content Posting API (Direct Post), in TikTok's wire format.

Implemented (developers.tiktok.com: Direct Post reference, Media Transfer Guide, Get Post Status):

- ``POST /v2/post/publish/creator_info/query/``: the creator's privacy options, interaction settings
  and ``max_video_post_duration_sec``.
- ``POST /v2/post/publish/video/init/`` with ``post_info`` and ``source_info`` (``FILE_UPLOAD``,
  ``video_size``, ``chunk_size``, ``total_chunk_count``), checked against the documented chunk rules:
  chunks of 5-64 MB (the final one may hold the trailing bytes, up to 128 MB), files under 5 MB in one
  chunk, files over 64 MB in several, 1-1000 chunks, ``total_chunk_count = floor(video_size /
  chunk_size)``. Answers ``publish_id`` and an ``upload_url``. 6 requests per minute per token.
  With ``PULL_FROM_URL`` and ``video_url`` instead, TikTok downloads the video itself, and only from a
  URL under a prefix (or domain) whose ownership the app verified (``verified_prefixes``); any other
  URL is refused with ``403 url_ownership_unverified``
  (https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide/#pull_from_url, and the
  error table of https://developers.tiktok.com/doc/content-posting-api-reference-direct-post). The
  fake then really GETs the URL (a presigned S3 URL from moto, say), hashing what it receives, while
  ``status/fetch`` answers ``PROCESSING_DOWNLOAD`` with ``downloaded_bytes``; a download that fails
  ends ``FAILED`` with ``fail_reason: video_pull_failed``
  (https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status). The chunk
  fields are for FILE_UPLOAD only ("true for FILE_UPLOAD" in the reference) and are ignored here.
- ``PUT {upload_url}`` with ``Content-Type`` (video/mp4, video/quicktime, video/webm),
  ``Content-Length`` and ``Content-Range: bytes first-last/total``; chunks in order and on the declared
  boundaries: ``206`` per chunk, ``201`` after the last; ``416`` for a range that is not the next chunk,
  ``400`` for bad headers, ``404`` for an unknown or expired upload URL.
- ``POST /v2/post/publish/status/fetch/``: ``PROCESSING_UPLOAD`` (with ``uploaded_bytes``) until the
  file is complete, then ``PUBLISH_COMPLETE`` (``publicaly_available_post_id``, TikTok's spelling) or
  ``FAILED`` with ``fail_reason``. A public post's id is empty until moderation is done
  (``moderation_polls``): "developers are not provided with the post_id until this process is
  complete ... In some cases, moderation may take a few hours"
  (https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status).
  30 requests per minute per token.

Every JSON answer carries TikTok's envelope ``{"data": ..., "error": {"code", "message", "log_id"}}``.
Chunk bodies are streamed and hashed, never kept. Run it alone with
``python -m tests.fakes.tiktok_api --port 8791 --token act.test``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from tests.fakes.injected import take
from tests.fakes.loopback import LoopbackFake, Rejected, large_socket_reads, serve_forever, token_args
from tests.fakes.ranged import Recorded

MiB = 1024 * 1024
MIN_CHUNK = 5 * MiB
MAX_CHUNK = 64 * MiB
MAX_FINAL_CHUNK = 128 * MiB
MAX_CHUNKS = 1000
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
PRIVACY_LEVELS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


# The video object's fields (https://developers.tiktok.com/doc/tiktok-api-v2-video-object).
VIDEO_FIELDS = {
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_html",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
}


def envelope(data: Any = None, *, code: str = "ok", message: str = "", status: int = 200) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "log_id": secrets.token_hex(16)}}
    if data is not None:
        body["data"] = data
    return web.json_response(body, status=status)


UNAUDITED_ACTIVE_USERS = 5
# The post_info fields the Direct Post reference documents, with their JSON types.
POST_INFO_FIELDS: dict[str, type] = {
    "title": str,
    "privacy_level": str,
    "disable_duet": bool,
    "disable_stitch": bool,
    "disable_comment": bool,
    "video_cover_timestamp_ms": int,
    "brand_content_toggle": bool,
    "brand_organic_toggle": bool,
    "is_aigc": bool,
}


@dataclass
class Injected:
    count: int
    status: int = 503
    retry_after: float | None = None
    after_bytes: int = 0
    after: int = 0


@dataclass
class Upload:
    publish_id: str
    upload_id: str
    token: str
    open_id: str
    post_info: dict[str, Any]
    video_size: int
    chunk_size: int
    total_chunk_count: int
    received: int = 0
    chunks_done: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    head: bytes = b""
    content_type: str | None = None
    expired: bool = False
    status_polls: int = 0
    status: str = "PROCESSING_UPLOAD"
    fail_reason: str | None = None
    post_id: int | None = None
    moderation_polls: int = 0
    # PULL_FROM_URL: the URL TikTok downloads from, what the download saw, and its task.
    source: str = "FILE_UPLOAD"
    video_url: str | None = None
    downloaded: int = 0
    download_status: int | None = None
    download: asyncio.Task[None] | None = None

    def chunk_bounds(self, index: int) -> tuple[int, int]:
        """``[first, last]`` byte of chunk ``index``: the last chunk also carries the trailing bytes."""
        first = index * self.chunk_size
        last = self.video_size - 1 if index == self.total_chunk_count - 1 else first + self.chunk_size - 1
        return first, last


class FakeTikTok(LoopbackFake):
    def __init__(self, *, tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        # access token → open_id. ``token_check`` decides for tokens not listed (e.g. a fake OAuth
        # provider's issued tokens).
        self.tokens: dict[str, str] = dict(tokens or {})
        self.token_check: Callable[[str], str | None] | None = None
        self.scopes_missing: set[str] = set()
        self.creator: dict[str, Any] = {
            "creator_avatar_url": "https://p16-sign.tiktokcdn.com/avatar.jpeg",
            "creator_username": "postbot_team",
            "creator_nickname": "Postbot Team",
            "privacy_level_options": list(PRIVACY_LEVELS),
            "comment_disabled": False,
            "duet_disabled": False,
            "stitch_disabled": True,
            "max_video_post_duration_sec": 600,
        }
        # Unaudited API clients may only post SELF_ONLY.
        self.audited = True
        # Status polls that answer PROCESSING after the upload completed.
        self.processing_polls = 1
        # Status polls that answer PUBLISH_COMPLETE with no post id yet (moderation still running).
        self.moderation_polls = 0
        self.uploads: dict[str, Upload] = {}
        # Counts per posted video id, as /v2/video/query/ reports them (view_count, like_count, ...).
        self.counts: dict[str, dict[str, int]] = {}
        # "/v2/video/query/: 600" requests per minute, over a one-minute sliding window
        # (https://developers.tiktok.com/doc/tiktok-api-v2-rate-limit); tests lower it.
        self.query_limit_per_min = 600
        self.requests: list[Recorded] = []
        self.protocol_errors: list[str] = []
        self.chunk_failures: list[Injected] = []
        self.chunk_rate_limits: list[Injected] = []
        self.chunk_drops: list[Injected] = []
        self.init_failures: list[tuple[int, str, str]] = []
        self.processing_failure: str | None = None
        self.rate_windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.init_limit_per_min = 6
        # Per creator: init times (the caps count posts started in a rolling 24 hours).
        self.posted_at: dict[str, list[float]] = defaultdict(list)
        self.creator_daily_cap: int | None = None
        self.status_limit_per_min = 30
        # Off only for throughput benchmarks, where the fake then counts bytes instead of hashing.
        self.hash_bodies = True
        # URL prefixes (or bare https://host origins) the app verified for PULL_FROM_URL.
        self.verified_prefixes: list[str] = []
        # Seconds TikTok waits after init before it starts downloading a pulled video.
        self.pull_delay_s = 0.0

    # --- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v2/post/publish/creator_info/query/", self._creator_info)
        app.router.add_post("/v2/post/publish/video/init/", self._init)
        app.router.add_post("/v2/post/publish/status/fetch/", self._status)
        app.router.add_post("/v2/video/query/", self._query_videos)
        app.router.add_put("/upload/", self._put)
        return app

    async def stop(self) -> None:
        for upload in self.uploads.values():
            if upload.download is not None:
                upload.download.cancel()
        await super().stop()

    # --- test controls -------------------------------------------------------------------------

    def fail_chunks(self, count: int = 1, *, status: int = 503, skip: int = 0) -> None:
        self.chunk_failures.append(Injected(count, status=status, after=skip))

    def rate_limit_chunks(self, count: int = 1, *, retry_after: float = 1) -> None:
        self.chunk_rate_limits.append(Injected(count, status=429, retry_after=retry_after))

    def drop_chunks(self, count: int = 1, *, after_bytes: int = MiB, skip: int = 0) -> None:
        self.chunk_drops.append(Injected(count, after_bytes=after_bytes, after=skip))

    def fail_init(self, status: int, code: str, message: str) -> None:
        self.init_failures.append((status, code, message))

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def expire_upload_urls(self) -> None:
        for upload in self.uploads.values():
            upload.expired = True

    @property
    def published(self) -> list[Upload]:
        return [u for u in self.uploads.values() if u.status == "PUBLISH_COMPLETE"]

    # --- helpers -------------------------------------------------------------------------------

    def _record(self, request: web.Request, status: int, length: int = 0) -> None:
        self.requests.append(Recorded.of(request, status, length))

    def _reject(self, request: web.Request, status: int, code: str, message: str) -> Rejected:
        if status in (400, 416):
            self.protocol_errors.append(message)
        self._record(request, status)
        return Rejected(envelope(code=code, message=message, status=status))

    def _auth(self, request: web.Request, scope: str) -> tuple[str, str]:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        open_id = self.tokens.get(token) if token else None
        if open_id is None and token and self.token_check is not None:
            open_id = self.token_check(token)
        if open_id is None:
            raise self._reject(
                request,
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        if scope in self.scopes_missing:
            raise self._reject(
                request,
                401,
                "scope_not_authorized",
                f"The user did not authorize the scope required: {scope}.",
            )
        return token, open_id

    async def _query_videos(self, request: web.Request) -> web.Response:
        """``POST /v2/video/query/?fields=...`` with ``{"filters": {"video_ids": [...]}}``: "check if
        the videos belong to the requesting user and fetch the data of videos belonging to the
        user"; at most 20 ids; scope ``video.list``
        (https://developers.tiktok.com/doc/tiktok-api-v2-video-query)."""
        try:
            token, open_id = self._auth(request, "video.list")
            window = self.rate_windows[("query", token)]
            now = time.monotonic()
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= self.query_limit_per_min:
                raise self._reject(request, 429, "rate_limit_exceeded", "Too many requests.")
            window.append(now)
            body = self._json_body(request, await request.read())
            ids = (body.get("filters") or {}).get("video_ids")
            if not isinstance(ids, list) or not ids or len(ids) > 20:
                raise self._reject(request, 400, "invalid_params", "filters.video_ids takes 1 to 20 ids.")
            fields = [f for f in request.query.get("fields", "").split(",") if f]
            if not fields or any(f not in VIDEO_FIELDS for f in fields):
                raise self._reject(
                    request, 400, "invalid_params", "fields is missing or has an unknown field."
                )
        except Rejected as exc:
            return exc.response
        videos = []
        for upload in self.uploads.values():
            post_id = str(upload.post_id or "")
            if upload.open_id != open_id or not post_id or post_id not in ids:
                continue
            video = {"id": post_id} | self.counts.get(post_id, {})
            videos.append({f: video.get(f, 0) for f in fields})
        self._record(request, 200)
        return envelope({"videos": videos, "cursor": 0, "has_more": False})

    def _json_body(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        if not request.headers.get("Content-Type", "").lower().startswith("application/json"):
            raise self._reject(
                request, 400, "invalid_params", "Content-Type must be application/json; charset=UTF-8."
            )
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise self._reject(
                request, 400, "invalid_params", "The request body is not valid JSON."
            ) from None
        if not isinstance(body, dict):
            raise self._reject(request, 400, "invalid_params", "The request body must be a JSON object.")
        return body

    def _rate(self, request: web.Request, token: str, what: str, limit: int) -> None:
        window = self.rate_windows[(token, what)]
        now = time.monotonic()
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= limit:
            raise self._reject(
                request,
                429,
                "rate_limit_exceeded",
                "The API rate limit was exceeded. Please try again later.",
            )
        window.append(now)

    # --- endpoints -----------------------------------------------------------------------------

    async def _creator_info(self, request: web.Request) -> web.StreamResponse:
        try:
            self._auth(request, "video.publish")
        except Rejected as rejected:
            return rejected.response
        self._record(request, 200)
        return envelope(dict(self.creator))

    async def _init(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._init_checked(request)
        except Rejected as rejected:
            return rejected.response

    async def _init_checked(self, request: web.Request) -> web.StreamResponse:
        token, open_id = self._auth(request, "video.publish")
        body = self._json_body(request, await request.read())
        self._rate(request, token, "init", self.init_limit_per_min)
        if self.init_failures:
            status, code, message = self.init_failures.pop(0)
            raise self._reject(request, status, code, message)
        post_info = body.get("post_info")
        source = body.get("source_info")
        if not isinstance(post_info, dict) or not isinstance(source, dict):
            raise self._reject(request, 400, "invalid_params", "post_info and source_info are required.")
        if source.get("source") not in ("FILE_UPLOAD", "PULL_FROM_URL"):
            raise self._reject(request, 400, "invalid_params", "source must be FILE_UPLOAD or PULL_FROM_URL.")
        pulled = source.get("source") == "PULL_FROM_URL"
        video_url = source.get("video_url")
        if pulled and (not isinstance(video_url, str) or not video_url):
            raise self._reject(request, 400, "invalid_params", "video_url is required for PULL_FROM_URL.")
        # post_info's fields and types (https://developers.tiktok.com/doc/content-posting-api-reference-direct-post,
        # "Request body"): an unknown or mistyped field is refused, so a misspelt option cannot pass.
        for name, value in post_info.items():
            kind = POST_INFO_FIELDS.get(name)
            if kind is None:
                raise self._reject(request, 400, "invalid_params", f"post_info.{name} is not a known field.")
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise self._reject(request, 400, "invalid_params", f"post_info.{name} has the wrong type.")
        title = post_info.get("title", "")
        if not isinstance(title, str) or len(title.encode("utf-16-le")) // 2 > 2200:
            raise self._reject(request, 400, "invalid_params", "title must be at most 2200 UTF-16 runes.")
        privacy = post_info.get("privacy_level")
        if privacy not in PRIVACY_LEVELS:
            raise self._reject(request, 400, "invalid_params", "privacy_level is required.")
        if privacy not in self.creator["privacy_level_options"]:
            raise self._reject(
                request,
                403,
                "privacy_level_option_mismatch",
                "privacy_level is not one of the creator's options.",
            )
        if not self.audited and privacy != "SELF_ONLY":
            raise self._reject(
                request,
                403,
                "unaudited_client_can_only_post_to_private_accounts",
                "Unaudited clients can only post to a private account.",
            )
        # "Branded content visibility cannot be set to private"
        # (https://developers.tiktok.com/doc/content-sharing-guidelines, commercial content disclosure).
        if post_info.get("brand_content_toggle") and privacy == "SELF_ONLY":
            raise self._reject(
                request, 400, "invalid_params", "Branded content cannot be posted with SELF_ONLY privacy."
            )
        if self.creator["comment_disabled"] and not post_info.get("disable_comment"):
            raise self._reject(
                request, 400, "invalid_params", "The creator disabled comments: disable_comment must be true."
            )
        self._check_caps(request, open_id)
        if pulled:
            assert isinstance(video_url, str)
            return self._start_pull(request, token, open_id, post_info, video_url)
        self._check_chunks(request, source)
        upload = Upload(
            publish_id=f"v_pub_file~v2-1.{secrets.randbelow(10**18)}",
            upload_id=secrets.token_urlsafe(12),
            token=token,
            open_id=open_id,
            post_info=post_info,
            video_size=int(source["video_size"]),
            chunk_size=int(source["chunk_size"]),
            total_chunk_count=int(source["total_chunk_count"]),
        )
        self.uploads[upload.publish_id] = upload
        self._record(request, 200)
        upload_url = (
            f"{self.base_url}/upload/?upload_id={upload.upload_id}&upload_token={secrets.token_hex(16)}"
        )
        return envelope({"publish_id": upload.publish_id, "upload_url": upload_url})

    def _check_caps(self, request: web.Request, open_id: str) -> None:
        """Direct Post's caps (https://developers.tiktok.com/doc/content-posting-api-reference-direct-post,
        error codes): ``spam_risk_too_many_posts`` "the daily post cap from the API is reached for the
        current user" (TikTok publishes no number: ``creator_daily_cap`` is None until a test sets
        it), and for an unaudited client ``reached_active_user_cap``: "Unaudited API Clients can allow
        up to 5 users to post in a 24 hour window"
        (https://developers.tiktok.com/doc/content-sharing-guidelines/)."""
        now = time.time()
        recent = {oid: [t for t in times if t > now - 86_400] for oid, times in self.posted_at.items()}
        mine = recent.get(open_id, [])
        if self.creator_daily_cap is not None and len(mine) >= self.creator_daily_cap:
            raise self._reject(
                request, 403, "spam_risk_too_many_posts", "The daily post cap from the API is reached."
            )
        active = {oid for oid, times in recent.items() if times}
        if not self.audited and open_id not in active and len(active) >= UNAUDITED_ACTIVE_USERS:
            raise self._reject(
                request,
                403,
                "reached_active_user_cap",
                "The daily quota for active publishing users is reached.",
            )
        self.posted_at[open_id].append(now)

    def _verified(self, url: str) -> bool:
        for prefix in self.verified_prefixes:
            rest = url[len(prefix) :] if url.startswith(prefix) else None
            if rest is not None and (prefix.endswith("/") or not rest or rest[0] in "/?"):
                return True
        return False

    def _start_pull(
        self, request: web.Request, token: str, open_id: str, post_info: dict[str, Any], url: str
    ) -> web.StreamResponse:
        if not self._verified(url):
            self._record(request, 403)
            raise Rejected(
                envelope(
                    code="url_ownership_unverified",
                    message="Please review our URL ownership verification rules.",
                    status=403,
                )
            )
        upload = Upload(
            publish_id=f"v_pub_url~v2-1.{secrets.randbelow(10**18)}",
            upload_id="",
            token=token,
            open_id=open_id,
            post_info=post_info,
            video_size=0,
            chunk_size=0,
            total_chunk_count=0,
            source="PULL_FROM_URL",
            video_url=url,
            status="PROCESSING_DOWNLOAD",
        )
        self.uploads[upload.publish_id] = upload
        upload.download = asyncio.create_task(self._pull(upload))
        self._record(request, 200)
        return envelope({"publish_id": upload.publish_id})

    async def _pull(self, upload: Upload) -> None:
        """Download the video as TikTok would: one GET of the URL as given, no credentials."""
        assert upload.video_url is not None
        await asyncio.sleep(self.pull_delay_s)
        try:
            async with (
                aiohttp.ClientSession() as session,
                # The URL exactly as sent: a presigned signature covers its encoding.
                session.get(URL(upload.video_url, encoded=True), allow_redirects=False) as resp,
            ):
                upload.download_status = resp.status
                if resp.status != 200:
                    upload.status, upload.fail_reason = "FAILED", "video_pull_failed"
                    return
                async for piece in resp.content.iter_any():
                    upload.digest.update(piece)
                    if len(upload.head) < 16:
                        upload.head += piece[: 16 - len(upload.head)]
                    upload.downloaded += len(piece)
        except aiohttp.ClientError:
            upload.status, upload.fail_reason = "FAILED", "video_pull_failed"
            return
        upload.video_size = upload.downloaded
        upload.status = "PROCESSING_UPLOAD"
        self._processed(upload)

    def _check_chunks(self, request: web.Request, source: dict[str, Any]) -> None:
        size, chunk, count = (
            source.get("video_size"),
            source.get("chunk_size"),
            source.get("total_chunk_count"),
        )
        if not all(isinstance(v, int) and v > 0 for v in (size, chunk, count)):
            raise self._reject(
                request,
                400,
                "invalid_params",
                "video_size, chunk_size and total_chunk_count must be positive integers.",
            )
        assert isinstance(size, int) and isinstance(chunk, int) and isinstance(count, int)
        problem = None
        if size < MIN_CHUNK:
            if chunk != size or count != 1:
                problem = "A video under 5 MB must be uploaded whole: chunk_size = video_size, one chunk."
        elif not MIN_CHUNK <= chunk <= MAX_CHUNK and not (chunk == size and size <= MAX_CHUNK):
            problem = "chunk_size must be between 5 MB and 64 MB."
        elif count != size // chunk:
            problem = f"total_chunk_count must be floor(video_size / chunk_size) = {size // chunk}."
        elif size > MAX_CHUNK and count < 2:
            problem = "A video over 64 MB must be uploaded in several chunks."
        elif not 1 <= count <= MAX_CHUNKS:
            problem = "total_chunk_count must be between 1 and 1000."
        elif size - (count - 1) * chunk > MAX_FINAL_CHUNK:
            problem = "The final chunk may be at most 128 MB."
        if problem:
            raise self._reject(request, 400, "invalid_params", problem)

    async def _put(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._put_checked(request)
        except Rejected as rejected:
            # Read the refused body to its end, as the platform's front end does, so the client sees
            # the error response rather than a connection reset halfway through its upload.
            async for _ in request.content.iter_any():
                pass
            return rejected.response

    async def _put_checked(self, request: web.Request) -> web.StreamResponse:
        upload = next(
            (u for u in self.uploads.values() if u.upload_id == request.query.get("upload_id")), None
        )
        if upload is None or upload.expired or not request.query.get("upload_token"):
            self._record(request, 404)
            raise Rejected(
                envelope(code="invalid_params", message="The upload URL is unknown or expired.", status=404)
            )
        content_type = request.headers.get("Content-Type", "")
        if content_type not in VIDEO_TYPES:
            raise self._reject(
                request, 400, "invalid_params", f"Content-Type must be one of {sorted(VIDEO_TYPES)}."
            )
        if upload.content_type is not None and content_type != upload.content_type:
            raise self._reject(request, 400, "invalid_params", "Content-Type changed between chunks.")
        header = request.headers.get("Content-Range", "")
        match = _RANGE.match(header.strip())
        if match is None:
            raise self._reject(
                request, 400, "invalid_params", f"Content-Range {header!r} is missing or malformed."
            )
        first, last, total = (int(g) for g in match.groups())
        if total != upload.video_size:
            raise self._reject(
                request, 400, "invalid_params", f"Content-Range total {total} is not video_size."
            )
        if request.content_length is None or request.content_length != last - first + 1:
            raise self._reject(
                request, 400, "invalid_params", "Content-Length must equal the Content-Range span."
            )
        if upload.chunks_done >= upload.total_chunk_count:
            raise self._reject(request, 416, "invalid_params", "Every chunk has already been uploaded.")
        expected = upload.chunk_bounds(upload.chunks_done)
        if (first, last) != expected:
            raise self._reject(
                request,
                416,
                "invalid_params",
                f"Expected chunk {upload.chunks_done + 1} of {upload.total_chunk_count}: "
                f"bytes {expected[0]}-{expected[1]}/{total}.",
            )
        drop = take(self.chunk_drops)
        limit = take(self.chunk_rate_limits)
        failure = take(self.chunk_failures)
        digest = upload.digest.copy()
        head = upload.head
        seen = 0
        hashing = self.hash_bodies
        async for piece in request.content.iter_any():
            if hashing:
                digest.update(piece)
            if len(head) < 16:
                head += piece[: 16 - len(head)]
            seen += len(piece)
            if drop is not None and seen >= drop.after_bytes and request.transport is not None:
                request.transport.abort()
                self._record(request, 0, seen)
                return web.Response(status=500)
        if seen != last - first + 1:
            raise self._reject(request, 400, "invalid_params", "The body is shorter than Content-Length.")
        if limit is not None:
            self._record(request, 429, seen)
            response = envelope(code="rate_limit_exceeded", message="Too many requests.", status=429)
            response.headers["Retry-After"] = f"{limit.retry_after:g}"
            return response
        if failure is not None:
            self._record(request, failure.status, seen)
            return envelope(code="internal_error", message="Something went wrong.", status=failure.status)
        upload.digest, upload.head, upload.content_type = digest, head, content_type
        upload.received += seen
        upload.chunks_done += 1
        if upload.chunks_done == upload.total_chunk_count:
            self._record(request, 201, seen)
            self._processed(upload)
            return web.Response(status=201)
        self._record(request, 206, seen)
        return web.Response(status=206, headers={"Content-Range": f"bytes 0-{upload.received - 1}/{total}"})

    def _processed(self, upload: Upload) -> None:
        """Decide the outcome TikTok's processing will report once the polls run out."""
        head = upload.head
        is_video = head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3"
        if not is_video:
            upload.fail_reason = "file_format_check_failed"
        elif self.processing_failure:
            upload.fail_reason = self.processing_failure

    async def _status(self, request: web.Request) -> web.StreamResponse:
        try:
            token, open_id = self._auth(request, "video.publish")
            body = self._json_body(request, await request.read())
            self._rate(request, token, "status", self.status_limit_per_min)
        except Rejected as rejected:
            return rejected.response
        upload = self.uploads.get(str(body.get("publish_id", "")))
        if upload is None or upload.open_id != open_id:
            self._record(request, 400)
            return envelope(code="invalid_params", message="publish_id does not exist.", status=400)
        if upload.chunks_done == upload.total_chunk_count and upload.status == "PROCESSING_UPLOAD":
            if upload.status_polls >= self.processing_polls:
                if upload.fail_reason:
                    upload.status = "FAILED"
                else:
                    upload.status = "PUBLISH_COMPLETE"
            upload.status_polls += 1
        if (
            upload.status == "PUBLISH_COMPLETE"
            and upload.post_id is None
            and upload.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE"
        ):
            if upload.moderation_polls >= self.moderation_polls:
                upload.post_id = 7_300_000_000_000_000_000 + secrets.randbelow(10**17)
            upload.moderation_polls += 1
        data: dict[str, Any] = {"status": upload.status}
        if upload.source == "PULL_FROM_URL":
            data["downloaded_bytes"] = upload.downloaded
        else:
            data["uploaded_bytes"] = upload.received
        if upload.status == "FAILED":
            data["fail_reason"] = upload.fail_reason
        if upload.status == "PUBLISH_COMPLETE":
            data["publicaly_available_post_id"] = [upload.post_id] if upload.post_id else []
        self._record(request, 200)
        return envelope(data)

    def sha256_of(self, publish_id: str) -> str:
        return str(self.uploads[publish_id].digest.hexdigest())


async def _serve(port: int, tokens: list[str], count_only: bool, processing_polls: int) -> None:
    fake = FakeTikTok(tokens={t: "open-" + hashlib.sha1(t.encode()).hexdigest()[:16] for t in tokens})
    fake.hash_bodies = not count_only
    fake.processing_polls = processing_polls
    # A benchmark or manual run may init more often than a user would.
    fake.init_limit_per_min = 10_000
    fake.status_limit_per_min = 10_000
    await serve_forever(fake, port, lambda: f"fake TikTok on {fake.base_url}")


def main() -> None:
    large_socket_reads()
    parser = token_args("Serve a fake TikTok Content Posting API.", port=0)
    parser.add_argument("--count-only", action="store_true", help="count uploaded bytes without hashing")
    parser.add_argument("--processing-polls", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token or ["act.test"], args.count_only, args.processing_polls))


if __name__ == "__main__":
    main()
