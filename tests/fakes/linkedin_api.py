"""A local fake of LinkedIn's versioned REST API for video posts: Videos API + Posts API.

Implemented after learn.microsoft.com/linkedin/marketing/community-management/shares/videos-api and
.../posts-api:

- Every ``/rest`` call needs ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (missing →
  400 ``VERSION_MISSING``; a version that does not exist, or is past its sunset on the fake's
  ``today()`` → 426 ``NONEXISTENT_VERSION`` "Requested version ... is not active", the answer real
  clients get after a sunset) and ``X-Restli-Protocol-Version: 2.0.0``. The sunset dates are
  LinkedIn's "API Migration Status" table (``SUNSETS``).
- ``POST /rest/videos?action=initializeUpload`` ``{"initializeUploadRequest": {"owner",
  "fileSizeBytes", "uploadCaptions", "uploadThumbnail"}}`` → ``{"value": {"video", "uploadToken",
  "uploadUrlsExpireAt", "uploadInstructions": [{"uploadUrl", "firstByte", "lastByte"}]}}``.
- ``PUT {uploadUrl}``: a pre-signed URL (no bearer token); the body must be exactly the part's bytes;
  answers ``200`` with an ``ETag`` header, which is the part id.
- ``POST /rest/videos?action=finalizeUpload`` ``{"finalizeUploadRequest": {"video", "uploadToken",
  "uploadedPartIds"}}``: the ETags of every part, in part order → processing starts.
- ``GET /rest/videos/{encoded urn}`` → ``status``: ``WAITING_UPLOAD → PROCESSING → AVAILABLE`` (or
  ``PROCESSING_FAILED``).
- ``POST /rest/posts`` (author, commentary, visibility, distribution, content.media.id,
  lifecycleState) → ``201`` with the post URN in ``x-restli-id``; the video must be the author's
  and ``AVAILABLE``. ``GET /rest/posts?q=author&author=`` lists the author's posts, newest first, and
  only for a member whose token carries ``r_member_social`` (``grant_member_social``), a restricted
  permission most apps never get: everyone else is answered 403 ACCESS_DENIED.

Errors are LinkedIn's ``{"status", "serviceErrorCode", "code", "message"}``; an invalid token is 401
``INVALID_ACCESS_TOKEN`` (serviceErrorCode 65600); throttling is 429 ``TOO_MANY_REQUESTS``, with no
Retry-After, as LinkedIn's limits reset daily at midnight UTC.

Run on its own: ``python -m tests.fakes.linkedin_api --port 8793 --token tok``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web

from tests.fakes.injected import take
from tests.fakes.loopback import LoopbackFake, Rejected, serve_forever, token_args

PART_SIZE = 4 * 1024 * 1024
# "File size: 75 KB - 500 MB" (Videos API, video specifications:
# https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#video-specifications).
MAX_FILE = 500 * 1000**2
# The versions LinkedIn released and the day each is sunset, from "API Migration Status"
# (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations, read 6 Dec 2026):
# "These API versions are supported and stable for a minimum of one year before sunset"
# (https://learn.microsoft.com/en-us/linkedin/marketing/versioning). Versions before 202510 were
# sunset in 2026 (the same table; their exact days matter to no test, mid-month stands in for
# them); there was no 202512. 202604 to 202607 were released
# (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/recent-changes) but their
# sunsets were not on the table yet: served here until one year after release, the guaranteed minimum.
SUNSETS: dict[str, date] = {
    **{f"2025{m:02d}": date(2026, m, 15) for m in range(1, 10)},
    "202510": date(2026, 10, 15),
    "202511": date(2026, 11, 16),
    "202601": date(2027, 1, 15),
    "202602": date(2027, 2, 15),
    "202603": date(2027, 3, 16),
    **{f"2026{m:02d}": date(2027, m, 15) for m in range(4, 8)},
}
URL_TTL_S = 3600
MAX_COMMENTARY = 3000
ENDPOINTS = ("initialize", "part", "finalize", "video", "post", "find", "analytics")
# Member Post Statistics metrics (the post-statistics page's "Metrics Definition" table).
ANALYTICS_TYPES = ("IMPRESSION", "MEMBERS_REACHED", "RESHARE", "REACTION", "COMMENT")
_VERSION = re.compile(r"^\d{6}(\.\d{2})?$")


def li_error(
    status: int, message: str, *, code: str | None = None, service_code: int | None = None
) -> web.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return web.json_response(body, status=status)


def reject(status: int, message: str, **kwargs: Any) -> Rejected:
    return Rejected(li_error(status, message, **kwargs))


@dataclass
class Injected:
    count: int
    status: int
    after: int = 0


@dataclass
class Part:
    first: int
    last: int
    etag: str | None = None
    sha256: str | None = None


@dataclass
class Video:
    urn: str
    owner: str
    size: int
    upload_token: str
    expires_at: float
    parts: list[Part]
    status: str = "WAITING_UPLOAD"
    polls: int = 0


@dataclass
class Post:
    urn: str
    body: dict[str, Any]
    created: float
    # memberCreatorPostAnalytics totals by query type (IMPRESSION, REACTION, COMMENT, ...).
    analytics: dict[str, int] = field(default_factory=dict)

    @property
    def shown_text(self) -> str:
        return render_little(str(self.body.get("commentary", "")))


@dataclass
class Recorded:
    method: str
    path: str
    status: int
    version: str | None = None
    part: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeLinkedIn(LoopbackFake):
    def __init__(
        self, *, tokens: dict[str, str] | None = None, part_size: int = PART_SIZE, processing_polls: int = 1
    ) -> None:
        super().__init__()
        # access token → member URN. ``token_check`` decides for tokens not listed (a fake OAuth
        # provider's ``account_for``, which gives the bare member id).
        self.tokens: dict[str, str] = dict(tokens or {})
        self.token_check: Callable[[str], str | None] | None = None
        self.part_size = part_size
        self.processing_polls = processing_polls
        self.sunsets: dict[str, date] = dict(SUNSETS)
        # The day the fake lives in, for version sunsets; tests move it.
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()
        self.videos: dict[str, Video] = {}
        self.posts: dict[str, Post] = {}
        self.requests: list[Recorded] = []
        self.injected: dict[str, list[Injected]] = {name: [] for name in ENDPOINTS}
        self.processing_fails = False
        self.lost_answers = 0
        # Members whose token carries r_member_social: "Find Posts by Authors" needs it
        # (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api
        # #find-posts-by-authors), and LinkedIn grants it only to approved partners
        # (https://learn.microsoft.com/en-us/linkedin/shared/authentication/getting-access).
        self.member_social_readers: set[str] = set()
        # Members whose tokens carry r_member_postAnalytics (the app has the Community Management API).
        self.post_analytics_readers: set[str] = set()
        self.secret = secrets.token_bytes(16)
        self._seq = 7_100_000_000_000_000_000

    # --- lifecycle -----------------------------------------------------------------------------

    def grant_member_social(self, member: str) -> None:
        """``member``'s tokens carry r_member_social (the app is an approved partner)."""
        self.member_social_readers.add(member)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/rest/videos", self._videos_action)
        app.router.add_get("/rest/videos/{urn}", self._get_video)
        app.router.add_post("/rest/posts", self._create_post)
        app.router.add_get("/rest/posts", self._find_posts)
        app.router.add_get("/rest/memberCreatorPostAnalytics", self._post_analytics)
        app.router.add_put("/dms-uploads/{video}/parts/{index}", self._put_part)
        return app

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/rest"

    # --- test controls -------------------------------------------------------------------------

    def fail(self, endpoint: str, count: int = 1, *, status: int = 500, after: int = 0) -> None:
        """After ``after`` good ones, ``count`` requests to ``endpoint`` (see ENDPOINTS) fail."""
        self.injected[endpoint].append(Injected(count, status, after))

    def rate_limit(self, endpoint: str, count: int = 1, *, after: int = 0) -> None:
        self.injected[endpoint].append(Injected(count, 429, after))

    def lose_post_answers(self, count: int = 1) -> None:
        """The next ``count`` posts are created, then the answer is lost (a 504 instead)."""
        self.lost_answers += count

    def expire_upload_urls(self, video_urn: str) -> None:
        self.videos[video_urn].expires_at = time.time() - 1

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def uploaded_parts(self) -> list[int]:
        """Indexes of every part PUT the server accepted, in order."""
        return [r.part for r in self.requests if r.part is not None and r.status == 200]

    # --- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _failure(plan: Injected) -> web.Response:
        if plan.status == 429:
            return li_error(
                429,
                "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
                code="TOO_MANY_REQUESTS",
                service_code=101,
            )
        return li_error(plan.status, "Internal Server Error" if plan.status == 500 else "Service Unavailable")

    def _member(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        member = None
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :]
            member = self.tokens.get(token)
            if member is None and self.token_check is not None:
                found = self.token_check(token)
                member = found if found is None or found.startswith("urn:") else f"urn:li:person:{found}"
        if member is None:
            raise reject(401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service_code=65600)
        return member

    def _check_headers(self, request: web.Request) -> None:
        version = request.headers.get("LinkedIn-Version")
        if not version:
            raise reject(
                400,
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        sunset = self.sunsets.get(version[:6]) if _VERSION.match(version) else None
        if sunset is None or sunset <= self.today():
            raise reject(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            raise reject(400, "The header X-Restli-Protocol-Version must be 2.0.0 for this resource.")

    async def _rest(
        self, request: web.Request, endpoint: str, work: Callable[[str], Any]
    ) -> web.StreamResponse:
        record = Recorded(request.method, request.path_qs, 0, request.headers.get("LinkedIn-Version"))
        self.requests.append(record)
        try:
            member = self._member(request)
            self._check_headers(request)
            plan = take(self.injected[endpoint])
            response = self._failure(plan) if plan else await work(member)
        except Rejected as exc:
            response = exc.response
        record.status = response.status
        return response

    async def _json(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise reject(415, "Content-Type must be application/json")
        try:
            body = await request.json()
        except ValueError:
            raise reject(400, "Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise reject(400, "Request body must be a JSON object")
        return body

    def _sign(self, video_id: str, index: int, expires: int) -> str:
        message = f"{video_id}:{index}:{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]

    def _video_for(self, member: str, urn: str) -> Video:
        video = self.videos.get(urn)
        if video is None or video.owner != member:
            raise reject(404, f"Video {urn} not found", code="NOT_FOUND")
        return video

    # --- videos --------------------------------------------------------------------------------

    async def _videos_action(self, request: web.Request) -> web.StreamResponse:
        action = request.query.get("action")
        if action == "initializeUpload":
            return await self._rest(request, "initialize", lambda member: self._initialize(request, member))
        if action == "finalizeUpload":
            return await self._rest(request, "finalize", lambda member: self._finalize(request, member))
        return await self._rest(
            request, "initialize", lambda member: _raise(reject(400, f"Unknown action {action}"))
        )

    async def _initialize(self, request: web.Request, member: str) -> web.Response:
        body = (await self._json(request)).get("initializeUploadRequest")
        if not isinstance(body, dict):
            raise reject(400, "initializeUploadRequest is required", code="ILLEGAL_ARGUMENT")
        if body.get("owner") != member:
            raise reject(
                403, f"Not enough permissions to upload a video as {body.get('owner')}", code="ACCESS_DENIED"
            )
        size = body.get("fileSizeBytes")
        if not isinstance(size, int) or not 0 < size <= MAX_FILE:
            raise reject(400, "fileSizeBytes must be at most 500 MB", code="ILLEGAL_ARGUMENT")
        if body.get("uploadCaptions") or body.get("uploadThumbnail"):
            raise reject(400, "This fake takes no captions or thumbnail uploads", code="ILLEGAL_ARGUMENT")
        self._seq += 1 + secrets.randbelow(1000)
        video_id = f"D4E{self._seq}"
        urn = f"urn:li:video:{video_id}"
        expires = int(time.time() + URL_TTL_S)
        parts = [
            Part(first, min(first + self.part_size, size) - 1) for first in range(0, size, self.part_size)
        ]
        video = Video(urn, member, size, "" if len(parts) == 1 else secrets.token_hex(8), expires, parts)
        self.videos[urn] = video
        instructions = [
            {
                "uploadUrl": f"{self.base_url}/dms-uploads/{video_id}/parts/{i}"
                f"?ca=vector_feedshare&cn=uploads&expires={expires}&sig={self._sign(video_id, i, expires)}",
                "firstByte": p.first,
                "lastByte": p.last,
            }
            for i, p in enumerate(parts)
        ]
        value = {
            "uploadUrlsExpireAt": expires * 1000,
            "video": urn,
            "uploadInstructions": instructions,
            "uploadToken": video.upload_token,
        }
        return web.json_response({"value": value})

    async def _put_part(self, request: web.Request) -> web.Response:
        video_id = request.match_info["video"]
        index = int(request.match_info["index"])
        record = Recorded(request.method, request.path, 0, part=index, headers=dict(request.headers))
        self.requests.append(record)
        try:
            response = await self._store_part(request, video_id, index)
        except Rejected as exc:
            response = exc.response
        record.status = response.status
        return response

    async def _store_part(self, request: web.Request, video_id: str, index: int) -> web.Response:
        video = self.videos.get(f"urn:li:video:{video_id}")
        try:
            expires = int(request.query.get("expires", "0"))
        except ValueError:
            expires = 0
        signature = request.query.get("sig", "")
        if (
            video is None
            or index >= len(video.parts)
            or not hmac.compare_digest(signature, self._sign(video_id, index, expires))
        ):
            raise reject(403, "Signature does not match")
        if expires < time.time() or video.expires_at < time.time():
            raise reject(403, "Upload URL has expired")
        if video.status != "WAITING_UPLOAD":
            raise reject(400, "The upload was already finalized")
        plan = take(self.injected["part"])
        if plan is not None:
            await request.read()
            return self._failure(plan)
        part = video.parts[index]
        digest = hashlib.sha256()
        length = 0
        while chunk := await request.content.read(256 * 1024):
            digest.update(chunk)
            length += len(chunk)
        expected = part.last - part.first + 1
        if length != expected:
            raise reject(400, f"Part {index} must be {expected} bytes, got {length}")
        part.sha256 = digest.hexdigest()
        part.etag = f"/ambry-video/signedId/{secrets.token_urlsafe(24)}"
        return web.Response(status=200, headers={"ETag": part.etag})

    async def _finalize(self, request: web.Request, member: str) -> web.Response:
        body = (await self._json(request)).get("finalizeUploadRequest")
        if not isinstance(body, dict):
            raise reject(400, "finalizeUploadRequest is required", code="ILLEGAL_ARGUMENT")
        video = self._video_for(member, str(body.get("video")))
        if body.get("uploadToken", "") != video.upload_token:
            raise reject(400, "uploadToken does not match the upload", code="ILLEGAL_ARGUMENT")
        expected = [p.etag for p in video.parts]
        if None in expected:
            missing = [i for i, p in enumerate(video.parts) if p.etag is None]
            raise reject(400, f"Parts {missing} were not uploaded", code="ILLEGAL_ARGUMENT")
        if body.get("uploadedPartIds") != expected:
            raise reject(
                400, "uploadedPartIds must be the ETags of every part, in order", code="ILLEGAL_ARGUMENT"
            )
        if video.status == "WAITING_UPLOAD":
            video.status = "PROCESSING"
        return web.Response(status=200)

    async def _get_video(self, request: web.Request) -> web.StreamResponse:
        async def work(member: str) -> web.Response:
            if "urn:li" in request.raw_path:
                raise reject(
                    400, "The URN in the path must be URL-encoded (Rest.li 2.0)", code="ILLEGAL_ARGUMENT"
                )
            video = self._video_for(member, request.match_info["urn"])
            if video.status == "PROCESSING":
                video.polls += 1
                if video.polls >= self.processing_polls:
                    video.status = "PROCESSING_FAILED" if self.processing_fails else "AVAILABLE"
            body: dict[str, Any] = {"id": video.urn, "owner": video.owner, "status": video.status}
            if video.status == "PROCESSING_FAILED":
                body["processingFailureReason"] = "Video format is not supported"
            return web.json_response(body)

        return await self._rest(request, "video", work)

    # --- posts ---------------------------------------------------------------------------------

    async def _create_post(self, request: web.Request) -> web.StreamResponse:
        async def work(member: str) -> web.Response:
            body = await self._json(request)
            if body.get("author") != member:
                raise reject(
                    403, f"Not enough permissions to post as {body.get('author')}", code="ACCESS_DENIED"
                )
            if body.get("lifecycleState") != "PUBLISHED":
                raise reject(422, "lifecycleState must be PUBLISHED", code="UNPROCESSABLE_ENTITY")
            if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
                raise reject(422, "visibility is invalid", code="UNPROCESSABLE_ENTITY")
            distribution = body.get("distribution") or {}
            if distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE"):
                raise reject(422, "distribution.feedDistribution is required", code="UNPROCESSABLE_ENTITY")
            commentary = body.get("commentary", "")
            if not isinstance(commentary, str) or len(commentary) > MAX_COMMENTARY:
                raise reject(422, "commentary must be at most 3000 characters", code="UNPROCESSABLE_ENTITY")
            media = (body.get("content") or {}).get("media") or {}
            video = self.videos.get(str(media.get("id")))
            if video is None or video.owner != member:
                raise reject(422, f"content.media.id {media.get('id')} is not a video of the author")
            if video.status != "AVAILABLE":
                raise reject(422, f"Video {video.urn} is {video.status}, not AVAILABLE")
            self._seq += 1
            urn = f"urn:li:ugcPost:{self._seq}"
            self.posts[urn] = Post(urn, body, time.time())
            if self.lost_answers > 0:
                self.lost_answers -= 1
                return li_error(504, "Gateway Timeout")
            return web.Response(status=201, headers={"x-restli-id": urn})

        return await self._rest(request, "post", work)

    async def _post_analytics(self, request: web.Request) -> web.StreamResponse:
        """Member Post Statistics, entity finder: one post, one ``queryType``, ``aggregation=TOTAL``;
        permission ``r_member_postAnalytics``
        (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/members/post-statistics,
        read 2026-12-06)."""

        async def work(member: str) -> web.Response:
            if member not in self.post_analytics_readers:
                raise reject(
                    403,
                    "Not enough permissions to access: memberCreatorPostAnalytics.FINDER-entity",
                    code="ACCESS_DENIED",
                )
            query = request.query
            if query.get("q") != "entity":
                raise reject(400, "q=entity is required", code="ILLEGAL_ARGUMENT")
            if query.get("queryType") not in ANALYTICS_TYPES or query.get("aggregation") not in (
                "TOTAL",
                "DAILY",
            ):
                raise reject(400, "queryType and aggregation are required", code="ILLEGAL_ARGUMENT")
            # Rest.li 2.0: entity=(share:urn%3Ali%3Ashare%3A123), the URN encoded inside the tuple.
            raw = request.rel_url.raw_query_string
            found = re.search(r"(?:^|&)entity=\((share|ugcPost):([^)&]+)\)", raw)
            if found is None or ":" in found.group(2):
                raise reject(
                    400,
                    "entity must be (share:{encoded urn}) or (ugcPost:{encoded urn})",
                    code="ILLEGAL_ARGUMENT",
                )
            post = self.posts.get(unquote(found.group(2)))
            if post is None:
                raise reject(404, "Not found", code="NOT_FOUND")
            if post.body.get("author") != member:
                raise reject(
                    403, "Not enough permissions to read this post's statistics", code="ACCESS_DENIED"
                )
            metric = str(query["queryType"])
            element = {
                "count": post.analytics.get(metric, 0),
                "metricType": {
                    "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1": metric
                },
            }
            return web.json_response(
                {"paging": {"start": 0, "count": 10, "links": []}, "elements": [element]}
            )

        return await self._rest(request, "analytics", work)

    async def _find_posts(self, request: web.Request) -> web.StreamResponse:
        async def work(member: str) -> web.Response:
            if request.query.get("q") != "author":
                raise reject(400, "q=author is required", code="ILLEGAL_ARGUMENT")
            if "author=urn:li" in request.rel_url.raw_query_string:
                raise reject(400, "The author URN must be URL-encoded (Rest.li 2.0)", code="ILLEGAL_ARGUMENT")
            if request.query.get("author") != member:
                raise reject(403, "Not enough permissions to read this author's posts", code="ACCESS_DENIED")
            if member not in self.member_social_readers:
                raise reject(
                    403,
                    "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.20251001",
                    code="ACCESS_DENIED",
                )
            count = int(request.query.get("count", "10"))
            mine = [p for p in self.posts.values() if p.body.get("author") == member][::-1][:count]
            elements = [{"id": p.urn, **p.body, "createdAt": int(p.created * 1000)} for p in mine]
            return web.json_response({"elements": elements, "paging": {"start": 0, "count": count}})

        return await self._rest(request, "find", work)


_RESERVED = set("\\|{}@[]()<>#*_~")
_HASHTAG_TEMPLATE = re.compile(r"\{hashtag\|\\#\|(\w+)\}")


def render_little(commentary: str) -> str:
    """The text LinkedIn shows for a little-format commentary.

    Backslash-escaped characters are literal, ``#word`` and ``{hashtag|\\#|word}`` are hashtags; any
    other reserved character ends the text there, as LinkedIn silently truncates at it.
    """
    out: list[str] = []
    i = 0
    while i < len(commentary):
        char = commentary[i]
        if char == "\\" and i + 1 < len(commentary):
            out.append(commentary[i + 1])
            i += 2
            continue
        template = _HASHTAG_TEMPLATE.match(commentary, i)
        if template:
            out.append("#" + template.group(1))
            i = template.end()
            continue
        if (
            char == "#"
            and i + 1 < len(commentary)
            and (commentary[i + 1].isalnum() or commentary[i + 1] == "_")
        ):
            out.append(char)
            i += 1
            continue
        if char in _RESERVED:
            break
        out.append(char)
        i += 1
    return "".join(out)


async def _raise(exc: Exception) -> web.Response:
    raise exc


def encoded(urn: str) -> str:
    return quote(urn, safe="")


async def _serve(port: int, tokens: list[str]) -> None:
    fake = FakeLinkedIn(tokens={t: f"urn:li:person:member{i}" for i, t in enumerate(tokens)})
    await serve_forever(fake, port, lambda: f"fake LinkedIn REST API on {fake.api_url}")


def main() -> None:
    parser = token_args(__doc__.splitlines()[0], port=8793)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token or ["test-token"]))


if __name__ == "__main__":
    main()
