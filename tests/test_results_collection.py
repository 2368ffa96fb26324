"""Results collected at checkpoints after publishing, through the scheduler's machinery (a real
PostProcessor's breakers and fleet-shared rate limits, the store's claims), against every platform's
fake, on SQLite and PostgreSQL: each checkpoint read once, kept per post and time, across workers
and restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.slack.notifier import SlackNotifier
from core.config import ResultsSettings, Settings
from core.db.models import MediaAsset, PostResult, ScheduledPost, SocialAccount, Team, User
from core.domain import ChatKind, Platform, PostStatus
from core.notify import NotifierRouter
from core.platforms.instagram.results import InstagramMetrics
from core.platforms.linkedin.results import LinkedInMetrics
from core.platforms.results import MetricsReader
from core.platforms.tiktok.results import TikTokMetrics
from core.platforms.x.results import XMetrics
from core.platforms.youtube.results import YouTubeMetrics
from core.publishers.base import TokenSource
from core.scheduler.results import ResultsCollector
from core.store.results import ResultReads
from tests.conftest import Database
from tests.fakes.instagram_api import FakeInstagram, Media
from tests.fakes.linkedin_api import FakeLinkedIn, Post
from tests.fakes.slack_api import FakeSlack
from tests.fakes.tiktok_api import FakeTikTok, Upload
from tests.fakes.x_api import FakeX, Tweet
from tests.fakes.youtube_api import FakeYouTube, Video
from tests.publishing_support import StaticTokens
from tests.scheduler_support import Worker, worker

TOKEN = "collect-token"
PUBLISHED = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class Case:
    platform: Platform
    reader: MetricsReader
    remote_id: str
    account: str
    # The fake's calls to the metrics endpoint so far.
    calls: Callable[[], int]
    # Sets the numbers the platform reports from now on.
    report: Callable[[int, int, int], None]
    fake: Any
    scopes: str | None = None


async def youtube_case(stack: AsyncExitStack, http: httpx.AsyncClient) -> Case:
    fake = await stack.enter_async_context(FakeYouTube(tokens={TOKEN: "UCcollect"}))

    def report(views: int, likes: int, comments: int) -> None:
        stats = {"viewCount": str(views), "likeCount": str(likes), "commentCount": str(comments)}
        resource = {"kind": "youtube#video", "id": "vidC", "statistics": stats}
        fake.videos["vidC"] = Video(id="vidC", channel_id="UCcollect", resource=resource, size=0, sha256="")

    return Case(
        Platform.YOUTUBE,
        YouTubeMetrics(http, fake.base_url),
        "vidC",
        "UCcollect",
        lambda: fake.list_units,
        report,
        fake,
    )


async def instagram_case(stack: AsyncExitStack, http: httpx.AsyncClient) -> Case:
    fake = await stack.enter_async_context(FakeInstagram(tokens={TOKEN: "1784"}))
    fake.media["901"] = Media("901", "1784", "c901", "caption", "2026-11-20T18:00:00+0000")

    def report(views: int, likes: int, comments: int) -> None:
        fake.media["901"].insights.update(views=views, likes=likes, comments=comments)

    calls = lambda: sum(r.path.endswith("/insights") for r in fake.requests)  # noqa: E731
    return Case(
        Platform.INSTAGRAM, InstagramMetrics(http, fake.graph_base_url), "901", "1784", calls, report, fake
    )


async def x_case(stack: AsyncExitStack, http: httpx.AsyncClient) -> Case:
    fake = await stack.enter_async_context(FakeX(tokens={TOKEN: "4200"}))
    fake.tweets["1860"] = Tweet("1860", "4200", "hello", [], [], "2026-11-20T18:00:00.000Z")

    def report(views: int, likes: int, comments: int) -> None:
        fake.tweets["1860"].public_metrics = {
            "impression_count": views,
            "like_count": likes,
            "reply_count": comments,
        }

    calls = lambda: sum(r.method == "GET" and r.path == "/2/tweets" for r in fake.requests)  # noqa: E731
    return Case(Platform.X, XMetrics(http, fake.base_url), "1860", "4200", calls, report, fake)


async def tiktok_case(stack: AsyncExitStack, http: httpx.AsyncClient) -> Case:
    fake = await stack.enter_async_context(FakeTikTok(tokens={TOKEN: "open-c"}))
    upload = Upload("p1", "u1", TOKEN, "open-c", {}, 1, 1, 1)
    upload.status, upload.post_id = "PUBLISH_COMPLETE", 7301
    fake.uploads["p1"] = upload

    def report(views: int, likes: int, comments: int) -> None:
        fake.counts["7301"] = {"view_count": views, "like_count": likes, "comment_count": comments}

    calls = lambda: sum(r.path == "/v2/video/query/" for r in fake.requests)  # noqa: E731
    return Case(Platform.TIKTOK, TikTokMetrics(http, fake.base_url), "7301", "open-c", calls, report, fake)


async def linkedin_case(stack: AsyncExitStack, http: httpx.AsyncClient) -> Case:
    member = "urn:li:person:collect"
    fake = await stack.enter_async_context(FakeLinkedIn(tokens={TOKEN: member}))
    fake.posts["urn:li:share:71"] = Post("urn:li:share:71", {"author": member}, 0.0)
    # An app LinkedIn approved for the Community Management API, its members linked with the scope.
    fake.post_analytics_readers.add(member)

    def report(views: int, likes: int, comments: int) -> None:
        fake.posts["urn:li:share:71"].analytics.update(IMPRESSION=views, REACTION=likes, COMMENT=comments)

    calls = lambda: sum("memberCreatorPostAnalytics" in r.path for r in fake.requests)  # noqa: E731
    scopes = "openid profile w_member_social r_member_postAnalytics"
    reader = LinkedInMetrics(http, fake.base_url)
    return Case(Platform.LINKEDIN, reader, "urn:li:share:71", member, calls, report, fake, scopes)


CASES = {
    "youtube": youtube_case,
    "instagram": instagram_case,
    "x": x_case,
    "tiktok": tiktok_case,
    "linkedin": linkedin_case,
}


async def _seed(
    sessions: async_sessionmaker[AsyncSession], case: Case, *, remote_id: str | None = None
) -> int:
    published = PUBLISHED
    async with sessions.begin() as s:
        team = Team(chat="console", external_id=uuid.uuid4().hex, name="t", timezone="UTC")
        s.add(team)
        await s.flush()
        user = User(team_id=team.id, external_id="u")
        media = MediaAsset(team_id=team.id, path="/v.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        account = SocialAccount(
            team_id=team.id, platform=case.platform.value, remote_account_id=case.account, scopes=case.scopes
        )
        s.add_all([user, media, account])
        await s.flush()
        post = ScheduledPost(
            team_id=team.id,
            author_id=user.id,
            account_id=account.id,
            media_id=media.id,
            batch_id=uuid.uuid4().hex,
            platform=case.platform.value,
            run_at=published,
            due_at=published,
            status=PostStatus.PUBLISHED.value,
            idempotency_key=uuid.uuid4().hex,
            remote_id=remote_id or case.remote_id,
            published_at=published,
        )
        s.add(post)
        await s.flush()
        return post.id


async def _readings(sessions: async_sessionmaker[AsyncSession], post_id: int) -> list[tuple[Any, ...]]:
    async with sessions() as s:
        rows = await s.execute(
            select(PostResult).where(PostResult.post_id == post_id).order_by(PostResult.checkpoint_s)
        )
        return [(r.checkpoint_s, r.state, r.views, r.likes, r.comments) for r in rows.scalars()]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _collector(
    w: Worker, case: Case, clock: Clock, tokens: TokenSource | None = None, chat: Any = None, **conf: Any
) -> ResultsCollector:
    source = tokens or StaticTokens(TOKEN, case.account)
    return ResultsCollector(
        ResultReads(w.sessions, w.processor.worker_id),
        {case.platform: case.reader},
        lambda account: source,
        ResultsSettings(**conf),
        w.processor,
        clock=clock,
        chat=chat,
    )


@pytest.fixture(params=sorted(CASES))
async def case(request: pytest.FixtureRequest, http: httpx.AsyncClient) -> AsyncIterator[Case]:
    async with AsyncExitStack() as stack:
        yield await CASES[str(request.param)](stack, http)


async def test_each_checkpoint_is_read_once_and_kept_per_post_and_time(
    db: Database, settings: Settings, case: Case
) -> None:
    async with worker(db, settings, "http://127.0.0.1:9", worker_id="w1", shared_limits=True) as w:
        post_id = await _seed(w.sessions, case)
        clock = Clock(PUBLISHED + 30 * timedelta(minutes=1))
        collector = _collector(w, case, clock)
        case.report(10, 1, 0)
        assert await collector.collect() == 0  # nothing due before the first hour
        assert case.calls() == 0

        clock.now = PUBLISHED + HOUR + timedelta(minutes=3)
        assert await collector.collect() == 1
        case.report(1204, 87, 12)
        clock.now = PUBLISHED + 24 * HOUR + timedelta(minutes=3)
        assert await collector.collect() == 1
        assert await collector.collect() == 0  # read ones are not asked again
        calls = case.calls()
        case.report(5000, 300, 40)
        clock.now = PUBLISHED + 7 * 24 * HOUR + timedelta(minutes=1)
        assert await collector.collect() == 1
        assert case.calls() > calls

        assert await _readings(w.sessions, post_id) == [
            (3600, "read", 10, 1, 0),
            (86400, "read", 1204, 87, 12),
            (604800, "read", 5000, 300, 40),
        ]
        async with w.sessions() as s:
            post = await s.get(ScheduledPost, post_id)
            assert post is not None
            # The settled (24 h) reading is what slot suggestions learn from.
            assert (post.views, post.likes, post.comments) == (1204, 87, 12)


async def test_two_workers_never_read_the_same_checkpoint(
    db: Database, settings: Settings, http: httpx.AsyncClient
) -> None:
    async with AsyncExitStack() as stack:
        case = await x_case(stack, http)
        case.report(50, 5, 1)
        w1 = await stack.enter_async_context(
            worker(db, settings, "http://127.0.0.1:9", worker_id="w1", shared_limits=True)
        )
        w2 = await stack.enter_async_context(
            worker(db, settings, "http://127.0.0.1:9", worker_id="w2", shared_limits=True)
        )
        fake: FakeX = case.fake
        for i in range(6):
            fake.tweets[str(1900 + i)] = Tweet(
                str(1900 + i), "4200", f"p{i}", [], [], "2026-11-20T18:00:00.000Z"
            )
        posts = [await _seed(w1.sessions, case, remote_id=str(1900 + i)) for i in range(6)]
        clock = Clock(PUBLISHED + 25 * HOUR)
        settled = await asyncio.gather(*(_collector(w, case, clock).collect() for w in (w1, w2, w1, w2)))
        # 1 h and 24 h for each of the six posts: twelve reads, each claimed by one worker (a
        # checkpoint claimed by both would be counted twice).
        assert sum(settled) == 12
        for post_id in posts:
            assert [r[1] for r in await _readings(w1.sessions, post_id)] == ["read", "read"]
        # A post's due checkpoints claimed together share one lookup; none is asked twice.
        assert 6 <= fake.posts_read <= 12


async def test_a_claim_of_a_worker_that_died_is_taken_over_after_its_lease(
    db: Database, settings: Settings, http: httpx.AsyncClient
) -> None:
    async with AsyncExitStack() as stack:
        case = await youtube_case(stack, http)
        case.report(7, 0, 0)
        w = await stack.enter_async_context(
            worker(db, settings, "http://127.0.0.1:9", worker_id="w2", shared_limits=True)
        )
        post_id = await _seed(w.sessions, case)
        now = PUBLISHED + HOUR + timedelta(minutes=1)
        dead = ResultReads(w.sessions, "dead-worker")
        await dead.seed(
            checkpoints_s=[3600], platforms=[case.platform], now=now, catch_up=timedelta(hours=48)
        )
        assert len(await dead.claim(now=now, lease=timedelta(seconds=300), limit=10)) == 1
        clock = Clock(now + timedelta(seconds=60))
        collector = _collector(w, case, clock, checkpoints_h=[1.0])
        assert await collector.collect() == 0 and case.calls() == 0  # still the dead worker's
        clock.now = now + timedelta(seconds=301)
        assert await collector.collect() == 1
        assert await _readings(w.sessions, post_id) == [(3600, "read", 7, 0, 0)]


async def test_failures_wait_as_the_platform_says_and_missing_scopes_are_not_asked(
    db: Database, settings: Settings, http: httpx.AsyncClient
) -> None:
    async with AsyncExitStack() as stack:
        case = await x_case(stack, http)
        fake = next(
            cb.__self__ for _, cb in stack._exit_callbacks if isinstance(getattr(cb, "__self__", None), FakeX)
        )  # type: ignore[attr-defined]
        case.report(9, 1, 0)
        w = await stack.enter_async_context(
            worker(db, settings, "http://127.0.0.1:9", worker_id="w1", shared_limits=True)
        )
        post_id = await _seed(w.sessions, case)
        clock = Clock(PUBLISHED + HOUR + timedelta(minutes=1))
        tokens = StaticTokens(TOKEN, case.account)
        collector = _collector(w, case, clock, tokens, checkpoints_h=[1.0])

        fake.rate_limit("lookup", reset_in=900)
        assert await collector.collect() == 0
        async with w.sessions() as s:
            row = (await s.execute(select(PostResult))).scalar_one()
            # Back at X's reset, no attempt spent.
            assert row.state == "due" and row.attempts == 0
            assert row.due_at >= clock.now + timedelta(seconds=890)
        clock.now += timedelta(seconds=901)

        fake.revoke(TOKEN)
        assert await collector.collect() == 0
        assert tokens.refreshes == 1
        async with w.sessions() as s:
            row = (await s.execute(select(PostResult))).scalar_one()
            assert row.state == "due" and row.attempts == 1 and "Unauthorized" in (row.note or "")
        fake.tokens[TOKEN] = case.account
        clock.now = row.due_at + timedelta(seconds=1)
        assert await collector.collect() == 1
        assert await _readings(w.sessions, post_id) == [(3600, "read", 9, 1, 0)]

        # An account linked before the reader needed a scope is not asked: "not available".
        li = await linkedin_case(stack, http)
        li.scopes = "openid profile w_member_social"
        li_post = await _seed(w.sessions, li)
        li_collector = _collector(w, li, Clock(PUBLISHED + HOUR + timedelta(minutes=1)), checkpoints_h=[1.0])
        assert await li_collector.collect() == 1
        assert li.calls() == 0
        async with w.sessions() as s:
            row = (await s.execute(select(PostResult).where(PostResult.post_id == li_post))).scalar_one()
            assert row.state == "unavailable" and row.views is None
            assert row.note == "the account was linked without r_member_postAnalytics"


async def test_the_posts_thread_reply_is_edited_as_numbers_come_in(
    db: Database, settings: Settings, http: httpx.AsyncClient
) -> None:
    async with AsyncExitStack() as stack:
        case = await youtube_case(stack, http)
        slack = await stack.enter_async_context(FakeSlack())
        slack.add_channel("C0LAUNCH", "launches")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        answer = await web.chat_postMessage(channel="C0LAUNCH", text="Scheduled #1 on YouTube")
        w = await stack.enter_async_context(
            worker(db, settings, "http://127.0.0.1:9", worker_id="w1", shared_limits=True)
        )
        post_id = await _seed(w.sessions, case)
        async with w.sessions.begin() as s:
            post = await s.get(ScheduledPost, post_id)
            assert post is not None
            team = await s.get(Team, post.team_id)
            assert team is not None
            team.chat, team.external_id = "slack", slack.team_id
            post.origin_channel, post.reply_channel, post.reply_message = "C0LAUNCH", "C0LAUNCH", answer["ts"]
        chat = NotifierRouter({ChatKind.SLACK: SlackNotifier(web)})
        clock = Clock(PUBLISHED + HOUR + timedelta(minutes=2))
        collector = _collector(w, case, clock, chat=chat)
        case.report(10, 1, 0)
        assert await collector.collect() == 1
        (started,) = [
            c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == answer["ts"]
        ]
        assert started.args["text"] == "Results on YouTube:\n1 h: 10 views · 1 like · 0 comments"

        case.report(1204, 87, 12)
        clock.now = PUBLISHED + 24 * HOUR + timedelta(minutes=2)
        assert await collector.collect() == 1
        (edit,) = slack.calls_to("chat.update")
        assert edit.args["ts"] == started.response["ts"]
        assert edit.args["text"] == (
            "Results on YouTube:\n1 h: 10 views · 1 like · 0 comments\n"
            "24 h: 1,204 views · 87 likes · 12 comments"
        )
        # One reply per post, edited: no second message in the thread.
        assert len([c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]) == 1


class BrokenTokens(StaticTokens):
    """A token source failing in a way no reader foresees."""

    async def access_token(self) -> str:
        raise RuntimeError("boom")


async def test_an_unforeseen_failure_spends_an_attempt_and_leaves_nothing_claimed(
    db: Database, settings: Settings, http: httpx.AsyncClient
) -> None:
    """Raised out of collect, the batch's claims stayed until their lease ran out and no attempt was
    counted, so the same read was claimed and failed again every lease, for ever."""
    async with AsyncExitStack() as stack:
        case = await youtube_case(stack, http)
        case.report(7, 0, 0)
        w = await stack.enter_async_context(
            worker(db, settings, "http://127.0.0.1:9", worker_id="w1", shared_limits=True)
        )
        post_id = await _seed(w.sessions, case)
        clock = Clock(PUBLISHED + HOUR + timedelta(minutes=1))
        collector = _collector(
            w, case, clock, tokens=BrokenTokens(TOKEN, case.account), checkpoints_h=[1.0], max_attempts=2
        )
        assert await collector.collect() == 0
        async with w.sessions() as session:
            [row] = (await session.execute(select(PostResult).where(PostResult.post_id == post_id))).scalars()
            assert (row.state, row.attempts, row.claimed_by) == ("due", 1, None)
        clock.now += timedelta(hours=1)
        assert await collector.collect() == 1
        async with w.sessions() as session:
            [row] = (await session.execute(select(PostResult).where(PostResult.post_id == post_id))).scalars()
            assert (row.state, row.attempts, row.claimed_by) == ("failed", 2, None)
