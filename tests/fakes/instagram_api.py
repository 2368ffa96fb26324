"""A local fake of the Instagram Graph API content-publishing surface for Reels, with rupload.

Implemented after https://developers.facebook.com/docs/instagram-platform/content-publishing (and its
resumable-uploads page), for one server playing both hosts:

- graph.facebook.com: ``POST /{version}/{ig-user-id}/media`` (``media_type=REELS``,
  ``upload_type=resumable``, ``caption``...) → ``{"id", "uri"}``; ``GET /{version}/{container-id}
  ?fields=status_code,status`` → ``IN_PROGRESS | FINISHED | ERROR | EXPIRED | PUBLISHED``;
  ``POST /{version}/{ig-user-id}/media_publish`` (``creation_id``) → ``{"id"}``, refused unless the
  container is FINISHED; ``GET /{version}/{ig-user-id}/content_publishing_limit``;
  ``GET /{version}/{ig-user-id}/media`` and ``GET /{version}/{media-id}`` (permalink...).
  Parameters may come in the query string, a form body or JSON, as Graph accepts.
- rupload.facebook.com: ``POST /ig-api-upload/{version}/{container-id}`` with ``Authorization: OAuth
  <token>``, ``offset`` and ``file_size`` headers and the bytes from ``offset`` on. A piece must start
  where the stored bytes end (or at an earlier piece boundary, replacing what follows: a re-send) and
  ``file_size`` may not change. When every byte is in, processing starts.

Graph errors use Meta's envelope ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id", ...}}``: an invalid token is code 190 (HTTP 400, as Graph answers), throttling codes
4/17/32/613 with an ``X-Business-Use-Case-Usage`` header giving ``estimated_time_to_regain_access``
(minutes), the publishing limit is code 9 subcode 2207042, transient failures carry
``is_transient``. rupload errors use its own ``{"debug_info": {"retriable", "type", "message"}}``.

Run on its own: ``python -m tests.fakes.instagram_api --port 8792 --token tok``.
"""

from __future__ import annotations

import asyncio
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

VERSION = "v21.0"
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
CONTAINER_TTL_S = 24 * 3600
QUOTA_TOTAL = 100
ENDPOINTS = ("create", "upload", "status", "publish", "limit", "media")


def graph_error(
    status: int, code: int, message: str, *, subcode: int | None = None, **extra: Any
) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return web.json_response({"error": error}, status=status)


def rupload_error(status: int, kind: str, message: str, *, retriable: bool = False) -> web.Response:
    return web.json_response(
        {"debug_info": {"retriable": retriable, "type": kind, "message": message}}, status=status
    )


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
    file_size: int | None = None
    # offset → (length, sha256) of each piece, so a re-sent piece replaces the old one.
    pieces: dict[int, tuple[int, str]] = field(default_factory=dict)
    status_code: str = "IN_PROGRESS"
    polls: int = 0
    last_poll: float | None = None
    error: str | None = None
    media_id: str | None = None

    @property
    def received(self) -> int:
        return sum(length for length, _ in self.pieces.values())


@dataclass
class Media:
    id: str
    owner: str
    container_id: str
    caption: str
    timestamp: str

    @property
    def permalink(self) -> str:
        return f"https://www.instagram.com/reel/{self.id}/"


@dataclass
class Recorded:
    method: str
    path: str
    status: int
    offset: int | None = None
    length: int = 0


class FakeInstagram(LoopbackFake):
    def __init__(
        self, *, tokens: dict[str, str] | None = None, version: str = VERSION, processing_polls: int = 1
    ) -> None:
        super().__init__()
        # access token → ig-user-id. ``token_check`` decides for tokens not listed (a fake OAuth provider).
        self.tokens: dict[str, str] = dict(tokens or {})
        self.token_check: Callable[[str], str | None] | None = None
        self.version = version
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
        self.lost_answers = 0
        self.lost_piece_answers = 0
        self.peak_piece_bytes = 0
        self._seq = 17_900_000_000_000_000

    # --- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/ig-api-upload/{version}/{container}", self._rupload)
        app.router.add_post("/{version}/{node}/media", self._create)
        app.router.add_post("/{version}/{node}/media_publish", self._publish)
        app.router.add_get("/{version}/{node}/content_publishing_limit", self._limit)
        app.router.add_get("/{version}/{node}/media", self._list_media)
        app.router.add_get("/{version}/{node}", self._node)
        return app

    @property
    def graph_base_url(self) -> str:
        """``https://graph.facebook.com/v21.0`` in production."""
        return f"{self.base_url}/{self.version}"

    @property
    def upload_base_url(self) -> str:
        """``https://rupload.facebook.com/ig-api-upload/v21.0`` in production."""
        return f"{self.base_url}/ig-api-upload/{self.version}"

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

    def lose_piece_answers(self, count: int = 1) -> None:
        """The next ``count`` rupload pieces are stored, then the answer is lost (a 503 instead)."""
        self.lost_piece_answers += count

    def expire(self, container_id: str) -> None:
        self.containers[container_id].created = time.time() - CONTAINER_TTL_S - 1

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def published_count(self, owner: str) -> int:
        return sum(1 for m in self.media.values() if m.owner == owner)

    def uploaded_pieces(self) -> list[int]:
        """Offsets of every rupload piece the server accepted, in order."""
        return [
            r.offset
            for r in self.requests
            if r.offset is not None and r.status == 200 and "ig-api-upload" in r.path
        ]

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
        record.status = response.status
        return response

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
            if params.get("upload_type") != "resumable" and not params.get("video_url"):
                raise Rejected(
                    graph_error(400, 100, "(#100) Either video_url or upload_type=resumable is required.")
                )
            caption = params.get("caption", "")
            if len(caption) > MAX_CAPTION:
                raise Rejected(graph_error(400, 100, "(#100) The caption is longer than 2200 characters."))
            if sum(1 for word in caption.split() if word.startswith("#")) > MAX_HASHTAGS:
                raise Rejected(graph_error(400, 100, "(#100) The caption has more than 30 hashtags."))
            cid = self._id()
            self.containers[cid] = Container(cid, user, params, time.time())
            return web.json_response({"id": cid, "uri": f"{self.upload_base_url}/{cid}"})

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
            if container.status_code == "IN_PROGRESS" and container.file_size == container.received:
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

    # --- rupload -------------------------------------------------------------------------------

    async def _rupload(self, request: web.Request) -> web.StreamResponse:
        record = Recorded(request.method, request.path, 0)
        self.requests.append(record)
        try:
            response = await self._rupload_work(request, record)
        except Rejected as exc:
            response = exc.response
        record.status = response.status
        return response

    async def _rupload_work(self, request: web.Request, record: Recorded) -> web.Response:
        if request.match_info["version"] != self.version:
            raise Rejected(rupload_error(400, "InvalidRequest", "Unsupported version"))
        header = request.headers.get("Authorization", "")
        user = self._lookup_token(header[len("OAuth ") :]) if header.startswith("OAuth ") else None
        if user is None:
            raise Rejected(
                rupload_error(400, "NotAuthorizedError", "User not authorized to perform this request")
            )
        try:
            offset = int(request.headers["offset"])
            file_size = int(request.headers["file_size"])
        except (KeyError, ValueError):
            raise Rejected(
                rupload_error(400, "InvalidRequest", "offset and file_size headers are required")
            ) from None
        record.offset = offset
        container = self.containers.get(request.match_info["container"])
        if container is None or container.owner != user:
            raise Rejected(rupload_error(400, "InvalidRequest", "Invalid container id"))
        if container.params.get("upload_type") != "resumable":
            raise Rejected(
                rupload_error(400, "InvalidRequest", "Container was not created for a resumable upload")
            )
        if container.file_size is not None and file_size != container.file_size:
            raise Rejected(
                rupload_error(400, "InvalidRequest", f"file_size changed from {container.file_size}")
            )
        if container.received == container.file_size:
            raise Rejected(rupload_error(400, "InvalidRequest", "The upload is already complete"))
        if offset != container.received and offset not in container.pieces:
            raise Rejected(
                rupload_error(
                    400,
                    "InvalidOffset",
                    f"offset {offset} does not match {container.received} bytes received",
                )
            )
        plan = take(self.injected["upload"])
        if plan is not None:
            await request.read()
            return rupload_error(plan.status, "ServiceUnavailable", "Upload service busy", retriable=True)
        digest = hashlib.sha256()
        length = 0
        while chunk := await request.content.read(256 * 1024):
            digest.update(chunk)
            length += len(chunk)
        if length == 0 or offset + length > file_size:
            raise Rejected(
                rupload_error(400, "InvalidRequest", f"{length} bytes at {offset} do not fit {file_size}")
            )
        container.file_size = file_size
        # A re-send from an earlier boundary replaces everything from there on.
        container.pieces = {o: p for o, p in container.pieces.items() if o < offset}
        container.pieces[offset] = (length, digest.hexdigest())
        record.length = length
        self.peak_piece_bytes = max(self.peak_piece_bytes, length)
        if self.lost_piece_answers > 0:
            self.lost_piece_answers -= 1
            return rupload_error(503, "ServiceUnavailable", "Upload service busy", retriable=True)
        return web.json_response({"success": True, "message": "Upload successful."})


async def _serve(port: int, tokens: list[str]) -> None:
    fake = FakeInstagram(tokens={t: str(17841400000000000 + i) for i, t in enumerate(tokens)})
    await serve_forever(
        fake,
        port,
        lambda: f"fake Instagram Graph API on {fake.graph_base_url}, rupload on {fake.upload_base_url}",
    )


def main() -> None:
    parser = token_args(__doc__.splitlines()[0], port=8792)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.token or ["test-token"]))


if __name__ == "__main__":
    main()
