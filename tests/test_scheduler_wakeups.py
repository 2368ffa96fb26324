"""A post queued by one process (the chat bot) wakes the scheduler of another (a worker) at once
through PostgreSQL NOTIFY, instead of waiting for the worker's next poll."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from bot.wiring import build_app
from core.config import Settings
from core.db.models import ScheduledPost
from core.domain import ChatKind
from tests.conftest import Database


async def test_a_post_queued_elsewhere_fires_on_time_not_at_the_next_poll(
    settings: Settings, db: Database, clip: Path
) -> None:
    if db.kind != "postgres":
        pytest.skip("SQLite deployments are one process; its scheduler is woken directly (test_console_flow)")
    # The worker would find the post only after 60 s by polling.
    slow_poll = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"poll_interval_s": 60.0})}
    )
    out: list[str] = []
    worker = await build_app(slow_poll, schema=db.schema, worker_id="worker")
    bot = await build_app(slow_poll, schema=db.schema, worker_id="bot")  # queues, runs no scheduler
    try:
        worker.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
        await worker.start_scheduler()
        await asyncio.sleep(0.3)  # the worker's first poll has run and found nothing
        console = ConsoleAdapter(bot.postbot, user="ana")
        reply = await console.handle(f"/schedule in 2 seconds sandbox Across processes --file {clip}")
        assert reply.startswith("Scheduled"), reply

        async with asyncio.timeout(10):
            while not out:
                await asyncio.sleep(0.05)
        async with worker.sessions() as session:
            post = (await session.execute(select(ScheduledPost))).scalar_one()
        assert post.status == "published" and post.claimed_by is None
        assert post.published_at is not None
        assert (post.published_at - post.run_at).total_seconds() < 1.0
    finally:
        await bot.close()
        await worker.close()
