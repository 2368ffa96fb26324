"""A local fake of the YouTube Data API v3 upload surface, speaking Google's wire format.

Implemented (https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol):

- ``POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`` with ``Authorization``,
  ``X-Upload-Content-Length``, ``X-Upload-Content-Type`` and a JSON video resource → ``200`` with the
  session URI in ``Location``.
- ``PUT {session}`` with ``Content-Range: bytes a-b/total``: non-final chunks must be multiples of
  256 KiB and start exactly where the server's received bytes end; ``308 Resume Incomplete`` with
  ``Range: bytes=0-n`` (no Range when nothing is stored), ``201`` with the video resource at the end.
- ``PUT {session}`` with ``Content-Range: bytes */total`` and no body: the status query after an
  interruption (``308`` + Range, or the final resource when complete). An unknown session is ``404``.
- ``POST /upload/youtube/v3/thumbnails/set?videoId=``: JPEG/PNG up to 2 MB.
- ``GET /youtube/v3/videos?part=...&id=...``: what was created, to check nothing was published twice.

Quota: ``videos.insert`` has its own bucket of 100 calls a day per project, 1 per call, invalid calls
included, reset at midnight Pacific (https://developers.google.com/youtube/v3/determine_quota_cost);
the 101st call of a Pacific day is ``403 quotaExceeded``. ``inserts_per_day`` and ``inserts`` (calls
per Pacific day) let a test spend it.

Errors use Google's JSON error body ``{"error": {"code", "message", "errors": [{"domain", "reason",
"message"}]}}``. Bodies are streamed and hashed, never kept, so a 1 GiB upload costs no memory here.

Tests inject failures: ``fail_chunks`` (5xx, optionally after storing part of the chunk),
``rate_limit_chunks`` / ``rate_limit_inserts`` (429 + Retry-After), ``quota_exceeded``,
``drop_chunks`` (the connection is cut mid-body), ``move_session`` (a 308 that carries a new session
URI in ``Location``; the old URI is then gone), ``unverified_project`` (uploads locked private, as for
an API project that has not passed YouTube's audit) and token revocation; ``hold`` delays the answer
to a chunk or a status query (computed when the request arrived) until the test releases it, as a
slow network or a stalled client would. Run it on its own with
``python -m tests.fakes.youtube_api --port 8790 --token tok``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakes.injected import take
from tests.fakes.loopback import LoopbackFake, Rejected, large_socket_reads, serve_forever, token_args
from tests.fakes.ranged import Recorded

# videos.insert calls per project per Pacific day (determine_quota_cost, read 6 Dec 2026).
INSERTS_PER_DAY = 100
PACIFIC = ZoneInfo("America/Los_Angeles")
CHUNK_UNIT = 256 * 1024
MAX_THUMBNAIL = 2 * 1024 * 1024
PRIVACY = {"public", "private", "unlisted"}
# A few of YouTube's assignable video categories (videoCategories.list for US).
CATEGORIES = {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
# The writable properties of the parts videos.insert takes here (videos#resource).
SNIPPET_FIELDS = {"title", "description", "tags", "categoryId", "defaultLanguage", "defaultAudioLanguage"}
STATUS_FIELDS = {
    "privacyStatus",
    "publishAt",
    "license",
    "embeddable",
    "publicStatsViewable",
    "selfDeclaredMadeForKids",
    "containsSyntheticMedia",
}
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")


def google_error(status: int, reason: str, message: str, *, domain: str = "youtube.video") -> web.Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return web.json_response(body, status=status)


@dataclass
class Injected:
    """A planned failure: applies to the next ``count`` matching requests."""

    count: int
    status: int = 503
    retry_after: float | None = None
    # For chunk failures: bytes of the chunk stored before failing (a multiple of 256 KiB).
    commit_bytes: int = 0
    # For dropped connections: body bytes read before the connection is cut.
    after_bytes: int = 0
    # Matching requests to let through before the plan applies.
    after: int = 0


@dataclass
class Hold:
    """The answer to the matching request after ``after`` others is kept back until ``release``."""

    kind: str
    after: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Session:
    id: str
    channel_id: str
    total: int
    content_type: str
    resource: dict[str, Any]
    received: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    video_id: str | None = None


@dataclass
class Video:
    id: str
    channel_id: str
    resource: dict[str, Any]
    size: int
    sha256: str
    thumbnail: str | None = None


class FakeYouTube(LoopbackFake):
    def __init__(self, *, tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        # access token → channel id. ``token_check`` (when set) decides for tokens not listed here,
        # e.g. by asking a fake OAuth provider which tokens it issued.
        self.tokens: dict[str, str] = dict(tokens or {})
        self.token_check: Callable[[str], str | None] | None = None
        self.sessions: dict[str, Session] = {}
        self.videos: dict[str, Video] = {}
        self.requests: list[Recorded] = []
        self.chunk_failures: list[Injected] = []
        self.chunk_rate_limits: list[Injected] = []
        self.chunk_drops: list[Injected] = []
        self.insert_rate_limits: list[Injected] = []
        self.insert_quota: list[Injected] = []
        self.inserts_per_day = INSERTS_PER_DAY
        self.inserts: Counter[date] = Counter()
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        # Quota units spent on videos.list: "A call to this method has a quota cost of 1 unit"
        # (https://developers.google.com/youtube/v3/docs/videos/list#quota), whatever the id count.
        self.list_units = 0
        # Tokens granted without youtube.readonly (nor youtube / youtube.force-ssl): videos.list by
        # id of one's own videos then answers 403 insufficientPermissions, per the method's
        # Authorization section (https://developers.google.com/youtube/v3/docs/videos/list#auth).
        self.no_readonly: set[str] = set()
        self.upload_limit_reached = False
        # Google may move a resumable session: a 308 whose Location names the URI to use from then on
        # (google-api-python-client's MediaUpload follows it: googleapiclient/http.py, next_chunk).
        self.moves: list[Injected] = []
        # "All videos uploaded via the videos.insert endpoint from unverified API projects created
        # after 28 July 2020 will be restricted to private viewing mode"
        # (https://developers.google.com/youtube/v3/docs/videos/insert).
        self.unverified_project = False
        self.thumbnails_forbidden = False
        self.protocol_errors: list[str] = []
        self.holds: list[Hold] = []
        self.peak_chunk_bytes = 0
        # Off only for throughput benchmarks, where the fake then counts bytes instead of hashing.
        self.hash_bodies = True

    # --- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_THUMBNAIL + 1024)
        app.router.add_post("/upload/youtube/v3/videos", self._insert)
        app.router.add_put("/upload/youtube/v3/videos", self._put)
        app.router.add_post("/upload/youtube/v3/thumbnails/set", self._thumbnail)
        app.router.add_get("/youtube/v3/videos", self._list)
        return app

    # --- test controls -------------------------------------------------------------------------

    def fail_chunks(self, count: int = 1, *, status: int = 503, commit_bytes: int = 0, skip: int = 0) -> None:
        if commit_bytes % CHUNK_UNIT:
            raise ValueError("the server stores whole 256 KiB units")
        self.chunk_failures.append(Injected(count, status=status, commit_bytes=commit_bytes, after=skip))

    def rate_limit_chunks(self, count: int = 1, *, retry_after: float = 1) -> None:
        self.chunk_rate_limits.append(Injected(count, status=429, retry_after=retry_after))

    def drop_chunks(self, count: int = 1, *, after_bytes: int = CHUNK_UNIT, skip: int = 0) -> None:
        self.chunk_drops.append(Injected(count, after_bytes=after_bytes, after=skip))

    def move_session(self, count: int = 1, *, skip: int = 0) -> None:
        """After ``skip`` stored chunks, ``count`` 308 answers move the session to a new URI."""
        self.moves.append(Injected(count, after=skip))

    def rate_limit_inserts(self, count: int = 1, *, retry_after: float = 30) -> None:
        self.insert_rate_limits.append(Injected(count, status=429, retry_after=retry_after))

    def quota_exceeded(self, count: int = 1) -> None:
        self.insert_quota.append(Injected(count, status=403))

    def hold(self, kind: str, *, after: int = 0) -> Hold:
        """Keep back the answer to a ``"chunk"`` (stored, 308) or a status ``"query"``, or stop reading
        a chunk's ``"body"`` once its headers are in."""
        held = Hold(kind, after)
        self.holds.append(held)
        return held

    async def _maybe_hold(self, kind: str) -> None:
        for held in self.holds:
            if held.kind != kind or held.arrived.is_set():
                continue
            if held.after:
                held.after -= 1
                return
            held.arrived.set()
            await held.release.wait()
            return

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    # --- helpers -------------------------------------------------------------------------------

    def _record(self, request: web.Request, status: int, length: int = 0) -> None:
        self.requests.append(Recorded.of(request, status, length))

    def _reject(self, request: web.Request, reason: str, message: str, status: int = 400) -> Rejected:
        self.protocol_errors.append(message)
        self._record(request, status)
        return Rejected(google_error(status, reason, message, domain="global"))

    def _channel(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise self._reject(request, "required", "Login Required.", status=401)
        token = header[len("Bearer ") :]
        channel = self.tokens.get(token)
        if channel is None and self.token_check is not None:
            channel = self.token_check(token)
        if channel is None:
            self._record(request, 401)
            raise Rejected(
                google_error(
                    401,
                    "authError",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                    "login cookie or other valid authentication credential.",
                    domain="global",
                )
            )
        return channel

    # --- videos.insert: start a resumable session -----------------------------------------------

    async def _insert(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._insert_checked(request)
        except Rejected as rejected:
            return rejected.response

    async def _insert_checked(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        day = self.now().astimezone(PACIFIC).date()
        if self.inserts[day] >= self.inserts_per_day:
            self._record(request, 403)
            return google_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
                domain="youtube.quota",
            )
        self.inserts[day] += 1
        q = request.query
        if q.get("uploadType") != "resumable":
            raise self._reject(request, "invalidParameter", "uploadType must be 'resumable' here.")
        parts = {p.strip() for p in q.get("part", "").split(",") if p.strip()}
        if not parts:
            raise self._reject(request, "required", "Required parameter: part")
        length_header = request.headers.get("X-Upload-Content-Length")
        if length_header is None or not length_header.isdigit() or int(length_header) <= 0:
            raise self._reject(request, "required", "X-Upload-Content-Length must give the file's size.")
        content_type = request.headers.get("X-Upload-Content-Type", "")
        if not (content_type.startswith("video/") or content_type == "application/octet-stream"):
            raise self._reject(request, "invalidContentType", "X-Upload-Content-Type must be video/*.")
        if not request.headers.get("Content-Type", "").lower().startswith("application/json"):
            raise self._reject(request, "parseError", "The metadata must be sent as application/json.")
        try:
            resource = json.loads(await request.read())
        except ValueError:
            raise self._reject(request, "parseError", "The metadata is not valid JSON.") from None
        if not isinstance(resource, dict):
            raise self._reject(request, "parseError", "The request body must be a video resource.")
        unlisted = set(resource) - parts - {"kind", "id"}
        if unlisted:
            raise self._reject(
                request, "unexpectedPart", f"The body sets {sorted(unlisted)} but part does not list them."
            )
        self._check_metadata(request, resource)
        if (plan := take(self.insert_rate_limits)) is not None:
            self._record(request, 429)
            response = google_error(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
            response.headers["Retry-After"] = f"{plan.retry_after:g}"
            return response
        if take(self.insert_quota) is not None:
            self._record(request, 403)
            return google_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
                domain="youtube.quota",
            )
        if self.upload_limit_reached:
            self._record(request, 400)
            return google_error(
                400, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload."
            )
        session = Session(
            id=secrets.token_urlsafe(24),
            channel_id=channel,
            total=int(length_header),
            content_type=content_type,
            resource=resource,
        )
        self.sessions[session.id] = session
        self._record(request, 200)
        location = f"{self.base_url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={session.id}"
        return web.Response(status=200, headers={"Location": location, "X-GUploader-UploadID": session.id})

    def _check_metadata(self, request: web.Request, resource: dict[str, Any]) -> None:
        snippet = resource.get("snippet") or {}
        title = snippet.get("title")
        if not isinstance(title, str) or not title.strip():
            raise self._reject(
                request, "invalidTitle", "The request metadata specifies an invalid or empty video title."
            )
        if len(title) > 100 or "<" in title or ">" in title:
            raise self._reject(
                request, "invalidTitle", "The request metadata specifies an invalid video title."
            )
        description = snippet.get("description", "")
        if len(description.encode()) > 5000 or "<" in description or ">" in description:
            raise self._reject(
                request, "invalidDescription", "The request metadata specifies an invalid video description."
            )
        category = snippet.get("categoryId")
        if category is not None and str(category) not in CATEGORIES:
            raise self._reject(
                request,
                "invalidCategoryId",
                "The snippet.categoryId property specifies an invalid category ID.",
            )
        status = resource.get("status") or {}
        privacy = status.get("privacyStatus")
        if privacy is not None and privacy not in PRIVACY:
            raise self._reject(request, "invalidVideoMetadata", f"privacyStatus {privacy!r} is not valid.")
        # Only the properties the video resource documents
        # (https://developers.google.com/youtube/v3/docs/videos#resource); Google's JSON front end
        # refuses a name it does not know ("Invalid JSON payload received. Unknown name"), so a
        # misspelt field fails here instead of being silently dropped.
        for part, known in (("snippet", SNIPPET_FIELDS), ("status", STATUS_FIELDS)):
            unknown = sorted(set(resource.get(part) or {}) - known)
            if unknown:
                raise self._reject(
                    request,
                    "badRequest",
                    f'Invalid JSON payload received. Unknown name "{unknown[0]}" at {part}.',
                )
        kids = status.get("selfDeclaredMadeForKids")
        if kids is not None and not isinstance(kids, bool):
            raise self._reject(
                request, "invalidVideoMetadata", "status.selfDeclaredMadeForKids must be a boolean."
            )
        tags = snippet.get("tags")
        if tags is not None:
            # snippet.tags[]: "The property value has a maximum length of 500 characters. Note that the
            # character limit includes commas between items and quotation marks around a tag that
            # contains a space" (same page).
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise self._reject(request, "invalidTags", "snippet.tags must be a list of strings.")
            length = sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)
            if length > 500:
                raise self._reject(
                    request, "invalidTags", "The request metadata specifies invalid video keywords."
                )

    # --- upload chunks and status queries ------------------------------------------------------

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
        session = self.sessions.get(request.query.get("upload_id", ""))
        if session is None:
            self._record(request, 404)
            raise Rejected(
                google_error(
                    404, "notFound", "The upload session does not exist or has expired.", domain="global"
                )
            )
        self._channel(request)
        header = request.headers.get("Content-Range")
        if header is None:
            raise self._reject(request, "badContent", "Content-Range is required on an upload request.")
        match = _RANGE.match(header.strip())
        if match is None:
            raise self._reject(request, "badContent", f"Malformed Content-Range {header!r}.")
        total = int(match.group(3))
        if total != session.total:
            raise self._reject(
                request,
                "badContent",
                f"Content-Range total {total} differs from X-Upload-Content-Length {session.total}.",
            )
        if match.group(1) is None:
            if request.content_length not in (None, 0):
                raise self._reject(request, "badContent", "A status query (bytes */total) carries no body.")
            answer = self._status(request, session)
            await self._maybe_hold("query")
            return answer
        if session.video_id is not None:
            return self._done(request, session)
        start, end = int(match.group(1)), int(match.group(2))
        length = end - start + 1
        if end < start or end >= total:
            raise self._reject(request, "badContent", f"Content-Range {header!r} is outside the file.")
        if start != session.received:
            raise self._reject(
                request,
                "badContent",
                f"Content-Range starts at {start} but the server holds {session.received} bytes: "
                "query the session and resume from its Range.",
            )
        final = end == total - 1
        if not final and length % CHUNK_UNIT:
            raise self._reject(
                request, "badContent", f"A non-final chunk of {length} bytes is not a multiple of 256 KiB."
            )
        if request.content_length is None:
            raise self._reject(
                request, "badContent", "Content-Length is required on an upload chunk.", status=411
            )
        if request.content_length != length:
            raise self._reject(
                request,
                "badContent",
                f"Content-Length {request.content_length} does not match Content-Range {header!r}.",
            )
        if not request.headers.get("Content-Type"):
            raise self._reject(request, "badContent", "Content-Type is required on an upload chunk.")

        await self._maybe_hold("body")
        drop = take(self.chunk_drops)
        limit = take(self.chunk_rate_limits)
        failure = take(self.chunk_failures)
        digest = session.digest.copy()
        seen = 0
        # The chunk is hashed as it streams and committed only when complete (or, for an injected
        # failure, up to the planned 256 KiB boundary), as Google persists whole units.
        keep = length if failure is None else min(failure.commit_bytes, length)
        hashing = self.hash_bodies
        async for piece in request.content.iter_any():
            if hashing and seen < keep:
                digest.update(piece[: keep - seen])
            seen += len(piece)
            if drop is not None and seen >= drop.after_bytes and request.transport is not None:
                # Nothing of a cut-off chunk is stored, like a proxy that lost the connection.
                request.transport.abort()
                self._record(request, 0, seen)
                return web.Response(status=500)
        self.peak_chunk_bytes = max(self.peak_chunk_bytes, seen)
        if seen != length:
            raise self._reject(
                request, "badContent", f"The body had {seen} bytes, Content-Range said {length}."
            )
        if start != session.received:
            # Another upload to this session finished while this body streamed in (two clients on
            # one session); the chunk no longer starts where the session stands.
            raise self._reject(
                request,
                "badContent",
                f"Content-Range starts at {start} but the server holds {session.received} bytes: "
                "query the session and resume from its Range.",
            )
        if limit is not None:
            self._record(request, 429, seen)
            response = google_error(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
            response.headers["Retry-After"] = f"{limit.retry_after:g}"
            return response
        if failure is not None:
            if keep:
                session.digest = digest
                session.received += keep
            self._record(request, failure.status, seen)
            return google_error(failure.status, "backendError", "Backend Error", domain="global")
        session.digest = digest
        session.received += length
        if session.received == session.total:
            self._finish(session)
            return self._done(request, session, status=201, length=seen)
        self._record(request, 308, seen)
        headers = {"Range": f"bytes=0-{session.received - 1}"}
        if take(self.moves) is not None:
            old = request.query["upload_id"]
            new = secrets.token_urlsafe(24)
            self.sessions[new] = self.sessions.pop(old)
            headers["Location"] = (
                f"{self.base_url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={new}"
            )
        answer = web.Response(status=308, headers=headers)
        await self._maybe_hold("chunk")
        return answer

    def _status(self, request: web.Request, session: Session) -> web.StreamResponse:
        if session.video_id is not None:
            return self._done(request, session)
        self._record(request, 308)
        headers = {"Range": f"bytes=0-{session.received - 1}"} if session.received else {}
        return web.Response(status=308, headers=headers)

    def _finish(self, session: Session) -> None:
        video_id = secrets.token_urlsafe(8)[:11]
        snippet = dict(session.resource.get("snippet") or {})
        snippet.update({"publishedAt": datetime.now(UTC).isoformat(), "channelId": session.channel_id})
        snippet.setdefault("categoryId", "22")
        status = {
            "uploadStatus": "uploaded",
            "privacyStatus": "private"
            if self.unverified_project
            else (session.resource.get("status") or {}).get("privacyStatus", "public"),
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
        }
        declared = (session.resource.get("status") or {}).get("selfDeclaredMadeForKids")
        if declared is not None:
            # Returned to the owner as set, with YouTube's own verdict beside it (videos#resource).
            status["selfDeclaredMadeForKids"] = declared
            status["madeForKids"] = declared
        resource = {
            "kind": "youtube#video",
            "etag": secrets.token_hex(8),
            "id": video_id,
            "snippet": snippet,
            "status": status,
        }
        session.video_id = video_id
        self.videos[video_id] = Video(
            video_id, session.channel_id, resource, session.total, session.digest.hexdigest()
        )

    def _done(
        self, request: web.Request, session: Session, status: int = 200, length: int = 0
    ) -> web.Response:
        assert session.video_id is not None
        self._record(request, status, length)
        return web.json_response(self.videos[session.video_id].resource, status=status)

    # --- thumbnails.set and videos.list ----------------------------------------------------------

    async def _thumbnail(self, request: web.Request) -> web.StreamResponse:
        try:
            channel = self._channel(request)
            video = self.videos.get(request.query.get("videoId", ""))
            if video is None or video.channel_id != channel:
                self._record(request, 404)
                return google_error(
                    404, "videoNotFound", "The video that you are trying to update cannot be found."
                )
            if self.thumbnails_forbidden:
                self._record(request, 403)
                return google_error(
                    403,
                    "forbidden",
                    "The authenticated user doesn't have permissions to upload and set custom video "
                    "thumbnails.",
                )
            content_type = request.headers.get("Content-Type", "")
            if content_type not in ("image/jpeg", "image/png", "application/octet-stream"):
                raise self._reject(request, "invalidImage", "The provided image content is invalid.")
            body = await request.read()
            if not body:
                raise self._reject(
                    request, "mediaBodyRequired", "The request does not include the image content."
                )
            if len(body) > MAX_THUMBNAIL:
                raise self._reject(
                    request, "mediaBodyTooLarge", "The thumbnail is larger than 2 MB.", status=413
                )
            video.thumbnail = hashlib.sha256(body).hexdigest()
            self._record(request, 200, len(body))
            url = f"https://i.ytimg.com/vi/{video.id}/default.jpg"
            return web.json_response(
                {
                    "kind": "youtube#thumbnailSetResponse",
                    "etag": secrets.token_hex(8),
                    "items": [{"default": {"url": url, "width": 120, "height": 90}}],
                }
            )
        except Rejected as rejected:
            return rejected.response

    async def _list(self, request: web.Request) -> web.StreamResponse:
        try:
            self._channel(request)
        except Rejected as rejected:
            return rejected.response
        self.list_units += 1
        if request.headers.get("Authorization", "")[len("Bearer ") :] in self.no_readonly:
            self._record(request, 403)
            return google_error(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
                domain="global",
            )
        ids = [i for i in request.query.get("id", "").split(",") if i]
        if len(ids) > 50:
            # "id ... a comma-separated list of the YouTube video ID(s)"; with more than 50 Google
            # answers 400 (the limit of the list methods' id filter, same page).
            self._record(request, 400)
            return google_error(400, "invalidParameter", "Too many ids: at most 50.", domain="global")
        ids = [i for i in request.query.get("id", "").split(",") if i]
        items = [self.videos[i].resource for i in ids if i in self.videos]
        self._record(request, 200)
        return web.json_response(
            {
                "kind": "youtube#videoListResponse",
                "etag": secrets.token_hex(8),
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )


async def _serve(port: int, tokens: list[str], count_only: bool) -> None:
    fake = FakeYouTube(tokens={t: "UC" + hashlib.sha1(t.encode()).hexdigest()[:22] for t in tokens})
    fake.hash_bodies = not count_only
    await serve_forever(fake, port, lambda: f"fake YouTube on {fake.base_url}")


def main() -> None:
    large_socket_reads()
    parser = token_args("Serve a fake YouTube Data API upload endpoint.", port=0)
    parser.add_argument("--count-only", action="store_true", help="count uploaded bytes without hashing")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token or ["test-token"], args.count_only))


if __name__ == "__main__":
    main()
