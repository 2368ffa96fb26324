"""A local fake of the X API v2 surface postbot uses: chunked media upload and creating a post.

Implemented as https://docs.x.com/x-api/media describes the current (dedicated-endpoint) upload:

- ``POST /2/media/upload/initialize`` JSON ``{media_type, total_bytes, media_category}`` →
  ``{"data": {"id", "media_key", "expires_after_secs"}}``.
- ``POST /2/media/upload/{id}/append`` multipart ``segment_index`` (0-999) + ``media`` (raw bytes,
  at most 5 MiB) → ``{"data": {"expires_at"}}``. Segments may come in any order and a segment may be
  sent again (it replaces the earlier copy), which is what makes resuming after an interruption work.
- ``POST /2/media/upload/{id}/finalize``: every segment 0..n-1 present and their sizes adding up to
  ``total_bytes``, else 400 → ``{"data": {..., "processing_info": {"state", "check_after_secs"}}}``.
- ``GET /2/media/upload?command=STATUS&media_id=``: ``pending → in_progress → succeeded | failed``.
- ``POST /2/tweets`` JSON ``{"text", "media": {"media_ids"}}`` → 201 ``{"data": {"id", "text"}}``;
  media that has not finished processing, belongs to someone else or expired is refused; the same
  text twice is 403 duplicate content, like X.
- ``GET /2/users/{id}/tweets?tweet.fields=attachments``: the author's recent posts, newest first.

Errors are X's problem details (``application/problem+json``: ``title``, ``detail``, ``type``,
``status``) or ``{"errors": [...], "title": "Invalid Request", ...}`` for bad parameters. Every
response carries ``x-rate-limit-limit/remaining/reset``; an injected 429 has ``remaining: 0`` and the
epoch second of the reset. ``POST /2/tweets`` also counts against a 24-hour cap per user and per app
(the access tier's, https://docs.x.com/x-api/fundamentals/rate-limits) and says so in
``x-user-limit-24hour-*`` / ``x-app-limit-24hour-*``, headers X sends but does not document (the
rate-limit page lists only ``x-rate-limit-*``; their names are as X's responses carry them, e.g.
twapi-v2's header list): a post over a spent cap is a 429 whose 15-minute window still has room.
Media bytes are hashed as they stream in, never kept.

Run on its own: ``python -m tests.fakes.x_api --port 8791 --token tok``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.injected import take
from tests.fakes.loopback import LoopbackFake, Rejected, serve_forever, token_args

MAX_SEGMENT = 5 * 1024 * 1024
MAX_SEGMENT_INDEX = 999
# tweet_video is limited to 512 MB; amplify_video allows more.
MAX_BYTES = {"tweet_video": 512 * 1024 * 1024, "amplify_video": 1024 * 1024 * 1024}
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
MAX_TWEET_CHARS = 280
EXPIRES_AFTER_S = 86_400
RATE_LIMIT = 50
# POST /2/tweets per 24 hours on the Basic tier, per user and per app, as X's developer portal showed
# them (tweepy discussion #2129); the rate-limit page leaves the 24-hour caps to the console.
DAILY_USER_POSTS = 100
DAILY_APP_POSTS = 1667
# "300 requests per 3-hour window per user, per app", shared with reposts
# (https://docs.x.com/x-api/posts/manage-tweets/migrate/overview, read 6 Dec 2026).
POSTS_PER_3H = 300
WINDOW_3H_S = 3 * 3600
ENDPOINTS = ("initialize", "append", "finalize", "status", "tweet", "timeline", "lookup")
# The Post object's public_metrics (https://docs.x.com/x-api/fundamentals/data-dictionary#tweet).
PUBLIC_METRICS = (
    "retweet_count",
    "reply_count",
    "like_count",
    "quote_count",
    "bookmark_count",
    "impression_count",
)
# GET /2/tweets: "ids ... Up to 100 are allowed in a single request"; OAuth 2.0 scopes tweet.read and
# users.read (https://docs.x.com/x-api/posts/get-posts-by-ids, read 2026-12-06).
LOOKUP_IDS = 100
LOOKUP_SCOPES = ("tweet.read", "users.read")


def problem(status: int, title: str, detail: str, *, type_: str = "about:blank") -> web.Response:
    body = {"title": title, "detail": detail, "type": type_, "status": status}
    return web.Response(
        text=json.dumps(body), status=status, content_type="application/problem+json", charset=None
    )


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> Rejected:
    body = {
        "errors": [{"parameters": parameters or {}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    return Rejected(web.json_response(body, status=400))


@dataclass
class Injected:
    count: int
    status: int
    reset_in: float = 0.0
    # Matching requests let through before the failures start (to fail mid-upload).
    after: int = 0


@dataclass
class Upload:
    id: str
    owner: str
    total_bytes: int
    media_type: str
    category: str
    expires_at: float
    segments: dict[int, tuple[int, str]] = field(default_factory=dict)
    finalized: bool = False
    state: str = ""
    polls: int = 0
    fail_processing: str | None = None

    @property
    def media_key(self) -> str:
        return f"7_{self.id}"

    @property
    def received(self) -> int:
        return sum(size for size, _ in self.segments.values())

    def checksum(self) -> str:
        """sha256 over the segments' digests in order, to compare with what the client sent."""
        digest = hashlib.sha256()
        for index in sorted(self.segments):
            digest.update(self.segments[index][1].encode())
        return digest.hexdigest()


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str
    media_ids: list[str]
    media_keys: list[str]
    created_at: str
    public_metrics: dict[str, int] = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    path: str
    status: int
    segment_index: int | None = None
    length: int = 0


class FakeX(LoopbackFake):
    def __init__(self, *, tokens: dict[str, str] | None = None, processing_polls: int = 1) -> None:
        super().__init__()
        # access token → user id. ``token_check`` decides for tokens not listed (a fake OAuth provider).
        self.tokens: dict[str, str] = dict(tokens or {})
        self.token_check: Callable[[str], str | None] | None = None
        self.processing_polls = processing_polls
        self.check_after_secs = 1
        self.uploads: dict[str, Upload] = {}
        self.tweets: dict[str, Tweet] = {}
        self.requests: list[Recorded] = []
        self.injected: dict[str, list[Injected]] = {name: [] for name in ENDPOINTS}
        self.peak_segment_bytes = 0
        self.lost_answers = 0
        # OAuth 2.0 scopes no token here was granted.
        self.scopes_missing: set[str] = set()
        # Posts returned by lookups: pay-per-use bills Post reads, with a monthly volume cap
        # (https://docs.x.com/x-api/fundamentals/rate-limits).
        self.posts_read = 0
        self.lost_append_answers = 0
        # 24-hour caps on POST /2/tweets: (limit, posts in the window, epoch second it resets).
        self.daily: dict[str, list[float]] = {
            "user": [DAILY_USER_POSTS, 0, time.time() + 86_400],
            "app": [DAILY_APP_POSTS, 0, time.time() + 86_400],
        }
        # POST /2/tweets times per user and for the whole app, for the 3-hour caps.
        self.posted: dict[str, list[float]] = {"app": []}
        self._next_id = int(time.time() * 1000) << 22

    # --- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_SEGMENT * 2)
        app.router.add_post("/2/media/upload/initialize", self._initialize)
        app.router.add_post("/2/media/upload/{id}/append", self._append)
        app.router.add_post("/2/media/upload/{id}/finalize", self._finalize)
        app.router.add_get("/2/media/upload", self._status)
        app.router.add_post("/2/tweets", self._create_tweet)
        app.router.add_get("/2/tweets", self._lookup)
        app.router.add_get("/2/users/{id}/tweets", self._timeline)
        return app

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/2"

    # --- test controls -------------------------------------------------------------------------

    def fail(self, endpoint: str, count: int = 1, *, status: int = 503, after: int = 0) -> None:
        """After ``after`` good ones, ``count`` requests to ``endpoint`` (see ENDPOINTS) answer a 5xx."""
        self.injected[endpoint].append(Injected(count, status, after=after))

    def rate_limit(self, endpoint: str, count: int = 1, *, reset_in: float = 900, after: int = 0) -> None:
        self.injected[endpoint].append(Injected(count, 429, reset_in, after=after))

    def spend_daily_cap(self, which: str = "user", *, reset_in: float = 6 * 3600) -> None:
        """The ``which`` ("user" or "app") 24-hour post cap is used up and reopens in ``reset_in`` s."""
        cap = self.daily[which]
        cap[1], cap[2] = cap[0], time.time() + reset_in

    def _daily_headers(self) -> dict[str, str]:
        return {
            f"x-{which}-limit-24hour-{name}": str(int(value))
            for which, (limit, used, reset) in self.daily.items()
            for name, value in (("limit", limit), ("remaining", max(0, limit - used)), ("reset", reset))
        }

    def _spend_3h(self, user: str) -> web.Response | None:
        """Count a post against the documented 3-hour caps (per user and per app), or the 429 X
        answers when one is spent, its ``x-rate-limit-reset`` when the oldest post leaves the window."""
        now = time.time()
        windows = [self.posted.setdefault(f"user:{user}", []), self.posted["app"]]
        for times in windows:
            times[:] = [t for t in times if t > now - WINDOW_3H_S]
        full = [times for times in windows if len(times) >= POSTS_PER_3H]
        if full:
            reopens = max(min(times) for times in full) + WINDOW_3H_S
            response = problem(429, "Too Many Requests", "Too Many Requests")
            response.headers.update(self._headers(remaining=0, reset_in=reopens - now))
            return response
        for times in windows:
            times.append(now)
        return None

    def _spend_daily(self) -> web.Response | None:
        """Count a post against both 24-hour caps, or the 429 X answers when one is spent."""
        now = time.time()
        for cap in self.daily.values():
            if cap[2] <= now:
                cap[1], cap[2] = 0, now + 86_400
        if any(used >= limit for limit, used, _ in self.daily.values()):
            response = problem(429, "Too Many Requests", "Too Many Requests")
            # The 15-minute window is not what ran out: its headers show room and an early reset.
            response.headers.update(self._headers() | self._daily_headers())
            return response
        for cap in self.daily.values():
            cap[1] += 1
        return None

    async def _lookup(self, request: web.Request) -> web.StreamResponse:
        async def work(user: str) -> web.Response:
            missing = [s for s in LOOKUP_SCOPES if s in self.scopes_missing]
            if missing:
                # A user token without the endpoint's scopes is refused before anything is read.
                raise Rejected(
                    problem(
                        403, "Forbidden", "Forbidden", type_="https://api.x.com/2/problems/client-forbidden"
                    )
                )
            ids = [i for i in request.query.get("ids", "").split(",") if i]
            if not ids or len(ids) > LOOKUP_IDS:
                raise invalid_request(
                    f"The `ids` query parameter value [{request.query.get('ids', '')}] "
                    "is not between 1 and 100",
                    {"ids": [request.query.get("ids", "")]},
                )
            fields = [f for f in request.query.get("tweet.fields", "").split(",") if f]
            data, errors = [], []
            for tweet_id in ids:
                tweet = self.tweets.get(tweet_id)
                if tweet is None:
                    errors.append(
                        {
                            "value": tweet_id,
                            "detail": f"Could not find tweet with ids: [{tweet_id}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "ids",
                            "resource_id": tweet_id,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    )
                    continue
                item: dict[str, Any] = {
                    "id": tweet.id,
                    "text": tweet.text,
                    "edit_history_tweet_ids": [tweet.id],
                }
                if "public_metrics" in fields:
                    item["public_metrics"] = {k: tweet.public_metrics.get(k, 0) for k in PUBLIC_METRICS}
                data.append(item)
            self.posts_read += len(data)
            body: dict[str, Any] = {"data": data} if data else {}
            if errors:
                body["errors"] = errors
            return web.json_response(body)

        return await self._handle(request, "lookup", work)

    def lose_answers(self, count: int = 1) -> None:
        """The next ``count`` posts are created, then the answer is lost (a 503 comes back instead)."""
        self.lost_answers += count

    def lose_append_answers(self, count: int = 1) -> None:
        """The next ``count`` segments are stored, then the answer is lost (a 503 instead)."""
        self.lost_append_answers += count

    def fail_processing(self, media_id: str | None = None, message: str = "Unsupported video format") -> None:
        """Make processing of ``media_id`` (or of every upload from now on) end in ``failed``."""
        if media_id is not None:
            self.uploads[media_id].fail_processing = message
        else:
            self._fail_all_processing = message

    def expire(self, media_id: str) -> None:
        self.uploads[media_id].expires_at = time.time() - 1

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def appended(self) -> list[int]:
        """Segment indexes of every APPEND the server accepted, in order."""
        return [
            r.segment_index
            for r in self.requests
            if r.segment_index is not None and r.status == 200 and r.path.endswith("/append")
        ]

    _fail_all_processing: str | None = None

    # --- helpers -------------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_id += 1 + secrets.randbelow(1 << 12)
        return str(self._next_id)

    def _headers(self, remaining: int = RATE_LIMIT - 1, reset_in: float = 900) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(RATE_LIMIT),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(time.time() + reset_in)),
        }

    def _injected(self, endpoint: str) -> web.Response | None:
        plan = take(self.injected[endpoint])
        if plan is None:
            return None
        if plan.status == 429:
            response = problem(429, "Too Many Requests", "Too Many Requests")
            # X reports the reset as an epoch second; round up so the wait is never too short.
            response.headers.update(self._headers(0, plan.reset_in))
            response.headers["x-rate-limit-reset"] = str(int(time.time() + plan.reset_in + 0.999))
            return response
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        title = titles.get(plan.status, "Service Unavailable")
        return problem(plan.status, title, title)

    def _user(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        user = None
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :]
            user = self.tokens.get(token)
            if user is None and self.token_check is not None:
                user = self.token_check(token)
        if user is None:
            raise Rejected(problem(401, "Unauthorized", "Unauthorized"))
        return user

    async def _handle(
        self, request: web.Request, endpoint: str, work: Callable[[str], Any], *, segment: int | None = None
    ) -> web.StreamResponse:
        record = Recorded(request.method, request.path, 0, segment)
        self.requests.append(record)
        try:
            user = self._user(request)
            injected = self._injected(endpoint)
            if injected is not None:
                # Drain what the client sent so the failure looks like a server error, not a reset.
                await request.read()
                response: web.StreamResponse = injected
            else:
                response = await work(user)
                response.headers.update(self._headers())
        except Rejected as exc:
            response = exc.response
        record.status = response.status
        return response

    def _upload_for(self, user: str, media_id: str) -> Upload:
        upload = self.uploads.get(media_id)
        if upload is None or upload.owner != user:
            raise invalid_request(f"Media id {media_id} not found.", {"id": [media_id]})
        if upload.expires_at < time.time():
            raise invalid_request(f"Media id {media_id} has expired.", {"id": [media_id]})
        return upload

    # --- media upload --------------------------------------------------------------------------

    async def _initialize(self, request: web.Request) -> web.StreamResponse:
        async def work(user: str) -> web.Response:
            if request.content_type != "application/json":
                raise invalid_request("Content-Type must be application/json.")
            try:
                body = await request.json()
            except ValueError:
                raise invalid_request("The request body is not valid JSON.") from None
            media_type = body.get("media_type")
            category = body.get("media_category")
            total = body.get("total_bytes")
            if media_type not in VIDEO_TYPES:
                raise invalid_request(
                    "media_type is not a supported video type.", {"media_type": [media_type]}
                )
            if category not in MAX_BYTES:
                raise invalid_request("media_category is invalid.", {"media_category": [str(category)]})
            if not isinstance(total, int) or total <= 0:
                raise invalid_request(
                    "total_bytes must be a positive integer.", {"total_bytes": [str(total)]}
                )
            if total > MAX_BYTES[category]:
                raise invalid_request(
                    f"total_bytes exceeds the {category} limit.", {"total_bytes": [str(total)]}
                )
            media_id = self._new_id()
            self.uploads[media_id] = Upload(
                media_id, user, total, media_type, category, time.time() + EXPIRES_AFTER_S
            )
            if self._fail_all_processing:
                self.uploads[media_id].fail_processing = self._fail_all_processing
            data = {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": EXPIRES_AFTER_S}
            return web.json_response({"data": data})

        return await self._handle(request, "initialize", work)

    async def _append(self, request: web.Request) -> web.StreamResponse:
        media_id = request.match_info["id"]
        # The segment index is only known once the form is read; recorded on the request below.
        record_index: list[int] = []

        async def work(user: str) -> web.Response:
            upload = self._upload_for(user, media_id)
            if upload.finalized:
                raise invalid_request("Media has already been finalized.", {"id": [media_id]})
            index, size, digest = await self._read_segment(request)
            record_index.append(index)
            if size > MAX_SEGMENT:
                raise invalid_request("Segment is larger than 5 MB.", {"media": [f"{size} bytes"]})
            if size == 0:
                raise invalid_request("Segment is empty.", {"media": ["0 bytes"]})
            previous = upload.segments.get(index, (0, ""))[0]
            if upload.received - previous + size > upload.total_bytes:
                raise invalid_request(
                    "More bytes appended than total_bytes.", {"segment_index": [str(index)]}
                )
            upload.segments[index] = (size, digest)
            self.peak_segment_bytes = max(self.peak_segment_bytes, size)
            if self.lost_append_answers > 0:
                self.lost_append_answers -= 1
                return problem(503, "Service Unavailable", "Service Unavailable")
            return web.json_response({"data": {"expires_at": int(upload.expires_at)}})

        response = await self._handle(request, "append", work)
        if record_index:
            self.requests[-1].segment_index = record_index[0]
        return response

    async def _read_segment(self, request: web.Request) -> tuple[int, int, str]:
        index: int | None = None
        size = 0
        digest = hashlib.sha256()
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                name = getattr(part, "name", None)
                if name == "segment_index":
                    text = await part.text()  # type: ignore[union-attr]
                    index = _segment_index(text)
                elif name == "media":
                    while chunk := await part.read_chunk(256 * 1024):  # type: ignore[union-attr]
                        size += len(chunk)
                        digest.update(chunk)
                else:
                    raise invalid_request(f"Unexpected form field {name!r}.")
        elif request.content_type == "application/json":
            body = await request.json()
            index = _segment_index(str(body.get("segment_index")))
            data = base64.b64decode(body.get("media") or "")
            size, digest = len(data), hashlib.sha256(data)
        else:
            raise invalid_request("APPEND must be multipart/form-data or application/json.")
        if index is None:
            raise invalid_request("segment_index is required.", {"segment_index": []})
        return index, size, digest.hexdigest()

    async def _finalize(self, request: web.Request) -> web.StreamResponse:
        media_id = request.match_info["id"]

        async def work(user: str) -> web.Response:
            upload = self._upload_for(user, media_id)
            if not upload.finalized:
                count = max(upload.segments) + 1 if upload.segments else 0
                missing = [i for i in range(count) if i not in upload.segments]
                if missing or not upload.segments:
                    raise invalid_request(f"Segments missing: {missing or [0]}.", {"id": [media_id]})
                if upload.received != upload.total_bytes:
                    raise invalid_request(
                        f"Received {upload.received} bytes but total_bytes was {upload.total_bytes}.",
                        {"id": [media_id]},
                    )
                upload.finalized = True
                upload.state = "pending"
            return web.json_response({"data": self._media_data(upload)})

        return await self._handle(request, "finalize", work)

    def _media_data(self, upload: Upload) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": upload.id,
            "media_key": upload.media_key,
            "size": upload.total_bytes,
            "expires_after_secs": max(0, int(upload.expires_at - time.time())),
        }
        info: dict[str, Any] = {"state": upload.state}
        if upload.state in ("pending", "in_progress"):
            info["check_after_secs"] = self.check_after_secs
            info["progress_percent"] = min(99, 100 * upload.polls // max(1, self.processing_polls))
        elif upload.state == "failed":
            info["error"] = {"code": 1, "name": "InvalidMedia", "message": upload.fail_processing}
        else:
            info["progress_percent"] = 100
        data["processing_info"] = info
        return data

    async def _status(self, request: web.Request) -> web.StreamResponse:
        async def work(user: str) -> web.Response:
            if request.query.get("command") != "STATUS":
                raise invalid_request(
                    "command must be STATUS.", {"command": [request.query.get("command", "")]}
                )
            upload = self._upload_for(user, request.query.get("media_id", ""))
            if not upload.finalized:
                raise invalid_request("STATUS before FINALIZE.", {"media_id": [upload.id]})
            if upload.state in ("pending", "in_progress"):
                upload.polls += 1
                if upload.polls >= self.processing_polls:
                    upload.state = "failed" if upload.fail_processing else "succeeded"
                else:
                    upload.state = "in_progress"
            return web.json_response({"data": self._media_data(upload)})

        return await self._handle(request, "status", work)

    # --- posts ---------------------------------------------------------------------------------

    async def _create_tweet(self, request: web.Request) -> web.StreamResponse:
        async def work(user: str) -> web.Response:
            if request.content_type != "application/json":
                raise invalid_request("Content-Type must be application/json.")
            body = await request.json()
            text = body.get("text")
            media_ids = (body.get("media") or {}).get("media_ids") or []
            if not isinstance(text, str) or len(text) > MAX_TWEET_CHARS:
                raise invalid_request("text must be at most 280 characters.", {"text": [str(text)[:40]]})
            if not text and not media_ids:
                raise invalid_request("A post needs text or media.")
            keys = []
            for media_id in media_ids:
                upload = self.uploads.get(str(media_id))
                if upload is None or upload.owner != user or upload.expires_at < time.time():
                    raise invalid_request("Your media IDs are invalid.", {"media.media_ids": [str(media_id)]})
                if upload.state != "succeeded":
                    raise invalid_request(
                        "Your media IDs are invalid: media has not finished processing.",
                        {"media.media_ids": [str(media_id)]},
                    )
                keys.append(upload.media_key)
            spent = self._spend_3h(user) or self._spend_daily()
            if spent is not None:
                raise Rejected(spent)
            if any(t.author_id == user and t.text == text and text for t in self.tweets.values()):
                raise Rejected(
                    problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
                )
            tweet_id = self._new_id()
            self.tweets[tweet_id] = Tweet(
                tweet_id, user, text, [str(m) for m in media_ids], keys, datetime.now(UTC).isoformat()
            )
            if self.lost_answers > 0:
                self.lost_answers -= 1
                return problem(503, "Service Unavailable", "Service Unavailable")
            data = {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}
            return web.json_response({"data": data}, status=201, headers=self._daily_headers())

        return await self._handle(request, "tweet", work)

    async def _timeline(self, request: web.Request) -> web.StreamResponse:
        async def work(user: str) -> web.Response:
            if request.match_info["id"] != user:
                raise Rejected(problem(403, "Forbidden", "You can only read your own timeline here."))
            limit = int(request.query.get("max_results", "10"))
            if not 5 <= limit <= 100:
                raise invalid_request("max_results must be between 5 and 100.", {"max_results": [str(limit)]})
            fields = set(request.query.get("tweet.fields", "").split(","))
            mine = [t for t in self.tweets.values() if t.author_id == user][::-1][:limit]
            data = []
            for t in mine:
                item: dict[str, Any] = {"id": t.id, "text": t.text, "edit_history_tweet_ids": [t.id]}
                if "attachments" in fields and t.media_keys:
                    item["attachments"] = {"media_keys": t.media_keys}
                data.append(item)
            meta: dict[str, Any] = {"result_count": len(data)}
            if data:
                meta |= {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
            return web.json_response({"data": data, "meta": meta} if data else {"meta": meta})

        return await self._handle(request, "timeline", work)


def _segment_index(text: str) -> int:
    try:
        index = int(text)
    except ValueError:
        raise invalid_request("segment_index must be an integer.", {"segment_index": [text]}) from None
    if not 0 <= index <= MAX_SEGMENT_INDEX:
        raise invalid_request("segment_index must be between 0 and 999.", {"segment_index": [text]})
    return index


async def _serve(port: int, tokens: list[str]) -> None:
    fake = FakeX(tokens={t: str(1000 + i) for i, t in enumerate(tokens)})
    await serve_forever(fake, port, lambda: f"fake X API on {fake.api_url} (tokens: {', '.join(tokens)})")


def main() -> None:
    parser = token_args(__doc__.splitlines()[0], port=8791)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token or ["test-token"]))


if __name__ == "__main__":
    main()
