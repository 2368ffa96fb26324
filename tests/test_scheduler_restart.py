"""The database row is the source of truth: restarting or losing a worker loses nothing and
publishes nothing twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from bot.wiring import App, build_app
from core.config import Settings
from core.db.models import ScheduledPost
from core.domain import ChatKind, MediaInfo, Platform
from core.platforms.sandbox.publisher import SandboxPublisher
from core.publishers.base import PublishJob
from core.store.queue import claim_due
from tests.conftest import Database


async def _app(settings: Settings, db: Database, out: list[str], worker: str) -> App:
    app = await build_app(settings, schema=db.schema, worker_id=worker)
    app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
    return app


async def _statuses(app: App) -> dict[int, str]:
    async with app.sessions() as session:
        rows = (await session.execute(select(ScheduledPost.id, ScheduledPost.status))).all()
    return {post_id: status for post_id, status in rows}


async def _wait_all_published(app: App, count: int, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            statuses = await _statuses(app)
            if len(statuses) == count and all(s == "published" for s in statuses.values()):
                return
            await asyncio.sleep(0.1)


def _records(settings: Settings) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in settings.platform_dir("sandbox").glob("*/post.json")]


async def test_restart_mid_queue_loses_nothing_and_posts_once(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    first = await _app(settings, db, out, "worker-a")
    console = ConsoleAdapter(first.postbot, user="ana")
    # Twelve posts due over the next ~3 seconds.
    for i in range(12):
        reply = await console.handle(f"/schedule in {1 + i // 4} seconds sandbox Post {i} --file {clip}")
        assert reply.startswith("Scheduled"), reply
    await first.start_scheduler()
    await asyncio.sleep(1.3)
    await first.close()  # the restart: the scheduler stops with posts still queued
    done_before = sum(1 for s in (await _statuses_after_close(settings, db)).values() if s == "published")
    assert 0 < done_before < 12

    second = await _app(settings, db, out, "worker-b")
    try:
        await second.start_scheduler()
        await _wait_all_published(second, 12)
    finally:
        await second.close()

    records = _records(settings)
    assert sorted(r["caption"] for r in records) == sorted(f"Post {i}" for i in range(12))
    published_lines = [line for line in out if line.startswith("Published #")]
    assert len(published_lines) == 12 == len(set(published_lines))


async def _statuses_after_close(settings: Settings, db: Database) -> dict[int, str]:
    probe = await build_app(settings, schema=db.schema, worker_id="probe")
    try:
        return await _statuses(probe)
    finally:
        await probe.close()


async def test_post_of_a_vanished_worker_is_reclaimed_after_its_lease_and_published_once(
    settings: Settings, db: Database, clip: Path
) -> None:
    settings = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"lease_s": 1.0, "poll_interval_s": 0.3})}
    )
    out: list[str] = []
    app = await _app(settings, db, out, "survivor")
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        await console.handle(f"/post sandbox Only once --file {clip}")
        # A worker claims the post, uploads it, and dies before recording the outcome.
        async with app.sessions.begin() as session:
            claimed = await claim_due(
                session,
                worker_id="doomed",
                now=datetime.now(UTC),
                lease=timedelta(seconds=1),
                limit=10,
            )
            post = (await session.execute(select(ScheduledPost))).scalar_one()
            media = await session.get(type(post).media.property.mapper.class_, post.media_id)
        assert claimed == [post.id]
        assert media is not None
        job = PublishJob(
            post_id=post.id,
            platform=Platform.SANDBOX,
            idempotency_key=post.idempotency_key,
            caption=post.caption,
            title=post.title,
            media=MediaInfo(
                path=media.path,
                key=media.path,  # the row holds the storage key
                sha256=media.sha256,
                size_bytes=media.size_bytes,
                mime=media.mime,
            ),
            tokens=None,
            storage=app.storage,
        )
        await SandboxPublisher(settings.platform_dir("sandbox")).publish(job)

        await app.start_scheduler()
        await asyncio.sleep(0.5)
        assert (await _statuses(app))[post.id] == "running"  # still leased to the dead worker
        await _wait_all_published(app, 1, timeout=10)
        async with app.sessions() as session:
            final = (await session.execute(select(ScheduledPost))).scalar_one()
        assert final.attempts == 2
        assert final.claimed_by is None
        assert len(_records(settings)) == 1
        assert [line for line in out if line.startswith("Published")] == [
            f"Published #{post.id} on Sandbox: {final.remote_url}"
        ]
    finally:
        await app.close()
