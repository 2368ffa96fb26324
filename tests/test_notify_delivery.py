"""An outcome is stored before chat hears of it; a process that can't reach the chat leaves it for
one that can, instead of dropping it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from bot.wiring import build_app
from core.config import Settings
from core.db.models import ScheduledPost
from core.domain import ChatKind
from tests.conftest import Database


async def test_outcome_waits_for_a_notifier_and_is_delivered_once(
    settings: Settings, db: Database, clip: Path
) -> None:
    app = await build_app(settings, schema=db.schema, worker_id="w")
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        await console.handle(f"/post sandbox Hello --file {clip}")
        await app.start_scheduler()  # no console notifier registered in this process
        async with asyncio.timeout(10):
            while True:
                async with app.sessions() as session:
                    post = (await session.execute(select(ScheduledPost))).scalar_one()
                # Published is stored before the worker tries to tell chat: wait for that try too, or
                # the notifier registered below can reach the worker's own attempt (two deliveries).
                if post.status == "published" and app.processor.completed:
                    break
                await asyncio.sleep(0.05)
        assert post.notified_at is None

        out: list[str] = []
        app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
        assert await app.processor.renotify(grace=timedelta(0)) == 1
        assert await app.processor.renotify(grace=timedelta(0)) == 0
        assert out == [f"Published #{post.id} on Sandbox: {post.remote_url}"]
        async with app.sessions() as session:
            post = (await session.execute(select(ScheduledPost))).scalar_one()
        assert post.notified_at is not None
    finally:
        await app.close()
