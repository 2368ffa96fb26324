"""Post results are read from YouTube's videos.list (the fake Data API) about a day after publishing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, SocialAccount, Team, User
from core.domain import Platform, PostStatus
from core.platforms.youtube.results import YouTubeMetrics
from core.slots.metrics import collect_due_metrics
from tests.conftest import Database
from tests.fakes.youtube_api import FakeYouTube, Video
from tests.publishing_support import StaticTokens

TOKEN = "ya29.metrics-token"
CHANNEL = "UCmetricschannel000000000"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(db: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeYouTube]:
    async with FakeYouTube(tokens={TOKEN: CHANNEL}) as server:
        yield server


def _video(video_id: str, views: str, likes: str | None, comments: str) -> Video:
    stats = {"viewCount": views, "commentCount": comments, "favoriteCount": "0"}
    if likes is not None:
        stats["likeCount"] = likes
    resource = {"kind": "youtube#video", "id": video_id, "statistics": stats}
    return Video(id=video_id, channel_id=CHANNEL, resource=resource, size=0, sha256="")


async def _seed(sessions: async_sessionmaker[AsyncSession], posts: dict[str, timedelta]) -> dict[str, int]:
    async with sessions.begin() as s:
        team = Team(chat="console", external_id="t", name="t", timezone="UTC")
        s.add(team)
        await s.flush()
        user = User(team_id=team.id, external_id="u")
        media = MediaAsset(team_id=team.id, path="/v.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        account = SocialAccount(team_id=team.id, platform="youtube", remote_account_id=CHANNEL)
        s.add_all([user, media, account])
        await s.flush()
        ids = {}
        for remote, age in posts.items():
            row = ScheduledPost(
                team_id=team.id,
                author_id=user.id,
                account_id=account.id,
                media_id=media.id,
                batch_id=uuid.uuid4().hex,
                platform=Platform.YOUTUBE.value,
                run_at=NOW - age,
                due_at=NOW - age,
                status=PostStatus.PUBLISHED.value,
                idempotency_key=uuid.uuid4().hex,
                remote_id=remote,
                published_at=NOW - age,
            )
            s.add(row)
            await s.flush()
            ids[remote] = row.id
        return ids


async def _post(sessions: async_sessionmaker[AsyncSession], post_id: int) -> ScheduledPost:
    async with sessions() as s:
        post = await s.get(ScheduledPost, post_id)
        assert post is not None
        return post


async def test_results_are_read_once_a_day_after_publishing(
    sessions: async_sessionmaker[AsyncSession], fake: FakeYouTube, http: httpx.AsyncClient
) -> None:
    fake.videos["vidA"] = _video("vidA", "1200", "80", "7")
    fake.videos["vidHidden"] = _video("vidHidden", "300", None, "0")
    fake.videos["vidNew"] = _video("vidNew", "5", "1", "0")
    ids = await _seed(
        sessions,
        {
            "vidA": timedelta(hours=30),
            "vidHidden": timedelta(hours=26),
            "vidGone": timedelta(hours=40),  # deleted on YouTube since
            "vidNew": timedelta(hours=2),  # too fresh to judge
            "vidOld": timedelta(days=10),  # too old to chase
        },
    )
    readers = {Platform.YOUTUBE: YouTubeMetrics(http, fake.base_url)}
    settled = await collect_due_metrics(sessions, readers, lambda account: StaticTokens(TOKEN, CHANNEL), NOW)
    assert settled == 3

    a = await _post(sessions, ids["vidA"])
    assert (a.views, a.likes, a.comments, a.metrics_fetched_at) == (1200, 80, 7, NOW)
    hidden = await _post(sessions, ids["vidHidden"])
    assert (hidden.views, hidden.likes, hidden.comments) == (300, None, 0)
    gone = await _post(sessions, ids["vidGone"])
    assert gone.metrics_fetched_at == NOW and gone.views is None
    for untouched in ("vidNew", "vidOld"):
        assert (await _post(sessions, ids[untouched])).metrics_fetched_at is None

    lists = [r for r in fake.requests if r.path == "/youtube/v3/videos"]
    assert len(lists) == 1 and lists[0].status == 200
    # Settled posts are not asked about again.
    assert (
        await collect_due_metrics(sessions, readers, lambda account: StaticTokens(TOKEN, CHANNEL), NOW) == 0
    )
    assert len([r for r in fake.requests if r.path == "/youtube/v3/videos"]) == 1


async def test_a_rejected_token_leaves_the_posts_for_a_later_run(
    sessions: async_sessionmaker[AsyncSession], fake: FakeYouTube, http: httpx.AsyncClient
) -> None:
    fake.videos["vidA"] = _video("vidA", "1200", "80", "7")
    ids = await _seed(sessions, {"vidA": timedelta(hours=30)})
    fake.revoke(TOKEN)
    tokens = StaticTokens(TOKEN, CHANNEL)
    readers = {Platform.YOUTUBE: YouTubeMetrics(http, fake.base_url)}
    assert await collect_due_metrics(sessions, readers, lambda account: tokens, NOW) == 0
    assert tokens.refreshes == 1  # a 401 gets one refresh, then the account is skipped
    assert (await _post(sessions, ids["vidA"])).metrics_fetched_at is None

    fake.tokens[TOKEN] = CHANNEL
    assert await collect_due_metrics(sessions, readers, lambda account: tokens, NOW) == 1
    assert (await _post(sessions, ids["vidA"])).views == 1200


async def test_ids_are_asked_for_fifty_at_a_time(
    sessions: async_sessionmaker[AsyncSession], fake: FakeYouTube, http: httpx.AsyncClient
) -> None:
    names = [f"vid{i:03d}" for i in range(60)]
    for i, name in enumerate(names):
        fake.videos[name] = _video(name, str(i), "1", "0")
    ids = await _seed(sessions, dict.fromkeys(names, timedelta(hours=30)))
    readers = {Platform.YOUTUBE: YouTubeMetrics(http, fake.base_url)}
    assert (
        await collect_due_metrics(sessions, readers, lambda account: StaticTokens(TOKEN, CHANNEL), NOW) == 60
    )
    assert len([r for r in fake.requests if r.path == "/youtube/v3/videos"]) == 2
    assert (await _post(sessions, ids["vid059"])).views == 59
