"""A fake platform API for scheduler tests and the scheduler benchmark, and the client that uses it.

The server speaks a small JSON API in the style of the platforms' "create post" calls:

    POST /v1/{platform}/posts
    Idempotency-Key: <key>            (required; 400 without it)
    Content-Type: application/json    {"caption": str, "media_sha256": str, ...}

    201 {"id": "...", "url": "..."}                 a new post
    200 {"id": "...", "url": "..."}                 the key was seen before: the same post, not a new one
                                                    (``Idempotent-Replayed: true``)
    4xx/5xx {"error": {"code": ..., "message": ...}} scripted failures (429 carries Retry-After)

It answers after ``latency_s`` (the post is created on arrival, like a platform that acts and then
is slow to answer), counts requests, posts and replays by idempotency key, and can be scripted to
fail or to hold a request until released. Run it alone with
``python -m tests.fakes.bench_platform --port 8099 --latency 0.05``; ``GET /_stats`` reports counts.

``BenchPublisher`` is a publisher that posts to it with httpx; it classifies failures through the
project's shared HTTP helpers, so retries and the breaker see what a real publisher would raise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import MediaAsset, ScheduledPost, Team, User
from core.domain import Platform
from core.publishers.base import PublishJob, PublishResult
from core.publishers.http import error_for_response, transport_error

PLATFORMS = ("youtube", "instagram", "x", "linkedin", "tiktok")


@dataclass
class Scripted:
    """A canned answer for the next request to a platform (instead of creating a post)."""

    status: int = 200
    code: str = "error"
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the request until ``release()``; with status 200 the post is then created normally.
    hold: bool = False


class FakePlatform:
    def __init__(self, *, latency_s: float = 0.0, allow_per_s: float | None = None, burst: int = 1) -> None:
        self.latency_s = latency_s
        # An allowance per platform, enforced like the platforms do: past it, 429 Too Many Requests
        # with Retry-After (https://www.rfc-editor.org/rfc/rfc6585#section-4), nothing created.
        self.allow_per_s = allow_per_s
        self.burst = burst
        self._allowance: dict[str, tuple[float, float]] = {}
        self.rejected = 0
        self.posts: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.replays = 0
        self.requests_by_key: dict[str, int] = defaultdict(int)
        # Arrival times (monotonic) and concurrency per platform, for rate and concurrency checks.
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.active: dict[str, int] = defaultdict(int)
        self.peak_active: dict[str, int] = defaultdict(int)
        self.scripts: dict[str, deque[Scripted]] = defaultdict(deque)
        self.held = asyncio.Event()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- scripting -----------------------------------------------------------------------------

    def script(self, platform: str, *answers: Scripted) -> None:
        self.scripts[platform].extend(answers)

    def release(self) -> None:
        self._release.set()

    @property
    def created(self) -> int:
        return len(self.posts)

    def stats(self) -> dict[str, int]:
        return {"requests": self.requests, "created": self.created, "replays": self.replays}

    # -- server --------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/{platform}/posts", self._create)
        app.router.add_get("/_stats", self._stats)
        return app

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _create(self, request: web.Request) -> web.Response:
        platform = request.match_info["platform"]
        if platform not in PLATFORMS:
            return _error(404, "not_found", f"no platform {platform!r}")
        key = request.headers.get("Idempotency-Key")
        if not key:
            return _error(400, "missing_idempotency_key", "Idempotency-Key header is required")
        if request.content_type != "application/json":
            return _error(415, "unsupported_media_type", "send application/json")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "invalid_json", "body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("caption"), str):
            return _error(400, "invalid_request", "caption (string) is required")
        self.requests += 1
        self.requests_by_key[key] += 1
        self.arrivals[platform].append(time.monotonic())
        retry_after = self._over_allowance(platform)
        if retry_after is not None:
            self.rejected += 1
            return _error(429, "rate_limited", "Too many requests", {"Retry-After": str(retry_after)})
        self.active[platform] += 1
        self.peak_active[platform] = max(self.peak_active[platform], self.active[platform])
        try:
            return await self._answer(platform, key, body)
        finally:
            self.active[platform] -= 1

    def _over_allowance(self, platform: str) -> int | None:
        """A token bucket of ``allow_per_s`` (``burst`` deep) per platform; seconds to wait when empty."""
        if self.allow_per_s is None:
            return None
        now = time.monotonic()
        tokens, updated = self._allowance.get(platform, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.allow_per_s)
        if tokens < 1.0:
            self._allowance[platform] = (tokens, now)
            return max(1, int((1.0 - tokens) / self.allow_per_s + 0.999))
        self._allowance[platform] = (tokens - 1.0, now)
        return None

    async def _answer(self, platform: str, key: str, body: dict[str, Any]) -> web.Response:
        scripted = self.scripts[platform].popleft() if self.scripts[platform] else None
        if scripted is not None and scripted.hold:
            self.held.set()
            await self._release.wait()
        if scripted is not None and scripted.status >= 400:
            return _error(scripted.status, scripted.code, scripted.message, scripted.headers)
        existing = self.posts.get(key)
        if existing is not None:
            self.replays += 1
            await asyncio.sleep(self.latency_s)
            return web.json_response(existing, status=200, headers={"Idempotent-Replayed": "true"})
        post_id = uuid.uuid4().hex[:16]
        post = {"id": post_id, "url": f"{self.url}/{platform}/{post_id}", "caption": body["caption"]}
        self.posts[key] = post
        await asyncio.sleep(self.latency_s)
        return web.json_response({"id": post_id, "url": post["url"]}, status=201)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


class BenchPublisher:
    """Publishes a post with one idempotent POST; the platform dedupes a re-sent key."""

    requires_account = False

    def __init__(self, platform: Platform, base_url: str, http: httpx.AsyncClient) -> None:
        self.platform = platform
        self.url = f"{base_url}/v1/{platform.value}/posts"
        self.http = http

    async def publish(self, job: PublishJob) -> PublishResult:
        try:
            response = await self.http.post(
                self.url,
                headers={"Idempotency-Key": job.idempotency_key},
                json={"caption": job.caption, "title": job.title, "media_sha256": job.media.sha256},
            )
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        if response.status_code in (200, 201):
            data = response.json()
            return PublishResult(remote_id=data["id"], url=data.get("url"))
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        raise error_for_response(response, message)


async def seed_posts(
    sessions: async_sessionmaker[AsyncSession],
    *,
    count: int,
    run_at: datetime,
    platforms: tuple[str, ...] = PLATFORMS,
    chat: str = "console",
) -> list[int]:
    """Queue ``count`` posts due at ``run_at``, spread round-robin over ``platforms``, in bulk."""
    async with sessions.begin() as session:
        team = Team(chat=chat, external_id=f"bench-{uuid.uuid4().hex[:8]}", name="bench")
        session.add(team)
        await session.flush()
        user = User(team_id=team.id, external_id="bench-user", display_name="bench")
        media = MediaAsset(team_id=team.id, path="/dev/null", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        session.add_all([user, media])
        await session.flush()
        batch = uuid.uuid4().hex
        rows = [
            {
                "team_id": team.id,
                "author_id": user.id,
                "media_id": media.id,
                "batch_id": batch,
                "platform": platforms[i % len(platforms)],
                "caption": f"post {i}",
                "run_at": run_at,
                "due_at": run_at,
                "status": "queued",
                "attempts": 0,
                "idempotency_key": uuid.uuid4().hex,
                "upload_state": {},
                "origin_channel": "bench",
            }
            for i in range(count)
        ]
        ids: list[int] = []
        for start in range(0, count, 2000):
            result = await session.execute(
                insert(ScheduledPost).returning(ScheduledPost.id), rows[start : start + 2000]
            )
            ids.extend(result.scalars().all())
        return ids


async def _serve(port: int, latency: float) -> None:
    fake = FakePlatform(latency_s=latency)
    await fake.start(port)
    print(f"READY {fake.port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.port, args.latency))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
