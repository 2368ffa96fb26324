"""A failure at each step of publishing one post ends in an outcome, never in a post left running.

Each failure is planted at an edge postbot talks to: the media store (a backend that breaks, an
object deleted from the bucket) or the database (a statement the driver refuses, through
SQLAlchemy's cursor events). The worker runs on its own machine's folder with an empty cache, so
the video is downloaded (issue 30: such failures left the post ``running`` until its lease ran out).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.wiring import App, build_app
from core.config import MediaSettings, PlatformSettings, PlatformsSettings, SchedulerSettings, Settings
from core.db.models import ScheduledPost
from core.domain import ChatContext, ChatKind
from core.media.storage import MediaStorage
from tests.conftest import Database
from tests.s3_support import S3Server

CTX = ChatContext(chat=ChatKind.CONSOLE, team_id="T1", user_id="U1", channel_id="C1")


class BrokenStorage:
    """The bucket as a worker sees it when the network to it breaks: reads fail, the rest works."""

    def __init__(self, inner: MediaStorage, failures: int) -> None:
        self._inner = inner
        self.failures = failures
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def stream(self, key: str, start: int, end: int, **kw: Any) -> AsyncIterator[bytes]:
        self.reads += 1
        if self.failures > 0:
            self.failures -= 1
            return self._broken()
        return self._inner.stream(key, start, end, **kw)

    async def _broken(self) -> AsyncIterator[bytes]:
        raise ConnectionResetError(104, "Connection reset by peer")
        yield b""  # pragma: no cover - makes this an async generator


@dataclass
class Refused:
    """Statements the database refuses: those ``matches`` picks, ``count`` times."""

    matches: Callable[[str], bool]
    count: int
    seen: list[str] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.count > 0 and self.matches(statement):
            self.count -= 1
            self.seen.append(statement)
            raise ConnectionResetError(104, "Connection reset by peer")


@dataclass
class Ended:
    status: str
    attempts: int
    last_error: str | None


async def _queued_on_machine_a(
    settings: Settings, db: Database, clip: Path, *, posts: int = 1
) -> tuple[list[int], str]:
    chat = await build_app(settings, schema=db.schema)
    try:
        stored = await chat.media.import_file(clip)
        ids = [
            (await chat.postbot.post_now(CTX, f"sandbox One step fails, take {n}", stored)).posts[0].id
            for n in range(posts)
        ]
        assert stored.key is not None
        return ids, stored.key
    finally:
        await chat.close()


async def _run_on_machine_b(
    settings: Settings, db: Database, ids: list[int], plant: Callable[[App], None]
) -> list[Ended]:
    worker = await build_app(settings, schema=db.schema, worker_id="machine-b")
    try:
        plant(worker)
        await worker.processor.run_due()
        # Read before the worker stops: a stop hands back whatever it still holds, hiding a post
        # that would have stayed running until its lease ran out.
        ended = []
        async with worker.sessions() as session:
            for post_id in ids:
                post = await session.get(ScheduledPost, post_id)
                assert post is not None
                ended.append(Ended(post.status, post.attempts, post.last_error))
        return ended
    finally:
        await worker.close()


@pytest.fixture
def fleet_settings(settings: Settings, s3: S3Server, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "media": MediaSettings(backend="s3", s3=s3.settings()),
            "data_dir": tmp_path / "machine-a",
            # Retries come back at once, so a retried post is visibly queued and due again.
            "scheduler": SchedulerSettings(lease_s=300, backoff_base_s=60, backoff_max_s=60),
            "platforms": PlatformsSettings(sandbox=PlatformSettings(rate_per_s=100.0, burst=100)),
        }
    )


def _on_machine_b(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path / "machine-b"})


def _refuse(app: App, refused: Refused) -> None:
    event.listen(app.engine.sync_engine, "before_cursor_execute", refused)


async def test_the_download_failing_retries_every_post_waiting_for_it(
    db: Database, fleet_settings: Settings, clip: Path, tmp_path: Path
) -> None:
    ids, _ = await _queued_on_machine_a(fleet_settings, db, clip, posts=3)
    broken: list[BrokenStorage] = []

    def plant(app: App) -> None:
        assert app.processor.storage is not None
        broken.append(BrokenStorage(app.processor.storage, failures=1))
        app.processor.storage = broken[0]  # type: ignore[assignment]

    ended = await _run_on_machine_b(_on_machine_b(fleet_settings, tmp_path), db, ids, plant)
    # One download for the three posts; its failure reached each of them.
    assert (broken[0].failures, broken[0].reads) == (0, 1)
    assert ended == [Ended("queued", 1, "preparing the video failed (ConnectionResetError)")] * 3
    # Nothing half-downloaded is left for the next attempt to trip over.
    cache = tmp_path / "machine-b" / "media" / "cache"
    assert [p for p in cache.rglob("*") if p.is_file() and ".locks" not in p.parts] == []


async def test_a_video_gone_from_the_bucket_fails_the_post_with_a_reason(
    db: Database, fleet_settings: Settings, s3: S3Server, clip: Path, tmp_path: Path
) -> None:
    ids, key = await _queued_on_machine_a(fleet_settings, db, clip)
    s3.client.delete_object(Bucket=s3.bucket, Key=f"postbot/{key}")
    [ended] = await _run_on_machine_b(_on_machine_b(fleet_settings, tmp_path), db, ids, lambda app: None)
    assert ended.status == "failed"
    assert ended.last_error == "The video is no longer in the media store (it was deleted or expired)."


async def test_the_shared_rate_limit_unreadable_retries_the_post(
    db: Database, fleet_settings: Settings, clip: Path, tmp_path: Path
) -> None:
    ids, _ = await _queued_on_machine_a(fleet_settings, db, clip)
    refused = Refused(lambda sql: "rate_buckets" in sql, count=1)
    [ended] = await _run_on_machine_b(
        _on_machine_b(fleet_settings, tmp_path), db, ids, lambda app: _refuse(app, refused)
    )
    assert refused.seen
    assert ended.status == "queued" and ended.attempts == 1
    assert ended.last_error is not None and ended.last_error.startswith("internal error (")


async def test_the_published_outcome_refused_past_its_retries_is_still_recorded_as_published(
    db: Database, fleet_settings: Settings, clip: Path, tmp_path: Path
) -> None:
    ids, _ = await _queued_on_machine_a(fleet_settings, db, clip)
    # The outcome writer tries four times; the fifth write (the crash handler's) goes through.
    published = Refused(
        lambda sql: sql.startswith("UPDATE scheduled_posts SET status") and "remote_id" in sql, 4
    )
    [ended] = await _run_on_machine_b(
        _on_machine_b(fleet_settings, tmp_path), db, ids, lambda app: _refuse(app, published)
    )
    assert published.count == 0
    # Published once: never put back in the queue, which would post it a second time.
    assert (ended.status, ended.attempts) == ("published", 1)
