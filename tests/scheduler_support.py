"""Building real processors against a test database and the fake platform, for the scheduler tests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import PlatformsSettings, SchedulerSettings, Settings
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import ScheduledPost
from core.domain import Platform, PostView
from core.platforms.publishers import PublisherRegistry
from core.publishers.transport import make_client
from core.scheduler.processor import PostProcessor
from core.store.buckets import SharedBuckets
from tests.conftest import Database
from tests.fakes.bench_platform import PLATFORMS, BenchPublisher


@dataclass
class RecordingNotifier:
    results: list[PostView] = field(default_factory=list)
    dms: list[PostView] = field(default_factory=list)

    async def post_result(self, post: PostView) -> None:
        self.results.append(post)

    async def dm_failure(self, post: PostView) -> None:
        self.dms.append(post)


class HeldClock:
    """``time.monotonic``, which ``hold`` stops at its next reading until ``release``: what a
    processor's breakers and rate limits measure (PostProcessor's ``monotonic``). A test that needs
    several posts to meet the same instant (a breaker still open, a bucket not yet refilled) holds it
    for that round, so a slow machine stretches the round without the breaker or the bucket seeing
    any time pass. Stopped at the first reading, not at ``hold``: what comes before it (a claim, say)
    is not counted into the instant."""

    def __init__(self) -> None:
        self.holding = False
        self.held: float | None = None

    def __call__(self) -> float:
        if not self.holding:
            return time.monotonic()
        if self.held is None:
            self.held = time.monotonic()
        return self.held

    def hold(self) -> None:
        self.holding, self.held = True, None

    def release(self) -> None:
        # Real time again: later than the held instant, so the clock never runs backwards.
        self.holding, self.held = False, None


@dataclass
class Worker:
    processor: PostProcessor
    notifier: RecordingNotifier
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clients: list[httpx.AsyncClient]


@asynccontextmanager
async def worker(
    db: Database,
    settings: Settings,
    platform_url: str,
    *,
    worker_id: str,
    scheduler: SchedulerSettings | None = None,
    platforms: PlatformsSettings | None = None,
    http_timeout: float = 20.0,
    shared_limits: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[Worker]:
    """A processor with its own engine (its own connections, as a separate process would have)."""
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    sched = scheduler or settings.scheduler
    # One client per platform, as each platform is its own host: httpcore's pool scans all of its
    # connections on every request, so one big shared pool costs more CPU than five small ones.
    clients = [
        make_client(timeout=http_timeout, limits=httpx.Limits(max_connections=sched.max_in_flight))
        for _ in PLATFORMS
    ]
    if platforms is not None:
        settings = settings.model_copy(update={"platforms": platforms})
    registry = PublisherRegistry(settings, clients[0])
    for name, client in zip(PLATFORMS, clients, strict=True):
        registry.register(BenchPublisher(Platform(name), platform_url, client))
    notifier = RecordingNotifier()
    processor = PostProcessor(
        sessions,
        registry,
        notifier,
        sched,
        platforms=settings.platforms,
        worker_id=worker_id,
        # As bot/wiring.py builds it with scheduler.shared_limits: rate limits kept in the database.
        shared_buckets=SharedBuckets(sessions, engine.dialect.name) if shared_limits else None,
        monotonic=monotonic,
    )
    try:
        yield Worker(processor, notifier, engine, sessions, clients)
    finally:
        for client in clients:
            await client.aclose()
        await engine.dispose()


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[ScheduledPost]:
    async with sessions() as session:
        return list((await session.execute(select(ScheduledPost).order_by(ScheduledPost.id))).scalars())
