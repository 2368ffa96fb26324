"""Converted outputs live in the media store, not on the disk of the machine that made them.

Two "machines" (separate data folders, separate converters) share one database and one S3 bucket
(moto's server): the chat side converts an MKV for X and stores the MP4 in the bucket; the worker on
the other machine publishes that MP4 without converting anything itself; retention then deletes the
output together with its source, never while a post still needs it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.accounts.tokens import TokenSources
from core.config import PlatformSettings, PlatformsSettings, SchedulerSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaBlob, ScheduledPost
from core.domain import ChatContext, ChatKind, MediaInfo
from core.media.conversions import Converter
from core.media.convert import REMUX
from core.media.probe import probe_file
from core.media.retention import MediaBlobs
from core.media.sample import ClipSpec
from core.media.storage import StoredMedia
from core.media.storage.s3 import S3Storage
from core.media.store import MediaStore
from core.oauth import OAuthClients
from core.platforms.publishers import PublisherRegistry
from core.platforms.x.publisher import XPublisher
from core.publishers.transport import make_client
from core.scheduler.processor import PostProcessor
from core.service import Postbot
from tests.clips import clip_file
from tests.conftest import Database
from tests.fakes.oauth_provider import FakeOAuthProvider, seed_linked_account
from tests.fakes.x_api import FakeX
from tests.s3_support import S3Server
from tests.scheduler_support import RecordingNotifier

VAULT = Vault(derive_key("shared conversion tests", iterations=MIN_ITERATIONS))
CHUNK = 64 * 1024
FAST = SchedulerSettings(lease_s=10, batch_size=5, max_in_flight=5, backoff_base_s=0.05, backoff_max_s=0.2)
CTX = ChatContext(chat=ChatKind.CONSOLE, team_id="T-test", user_id="U1", user_tz="UTC")
# A screen recording in Matroska: H.264/AAC, which X takes only in an MP4, so it is rewrapped.
SCREEN = ClipSpec(duration_s=3.5, width=360, height=640, fps=30)
RETENTION = timedelta(days=30)


@dataclass
class Fleet:
    chat: Postbot
    chat_converter: Converter
    worker: PostProcessor
    worker_converter: Converter
    storage: S3Storage
    blobs: MediaBlobs
    sessions: object
    x: FakeX
    media: MediaInfo
    worker_dir: Path


@pytest.fixture
async def fleet(db: Database, settings: Settings, s3: S3Server, tmp_path: Path) -> AsyncIterator[Fleet]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    storage = S3Storage(s3.settings())
    blobs = MediaBlobs(sessions)
    chat_dir, worker_dir = tmp_path / "chat-machine", tmp_path / "worker-machine"
    async with AsyncExitStack() as stack:
        oauth = await stack.enter_async_context(FakeOAuthProvider("x"))
        http = await stack.enter_async_context(make_client(timeout=30))
        x = await stack.enter_async_context(FakeX())
        x.token_check, x.check_after_secs = oauth.account_for, 0
        platforms = PlatformsSettings(x=PlatformSettings(**oauth.platform_settings()))
        conf = settings.model_copy(update={"platforms": platforms})
        await seed_linked_account(sessions, VAULT, oauth)
        store = MediaStore(chat_dir, storage, blobs)
        media = await store.import_file(clip_file(tmp_path / "screen.mkv", SCREEN))
        chat_converter = Converter(chat_dir / "converted", storage=storage, blobs=blobs)
        worker_converter = Converter(worker_dir / "converted", storage=storage, blobs=blobs)
        stack.push_async_callback(chat_converter.close)
        stack.push_async_callback(worker_converter.close)
        registry = PublisherRegistry(conf, http)
        registry.register(XPublisher(http, base_url=x.base_url, chunk_size=CHUNK, retry_base_s=0.01))
        tokens = TokenSources(sessions, VAULT, OAuthClients(conf, http), skew=timedelta(seconds=60))
        worker = PostProcessor(
            sessions,
            registry,
            RecordingNotifier(),
            FAST,
            platforms=platforms,
            tokens_for=tokens,
            worker_id="worker-machine",
            converter=worker_converter,
            storage=storage,
        )
        yield Fleet(
            chat=Postbot(conf, sessions, converter=chat_converter),
            chat_converter=chat_converter,
            worker=worker,
            worker_converter=worker_converter,
            storage=storage,
            blobs=blobs,
            sessions=sessions,
            x=x,
            media=media,
            worker_dir=worker_dir,
        )
    await engine.dispose()


async def _post(fleet: Fleet, post_id: int) -> ScheduledPost:
    async with fleet.sessions() as session:  # type: ignore[operator]
        post = await session.get(ScheduledPost, post_id)
        assert post is not None
        return post  # type: ignore[no-any-return]


async def _blob_keys(fleet: Fleet) -> list[str]:
    async with fleet.sessions() as session:  # type: ignore[operator]
        return sorted((await session.execute(select(MediaBlob.key))).scalars())


def _local_outputs(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.mp4")] if folder.exists() else []


async def test_the_worker_publishes_the_output_the_chat_side_stored(fleet: Fleet, s3: S3Server) -> None:
    outcome = await fleet.chat.post_now(CTX, "x Launch day", fleet.media)
    [conversion] = outcome.conversions
    assert conversion.target == REMUX and conversion.platforms == ("x",)
    # The chat side's conversion (started by the command) finishes and lands in the bucket.
    made = await asyncio.wait_for(fleet.chat_converter.ensure(fleet.media, REMUX), 60)
    output_key = f"postbot/{made.key}"
    assert made.key is not None and made.key.startswith("converted/")
    assert output_key in s3.keys()
    stored = await StoredMedia(fleet.storage, made.key).read(0, made.size_bytes)
    assert probe_file(made.path).container == "mp4"
    assert stored == Path(made.path).read_bytes()

    [post] = outcome.posts
    async with asyncio.timeout(60):
        while (await _post(fleet, post.id)).status != "published":
            await fleet.worker.run_due()
            await asyncio.sleep(0.05)
    # The worker's machine made no output of its own: X got the bucket's bytes, chunk by chunk.
    assert _local_outputs(fleet.worker_dir / "converted") == []
    [upload] = fleet.x.uploads.values()
    expected = [hashlib.sha256(stored[i : i + CHUNK]).hexdigest() for i in range(0, len(stored), CHUNK)]
    assert [digest for _, (_, digest) in sorted(upload.segments.items())] == expected
    assert upload.total_bytes == len(stored) != fleet.media.size_bytes

    # Retention: the published post's source and its output go together, after retention_days.
    assert sorted(await _blob_keys(fleet)) == sorted([fleet.media.storage_key, made.key])
    assert await fleet.blobs.stored_bytes() == fleet.media.size_bytes + made.size_bytes
    too_soon = await fleet.blobs.collect(fleet.storage, retention=RETENTION)
    assert too_soon.keys == [] and output_key in s3.keys()
    long_ago = datetime.now(UTC) - RETENTION - timedelta(days=1)
    async with fleet.sessions.begin() as session:  # type: ignore[attr-defined]
        await session.execute(update(ScheduledPost).values(updated_at=long_ago))
        await session.execute(update(MediaBlob).values(referenced_at=long_ago))
    done = await fleet.blobs.collect(fleet.storage, retention=RETENTION)
    assert done.keys == [fleet.media.storage_key]
    assert done.bytes_freed == fleet.media.size_bytes + made.size_bytes
    assert s3.keys() == []
    assert await _blob_keys(fleet) == []


async def test_a_queued_post_keeps_the_output_and_a_worker_that_converts_shares_it(
    fleet: Fleet, s3: S3Server
) -> None:
    # Scheduled for later: the chat side starts converting; the worker machine, asked first (a
    # restart lost the chat side's work, say), converts from its own copy and stores the result.
    outcome = await fleet.chat.schedule(CTX, "tomorrow 6pm x Later", fleet.media)
    [post] = outcome.posts
    await fleet.chat_converter.close()
    local = await fleet.worker._local_media(fleet.media)
    made = await asyncio.wait_for(fleet.worker_converter.ensure(local, REMUX), 60)
    assert made.key is not None and f"postbot/{made.key}" in s3.keys()
    assert await fleet.chat_converter.ready(fleet.media, REMUX)

    # Long past retention, but the post is still queued: nothing goes, output included.
    long_ago = datetime.now(UTC) - RETENTION - timedelta(days=1)
    async with fleet.sessions.begin() as session:  # type: ignore[attr-defined]
        await session.execute(update(MediaBlob).values(referenced_at=long_ago))
    kept = await fleet.blobs.collect(fleet.storage, retention=RETENTION)
    assert kept.keys == [] and kept.errors == 0
    assert f"postbot/{made.key}" in s3.keys() and f"postbot/{fleet.media.storage_key}" in s3.keys()
    assert (await _post(fleet, post.id)).status == "queued"
