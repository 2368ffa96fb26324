"""Instagram, X and LinkedIn posts through the real scheduler: an outage mid-upload, then the retry.

The processor builds each attempt's job from the row's stored upload_state, so this checks the whole
loop the unit tests imitate: checkpoints reach the database (SQLite and PostgreSQL JSON), the next
attempt resumes from them, every chunk reaches the platform once and exactly one post is created.
Instagram downloads the video itself from the post's link on postbot's /media/ route, which asks the
database whether the post is still unfinished: once it is published the link is refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
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
from core.media.storage import LocalStorage, UrlSigner
from core.media.storage.post_links import PostMediaLinks
from core.oauth import OAuthClients
from core.platforms.instagram.publisher import InstagramPublisher
from core.platforms.linkedin.publisher import LinkedInPublisher
from core.platforms.publishers import PublisherRegistry
from core.platforms.x.publisher import XPublisher
from core.publishers.base import Publisher
from core.publishers.transport import make_client
from core.scheduler.processor import PostProcessor
from core.store import posts
from tests.clips import sized_clip
from tests.conftest import Database
from tests.fakes.instagram_api import FakeInstagram
from tests.fakes.linkedin_api import FakeLinkedIn
from tests.fakes.oauth_provider import FakeOAuthProvider, seed_linked_account
from tests.fakes.x_api import FakeX
from tests.scheduler_support import RecordingNotifier

VAULT = Vault(derive_key("scheduled publisher tests", iterations=MIN_ITERATIONS))
CHUNK = 64 * 1024
SIZE = 5 * CHUNK + 123
FAST = SchedulerSettings(lease_s=10, batch_size=5, max_in_flight=5, backoff_base_s=0.05, backoff_max_s=0.2)


@dataclass
class Case:
    """One platform: its fake, a publisher aimed at it, a mid-upload outage, and what arrived."""

    api: Any
    publisher: Publisher
    # Chunk numbers the platform received (X, LinkedIn), or downloaded (Instagram, in CHUNK ranges).
    chunks_received: Callable[[], list[int]]
    remote_posts: Callable[[], list[str]]
    outage_answers: Callable[[], int]


async def x_case(stack: AsyncExitStack, oauth: FakeOAuthProvider, http: httpx.AsyncClient) -> Case:
    api = await stack.enter_async_context(FakeX())
    api.token_check, api.check_after_secs = oauth.account_for, 0
    api.fail("append", count=3, after=2)
    pub = XPublisher(http, base_url=api.base_url, chunk_size=CHUNK, retry_base_s=0.01)
    failed = lambda: sum(r.status == 503 for r in api.requests if r.path.endswith("/append"))  # noqa: E731
    return Case(api, pub, api.appended, lambda: list(api.tweets), failed)


async def instagram_case(stack: AsyncExitStack, oauth: FakeOAuthProvider, http: httpx.AsyncClient) -> Case:
    api = await stack.enter_async_context(FakeInstagram())
    api.token_check = oauth.account_for
    # Meta downloads the video while the container is IN_PROGRESS; the outage hits the status polls.
    api.fail("status", count=3, status=503)
    pub = InstagramPublisher(http, graph_base_url=api.graph_base_url, poll_interval_s=0.01, retry_base_s=0.01)

    def downloaded() -> list[int]:
        ranges = [f.range for f in api.fetches if f.method == "GET" and f.status == 206]
        sizes = [c.fetched_bytes for c in api.containers.values()]
        # One download of the whole video: as many CHUNKs as it spans, so every byte arrived once.
        return list(range(-(-SIZE // CHUNK))) if len(ranges) == 1 and sizes == [SIZE] else []

    failed = lambda: sum(r.status == 503 for r in api.requests if r.path.count("/") == 2)  # noqa: E731
    return Case(api, pub, downloaded, lambda: list(api.media), failed)


async def linkedin_case(stack: AsyncExitStack, oauth: FakeOAuthProvider, http: httpx.AsyncClient) -> Case:
    api = await stack.enter_async_context(FakeLinkedIn(part_size=CHUNK))
    api.token_check = oauth.account_for
    api.fail("part", count=3, status=502, after=2)
    pub = LinkedInPublisher(http, base_url=api.base_url, poll_interval_s=0.01, retry_base_s=0.01)
    failed = lambda: sum(r.status == 502 for r in api.requests if r.part is not None)  # noqa: E731
    return Case(api, pub, api.uploaded_parts, lambda: list(api.posts), failed)


CASES = {"x": x_case, "instagram": instagram_case, "linkedin": linkedin_case}


@pytest.fixture(params=sorted(CASES))
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class World:
    processor: PostProcessor
    notifier: RecordingNotifier
    sessions: Any
    case: Case
    post_id: int


@pytest.fixture
async def world(db: Database, settings: Settings, tmp_path: Path, platform: str) -> AsyncIterator[World]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    async with AsyncExitStack() as stack:
        oauth = await stack.enter_async_context(FakeOAuthProvider(platform))
        http = await stack.enter_async_context(make_client(timeout=10))
        case = await CASES[platform](stack, oauth, http)
        platforms = PlatformsSettings(**{platform: PlatformSettings(**oauth.platform_settings())})
        conf = settings.model_copy(update={"platforms": platforms})
        seeded = await seed_linked_account(sessions, VAULT, oauth)
        video = sized_clip(tmp_path / "clip.mp4", duration_s=15, width=1080, height=1920, size_bytes=SIZE)
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
                platform=platform,
                caption="Launch day #launch",
                title="Launch",
                run_at=now,
                due_at=now,
                idempotency_key=uuid.uuid4().hex,
                upload_state={},
            )
            session.add(post)
            await session.flush()
            post_id = post.id
        registry = PublisherRegistry(conf, http)
        registry.register(case.publisher)
        notifier = RecordingNotifier()
        tokens = TokenSources(sessions, VAULT, OAuthClients(conf, http), skew=timedelta(seconds=60))
        # postbot's /media/ route as web.public_url serves it, deciding by the post's row in the database.
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
        yield World(processor, notifier, sessions, case, post_id)
    await engine.dispose()


async def row(world: World) -> ScheduledPost:
    async with world.sessions() as session:
        post = await session.get(ScheduledPost, world.post_id)
        assert post is not None
        return post


async def test_outage_mid_upload_is_resumed_by_the_scheduler_and_posted_once(world: World) -> None:
    async with asyncio.timeout(10):
        while (await row(world)).status != "published":
            await world.processor.run_due()
            await asyncio.sleep(0.02)

    final = await row(world)
    # Three 5xx in a row beat the in-place retries: attempt 1 failed, attempt 2 resumed and posted.
    assert world.case.outage_answers() == 3
    assert (final.attempts, final.last_error) == (2, None)
    assert world.case.chunks_received() == [0, 1, 2, 3, 4, 5], "every chunk once: the retry resumed"
    assert world.case.remote_posts() == [final.remote_id], "exactly one post, and it is the recorded one"
    assert final.remote_url
    assert [v.status.value for v in world.notifier.results] == ["published"]
    assert world.notifier.dms == []
    if isinstance(world.case.api, FakeInstagram):
        (container,) = world.case.api.containers.values()
        async with httpx.AsyncClient() as http:
            after = await http.get(container.params["video_url"])
        assert after.status_code == 403, "the post is published: its video link is useless"
