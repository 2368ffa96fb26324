"""Threads posts through the real scheduler (PostProcessor), on SQLite and PostgreSQL.

A real PyAV clip is queued for a linked Threads account whose 60-day token is about to run out; at
its time the scheduler refreshes the token (th_refresh_token), the publisher creates the container
from the post's own link on postbot's /media/ route, which the fake Threads API downloads, waits
out the processing delay, survives a status outage (attempt 1 fails, attempt 2 resumes the same
container) and publishes once. A spent publishing limit leaves the post queued for an hour later,
not failed, with nothing downloaded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from adapters.web.app import media_route
from adapters.web.server import WebServer
from core.accounts.tokens import TokenSources
from core.config import PlatformSettings, PlatformsSettings, SchedulerSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, Team, User
from core.media.probe import probe
from core.media.storage import LocalStorage, UrlSigner
from core.media.storage.post_links import PostMediaLinks
from core.oauth import OAuthClients
from core.platforms.publishers import PublisherRegistry
from core.platforms.threads.publisher import ThreadsPublisher
from core.publishers.transport import make_client
from core.scheduler.processor import PostProcessor
from core.store import posts
from tests.clips import sized_clip
from tests.conftest import Database
from tests.fakes.oauth_provider import FakeOAuthProvider, seed_linked_account
from tests.fakes.threads_api import FakeThreads
from tests.scheduler_support import RecordingNotifier

VAULT = Vault(derive_key("threads scheduled tests", iterations=MIN_ITERATIONS))
SIZE = 3 * 1024 * 1024 + 4321
FAST = SchedulerSettings(lease_s=10, batch_size=5, max_in_flight=5, backoff_base_s=0.05, backoff_max_s=0.2)
TEXT = "Out now 🎬 #launch"


@dataclass
class World:
    processor: PostProcessor
    notifier: RecordingNotifier
    sessions: Any
    api: FakeThreads
    oauth: FakeOAuthProvider
    post_id: int
    video: Path


@pytest.fixture
async def world(db: Database, settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    async with AsyncExitStack() as stack:
        oauth = await stack.enter_async_context(FakeOAuthProvider("threads"))
        api = await stack.enter_async_context(FakeThreads())
        api.token_check = oauth.account_for
        http = await stack.enter_async_context(make_client(timeout=10))
        platforms = PlatformsSettings(threads=PlatformSettings(**oauth.platform_settings()))
        conf = settings.model_copy(update={"platforms": platforms})
        # The token runs out in a minute: inside the refresh skew, so the first use extends it.
        seeded = await seed_linked_account(sessions, VAULT, oauth, expires_in=60)
        video = sized_clip(tmp_path / "clip.mp4", duration_s=8, width=720, height=1280, size_bytes=SIZE)
        async with sessions.begin() as session:
            team = (await session.execute(select(Team))).scalar_one()
            user = User(team_id=team.id, external_id="U1", display_name="Ada")
            media = MediaAsset(
                team_id=team.id, path=str(video), sha256="0" * 64, size_bytes=SIZE, mime="video/mp4"
            )
            session.add_all([user, media])
            await session.flush()
            now = datetime.now(UTC)
            post = ScheduledPost(
                team_id=team.id,
                author_id=user.id,
                account_id=seeded.account_row_id,
                media_id=media.id,
                batch_id=uuid.uuid4().hex,
                platform="threads",
                caption=TEXT,
                title=None,
                run_at=now,
                due_at=now,
                idempotency_key=uuid.uuid4().hex,
                upload_state={},
                options={"reply_control": "followers"},
            )
            session.add(post)
            await session.flush()
            post_id = post.id
        registry = PublisherRegistry(conf, http)
        registry.register(
            ThreadsPublisher(http, graph_base_url=api.graph_base_url, poll_interval_s=0.01, retry_base_s=0.01)
        )
        notifier = RecordingNotifier()
        tokens = TokenSources(sessions, VAULT, OAuthClients(conf, http), skew=timedelta(seconds=120))
        # postbot's /media/ route as web.public_url serves it, deciding by the post's row.
        web_server = WebServer()
        storage = LocalStorage(Path("/"))

        async def unfinished(post: int) -> bool:
            async with sessions() as session:
                return await posts.is_unfinished(session, post)

        links = PostMediaLinks(UrlSigner("http://unset", b"secret"), storage, unfinished)
        await web_server.start(Starlette(routes=[media_route(links.open)]))
        stack.push_async_callback(web_server.stop)
        links.signer = UrlSigner(web_server.url, b"secret")
        processor = PostProcessor(
            sessions,
            registry,
            notifier,
            FAST,
            platforms=platforms,
            tokens_for=tokens,
            worker_id="w1",
            storage=storage,
            media_links=links,
        )
        yield World(processor, notifier, sessions, api, oauth, post_id, video)
    await engine.dispose()


async def row(world: World) -> ScheduledPost:
    async with world.sessions() as session:
        post = await session.get(ScheduledPost, world.post_id)
        assert post is not None
        return post


async def test_a_real_clip_goes_out_once_through_the_scheduler_with_a_refreshed_token(world: World) -> None:
    info = await probe(world.video)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac"), "a real encoded clip"
    assert info.width and info.height and info.width * 16 == info.height * 9
    world.api.processing_polls = 4  # Threads takes a while to process the video
    world.api.fail("status", count=3, status=503)  # and its status endpoint has an outage

    async with asyncio.timeout(15):
        while (await row(world)).status != "published":
            await world.processor.run_due()
            await asyncio.sleep(0.02)

    final = await row(world)
    assert (final.attempts, final.last_error) == (2, None), "attempt 1 met the outage, attempt 2 resumed"
    assert world.oauth.refresh_count == 1, "the token about to run out was extended once"
    (container,) = world.api.containers.values()
    assert container.fetched_bytes == SIZE and container.fetch_error is None, "downloaded once, whole"
    assert sum(f.method == "HEAD" for f in world.api.fetches) == 1
    assert container.params["text"] == TEXT and container.params["reply_control"] == "followers_only"
    assert [m.id for m in world.api.media.values()] == [final.remote_id], "exactly one post, the recorded one"
    assert final.remote_url and final.remote_url.startswith("https://www.threads.com/")
    assert [v.status.value for v in world.notifier.results] == ["published"]
    async with httpx.AsyncClient() as http:
        after = await http.get(container.params["video_url"])
    assert after.status_code == 403, "the post is published: its video link is useless"


# The outcome is written like any retry; the database makes no difference here.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_spent_publishing_limit_keeps_the_post_queued_for_later(world: World) -> None:
    world.api.quota_total = 0

    await world.processor.run_due()

    post = await row(world)
    assert post.status not in ("failed", "published"), post.status
    assert post.last_error and "used its 0 API posts" in post.last_error
    due = post.due_at if post.due_at.tzinfo else post.due_at.replace(tzinfo=UTC)
    assert due > datetime.now(UTC) + timedelta(minutes=55), "back in an hour, when the window has moved"
    assert not world.api.containers and not world.api.fetches
    assert world.notifier.dms == []
