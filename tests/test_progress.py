"""Live upload progress in chat, through the real scheduler, the real YouTube publisher (resumable
upload in 256 KiB chunks) against the fake Data API, and the real slack_sdk / discord.py against the
fake Slack and Discord.

The relay's clock is the test's: every chunk the fake platform receives moves it 2 s, so a 10-chunk
upload "takes" 20 s and the 5 s throttle shows without sleeping. The percentage in each message says
after which chunk it was written, hence when on that clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from adapters.discord import DiscordReporter
from adapters.slack.notifier import SlackNotifier
from bot.wiring import build_app
from core.config import SchedulerSettings, Settings
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, SocialAccount, Team, User
from core.domain import ChatKind, MessageRef, Platform, PostStatus, PostView
from core.notify import NotifierRouter
from core.platforms.publishers import PublisherRegistry
from core.platforms.youtube.publisher import YouTubePublisher
from core.progress import Progress, ProgressRelay, Stage
from core.scheduler.processor import PostProcessor
from core.store import replies
from tests.clips import sized_clip
from tests.conftest import Database
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.fakes.youtube_api import CHUNK_UNIT, FakeYouTube
from tests.publishing_support import StaticTokens

TOKEN = "ya29.progress-token"
CHANNEL = "UCprogress0000000000000000"
CHUNKS = 10
SIZE = CHUNKS * CHUNK_UNIT
SECONDS_PER_CHUNK = 2.0
FAST = SchedulerSettings(lease_s=30, batch_size=5, max_in_flight=5, backoff_base_s=0.05, backoff_max_s=0.2)
_UPLOADING = re.compile(r"^YouTube #\d+: uploading (\d+) %$")


class Clock:
    """The relay's monotonic clock, moved by the fake platform receiving chunks."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Upload:
    processor: PostProcessor
    relay: ProgressRelay
    sessions: async_sessionmaker[AsyncSession]
    post_id: int

    async def row(self) -> ScheduledPost:
        async with self.sessions() as session:
            post = await session.get(ScheduledPost, self.post_id)
            assert post is not None
            return post

    async def publish(self) -> ScheduledPost:
        async with asyncio.timeout(20):
            while (post := await self.row()).status != "published":
                await self.processor.run_due()
                await asyncio.sleep(0.02)
        await self.relay.drain()
        return post


@asynccontextmanager
async def youtube_upload(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    router: NotifierRouter,
    *,
    chat: ChatKind,
    channel: str,
    reply: MessageRef | None,
    timeout_s: float = 10.0,
    lockstep: bool = False,
) -> AsyncIterator[Upload]:
    """One YouTube post, due now, queued from ``channel`` and answered by ``reply``. With
    ``lockstep``, each chunk waits until chat has shown what was queued before it: the relay's clock
    is the test's, but its chat calls take real time, and on a loaded machine a state still waiting
    behind a slow call is replaced by a newer one (as designed), so how many steps show would
    depend on the machine's load rather than on the throttle under test."""
    clock = Clock()
    relays: list[ProgressRelay] = []

    async def tick(request: httpx.Request) -> None:
        # A chunk, not a "how much do you hold" query (Content-Range: bytes */size).
        if request.method == "PUT" and "*/" not in request.headers.get("content-range", "*/"):
            if lockstep and relays:
                await relays[0].drain(timeout_s)
            clock.now += SECONDS_PER_CHUNK

    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    video = sized_clip(tmp_path / "launch.mp4", size_bytes=SIZE)
    try:
        async with (
            FakeYouTube(tokens={TOKEN: CHANNEL}) as youtube,
            httpx.AsyncClient(timeout=30, event_hooks={"request": [tick]}) as http,
        ):
            registry = PublisherRegistry(settings, http)
            registry.register(
                YouTubePublisher(http, base_url=youtube.base_url, chunk_size=CHUNK_UNIT, retry_backoff_s=0)
            )
            async with sessions.begin() as session:
                team = Team(chat=chat.value, external_id="T1", name="Launch team")
                session.add(team)
                await session.flush()
                user = User(team_id=team.id, external_id="U1", display_name="Ada")
                account = SocialAccount(
                    team_id=team.id, platform="youtube", remote_account_id=CHANNEL, status="active"
                )
                media = MediaAsset(
                    team_id=team.id,
                    path=str(video),
                    sha256=hashlib.sha256(video.read_bytes()).hexdigest(),
                    size_bytes=SIZE,
                    mime="video/mp4",
                    original_name="launch.mp4",
                )
                session.add_all([user, account, media])
                await session.flush()
                now = datetime.now(UTC)
                post = ScheduledPost(
                    team_id=team.id,
                    author_id=user.id,
                    account_id=account.id,
                    media_id=media.id,
                    batch_id=uuid.uuid4().hex,
                    platform="youtube",
                    caption="Launch day #launch",
                    title="Launch day",
                    run_at=now,
                    due_at=now,
                    idempotency_key=uuid.uuid4().hex,
                    upload_state={},
                    origin_channel=channel,
                )
                session.add(post)
                await session.flush()
                post_id = post.id
                if reply is not None:
                    assert await replies.remember(session, team.id, [post_id], reply) == 1

            async def reply_to(pid: int) -> MessageRef | None:
                async with sessions() as session:
                    return await replies.reply_to(session, pid)

            relay = ProgressRelay(router, replies=reply_to, monotonic=clock, timeout_s=timeout_s)
            relays.append(relay)
            processor = PostProcessor(
                sessions,
                registry,
                router,
                FAST,
                tokens_for=lambda _account: StaticTokens(TOKEN, CHANNEL),
                worker_id="w1",
                progress=relay,
            )
            yield Upload(processor, relay, sessions, post_id)
    finally:
        await engine.dispose()


def check_throttled(texts: list[str], post: ScheduledPost) -> None:
    """The messages a post's progress went through: a few uploading steps, at least 5 s apart on the
    relay's clock (chunk k is acknowledged at k * 2 s), then the published link."""
    assert texts[-1] == f"YouTube #{post.id}: published: {post.remote_url}", texts
    assert post.remote_url and post.remote_url.startswith("https://www.youtube.com/watch?v=")
    steps = [int(m.group(1)) * CHUNKS // 100 for t in texts if (m := _UPLOADING.match(t))]
    assert steps[0] == 0, texts
    assert len(steps) >= 3, texts
    times = [k * SECONDS_PER_CHUNK for k in steps]
    assert all(b - a >= 5.0 for a, b in itertools.pairwise(times)), texts
    # The throttle held most of the eleven reports back; every message is a new state.
    assert len(texts) < CHUNKS, texts
    assert len(set(texts)) == len(texts), texts


async def test_slack_message_follows_the_upload_and_ends_with_the_link(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    async with FakeSlack() as slack:
        slack.add_channel("C0LAUNCH", "launches")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        answer = await web.chat_postMessage(channel="C0LAUNCH", text="Scheduled #1 on YouTube")
        reply = MessageRef("C0LAUNCH", answer["ts"])
        router = NotifierRouter({ChatKind.SLACK: SlackNotifier(web)})
        async with youtube_upload(
            db,
            settings,
            tmp_path,
            router,
            chat=ChatKind.SLACK,
            channel="C0LAUNCH",
            reply=reply,
            lockstep=True,
        ) as upload:
            post = await upload.publish()

        # The progress message is a thread reply to the scheduling answer, then only edited.
        (started,) = [
            c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == reply.message_id
        ]
        progress_ts = started.response["ts"]
        updates = slack.calls_to("chat.update")
        assert updates and all(c.status == 200 and c.response["ok"] for c in updates)
        assert {(c.args["channel"], c.args["ts"]) for c in updates} == {("C0LAUNCH", progress_ts)}
        assert all(c.args["text"] for c in updates), "every edit carries a top-level text"
        texts = [started.args["text"], *(c.args["text"] for c in updates)]
        check_throttled(texts, post)
        (shown,) = [m for m in slack.messages["C0LAUNCH"] if m["ts"] == progress_ts]
        assert shown["text"] == texts[-1] and shown["thread_ts"] == reply.message_id
        # The result message still goes out as before.
        assert any(
            f"#{post.id}" in m["text"] and m["ts"] != progress_ts for m in slack.posted("C0LAUNCH")[2:]
        )


async def test_slack_rate_limited_edits_wait_and_failed_ones_are_dropped(
    db: Database, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlack() as slack:
        slack.add_channel("C0LAUNCH", "launches")
        # The first edit is rate limited for 1 s (sent again after it), the next finds the message
        # deleted (dropped: no retry brings it back).
        slack.rate_limit("chat.update", retry_after=1)
        slack.fail("chat.update", "message_not_found")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        answer = await web.chat_postMessage(channel="C0LAUNCH", text="Scheduled #1 on YouTube")
        router = NotifierRouter({ChatKind.SLACK: SlackNotifier(web)})
        caplog.set_level(logging.INFO, logger="core.progress")
        async with youtube_upload(
            db,
            settings,
            tmp_path,
            router,
            chat=ChatKind.SLACK,
            channel="C0LAUNCH",
            reply=MessageRef("C0LAUNCH", answer["ts"]),
        ) as upload:
            post = await upload.publish()
        assert post.status == "published" and post.attempts == 1
        updates = slack.calls_to("chat.update")
        assert [c.response.get("error") for c in updates[:2]] == ["ratelimited", "message_not_found"]
        assert updates[0].status == 429
        # The rate-limited state went out again (or a newer one of the same message did).
        assert updates[1].args["ts"] == updates[0].args["ts"]
        waited = [r for r in caplog.records if r.getMessage() == "progress rate limited"]
        assert [getattr(r, "wait_s", None) for r in waited] == [1.0]
        dropped = [r for r in caplog.records if r.getMessage() == "progress message dropped"]
        assert len(dropped) == 1
        assert updates[-1].response["ok"] and updates[-1].args["text"].endswith(post.remote_url or "?")


def _view(post_id: int, chat: ChatKind, team: str, channel: str) -> PostView:
    return PostView(
        id=post_id,
        chat=chat,
        team_id=team,
        platform=Platform.YOUTUBE,
        status=PostStatus.RUNNING,
        run_at=datetime.now(UTC),
        caption=f"clip {post_id}",
        title=None,
        author_id="U1",
        channel_id=channel,
        thread_id=None,
        attempts=1,
        last_error=None,
        remote_id=None,
        remote_url=None,
        media_name=None,
        batch_id=f"b{post_id}",
    )


async def _forty_uploads(relay: ProgressRelay, views: list[PostView]) -> dict[int, str]:
    """Forty uploads reporting every 10 % at once, then ending: the final text each must show."""
    reports = [relay.reporter(view) for view in views]
    for step in range(0, 101, 10):
        for report in reports:
            report(Progress(Stage.UPLOADING, sent=step, total=100))
        await asyncio.sleep(0.05)
    finals = {}
    for view in views:
        url = f"https://www.youtube.com/watch?v=v{view.id}"
        relay.finish(view.id, Progress(Stage.PUBLISHED, url=url))
        finals[view.id] = f"YouTube #{view.id}: published: {url}"
    await asyncio.wait_for(relay.drain(), 60)
    return finals


async def test_forty_uploads_in_one_workspace_all_end_on_their_final_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # chat.update's Tier 3 per workspace (50 a minute, the fake's default), on a 3 s "minute" so
    # that the test is quick; the relay paces the workspace to the same rate.
    window = 3.0
    caplog.set_level(logging.INFO, logger="core.progress")
    async with FakeSlack(tier_window_s=window) as slack:
        slack.add_channel("C0LAUNCH", "launches")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        relay = ProgressRelay(
            NotifierRouter({ChatKind.SLACK: SlackNotifier(web)}),
            interval_s=0,
            paces={ChatKind.SLACK: window / 50},
        )
        views = [_view(i, ChatKind.SLACK, slack.team_id, "C0LAUNCH") for i in range(1, 41)]
        finals = await _forty_uploads(relay, views)
        shown = {m["text"] for m in slack.posted("C0LAUNCH")}
        missing = [text for text in finals.values() if text not in shown]
        assert not missing, missing
        assert not [c for c in slack.calls if c.status == 429], "the workspace's limit was exceeded"
        assert not [r for r in caplog.records if r.getMessage() == "progress message dropped"]
        # Coalesced: each message's newest state only, not one call per report (11 of them each).
        calls = slack.calls_to("chat.update") + slack.calls_to("chat.postMessage")
        assert len(calls) < 40 * 11


async def test_forty_uploads_in_one_discord_channel_all_end_on_their_final_state(
    discord_fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    # Five edits per channel per second: discord.py waits out what the fake's headers announce.
    # With one call per channel under way, none waits more than a window, far inside the relay's
    # timeout; forty edits queued at once in discord.py would wait eight windows and time out.
    discord_fake.edit_limit, discord_fake.edit_window_s = 5, 1.0
    caplog.set_level(logging.INFO, logger="core.progress")
    rest, channel, _reply = await _discord(discord_fake)
    try:
        relay = ProgressRelay(NotifierRouter({ChatKind.DISCORD: rest.notifier()}), interval_s=0, timeout_s=3)
        views = [_view(i, ChatKind.DISCORD, "G1", channel) for i in range(1, 41)]
        finals = await _forty_uploads(relay, views)
    finally:
        await rest.close()
    shown = {m["content"] for m in discord_fake.channel_messages(channel)}
    missing = [text for text in finals.values() if text not in shown]
    assert not missing, missing
    assert not [r for r in caplog.records if r.getMessage() == "progress message dropped"]


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    import discord

    original = discord.http.Route.BASE
    async with FakeDiscord() as fake:
        yield fake
    discord.http.Route.BASE = original


async def _discord(fake: FakeDiscord) -> tuple[DiscordReporter, str, MessageRef]:
    guild = fake.add_guild("Launch", channels=("launches",))
    channel = next(iter(guild.channels))
    rest = DiscordReporter(fake.token, fake.api_base_url)
    await rest.start()
    answer = await rest.client.get_partial_messageable(int(channel)).send("Scheduled #1 on YouTube")
    return rest, channel, MessageRef(channel, str(answer.id))


async def test_discord_message_follows_the_upload_and_ends_with_the_link(
    db: Database, settings: Settings, tmp_path: Path, discord_fake: FakeDiscord
) -> None:
    rest, channel, reply = await _discord(discord_fake)
    try:
        router = NotifierRouter({ChatKind.DISCORD: rest.notifier()})
        async with youtube_upload(
            db, settings, tmp_path, router, chat=ChatKind.DISCORD, channel=channel, reply=reply, lockstep=True
        ) as upload:
            post = await upload.publish()
    finally:
        await rest.close()
    (progress,) = [m for m in discord_fake.channel_messages(channel) if m.get("message_reference")]
    assert progress["type"] == 19
    assert progress["message_reference"]["message_id"] == reply.message_id
    edits = [body for mid, body in discord_fake.channel_edits if mid == progress["id"]]
    assert edits and {mid for mid, _ in discord_fake.channel_edits} == {progress["id"]}
    # The message was created with the first state, then edited (PATCH) through the others.
    first = discord_fake.messages[progress["id"]]
    texts = [f"YouTube #{post.id}: uploading 0 %", *(b["content"] for b in edits)]
    check_throttled(texts, post)
    assert first["content"] == texts[-1] and first["edited_timestamp"]


async def test_discord_rate_limited_edits_wait_and_the_upload_goes_on(
    db: Database, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import discord

    original = discord.http.Route.BASE
    # One edit per 2 s in the channel: Discord's 429 (or discord.py waiting out the bucket its
    # headers announced) must not hold the upload, and the final state still shows.
    async with FakeDiscord(edit_limit=1, edit_window_s=2) as fake:
        rest, channel, reply = await _discord(fake)
        caplog.set_level(logging.WARNING, logger="core.progress")
        try:
            router = NotifierRouter({ChatKind.DISCORD: rest.notifier()})
            async with youtube_upload(
                db, settings, tmp_path, router, chat=ChatKind.DISCORD, channel=channel, reply=reply
            ) as upload:
                post = await upload.publish()
        finally:
            await rest.close()
    discord.http.Route.BASE = original
    assert post.status == "published" and post.attempts == 1
    (progress,) = [m for m in fake.channel_messages(channel) if m.get("message_reference")]
    assert progress["content"] == f"YouTube #{post.id}: published: {post.remote_url}"
    assert not [r for r in caplog.records if r.getMessage() == "progress message dropped"]
    # The result message went out all the same.
    assert any(m.get("embeds") for m in fake.channel_messages(channel))


async def test_console_shows_the_stages_in_its_status_line_and_the_result_once(
    settings: Settings, db: Database, clip: Path
) -> None:
    app = await build_app(settings, schema=db.schema, worker_id="w")
    out: list[str] = []
    live: list[tuple[int, str | None]] = []
    try:
        app.notifier.register(
            ChatKind.CONSOLE, ConsoleNotifier(out.append, live=lambda i, t: live.append((i, t)))
        )
        console = ConsoleAdapter(app.postbot, user="ana")
        await console.handle(f"/post sandbox Hello --file {clip}")
        await app.start_scheduler()
        async with asyncio.timeout(15):
            while True:
                async with app.sessions() as session:
                    post = (await session.execute(select(ScheduledPost))).scalar_one()
                if post.status == "published":
                    break
                await asyncio.sleep(0.05)
        assert app.processor.progress is not None
        await app.processor.progress.drain()
    finally:
        await app.close()
    # A terminal can't edit a printed line: progress lives in the status line under the prompt and
    # is cleared when the result is printed, once (issue 23: every publish was announced twice).
    assert live[0] == (post.id, f"Sandbox #{post.id}: uploading 0 %"), live
    assert (post.id, None) in live
    after = live[live.index((post.id, None)) + 1 :]
    assert all(text is None for _, text in after), live
    assert out == [f"Published #{post.id} on Sandbox: {post.remote_url}"], out


async def test_a_stop_waits_for_queued_final_states_only_so_long(caplog: pytest.LogCaptureFixture) -> None:
    # Slack's pace (one call per 1.2 s per workspace) with forty final states queued is 48 s; a
    # stopping worker gives them the relay's timeout, then says what it did not show.
    caplog.set_level(logging.WARNING, logger="core.progress")
    async with FakeSlack() as slack:
        slack.add_channel("C0LAUNCH", "launches")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        relay = ProgressRelay(NotifierRouter({ChatKind.SLACK: SlackNotifier(web)}), interval_s=0, timeout_s=1)
        views = [_view(i, ChatKind.SLACK, slack.team_id, "C0LAUNCH") for i in range(1, 41)]
        for view in views:
            relay.reporter(view)(Progress(Stage.UPLOADING, sent=0, total=100))
        for view in views:
            relay.finish(view.id, Progress(Stage.PUBLISHED, url=f"https://youtu.be/{view.id}"))
        started = asyncio.get_running_loop().time()
        await relay.drain(within_s=1.0)
        assert asyncio.get_running_loop().time() - started < 3
    (said,) = [r for r in caplog.records if r.getMessage() == "progress not shown before stopping"]
    assert 30 <= getattr(said, "messages", 0) <= 40
