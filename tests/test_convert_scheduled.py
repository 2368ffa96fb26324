"""An iPhone-style HEVC MOV posted to X through the facade and the real scheduler: the reply says it
will be converted, the conversion starts at once, the post (due at once) waits for it, and X receives
the H.264 file, never the original or half a conversion."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from core.accounts.tokens import TokenSources
from core.config import PlatformSettings, PlatformsSettings, SchedulerSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import ScheduledPost
from core.domain import ChatContext, ChatKind, MediaInfo
from core.errors import ValidationFailed
from core.media.conversions import Converter
from core.media.probe import probe_file
from core.media.sample import ClipSpec
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
from tests.scheduler_support import RecordingNotifier

VAULT = Vault(derive_key("conversion tests", iterations=MIN_ITERATIONS))
CHUNK = 64 * 1024
FAST = SchedulerSettings(lease_s=10, batch_size=5, max_in_flight=5, backoff_base_s=0.05, backoff_max_s=0.2)
CTX = ChatContext(chat=ChatKind.CONSOLE, team_id="T-test", user_id="U1", user_tz="UTC")
# Recorded landscape and turned by the display matrix, as a phone writes it; 4 s, sound on.
IPHONE = ClipSpec(duration_s=4, width=640, height=360, fps=30, video_codec="hevc", rotation=90)


@dataclass
class World:
    postbot: Postbot
    processor: PostProcessor
    x: FakeX
    media: MediaInfo
    sessions: object


@pytest.fixture
async def world(db: Database, settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    async with AsyncExitStack() as stack:
        oauth = await stack.enter_async_context(FakeOAuthProvider("x"))
        http = await stack.enter_async_context(make_client(timeout=30))
        x = await stack.enter_async_context(FakeX())
        x.token_check, x.check_after_secs = oauth.account_for, 0
        platforms = PlatformsSettings(x=PlatformSettings(**oauth.platform_settings()))
        conf = settings.model_copy(update={"platforms": platforms})
        await seed_linked_account(sessions, VAULT, oauth)
        store = MediaStore(conf.media_dir)
        media = await store.import_file(clip_file(tmp_path / "IMG_0042.MOV", IPHONE))
        # The bot and the worker are separate processes in production: separate converters over one
        # folder, so the worker's wait goes through the cache and its lock, not a shared future.
        bot_side = Converter(conf.converted_dir)
        worker_side = Converter(conf.converted_dir)
        stack.push_async_callback(bot_side.close)
        stack.push_async_callback(worker_side.close)
        registry = PublisherRegistry(conf, http)
        registry.register(XPublisher(http, base_url=x.base_url, chunk_size=CHUNK, retry_base_s=0.01))
        tokens = TokenSources(sessions, VAULT, OAuthClients(conf, http), skew=timedelta(seconds=60))
        processor = PostProcessor(
            sessions,
            registry,
            RecordingNotifier(),
            FAST,
            platforms=platforms,
            tokens_for=tokens,
            worker_id="w1",
            converter=worker_side,
            # Rows hold the video's storage key; the worker reads it from the same folder.
            storage=store.storage,
        )
        yield World(Postbot(conf, sessions, converter=bot_side), processor, x, media, sessions)
    await engine.dispose()


async def _status(world: World, post_id: int) -> ScheduledPost:
    async with world.sessions() as session:  # type: ignore[operator]
        post = await session.get(ScheduledPost, post_id)
        assert post is not None
        return post  # type: ignore[no-any-return]


async def test_hevc_mov_goes_to_x_as_h264(world: World) -> None:
    outcome = await world.postbot.post_now(CTX, "x Launch day", world.media)
    [conversion] = outcome.conversions
    assert conversion.target.key == "h264" and conversion.platforms == ("x",)
    note = outcome.notes[-1]
    assert "re-encoded as H.264/AAC MP4 for X" in note and "HEVC" in note and "about" in note
    [post] = outcome.posts
    # Due now, while the conversion has only just started: the worker waits for it.
    async with asyncio.timeout(60):
        while (await _status(world, post.id)).status != "published":
            await world.processor.run_due()
            await asyncio.sleep(0.05)
    converted = Path(world.media.path).parent.parent / "converted"
    [output] = list(converted.rglob("*.h264.mp4"))
    facts = probe_file(output)
    assert (facts.video_codec, facts.audio_codec, facts.width, facts.height) == ("h264", "aac", 360, 640)
    data = output.read_bytes()
    sent = [world.x.uploads[u] for u in world.x.uploads]
    assert len(sent) == 1
    expected = [hashlib.sha256(data[i : i + CHUNK]).hexdigest() for i in range(0, len(data), CHUNK)]
    assert [digest for _, (_, digest) in sorted(sent[0].segments.items())] == expected
    assert sent[0].total_bytes == len(data) != world.media.size_bytes


async def test_no_convert_refuses_as_before(world: World) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await world.postbot.post_now(CTX, "x Launch day --no-convert", world.media)
    assert any("HEVC" in p and "H.264" in p for p in refused.value.problems["x"])


async def test_the_team_setting_refuses_as_before(world: World) -> None:
    conf = world.postbot.settings.model_copy(
        update={"media": world.postbot.settings.media.model_copy(update={"convert": False})}
    )
    strict = Postbot(conf, world.postbot.sessions, converter=world.postbot.converter)
    with pytest.raises(ValidationFailed) as refused:
        await strict.post_now(CTX, "x Launch day", world.media)
    assert any("HEVC" in p and "H.264" in p for p in refused.value.problems["x"])
