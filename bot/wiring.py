"""Building the application from settings: one place where the pieces meet."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import Settings
from core.db.engine import make_engine, migrate, session_factory
from core.media.store import MediaStore
from core.notify import NotifierRouter
from core.publishers.registry import PublisherRegistry
from core.scheduler.processor import PostProcessor, TokenFactory
from core.scheduler.runner import SchedulerRunner
from core.service import Postbot


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    media: MediaStore
    notifier: NotifierRouter
    publishers: PublisherRegistry
    postbot: Postbot
    processor: PostProcessor
    runner: SchedulerRunner

    async def start_scheduler(self) -> None:
        await self.runner.start()
        self.postbot.set_waker(self.runner.wake)

    async def close(self) -> None:
        self.postbot.set_waker(None)
        if self.runner is not None:
            await self.runner.stop()
        await self.http.aclose()
        await self.engine.dispose()


def _token_factory(app_settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> TokenFactory | None:
    return None


async def build_app(
    settings: Settings,
    *,
    schema: str | None = None,
    worker_id: str | None = None,
) -> App:
    engine = make_engine(settings.database_url, schema=schema)
    await migrate(engine)
    sessions = session_factory(engine)
    http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
    media = MediaStore(settings.media_dir)
    notifier = NotifierRouter()
    publishers = PublisherRegistry(settings, http)
    postbot = Postbot(settings, sessions)
    processor = PostProcessor(
        sessions,
        publishers,
        notifier,
        settings.scheduler,
        platforms=settings.platforms,
        tokens_for=_token_factory(settings, sessions),
        worker_id=worker_id,
    )
    runner = SchedulerRunner(processor, sessions, poll_interval_s=settings.scheduler.poll_interval_s)
    return App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        http=http,
        media=media,
        notifier=notifier,
        publishers=publishers,
        postbot=postbot,
        processor=processor,
        runner=runner,
    )
