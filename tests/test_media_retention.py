"""Retention: finished posts' videos go after media.retention_days; queued and failed ones stay,
including a video a new post reuses (same content, same key) while the collector runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.wiring import App, build_app
from core import metrics
from core.config import MediaSettings, Settings
from core.db.models import MediaBlob, ScheduledPost
from core.domain import ChatContext, ChatKind, MediaInfo, PostStatus
from tests.clips import clip_file
from tests.conftest import Database

CTX = ChatContext(chat=ChatKind.CONSOLE, team_id="t1", user_id="ana")
RETENTION = timedelta(days=30)
SCRAPE = {"Authorization": "Bearer scrape"}


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[App]:
    built = await build_app(settings, schema=db.schema, worker_id="w1")
    yield built
    await built.close()


def _clip(tmp_path: Path, name: str, size: int) -> Path:
    # Different sizes, different content: each clip is its own stored video.
    return clip_file(tmp_path / f"{name}.mp4", size_bytes=size)


async def _queue(app: App, media: MediaInfo, caption: str = "Launch") -> int:
    outcome = await app.postbot.schedule(CTX, f"tomorrow 6pm sandbox {caption}", media)
    return outcome.posts[0].id


async def _finish(app: App, post_id: int, status: PostStatus, at: datetime) -> None:
    async with app.sessions.begin() as session:
        await session.execute(
            update(ScheduledPost)
            .where(ScheduledPost.id == post_id)
            .values(status=status.value, updated_at=at)
        )


async def _age_blobs(app: App, at: datetime) -> None:
    async with app.sessions.begin() as session:
        await session.execute(update(MediaBlob).values(referenced_at=at))


def _stored(app: App, media: MediaInfo) -> bool:
    return app.storage.local_path(media.storage_key).is_file()  # type: ignore[union-attr]


async def test_a_video_goes_when_its_posts_finished_long_enough_ago(app: App, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    videos = {
        name: await app.media.import_file(_clip(tmp_path, name, 500_000 + i * 1000))
        for i, name in enumerate(["published", "cancelled", "failed", "queued", "shared"])
    }
    posts = {name: await _queue(app, media) for name, media in videos.items()}
    shared_queued = await _queue(app, videos["shared"], "Again")
    await _finish(app, posts["published"], PostStatus.PUBLISHED, now)
    await _finish(app, posts["cancelled"], PostStatus.CANCELLED, now)
    await _finish(app, posts["failed"], PostStatus.FAILED, now)
    await _finish(app, posts["shared"], PostStatus.PUBLISHED, now)
    before = await app.blobs.stored_bytes()
    assert before == sum(m.size_bytes for m in videos.values())

    early = await app.blobs.collect(app.storage, retention=RETENTION, now=now + timedelta(days=29))
    assert early.keys == [] and all(_stored(app, m) for m in videos.values())

    late = await app.blobs.collect(app.storage, retention=RETENTION, now=now + timedelta(days=31))

    gone = {videos["published"].storage_key, videos["cancelled"].storage_key}
    assert set(late.keys) == gone
    assert late.bytes_freed == videos["published"].size_bytes + videos["cancelled"].size_bytes
    for name, media in videos.items():
        assert _stored(app, media) == (media.storage_key not in gone), name
    left = await app.blobs.stored_bytes()
    assert left == before - late.bytes_freed
    assert metrics.MEDIA_STORED_BYTES._value.get() == left
    # The queued post sharing the video still finds it.
    async with app.sessions() as session:
        post = await session.get(ScheduledPost, shared_queued)
        assert post is not None and post.status == PostStatus.QUEUED.value


async def test_a_video_listed_for_deletion_is_kept_when_a_new_post_reuses_it(app: App, clip: Path) -> None:
    now = datetime.now(UTC)
    old = await app.media.import_file(clip)
    await _finish(app, await _queue(app, old), PostStatus.PUBLISHED, now - timedelta(days=40))
    await _age_blobs(app, now - timedelta(days=40))
    [key] = await app.blobs.candidates(retention=RETENTION)
    assert key == old.storage_key

    # Between the listing and the deletion, someone schedules the same video again.
    again = await app.media.import_file(clip)
    assert again.storage_key == key
    await _queue(app, again, "Second time")

    assert await app.blobs.collect_key(app.storage, key, retention=RETENTION) is None
    assert _stored(app, again)


async def test_a_video_deleted_just_before_a_new_post_reuses_it_is_stored_again(app: App, clip: Path) -> None:
    now = datetime.now(UTC)
    old = await app.media.import_file(clip)
    await _finish(app, await _queue(app, old), PostStatus.PUBLISHED, now - timedelta(days=40))
    await _age_blobs(app, now - timedelta(days=40))
    assert (await app.blobs.collect(app.storage, retention=RETENTION)).keys == [old.storage_key]
    assert not _stored(app, old)

    again = await app.media.import_file(clip)
    await _queue(app, again, "Second time")

    assert _stored(app, again)
    assert (await app.blobs.collect(app.storage, retention=RETENTION)).keys == []
    assert _stored(app, again)


async def test_collection_racing_new_posts_of_the_same_video_never_loses_a_queued_one(
    app: App, clip: Path
) -> None:
    now = datetime.now(UTC)
    for round_ in range(8):
        media = await app.media.import_file(clip)
        post = await _queue(app, media, f"Round {round_}")
        await _finish(app, post, PostStatus.PUBLISHED, now - timedelta(days=40))
        await _age_blobs(app, now - timedelta(days=40))

        async def reuse(round_: int = round_) -> int:
            again = await app.media.import_file(clip)
            return await _queue(app, again, f"Reuse {round_}")

        async def collect() -> None:
            await app.blobs.collect(app.storage, retention=RETENTION)

        if round_ % 2:
            queued, _ = await asyncio.gather(reuse(), collect())
        else:
            _, queued = await asyncio.gather(collect(), reuse())
        assert _stored(app, media), f"round {round_}: the queued post #{queued} lost its video"
        await _finish(app, queued, PostStatus.PUBLISHED, now - timedelta(days=40))


async def test_postbot_media_gc_deletes_at_once_and_says_what_it_freed(
    db: Database,
    settings: Settings,
    clip: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if db.schema is not None:
        pytest.skip("the command reads its database from the environment (no test schema there)")
    from bot.cli import main

    app = await build_app(settings)
    media = await app.media.import_file(clip)
    await _finish(app, await _queue(app, media), PostStatus.PUBLISHED, datetime.now(UTC) - timedelta(days=3))
    await _age_blobs(app, datetime.now(UTC) - timedelta(days=3))
    await app.close()
    monkeypatch.setenv("POSTBOT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("POSTBOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("POSTBOT_MEDIA__RETENTION_DAYS", "2")

    assert await asyncio.to_thread(main, ["media", "gc"]) == 0

    out = capsys.readouterr().out
    freed = f"{media.size_bytes / 1e6:.1f} MB freed"
    assert out.startswith(f"deleted 1 video(s), {freed}; 0.0 MB stored (retention 2 days)"), out
    assert not (settings.media_dir / media.storage_key).exists()


def test_retention_days_default_and_override() -> None:
    assert MediaSettings().retention_days == 30
    assert Settings(media={"retention_days": 7}).media.retention_days == 7  # type: ignore[arg-type]


async def test_stored_bytes_appear_in_metrics(settings: Settings, db: Database, clip: Path) -> None:
    import httpx
    from pydantic import SecretStr

    from adapters.web.run import start_web
    from core.config import WebSettings

    web = await build_app(
        settings.model_copy(
            update={"web": WebSettings(host="127.0.0.1", port=0, metrics_token=SecretStr("scrape"))}
        ),
        schema=db.schema,
    )
    media = await web.media.import_file(clip)
    server = await start_web(web.postbot)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(f"{server.url}/metrics", headers=SCRAPE)).text
            assert _gauge(text, "postbot_media_stored_bytes") == media.size_bytes
            # Another process stores a second video: this web process reports it on the next scrape.
            elsewhere = settings.model_copy(update={"data_dir": settings.data_dir / "other"})
            other = await build_app(elsewhere, schema=db.schema)
            try:
                second = await other.media.import_file(clip_file(clip.with_name("b.mp4"), size_bytes=600_000))
            finally:
                await other.close()
            text = (await http.get(f"{server.url}/metrics", headers=SCRAPE)).text
            assert _gauge(text, "postbot_media_stored_bytes") == media.size_bytes + second.size_bytes
    finally:
        await server.stop()
        await web.close()


def _gauge(exposition: str, name: str) -> float:
    [line] = [line for line in exposition.splitlines() if line.startswith(f"{name} ")]
    return float(line.split()[1])
