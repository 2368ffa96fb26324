"""Posts that share one video, due together on a worker that has never seen it (issue 30).

The chat side ("machine A", its own folder) stores the clip and queues ten posts of it; a worker on
"machine B" (another folder, an empty cache) publishes them all at once. With a bucket, every post
needs the video as a file to be probed for conversion: they share one download instead of ten racing
ones pulling the same temporary file from under each other.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.wiring import App, build_app
from core import metrics
from core.config import MediaSettings, Settings
from core.db.models import MediaBlob, ScheduledPost
from core.domain import ChatContext, ChatKind
from tests.conftest import Database
from tests.s3_support import S3Server

CTX = ChatContext(chat=ChatKind.CONSOLE, team_id="T1", user_id="U1", channel_id="C1")
POSTS = 10


def _copies(cache: Path) -> list[Path]:
    return sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file() and ".locks" not in p.parts)


def _downloads() -> float:
    return metrics.MEDIA_CACHE_DOWNLOADS._value.get()  # type: ignore[attr-defined]


async def _statuses(app: App, ids: list[int]) -> dict[int, str]:
    return {post_id: status for post_id, status, _ in await _rows(app, ids)}


async def _rows(app: App, ids: list[int]) -> list[tuple[int, str, int]]:
    async with app.sessions() as session:
        query = select(ScheduledPost.id, ScheduledPost.status, ScheduledPost.attempts)
        return [(i, s, a) for i, s, a in await session.execute(query.where(ScheduledPost.id.in_(ids)))]


@pytest.mark.parametrize("backend", ["s3", "local"])
async def test_ten_posts_of_one_video_due_together_all_publish_with_one_download(
    backend: str, db: Database, settings: Settings, s3: S3Server, clip: Path, tmp_path: Path
) -> None:
    media = MediaSettings(backend="s3", s3=s3.settings()) if backend == "s3" else MediaSettings()
    chat_conf = settings.model_copy(update={"media": media, "data_dir": tmp_path / "machine-a"})
    chat = await build_app(chat_conf, schema=db.schema)
    try:
        stored = await chat.media.import_file(clip)
        ids = [
            (await chat.postbot.post_now(CTX, f"sandbox Launch day, take {n}", stored)).posts[0].id
            for n in range(POSTS)
        ]
    finally:
        await chat.close()
    assert len(set(ids)) == POSTS

    worker_dir = tmp_path / "machine-b"
    if backend == "local":
        # One machine with the local store: the worker reads the chat side's folder itself.
        worker_dir = tmp_path / "machine-a"
    worker_conf = chat_conf.model_copy(update={"data_dir": worker_dir})
    before = _downloads()
    worker = await build_app(worker_conf, schema=db.schema, worker_id="machine-b")
    try:
        await worker.start_scheduler()
        async with asyncio.timeout(60):
            while any(s in ("queued", "running") for s in (await _statuses(worker, ids)).values()):
                await asyncio.sleep(0.05)
        rows = await _rows(worker, ids)
        cache = worker_dir / "media" / "cache"
        copies = _copies(cache)
        # Long past retention: the collector deletes the video, and this machine's copy with it.
        long_ago = datetime.now(UTC) - timedelta(days=worker_conf.media.retention_days + 1)
        async with worker.sessions.begin() as session:
            await session.execute(update(ScheduledPost).values(updated_at=long_ago))
            await session.execute(update(MediaBlob).values(referenced_at=long_ago))
        collected = await worker.collect_media()
        left = _copies(cache)
    finally:
        await worker.close()

    # Each on its first attempt: none crashed and came back after its lease.
    assert sorted(rows) == [(post_id, "published", 1) for post_id in sorted(ids)]
    assert collected.keys == [stored.storage_key]
    assert left == []
    if backend == "s3":
        assert _downloads() - before == 1
        # One complete copy under the video's key; no temporary file left behind.
        assert copies == [Path(stored.storage_key)]
    else:
        # The local store is the file itself: nothing is downloaded or copied.
        assert _downloads() - before == 0
        assert copies == []
