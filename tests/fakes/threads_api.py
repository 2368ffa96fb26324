"""A local fake of the Threads API publishing surface for video posts (graph.threads.net/v1.0).

Every rule below cites the page it comes from (read 2026-12-06 through the project's documentation
search):

- ``POST /v1.0/{threads-user-id}/threads`` (``media_type=VIDEO``, ``video_url``, ``text``,
  ``reply_control``) → ``{"id"}``: Threads Posts, Step 1
  (https://developers.facebook.com/docs/threads/posts#step-1--create-a-threads-media-container).
  Threads then downloads the video ("Threads retrieves your video from the URL provided, so it must
  be on a public server", same table): this fake really fetches ``video_url`` over HTTP in the
  background, HEAD then byte ranges, checking status, ``Content-Type``, ``Content-Length`` and each
  ``Content-Range``. A fetch that fails leaves the container ``ERROR`` with ``FAILED_DOWNLOADING_VIDEO``
  (Troubleshooting, https://developers.facebook.com/docs/threads/troubleshooting), so a broken,
  expired or badly served link fails the test.
- Text: "Text posts are limited to 500 characters. Emojis are counted as the number of UTF-8 bytes"
  (Threads Posts, Limitations). The refusal's wording, "text must be at most 500 characters", is the
  one Postiz maps (libraries/nestjs-libraries/src/integrations/social/threads.provider.ts).
- ``reply_control``: everyone, accounts_you_follow, mentioned_only, parent_post_author_only,
  followers_only (https://developers.facebook.com/docs/threads/reply-management#control-who-can-reply
  and the 7 Jul 2025 changelog entry, https://developers.facebook.com/docs/threads/changelog).
- ``GET /v1.0/{container-id}?fields=status,error_message`` → ``IN_PROGRESS | FINISHED | ERROR |
  EXPIRED | PUBLISHED``; EXPIRED when "not published within 24 hours" (Troubleshooting). Processing
  takes ``processing_polls`` polls after the download ended (the processing delay), and "We
  recommend querying a container's status once per minute, for no more than 5 minutes": polls closer
  than ``status_interval_s`` (tests scale the minute down) are recorded in ``too_fast_polls``.
- ``POST /v1.0/{threads-user-id}/threads_publish`` (``creation_id``) → ``{"id"}``, refused unless
  the container is FINISHED, and refused once the profile published ``quota_total`` (250) posts in a
  moving 24 hours: "This limit is enforced on the POST /{threads-user-id}/threads_publish endpoint"
  (Overview, Posts, https://developers.facebook.com/docs/threads/overview#posts). Threads' pages show
  no body for that refusal, and no client read on 2026-12-07 quotes one: the fake answers in Graph's
  envelope with code 9, as Meta's Instagram content publishing does (``"Application request limit
  reached"``), a guess that ``limit_refusal`` changes (PUBLISH_LIMIT_CODE in
  core/platforms/threads/publisher.py says what was searched).
- ``GET /v1.0/{threads-user-id}/threads_publishing_limit?fields=quota_usage,config`` →
  ``{"data": [{"quota_usage", "config": {"quota_total": 250, "quota_duration": 86400}}]}`` (same
  section's example).
- ``GET /v1.0/{threads-user-id}/threads`` (the profile's posts, https://developers.facebook.com/docs/
  threads/threads-media) and ``GET /v1.0/{threads-media-id}?fields=permalink,...``.
- ``GET /v1.0/{threads-media-id}/insights?metric=...``: views, likes, replies, reposts, quotes,
  shares; needs ``threads_manage_insights`` (Insights, https://developers.facebook.com/docs/threads/
  insights), else Graph's ``(#10)`` permission error.
- Tokens: an unknown or expired access token is Graph's code 190 with HTTP 400 ("Error validating
  access token", https://developers.facebook.com/docs/graph-api/guides/error-handling, which Threads'
  errors follow); throttling codes 4/17/32/613 (same page).

Run on its own: ``python -m tests.fakes.threads_api --port 8793 --token tok``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import regex
from aiohttp import web

from tests.fakes.graph import FETCH_PIECE as FETCH_PIECE  # tests page their clips by it
from tests.fakes.graph import Fetch, MetaDownloader, Recorded, graph_error
from tests.fakes.injected import take
from tests.fakes.loopback import LoopbackFake, Rejected, serve_forever, token_args

VERSION = "v1.0"
TEXT_MAX = 500
CONTAINER_TTL_S = 24 * 3600
QUOTA_TOTAL = 250
QUOTA_DURATION_S = 86400
ENDPOINTS = ("create", "status", "publish", "limit", "insights")
REPLY_CONTROLS = {
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
}
MEDIA_TYPES = {"TEXT", "IMAGE", "VIDEO"}
MEDIA_METRICS = {"views", "likes", "replies", "reposts", "quotes", "shares"}
INSIGHTS_PERMISSION = "threads_manage_insights"
DOWNLOAD_FAILED = "FAILED_DOWNLOADING_VIDEO"


def threads_length(text: str) -> int:
    """Characters as Threads counts them: grapheme clusters, an emoji one counting its UTF-8 bytes."""
    total = 0
    for cluster in regex.findall(r"\X", text):
        emoji = any(
            regex.match(r"\p{Extended_Pictographic}|\p{Regional_Indicator}", ch) or ch == "\u20e3"
            for ch in cluster
        )
        total += len(cluster.encode()) if emoji else 1
    return total


@dataclass
class Injected:
    count: int
    status: int
    code: int = 2
    after: int = 0
    message: str | None = None


@dataclass
class Container:
    id: str
    owner: str
    params: dict[str, str]
    created: float
    fetched_bytes: int | None = None
    fetched_sha256: str | None = None
    fetch_error: str | None = None
    status: str = "IN_PROGRESS"
    error_message: str | None = None
    polls: int = 0
    last_poll: float | None = None
    media_id: str | None = None

    @property
    def fetched(self) -> bool:
        return self.fetched_bytes is not None or self.fetch_error is not None


@dataclass
class Media:
    id: str
    owner: str
    container_id: str
    text: str
    published_at: float
    insights: dict[str, int] = field(default_factory=dict)

    @property
    def timestamp(self) -> str:
        return datetime.fromtimestamp(self.published_at, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")

    @property
    def permalink(self) -> str:
        return f"https://www.threads.com/@acme.threads/post/{self.id}"


class FakeThreads(LoopbackFake, MetaDownloader):
    def __init__(self, *, tokens: dict[str, str] | None = None, processing_polls: int = 1) -> None:
        super().__init__()
        # access token → threads-user-id; ``token_check`` decides for others (the fake OAuth provider).
        self.tokens: dict[str, str] = dict(tokens or {})
        self.token_check: Callable[[str], str | None] | None = None
        self.processing_polls = processing_polls
        self.status_interval_s = 0.0
        self.too_fast_polls: list[str] = []
        self.quota_total = QUOTA_TOTAL
        # What threads_publish answers past the quota: not documented (the module docstring), so a
        # test can change it to show the publisher does not depend on the guess.
        self.limit_refusal = (9, "Application request limit reached")
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Media] = {}
        self.requests: list[Recorded] = []
        self.injected: dict[str, list[Injected]] = {name: [] for name in ENDPOINTS}
        self.processing_error: str | None = None
        self.scopes_missing: set[str] = set()
        self.lost_answers = 0
        self.fetches: list[Fetch] = []
        self._downloads: set[asyncio.Task[None]] = set()
        self._client: aiohttp.ClientSession | None = None
        self._seq = 18_000_000_000_000_000

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/{version}/{node}/threads", self._create)
        app.router.add_post("/{version}/{node}/threads_publish", self._publish)
        app.router.add_get("/{version}/{node}/threads_publishing_limit", self._limit)
        app.router.add_get("/{version}/{node}/threads", self._list)
        app.router.add_get("/{version}/{node}/insights", self._insights)
        app.router.add_get("/{version}/{node}", self._node)
        return app

    @property
    def graph_base_url(self) -> str:
        """``https://graph.threads.net/v1.0`` in production."""
        return f"{self.base_url}/{VERSION}"

    async def stop(self) -> None:
        await self._stop_downloads()
        await super().stop()

    # --- test controls -------------------------------------------------------------------------

    def fail(self, endpoint: str, count: int = 1, *, status: int = 500, after: int = 0) -> None:
        """After ``after`` good ones, ``count`` requests to ``endpoint`` (see ENDPOINTS) fail."""
        self.injected[endpoint].append(Injected(count, status, after=after))

    def throttle(self, endpoint: str, count: int = 1, *, code: int = 4) -> None:
        self.injected[endpoint].append(Injected(count, 400, code=code))

    def refuse(self, endpoint: str, code: int, message: str, count: int = 1) -> None:
        """``count`` requests to ``endpoint`` are refused for good: Graph's envelope with
        ``is_transient`` false (Handling Errors, which Threads' errors follow)."""
        self.injected[endpoint].append(Injected(count, 400, code=code, message=message))

    def lose_publish_answers(self, count: int = 1) -> None:
        """The next ``count`` threads_publish calls publish, then the answer is lost (a 500 instead)."""
        self.lost_answers += count

    def expire(self, container_id: str) -> None:
        self.containers[container_id].created = time.time() - CONTAINER_TTL_S - 1

    def published_in_window(self, owner: str) -> int:
        since = time.time() - QUOTA_DURATION_S
        return sum(1 for m in self.media.values() if m.owner == owner and m.published_at > since)

    def backdate(self, media_id: str, seconds: float) -> None:
        self.media[media_id].published_at -= seconds

    # --- helpers -------------------------------------------------------------------------------

    def _id(self) -> str:
        self._seq += 1 + secrets.randbelow(1000)
        return str(self._seq)

    def _failure(self, plan: Injected) -> web.Response:
        if plan.status >= 500:
            return graph_error(
                plan.status, plan.code, "An unexpected error has occurred. Please retry your request later.",
                is_transient=True,
            )  # fmt: skip
        if plan.message is not None:
            return graph_error(plan.status, plan.code, plan.message, is_transient=False)
        return graph_error(plan.status, plan.code, "Application request limit reached", is_transient=True)

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            params.update({k: str(v) for k, v in (await request.post()).items()})
        return params

    def _user(self, request: web.Request, params: dict[str, str]) -> str:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else params.get("access_token", "")
        user = self.tokens.get(token)
        if user is None and token and self.token_check is not None:
            user = self.token_check(token)
        if user is None:
            if not token:
                raise Rejected(
                    graph_error(400, 2500, "An active access token must be used to query information.")
                )
            raise Rejected(
                graph_error(
                    400, 190, "Error validating access token: Session has expired or the user logged out.",
                    subcode=463,
                )
            )  # fmt: skip
        return user

    async def _graph(
        self, request: web.Request, endpoint: str, work: Callable[[str, dict[str, str]], Any]
    ) -> web.Response:
        response: web.Response
        try:
            if request.match_info["version"] != VERSION:
                # Threads has one version (https://developers.facebook.com/docs/threads/changelog).
                raise Rejected(
                    graph_error(400, 2635, f"Unsupported API version {request.match_info['version']}")
                )
            params = await self._params(request)
            user = self._user(request, params)
            plan = take(self.injected[endpoint]) if endpoint in self.injected else None
            if plan is not None:
                response = self._failure(plan)
            else:
                response = await work(user, params)
        except Rejected as rejected:
            response = rejected.response
        self.requests.append(Recorded(request.method, request.path, response.status))
        return response

    def _own(self, request: web.Request, user: str) -> None:
        node = request.match_info["node"]
        if node not in (user, "me"):
            raise Rejected(
                graph_error(400, 100, "Unsupported post request. Object does not exist.", subcode=33)
            )

    def _container(self, user: str, cid: str) -> Container:
        container = self.containers.get(cid)
        if container is None or container.owner != user:
            raise Rejected(
                graph_error(
                    400, 100, f"Unsupported get request. Object with ID '{cid}' does not exist.", subcode=33
                )
            )
        if (
            container.status not in ("PUBLISHED", "ERROR")
            and time.time() - container.created > CONTAINER_TTL_S
        ):
            container.status = "EXPIRED"
        return container

    # --- containers and publishing -------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own(request, user)
            kind = params.get("media_type", "")
            if kind not in MEDIA_TYPES:
                raise Rejected(
                    graph_error(400, 100, "(#100) Param media_type must be one of TEXT, IMAGE, VIDEO")
                )
            if kind != "VIDEO":
                raise Rejected(graph_error(400, 100, "(#100) this fake takes VIDEO containers only"))
            if not params.get("video_url", "").startswith(("http://", "https://")):
                raise Rejected(graph_error(400, 100, "(#100) The parameter video_url is required."))
            if threads_length(params.get("text", "")) > TEXT_MAX:
                raise Rejected(
                    graph_error(400, 100, "(#100) Param text must be at most 500 characters long.")
                )
            control = params.get("reply_control")
            if control is not None and control not in REPLY_CONTROLS:
                raise Rejected(
                    graph_error(
                        400, 100, f"(#100) Param reply_control must be one of {sorted(REPLY_CONTROLS)}"
                    )
                )
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
                return self._failure(plan)
            container = self._container(user, node)
            now = time.monotonic()
            if container.last_poll is not None and now - container.last_poll < self.status_interval_s * 0.9:
                self.too_fast_polls.append(container.id)
            container.last_poll = now
            if container.status == "IN_PROGRESS" and container.fetch_error:
                container.status, container.error_message = "ERROR", DOWNLOAD_FAILED
            elif container.status == "IN_PROGRESS" and container.fetched:
                container.polls += 1
                if container.polls >= self.processing_polls:
                    if self.processing_error:
                        container.status, container.error_message = "ERROR", self.processing_error
                    else:
                        container.status = "FINISHED"
            body: dict[str, Any] = {"id": container.id}
            if "status" in fields:
                body["status"] = container.status
            if "error_message" in fields and container.error_message:
                body["error_message"] = container.error_message
            return web.json_response(body)

        return await self._graph(request, "node", work)

    async def _publish(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own(request, user)
            container = self._container(user, params.get("creation_id", ""))
            if self.published_in_window(user) >= self.quota_total:
                code, message = self.limit_refusal
                raise Rejected(graph_error(400, code, message, is_transient=False))
            if container.status == "PUBLISHED":
                raise Rejected(graph_error(400, 100, "(#100) The media has already been published."))
            if container.status != "FINISHED":
                raise Rejected(graph_error(400, 24, "The requested resource does not exist", subcode=4279009))
            media_id = self._id()
            self.media[media_id] = Media(
                media_id, user, container.id, container.params.get("text", ""), time.time()
            )
            container.status, container.media_id = "PUBLISHED", media_id
            if self.lost_answers > 0:
                self.lost_answers -= 1
                return graph_error(500, 2, "An unexpected error has occurred.", is_transient=True)
            return web.json_response({"id": media_id})

        return await self._graph(request, "publish", work)

    async def _limit(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own(request, user)
            entry = {
                "quota_usage": self.published_in_window(user),
                "config": {"quota_total": self.quota_total, "quota_duration": QUOTA_DURATION_S},
            }
            return web.json_response({"data": [entry]})

        return await self._graph(request, "limit", work)

    async def _list(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            self._own(request, user)
            fields = [f for f in params.get("fields", "id").split(",") if f]
            limit = int(params.get("limit", "25"))
            mine = [m for m in self.media.values() if m.owner == user][::-1][:limit]
            return web.json_response({"data": [self._media_fields(m, fields) for m in mine]})

        return await self._graph(request, "node", work)

    async def _insights(self, request: web.Request) -> web.Response:
        async def work(user: str, params: dict[str, str]) -> web.Response:
            if INSIGHTS_PERMISSION in self.scopes_missing:
                raise Rejected(
                    graph_error(403, 10, "(#10) Application does not have permission for this action")
                )
            media = self.media.get(request.match_info["node"])
            if media is None or media.owner != user:
                raise Rejected(
                    graph_error(400, 100, "Unsupported get request. Object does not exist.", subcode=33)
                )
            metrics = [m for m in params.get("metric", "").split(",") if m]
            if not metrics or any(m not in MEDIA_METRICS for m in metrics):
                raise Rejected(
                    graph_error(
                        400,
                        100,
                        "(#100) metric must be one of the following values: "
                        + ", ".join(sorted(MEDIA_METRICS)),
                    )
                )
            data = [
                {
                    "name": name,
                    "period": "lifetime",
                    "values": [{"value": media.insights[name]}],
                    "title": name.capitalize(),
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
            "text": media.text,
            "timestamp": media.timestamp,
            "permalink": media.permalink,
            "media_type": "VIDEO",
            "media_product_type": "THREADS",
        }
        return {"id": media.id} | {f: values[f] for f in fields if f in values}

    # --- Threads' downloader -------------------------------------------------------------------

    async def _download(self, container: Container) -> None:
        try:
            size, digest = await self._fetch(container.params["video_url"])
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            container.fetch_error = f"{DOWNLOAD_FAILED} ({exc})"
            return
        container.fetched_bytes, container.fetched_sha256 = size, digest


async def _serve(port: int, tokens: list[str]) -> None:
    fake = FakeThreads(tokens={t: str(25318902871034482 + i) for i, t in enumerate(tokens)})
    await serve_forever(fake, port, lambda: f"fake Threads API on {fake.graph_base_url}")


def main() -> None:
    parser = token_args(__doc__.splitlines()[0], port=8793)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token or ["test-token"]))


if __name__ == "__main__":
    main()
