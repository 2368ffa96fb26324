"""A local fake of the Instagram Graph API content-publishing surface for Reels (Instagram Login).

Implemented after https://developers.facebook.com/docs/instagram-platform/content-publishing, for
the host graph.instagram.com that Instagram Login tokens are good for:

- ``POST /{version}/{ig-user-id}/media`` (``media_type=REELS``, ``video_url``, ``caption``...) →
  ``{"id"}``. Meta then downloads the video from ``video_url`` ("We cURL media used in publishing
  attempts so the media must be hosted on a publicly accessible server at the time of the attempt",
  same page): this fake really fetches it over HTTP, in the background like Meta, and checks what a
  careful downloader checks (status, ``Content-Type`` a video, ``Content-Length``, byte ranges
  answered 206 with a matching ``Content-Range``). A fetch that fails leaves the container in
  ``ERROR`` with Meta's "Media download has failed" text, so a broken link fails the test.
- ``upload_type=resumable`` is refused: resumable upload "is available only for apps that have
  implemented Facebook Login for Business"
  (https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads), and
  every token here is an Instagram Login one. rupload.facebook.com refuses them the same way.
- ``GET /{version}/{container-id}?fields=status_code,status`` → ``IN_PROGRESS | FINISHED | ERROR |
  EXPIRED | PUBLISHED``; ``POST /{version}/{ig-user-id}/media_publish`` (``creation_id``) → ``{"id"}``,
  refused unless the container is FINISHED; ``GET /{version}/{ig-user-id}/content_publishing_limit``;
  ``GET /{version}/{ig-user-id}/media`` and ``GET /{version}/{media-id}`` (permalink...).
  Parameters may come in the query string, a form body or JSON, as Graph accepts.

Graph errors use Meta's envelope ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id", ...}}``: an invalid token is code 190 (HTTP 400, as Graph answers), throttling codes
4/17/32/613 with an ``X-Business-Use-Case-Usage`` header giving ``estimated_time_to_regain_access``
(minutes), the publishing limit is code 9 subcode 2207042, transient failures carry
``is_transient``. rupload errors use its own ``{"debug_info": {"retriable", "type", "message"}}``.

Run on its own: ``python -m tests.fakes.instagram_api --port 8792 --token tok``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.graph import FETCH_PIECE as FETCH_PIECE  # tests page their clips by it
from tests.fakes.graph import Fetch, MetaDownloader, Recorded, graph_error, rupload_error
from tests.fakes.injected import take
from tests.fakes.loopback import LoopbackFake, Rejected, serve_forever, token_args

VERSION = "v25.0"
# Graph API versions and the day each stops being available: "Available Graph API versions"
# (https://developers.facebook.com/docs/graph-api/changelog/versions, read 6 Dec 2026; None: "TBD").
# An expired version is not refused: "calls made to that version number may fail or be upgraded to
# the next available version" (https://developers.facebook.com/docs/marketing-api/overview/versioning),
# and in practice Graph serves them with the oldest available version and says so in the
# ``facebook-api-version`` response header (https://developers.facebook.com/docs/graph-api/guides/
# versioning). The fake does the same, so an expired version changes behaviour rather than failing.
EXPIRES: dict[str, date | None] = {
    "v20.0": date(2026, 9, 24),
    "v21.0": date(2027, 1, 21),
    "v22.0": date(2027, 5, 20),
    "v23.0": date(2027, 10, 8),
    "v24.0": date(2028, 2, 18),
    "v25.0": date(2028, 7, 29),
    "v26.0": None,
}
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
CONTAINER_TTL_S = 24 * 3600
QUOTA_TOTAL = 100
ENDPOINTS = ("create", "status", "publish", "limit", "media", "insights")
# GET /{ig-media-id}/insights, media product type REELS: the metrics the reference lists for Reels,
# and those it lists as deprecated for every version since 21 Apr 2025 (plays, clips_replays_count,
# ig_reels_aggregated_all_plays_count, impressions; video_views before them), which are refused
# (https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights,
# read 2026-12-06).
REELS_METRICS = {
    "comments",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
    "likes",
    "reach",
    "saved",
    "shares",
    "total_interactions",
    "views",
}
INSIGHTS_PERMISSION = "instagram_business_manage_insights"
# What POST /{ig-user-id}/media takes for a reel (same reference page); anything else is refused.
CONTAINER_PARAMS = {
    "media_type",
    "video_url",
    "upload_type",
    "caption",
    "share_to_feed",
    "thumb_offset",
    "cover_url",
    "audio_name",
    "collaborators",
    "location_id",
    "user_tags",
    "access_token",
}
DOWNLOAD_FAILED = "Error: Media download has failed. The media URI doesn't meet our requirements."


@dataclass
class Injected:
    count: int
    status: int
    code: int = 2
    regain_minutes: int = 0
    after: int = 0


@dataclass
class Container:
    id: str
    owner: str
    params: dict[str, str]
    created: float
    # Set when Meta's download of video_url ended: the bytes' size and sha256, or why it failed.
    fetched_bytes: int | None = None
    fetched_sha256: str | None = None
    fetch_error: str | None = None
    status_code: str = "IN_PROGRESS"
    polls: int = 0
    last_poll: float | None = None
    error: str | None = None
    media_id: str | None = None

    @property
    def fetched(self) -> bool:
        return self.fetched_bytes is not None or self.fetch_error is not None


@dataclass
class Media:
    id: str
    owner: str
    container_id: str
    caption: str
    timestamp: str
    # Lifetime values per metric name; a metric not here has no data yet and is left out of the
    # answer ("the API returns an empty data set instead of 0", the insights reference).
    insights: dict[str, int] = field(default_factory=dict)
    # Fewer viewers than insights need: "(#10) Not enough viewers for the media to show insights".
    too_few_viewers: bool = False

    @property
    def permalink(self) -> str:
        return f"https://www.instagram.com/reel/{self.id}/"


class FakeInstagram(LoopbackFake, MetaDownloader):
    def __init__(
        self, *, tokens: dict[str, str] | None = None, version: str = VERSION, processing_polls: int = 1
    ) -> None:
        super().__init__()
        # access token → ig-user-id. ``token_check`` decides for tokens not listed (a fake OAuth provider).
        self.tokens: dict[str, str] = dict(tokens or {})
        self.token_check: Callable[[str], str | None] | None = None
        self.version = version
        # The day the fake lives in, for version expiry; tests move it.
        self.today: Callable[[], date] = lambda: datetime.now(UTC).date()
        # (version asked, version that served it) for every call made to an expired version.
        self.upgraded: list[tuple[str, str]] = []
        self.processing_polls = processing_polls
        # Meta: "We recommend querying a container's status once per minute, for no more than 5
        # minutes" (https://developers.facebook.com/docs/instagram-platform/content-publishing
        # #troubleshooting). Polls closer together than this are recorded in too_fast_polls; tests
        # scale the minute down and give the publisher the same scale.
        self.status_interval_s = 0.0
        self.too_fast_polls: list[str] = []
        self.quota_total = QUOTA_TOTAL
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.requests: list[Recorded] = []
        self.injected: dict[str, list[Injected]] = {name: [] for name in ENDPOINTS}
        self.processing_error: str | None = None
        # Permissions no token here was granted (Instagram Login scopes).
        self.scopes_missing: set[str] = set()
        self.lost_answers = 0
        self.fetches: list[Fetch] = []
        self._downloads: set[asyncio.Task[None]] = set()
        self._client: aiohttp.ClientSession | None = None
        self._seq = 17_900_000_000_000_000

    # --- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/ig-api-upload/{version}/{container}", self._rupload)
        app.router.add_post("/{version}/{node}/media", self._create)
        app.router.add_post("/{version}/{node}/media_publish", self._publish)
        app.router.add_get("/{version}/{node}/content_publishing_limit", self._limit)
        app.router.add_get("/{version}/{node}/media", self._list_media)
        app.router.add_get("/{version}/{node}/insights", self._insights)
        app.router.add_get("/{version}/{node}", self._node)
        return app

    @property
    def graph_base_url(self) -> str:
        """``https://graph.instagram.com/v25.0`` in production."""
        return f"{self.base_url}/{self.version}"

    @property
    def upload_base_url(self) -> str:
        """``https://rupload.facebook.com/ig-api-upload/v25.0`` in production."""
        return f"{self.base_url}/ig-api-upload/{self.version}"

    async def stop(self) -> None:
        await self._stop_downloads()
        await super().stop()

    # --- test controls -------------------------------------------------------------------------

    def fail(self, endpoint: str, count: int = 1, *, status: int = 500, after: int = 0) -> None:
        """After ``after`` good ones, ``count`` requests to ``endpoint`` (see ENDPOINTS) fail."""
        self.injected[endpoint].append(Injected(count, status, after=after))

    def throttle(self, endpoint: str, count: int = 1, *, code: int = 4, regain_minutes: int = 1) -> None:
        """Graph throttling (codes 4, 17, 32, 613) for the next ``count`` calls to ``endpoint``."""
        self.injected[endpoint].append(Injected(count, 400, code=code, regain_minutes=regain_minutes))

    def lose_publish_answers(self, count: int = 1) -> None:
        """The next ``count`` media_publish calls publish, then the answer is lost (a 500 instead)."""
        self.lost_answers += count

    def expire(self, container_id: str) -> None:
        self.containers[container_id].created = time.time() - CONTAINER_TTL_S - 1

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def published_count(self, owner: str) -> int:
        return sum(1 for m in self.media.values() if m.owner == owner)

    # --- helpers -------------------------------------------------------------------------------

    def _id(self) -> str:
        self._seq += 1 + secrets.randbelow(1000)
        return str(self._seq)

    def _graph_failure(self, plan: Injected) -> web.Response:
        if plan.status >= 500:
            return graph_error(
                plan.status,
                plan.code,
                "An unexpected error has occurred. Please retry your request later.",
                is_transient=True,
            )
        messages = {
            4: "Application request limit reached",
            17: "User request limit reached",
            32: "Page request limit reached",
            613: "Calls to this api have exceeded the rate limit.",
        }
        response = graph_error(
            plan.status, plan.code, messages.get(plan.code, "Rate limited"), is_transient=True
        )
        usage = {
            "0": [
                {
                    "type": "instagram",
                    "call_count": 100,
                    "total_cputime": 20,
                    "total_time": 30,
                    "estimated_time_to_regain_access": plan.regain_minutes,
                }
            ]
        }
        response.headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        return response

    def _lookup_token(self, token: str) -> str | None:
        user = self.tokens.get(token)
        if user is None and self.token_check is not None:
            user = self.token_check(token)
        return user

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
            else:
                params.update({k: str(v) for k, v in (await request.post()).items()})
        return params

    def _graph_user(self, request: web.Request, params: dict[str, str]) -> str:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else params.get("access_token", "")
        user = self._lookup_token(token) if token else None
        if user is None:
            if not token:
                raise Rejected(
                    graph_error(400, 2500, "An active access token must be used to query information.")
                )
            raise Rejected(
                graph_error(
                    400,
                    190,
                    "Error validating access token: The session has been invalidated.",
                    subcode=460,
                )
            )
        return user

    async def _graph(
        self, request: web.Request, endpoint: str, work: Callable[[str, dict[str, str]], Any]
    ) -> web.Response:
        record = Recorded(request.method, request.path, 0)
        self.requests.append(record)
        try:
            if request.match_info["version"] != self.version:
                raise Rejected(
                    graph_error(400, 2635, f"Unsupported API version {request.match_info['version']}")
                )
            params = await self._params(request)
            user = self._graph_user(request, params)
            plan = take(self.injected[endpoint])
            response = self._graph_failure(plan) if plan else await work(user, params)
        except Rejected as exc:
            response = exc.response
        served = self.serving_version(request.match_info["version"])
        if served != request.match_info["version"]:
            self.upgraded.append((request.match_info["version"], served))
        response.headers["facebook-api-version"] = served
        record.status = response.status
        return response

    def serving_version(self, asked: str) -> str:
        """The version Graph answers a call to ``asked`` with on ``today()``: itself while available,
        else the oldest one still available."""
        today = self.today()
        alive = [v for v, ends in EXPIRES.items() if ends is None or ends > today]
        ends = EXPIRES.get(asked)
        if ends is None or ends > today or not alive:
            return asked
        return min(alive, key=lambda v: float(v[1:]))

    def _container(self, user: str, container_id: str) -> Container:
        container = self.containers.get(container_id)
        if container is None or container.owner != user:
            raise Rejected(
                graph_error(
                    400,
                    100,
                    f"Unsupported get request. Object with ID '{container_id}' does not exist, cannot be "
                    "loaded due to missing permissions, or does not support this operation.",
                    subcode=33,
                )
            )
        if (
            container.status_code not in ("PUBLISHED", "ERROR")
            and time.time() - container.created > CONTAINER_TTL_S
        ):
            container.status_code = "EXPIRED"
        return container

    def _own_node(self, request: web.Request, user: str) -> None:
        if request.match_info["node"] != user:
            raise Rejected(
                graph_error(400, 100, "Unsupported post request. Object does not exist.", subcode=33)
            )

    # --- graph: containers and publishing ------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own_node(request, user)
            if params.get("media_type") != "REELS":
                raise Rejected(graph_error(400, 100, "(#100) media_type must be REELS for a reel."))
            if params.get("upload_type") == "resumable":
                # "This is available only for apps that have implemented Facebook Login for Business"
                # (https://developers.facebook.com/docs/instagram-platform/content-publishing/
                # resumable-uploads); graph.instagram.com serves Instagram Login tokens only.
                raise Rejected(
                    graph_error(
                        400,
                        100,
                        "(#100) upload_type=resumable is only available to apps using Facebook Login "
                        "for Business; with Instagram Login, create the container from a video_url.",
                    )
                )
            if not params.get("video_url", "").startswith(("http://", "https://")):
                raise Rejected(graph_error(400, 100, "(#100) The parameter video_url is required."))
            # Reels parameters (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/
            # reference/ig-user/media#creating): share_to_feed is a boolean, thumb_offset the cover
            # frame's position "in milliseconds" (an integer); the Graph API refuses other values.
            feed = params.get("share_to_feed")
            if feed is not None and feed not in ("true", "false"):
                raise Rejected(graph_error(400, 100, "(#100) Param share_to_feed must be a boolean"))
            offset = params.get("thumb_offset")
            if offset is not None and not offset.isdigit():
                raise Rejected(graph_error(400, 100, "(#100) Param thumb_offset must be an integer"))
            for name in params:
                if name not in CONTAINER_PARAMS:
                    raise Rejected(graph_error(400, 100, f"(#100) Unknown parameter: {name}"))
            caption = params.get("caption", "")
            if len(caption) > MAX_CAPTION:
                raise Rejected(graph_error(400, 100, "(#100) The caption is longer than 2200 characters."))
            if sum(1 for word in caption.split() if word.startswith("#")) > MAX_HASHTAGS:
                raise Rejected(graph_error(400, 100, "(#100) The caption has more than 30 hashtags."))
            cid = self._id()
            container = Container(cid, user, params, time.time())
            self.containers[cid] = container
            self._start(self._download(container))
            return web.json_response({"id": cid})

        return await self._graph(request, "create", work)

    async def _node(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            node = request.match_info["node"]
            fields = [f for f in params.get("fields", "id").split(",") if f]
            if node in self.media:
                return web.json_response(self._media_fields(self.media[node], fields))
            plan = take(self.injected["status"])
            if plan is not None:
                return self._graph_failure(plan)
            container = self._container(user, node)
            now = time.monotonic()
            if container.last_poll is not None and now - container.last_poll < self.status_interval_s * 0.9:
                self.too_fast_polls.append(container.id)
            container.last_poll = now
            if container.status_code == "IN_PROGRESS" and container.fetch_error:
                container.status_code, container.error = "ERROR", container.fetch_error
            elif container.status_code == "IN_PROGRESS" and container.fetched:
                container.polls += 1
                if container.polls >= self.processing_polls:
                    if self.processing_error:
                        container.status_code, container.error = "ERROR", self.processing_error
                    else:
                        container.status_code = "FINISHED"
            body: dict[str, Any] = {"id": container.id}
            if "status_code" in fields:
                body["status_code"] = container.status_code
            if "status" in fields:
                body["status"] = container.error or container.status_code.title().replace("_", " ")
            return web.json_response(body)

        return await self._graph(request, "media", work)

    async def _publish(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own_node(request, user)
            container = self._container(user, params.get("creation_id", ""))
            if self.published_count(user) >= self.quota_total:
                raise Rejected(
                    graph_error(
                        400,
                        9,
                        "Application request limit reached",
                        subcode=2207042,
                        error_user_title="Cannot publish",
                        error_user_msg="You have reached the maximum number of posts allowed in 24 hours.",
                    )
                )
            if container.status_code == "PUBLISHED":
                raise Rejected(graph_error(400, 100, "(#100) The media has already been published."))
            if container.status_code != "FINISHED":
                raise Rejected(
                    graph_error(
                        400,
                        9007,
                        "Media ID is not available",
                        subcode=2207027,
                        error_user_msg="The media is not ready for publishing, please wait for a moment",
                    )
                )
            media_id = self._id()
            caption = container.params.get("caption", "")
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
            self.media[media_id] = Media(media_id, user, container.id, caption, stamp)
            container.status_code, container.media_id = "PUBLISHED", media_id
            if self.lost_answers > 0:
                self.lost_answers -= 1
                return graph_error(500, 2, "An unexpected error has occurred.", is_transient=True)
            return web.json_response({"id": media_id})

        return await self._graph(request, "publish", work)

    async def _limit(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own_node(request, user)
            entry = {
                "quota_usage": self.published_count(user),
                "config": {"quota_total": self.quota_total, "quota_duration": 86400},
            }
            return web.json_response({"data": [entry]})

        return await self._graph(request, "limit", work)

    async def _list_media(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own_node(request, user)
            fields = [f for f in params.get("fields", "id").split(",") if f]
            limit = int(params.get("limit", "25"))
            mine = [m for m in self.media.values() if m.owner == user][::-1][:limit]
            return web.json_response({"data": [self._media_fields(m, fields) for m in mine]})

        return await self._graph(request, "media", work)

    async def _insights(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            if INSIGHTS_PERMISSION in self.scopes_missing:
                # The reference's Requirements: instagram_business_basic and
                # instagram_business_manage_insights with Instagram Login.
                raise Rejected(
                    graph_error(403, 10, "(#10) Application does not have permission for this action")
                )
            media = self.media.get(request.match_info["node"])
            if media is None or media.owner != user:
                raise Rejected(
                    graph_error(
                        400,
                        100,
                        f"Unsupported get request. Object with ID '{request.match_info['node']}' does not "
                        "exist, cannot be loaded due to missing permissions, or does not support this "
                        "operation.",
                        subcode=33,
                    )
                )
            metrics = [m for m in params.get("metric", "").split(",") if m]
            unknown = [m for m in metrics if m not in REELS_METRICS]
            if not metrics or unknown:
                raise Rejected(
                    graph_error(
                        400,
                        100,
                        "(#100) metric[0] must be one of the following values: "
                        + ", ".join(sorted(REELS_METRICS)),
                    )
                )
            if media.too_few_viewers:
                raise Rejected(
                    graph_error(400, 10, "(#10) Not enough viewers for the media to show insights")
                )
            data = [
                {
                    "name": name,
                    "period": "lifetime",
                    "values": [{"value": media.insights[name]}],
                    "title": name.replace("_", " ").capitalize(),
                    "description": "",
                    "id": f"{media.id}/insights/{name}/lifetime",
                }
                for name in metrics
                if name in media.insights
            ]
            return web.json_response({"data": data})

        return await self._graph(request, "insights", work)

    @staticmethod
    def _media_fields(media: Media, fields: list[str]) -> dict[str, Any]:
        values = {
            "id": media.id,
            "caption": media.caption,
            "timestamp": media.timestamp,
            "permalink": media.permalink,
            "media_type": "VIDEO",
            "media_product_type": "REELS",
        }
        return {"id": media.id} | {f: values[f] for f in fields if f in values}

    # --- Meta's downloader ---------------------------------------------------------------------

    async def _download(self, container: Container) -> None:
        url = container.params["video_url"]
        try:
            size, digest = await self._fetch(url)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            container.fetch_error = f"{DOWNLOAD_FAILED} ({exc})"
            return
        container.fetched_bytes, container.fetched_sha256 = size, digest

    # --- rupload -------------------------------------------------------------------------------

    async def _rupload(self, request: web.Request) -> web.StreamResponse:
        """rupload.facebook.com takes Facebook Login for Business tokens only ("available only for
        apps that have implemented Facebook Login for Business",
        https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads):
        every token this fake knows is an Instagram Login one, so every upload is refused."""
        self.requests.append(Recorded(request.method, request.path, 400))
        await request.read()
        return rupload_error(
            400, "NotAuthorizedError", "User not authorized to perform this request (Instagram Login token)"
        )


async def _serve(port: int, tokens: list[str]) -> None:
    fake = FakeInstagram(tokens={t: str(17841400000000000 + i) for i, t in enumerate(tokens)})
    await serve_forever(
        fake,
        port,
        lambda: f"fake Instagram Graph API on {fake.graph_base_url}",
    )


def main() -> None:
    parser = token_args(__doc__.splitlines()[0], port=8792)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token or ["test-token"]))


if __name__ == "__main__":
    main()
