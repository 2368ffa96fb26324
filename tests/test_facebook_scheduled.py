"""A Facebook reel through the real scheduler against the fake: the linked Page's token has died (a
refresh with the stored User token), the upload is cut off mid-way (the next attempt resumes from
what Facebook says it has), and processing takes several polls. Then the reel's results are read.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.accounts.store import save_tokens
from core.accounts.tokens import TokenSources
from core.config import PlatformSettings, PlatformsSettings, SchedulerSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, SocialAccount, Team, User
from core.media.probe import probe_file
from core.media.storage import LocalStorage
from core.oauth import OAuthClients
from core.oauth.models import TokenSet
from core.platforms.facebook.publisher import FacebookPublisher
from core.platforms.facebook.results import FacebookMetrics
from core.platforms.publishers import PublisherRegistry
from core.platforms.results import Metrics
from core.publishers.base import AuthError
from core.publishers.transport import make_client
from core.scheduler.processor import PostProcessor
from tests.clips import EVERYDAY, clip_file
from tests.conftest import Database
from tests.fakes.facebook_api import FakeFacebook
from tests.scheduler_support import RecordingNotifier

VAULT = Vault(derive_key("facebook scheduled tests", iterations=MIN_ITERATIONS))
PAGE = "104000000000001"
PIECE = 64 * 1024
FAST = SchedulerSettings(lease_s=10, batch_size=5, max_in_flight=5, backoff_base_s=0.05, backoff_max_s=0.2)


@dataclass
class World:
    fake: FakeFacebook
    processor: PostProcessor
    notifier: RecordingNotifier
    sessions: Any
    sources: TokenSources
    metrics: FacebookMetrics
    post_id: int
    account_id: int
    video: Path


@pytest.fixture
async def world(db: Database, settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    async with FakeFacebook(processing_polls=3) as fake, make_client(timeout=10) as http:
        platforms = PlatformsSettings(facebook=PlatformSettings(**fake.platform_settings()))
        conf = settings.model_copy(update={"platforms": platforms})
        video = clip_file(tmp_path / "reel.mp4", EVERYDAY)
        facts = probe_file(video)
        page_token, user_token = fake.mint(PAGE)
        async with sessions.begin() as session:
            team = Team(chat="console", external_id="T1", name="Acme")
            session.add(team)
            await session.flush()
            user = User(team_id=team.id, external_id="U1", display_name="Ada")
            account = SocialAccount(
                team_id=team.id, platform="facebook", remote_account_id=PAGE, display_name="acmevideos"
            )
            session.add_all([user, account])
            await session.flush()
            save_tokens(
                account,
                TokenSet(access_token=page_token, refresh_token=user_token, scope="pages_read_engagement"),
                VAULT,
            )
            asset = MediaAsset(
                team_id=team.id,
                path=str(video),
                sha256="0" * 64,
                size_bytes=video.stat().st_size,
                mime="video/mp4",
                duration_s=facts.duration_s,
                width=facts.width,
                height=facts.height,
            )
            session.add(asset)
            await session.flush()
            now = datetime.now(UTC)
            post = ScheduledPost(
                team_id=team.id,
                author_id=user.id,
                account_id=account.id,
                media_id=asset.id,
                batch_id=uuid.uuid4().hex,
                platform="facebook",
                caption="Launch day #launch",
                title=None,
                run_at=now,
                due_at=now,
                idempotency_key=uuid.uuid4().hex,
                upload_state={},
            )
            session.add(post)
            await session.flush()
            post_id, account_id = post.id, account.id
        registry = PublisherRegistry(conf, http)
        registry.register(
            FacebookPublisher(
                http,
                graph_base_url=fake.graph_base_url,
                upload_base_url=fake.base_url,
                chunk_size=PIECE,
                poll_interval_s=0.01,
                retry_base_s=0.01,
            )
        )
        notifier = RecordingNotifier()
        sources = TokenSources(sessions, VAULT, OAuthClients(conf, http), skew=timedelta(seconds=60))
        processor = PostProcessor(
            sessions,
            registry,
            notifier,
            FAST,
            platforms=platforms,
            tokens_for=sources,
            worker_id="w1",
            storage=LocalStorage(Path("/")),
        )
        metrics = FacebookMetrics.from_settings(http, platforms.facebook)
        yield World(fake, processor, notifier, sessions, sources, metrics, post_id, account_id, video)
    await engine.dispose()


async def row(world: World) -> ScheduledPost:
    async with world.sessions() as session:
        post = await session.get(ScheduledPost, world.post_id)
        assert post is not None
        return post


async def account(world: World) -> SocialAccount:
    async with world.sessions() as session:
        found = await session.get(SocialAccount, world.account_id)
        assert found is not None
        return found


async def test_a_reel_survives_a_dead_token_and_a_cut_upload_and_is_published_once(world: World) -> None:
    world.fake.expire_page_tokens()
    world.fake.fail("upload", count=3, status=503, after=2)

    async with asyncio.timeout(15):
        while (await row(world)).status != "published":
            await world.processor.run_due()
            await asyncio.sleep(0.02)

    final = await row(world)
    (reel,) = world.fake.videos.values()
    assert (final.attempts, final.last_error) == (2, None), "the cut upload failed attempt 1; 2 resumed it"
    assert bytes(reel.received) == world.video.read_bytes()
    pieces = [offset for offset, _ in reel.pieces]
    assert pieces == list(range(0, world.video.stat().st_size, PIECE)), "every piece once, in order"
    assert final.remote_id == reel.id and final.remote_url == f"https://www.facebook.com/reel/{reel.id}/"
    assert reel.description == "Launch day #launch" and reel.publishing == "complete"
    assert [v.status.value for v in world.notifier.results] == ["published"]
    # The dead Page token was renewed once with the User token, and the new one stored.
    assert (await account(world)).status == "active"

    reel.insights = {"blue_reels_play_count": 120, "post_impressions_unique": 80}
    reel.likes, reel.comments = 7, 2
    source = world.sources(await account(world))
    read = await world.metrics.read(source, [reel.id, "120000000000999"])
    assert read == {reel.id: Metrics(views=120, likes=7, comments=2)}, "a deleted video is simply absent"


async def test_a_login_removed_since_fails_the_post_and_marks_the_page_revoked(world: World) -> None:
    world.fake.revoke_user()

    async with asyncio.timeout(10):
        while (await row(world)).status not in ("failed", "published"):
            await world.processor.run_due()
            await asyncio.sleep(0.02)

    final = await row(world)
    assert final.status == "failed" and not world.fake.videos
    assert final.last_error and "re-link" in final.last_error.lower()
    assert (await account(world)).status == "revoked"
    assert world.notifier.dms, "the author is told"


async def test_results_need_pages_read_engagement(world: World) -> None:
    world.fake.granted = ["pages_show_list", "pages_manage_posts"]
    source = world.sources(await account(world))

    with pytest.raises(AuthError) as refused:
        await world.metrics.read(source, ["120000000000999"])

    assert "pages_read_engagement" in (refused.value.hint or "")
