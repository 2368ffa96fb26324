"""The weekly results digest: sent at the day and time an admin set (the team's zone), once per week
across several processes, on SQLite and PostgreSQL; a slot missed while postbot was down goes out
once when it is back within the day; the chart reaches Slack through the external upload flow
(files.getUploadURLExternal, the POST, files.completeUploadExternal) and Discord as an attachment."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord.http
import pytest
from matplotlib.colors import to_rgb
from PIL import Image
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.discord import DiscordReporter
from adapters.slack.notifier import SlackNotifier
from core.alerts import Alerter
from core.charts import views_figure
from core.config import AlertSettings, ResultsSettings
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import DigestSend, MediaAsset, PostResult, ResultsDigest, ScheduledPost, Team, User
from core.domain import ChatKind, DigestOutcome, Platform, PostStatus, PostView, ResultsReport
from core.notify import NotifierRouter
from core.render import digest_setting_text
from core.scheduler.digests import DigestJob, last_slot
from core.store.digests import DigestStore, set_digest, team_digests
from tests.conftest import Database
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack, documented_bot_scopes

TZ = "Europe/Berlin"
# Monday 7 December 2026, 09:00 in Berlin (08:00 UTC): the digest's slot.
SLOT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
MONDAY, NINE = 0, 9 * 60
CHANNEL, SECRET = "C0LAUNCH", "C0SECRET"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Recorder:
    """A chat that records digests; slow on purpose, so racing workers overlap."""

    sent: list[tuple[str, str, ResultsReport, bytes | None]] = field(default_factory=list)
    fail: list[Exception] = field(default_factory=list)

    def reaches(self, chat: ChatKind) -> bool:
        return chat is ChatKind.SLACK

    async def digest(
        self, chat: ChatKind, team_id: str, channel_id: str, report: ResultsReport, chart: bytes | None
    ) -> None:
        await asyncio.sleep(0.05)
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((team_id, channel_id, report, chart))


@asynccontextmanager
async def database(db: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """An engine of its own, as a separate process has."""
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def seed(sessions: async_sessionmaker[AsyncSession], *, team_external: str = "T0POSTBOT") -> int:
    """A Slack team in Berlin with posts published in the digest's week from #launch (two YouTube,
    one Instagram), one from a private channel, and one from the week before."""
    async with sessions.begin() as s:
        team = Team(chat="slack", external_id=team_external, name="crew", timezone=TZ)
        s.add(team)
        await s.flush()
        user = User(team_id=team.id, external_id="U0ALICE")
        s.add(user)
        media = MediaAsset(team_id=team.id, path="/v.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        s.add(media)
        await s.flush()

        async def post(platform: str, age: timedelta, channel: str, url: str, views: int) -> None:
            at = SLOT - age
            row = ScheduledPost(
                team_id=team.id,
                author_id=user.id,
                media_id=media.id,
                batch_id=uuid.uuid4().hex,
                platform=platform,
                run_at=at,
                due_at=at,
                status=PostStatus.PUBLISHED.value,
                idempotency_key=uuid.uuid4().hex,
                remote_id=uuid.uuid4().hex[:10],
                remote_url=url,
                published_at=at,
                origin_channel=channel,
            )
            s.add(row)
            await s.flush()
            s.add(
                PostResult(
                    post_id=row.id,
                    checkpoint_s=86400,
                    state="read",
                    due_at=at,
                    attempts=0,
                    views=views,
                    likes=views // 10,
                    comments=views // 100,
                )
            )

        await post("youtube", timedelta(days=2), CHANNEL, "https://youtu.be/aaa", 1204)
        await post("youtube", timedelta(days=5), CHANNEL, "https://youtu.be/bbb", 300)
        await post("instagram", timedelta(days=3), CHANNEL, "https://www.instagram.com/reel/ccc/", 2400)
        await post("youtube", timedelta(days=4), SECRET, "https://youtu.be/secret", 99999)
        await post("youtube", timedelta(days=9), CHANNEL, "https://youtu.be/old", 751)
        return team.id


async def set_monday_nine(sessions: async_sessionmaker[AsyncSession], team_id: int, *, at: datetime) -> None:
    async with sessions.begin() as s:
        await set_digest(s, team_id, CHANNEL, weekday=MONDAY, minute=NINE, by="U0ADMIN", now=at)


def job(sessions: async_sessionmaker[AsyncSession], worker: str, sink: object, clock: Clock) -> DigestJob:
    return DigestJob(sessions, worker, sink, ResultsSettings(), clock=clock)  # type: ignore[arg-type]


def test_the_slot_is_the_last_weekday_and_time_in_the_teams_zone() -> None:
    # Monday 09:00 Berlin is 08:00 UTC in winter, 07:00 UTC in summer.
    assert last_slot(SLOT + timedelta(minutes=1), tz=TZ, weekday=MONDAY, minute=NINE) == SLOT
    assert last_slot(SLOT - timedelta(minutes=1), tz=TZ, weekday=MONDAY, minute=NINE) == SLOT - timedelta(
        days=7
    )
    summer = datetime(2026, 7, 6, 7, 30, tzinfo=UTC)
    assert last_slot(summer, tz=TZ, weekday=MONDAY, minute=NINE) == datetime(2026, 7, 6, 7, 0, tzinfo=UTC)


async def test_two_workers_send_one_digest_a_week_with_only_the_channels_posts(db: Database) -> None:
    sink = Recorder()
    clock = Clock(SLOT + timedelta(minutes=1))
    async with database(db) as one, database(db) as two:
        team_id = await seed(one)
        await set_monday_nine(one, team_id, at=SLOT - timedelta(days=3))
        w1, w2 = job(one, "w1", sink, clock), job(two, "w2", sink, clock)
        sent = await asyncio.gather(w1.send_due(), w2.send_due(), w1.send_due(), w2.send_due())
        assert sum(sent) == 1 and len(sink.sent) == 1
        team, channel, report, chart = sink.sent[0]
        assert (team, channel) == ("T0POSTBOT", CHANNEL)
        # The week before the slot, from this channel only: the private channel's post is not in it.
        assert sorted(p.views or 0 for p in report.posts) == [300, 1204, 2400]
        youtube = next(r for r in report.platforms if r.platform.value == "youtube")
        assert (youtube.posts, youtube.views, youtube.previous_views) == (2, 1504, 751)
        assert [p.url for p in youtube.best] == ["https://youtu.be/aaa", "https://youtu.be/bbb"]
        assert chart is not None and chart.startswith(b"\x89PNG\r\n\x1a\n")

        # The rest of the week: nothing more, whichever worker looks.
        clock.now = SLOT + timedelta(hours=3)
        assert sum(await asyncio.gather(w1.send_due(), w2.send_due())) == 0
        # Next Monday: the next one.
        clock.now = SLOT + timedelta(days=7, minutes=1)
        assert sum(await asyncio.gather(w1.send_due(), w2.send_due())) == 1
        async with one() as s:
            periods = (await s.execute(select(DigestSend.period, DigestSend.state))).all()
        assert sorted(periods) == [("2026-W50", "sent"), ("2026-W51", "sent")]


async def test_a_missed_slot_goes_out_once_when_back_within_the_day_and_not_after(db: Database) -> None:
    sink = Recorder()
    async with database(db) as sessions:
        team_id = await seed(sessions)
        await set_monday_nine(sessions, team_id, at=SLOT - timedelta(days=3))
        # postbot was down at 09:00 and comes back at 14:00: the digest goes out then, once.
        clock = Clock(SLOT + timedelta(hours=5))
        assert await job(sessions, "w1", sink, clock).send_due() == 1
        assert await job(sessions, "w1", sink, clock).send_due() == 0
    # A restart (a new process, a new worker id, its own engine) does not send it again.
    async with database(db) as sessions:
        clock.now += timedelta(hours=2)
        assert await job(sessions, "w9", sink, clock).send_due() == 0
        # Down all of the next Monday and back on Tuesday afternoon: that week's digest is skipped.
        clock.now = SLOT + timedelta(days=8, hours=6)
        assert await job(sessions, "w9", sink, clock).send_due() == 0
    assert len(sink.sent) == 1


async def test_a_digest_set_after_this_weeks_time_starts_next_week(db: Database) -> None:
    sink = Recorder()
    async with database(db) as sessions:
        team_id = await seed(sessions)
        await set_monday_nine(sessions, team_id, at=SLOT + timedelta(minutes=30))
        clock = Clock(SLOT + timedelta(hours=1))
        assert await job(sessions, "w1", sink, clock).send_due() == 0
        clock.now = SLOT + timedelta(days=7, seconds=30)
        assert await job(sessions, "w1", sink, clock).send_due() == 1
        # Moved to Wednesday after Monday's went out: that week has had its digest.
        async with sessions.begin() as s:
            await set_digest(s, team_id, CHANNEL, weekday=2, minute=NINE, by="U0ADMIN", now=clock.now)
        clock.now = SLOT + timedelta(days=9, minutes=1)
        assert await job(sessions, "w1", sink, clock).send_due() == 0
        clock.now = SLOT + timedelta(days=16, minutes=1)
        assert await job(sessions, "w1", sink, clock).send_due() == 1
    assert len(sink.sent) == 2


async def test_a_claim_whose_worker_died_is_taken_over_after_its_lease_and_failures_retry(
    db: Database,
) -> None:
    sink = Recorder()
    clock = Clock(SLOT + timedelta(minutes=1))
    async with database(db) as sessions:
        team_id = await seed(sessions)
        await set_monday_nine(sessions, team_id, at=SLOT - timedelta(days=3))
        store = DigestStore(sessions, "w1")
        (setting,) = await store.settings()
        # w1 claims the week and dies before sending.
        claimed = await store.claim(
            setting, "2026-W50", now=clock.now, lease=timedelta(minutes=5), max_attempts=5
        )
        assert claimed is not None
        w2 = job(sessions, "w2", sink, clock)
        assert await w2.send_due() == 0, "the claim still holds"
        # The chat fails once (a 5xx): tried again later, not lost and not doubled.
        clock.now += timedelta(minutes=6)
        sink.fail.append(RuntimeError("slack said 503"))
        assert await w2.send_due() == 0
        async with sessions() as s:
            row = (await s.execute(select(DigestSend))).scalar_one()
        assert (row.state, row.attempts, row.note) == ("retry", 2, "RuntimeError: slack said 503")
        assert await w2.send_due() == 0, "waits for its backoff"
        clock.now += timedelta(minutes=5)
        assert await w2.send_due() == 1
        assert await w2.send_due() == 0
    assert len(sink.sent) == 1


# --------------------------------------------------------------------------- Slack


@asynccontextmanager
async def slack_world(
    db: Database, scopes: set[str] | None = None
) -> AsyncIterator[tuple[FakeSlack, DigestJob, Clock]]:
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(FakeSlack(scopes=scopes))
        slack.add_channel(CHANNEL, "launch")
        sessions = await stack.enter_async_context(database(db))
        team_id = await seed(sessions, team_external=slack.team_id)
        await set_monday_nine(sessions, team_id, at=SLOT - timedelta(days=3))
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        router = NotifierRouter({ChatKind.SLACK: SlackNotifier(web)})
        clock = Clock(SLOT + timedelta(minutes=1))
        yield slack, DigestJob(sessions, "w1", router, ResultsSettings(), clock=clock), clock


async def test_slack_gets_the_chart_through_the_external_upload_flow(db: Database) -> None:
    async with slack_world(db) as (slack, digests, _clock):
        assert await digests.send_due() == 1
        (ticket,) = slack.calls_to("files.getUploadURLExternal")
        (upload,) = slack.shared_uploads(CHANNEL)
        assert upload.data is not None
        assert ticket.args["filename"] == "postbot-results-2026-12-07.png" == upload.filename
        assert int(ticket.args["length"]) == len(upload.data) == upload.length
        (done,) = slack.calls_to("files.completeUploadExternal")
        assert done.response["ok"] and done.args["channel_id"] == CHANNEL
        assert upload.title == "Views per post, last 7 days"
        comment = done.args["initial_comment"]
        assert comment.startswith("*Weekly results, 30 Nov to 7 Dec (Europe/Berlin)*\n")
        assert "<https://youtu.be/aaa|#1> 1,204 views" in comment
        assert "secret" not in comment and "99,999" not in comment
        # The message in the channel carries the file and the numbers.
        (message,) = slack.posted(CHANNEL)
        assert message["files"][0]["id"] == upload.file_id and message["text"] == comment

        # The PNG is the week's chart: the series the report has, each drawn on the picture.
        setting = (await digests.store.settings())[0]
        report = await digests.report(setting, SLOT)
        (axes,) = views_figure(report.posts, days=7, tz=TZ).axes
        series = {line.get_label(): list(line.get_ydata()) for line in axes.get_lines()}
        assert series == {"Instagram": [2400], "YouTube": [300, 1204]}
        image = Image.open(io.BytesIO(upload.data))
        assert image.format == "PNG" and image.size == (800, 450)
        pixels = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=800 * 450) or []}
        for line in axes.get_lines():
            assert tuple(round(c * 255) for c in to_rgb(line.get_color())) in pixels, line.get_label()


async def test_slack_without_files_write_keeps_the_digest_for_a_retry(db: Database) -> None:
    async with slack_world(db, scopes=documented_bot_scopes() - {"files:write"}) as (slack, digests, clock):
        assert await digests.send_due() == 0
        (refused,) = slack.calls_to("files.getUploadURLExternal")
        assert refused.response["error"] == "missing_scope" and refused.response["needed"] == "files:write"
        assert slack.shared_uploads(CHANNEL) == [] and slack.posted(CHANNEL) == []
        # The admin adds the scope (reinstalls the app): the next try sends it, once.
        slack.scopes.add("files:write")
        clock.now += timedelta(minutes=3)
        assert await digests.send_due() == 1
        assert await digests.send_due() == 0
        assert len(slack.shared_uploads(CHANNEL)) == 1


async def test_the_slack_fake_refuses_an_upload_flow_that_breaks_the_documented_rules() -> None:
    async with FakeSlack() as slack:
        slack.add_channel(CHANNEL, "launch")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        with pytest.raises(SlackApiError) as zero:
            await web.files_getUploadURLExternal(filename="a.png", length=0)
        assert zero.value.response["error"] == "missing_argument"
        ticket = await web.files_getUploadURLExternal(filename="a.png", length=4)
        async with aiohttp.ClientSession() as http:
            async with http.post(ticket["upload_url"], data=b"too long") as response:
                assert response.status == 400
            with pytest.raises(SlackApiError) as early:
                await web.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "a"}])
            assert early.value.response["error"] == "file_not_found"
            async with http.post(ticket["upload_url"], data=b"\x89PNG") as response:
                assert response.status == 200
        slack.remove_bot(CHANNEL)
        with pytest.raises(SlackApiError) as outside:
            await web.files_completeUploadExternal(
                files=[{"id": ticket["file_id"], "title": "a"}], channel_id=CHANNEL
            )
        assert outside.value.response["error"] == "not_in_channel"


# --------------------------------------------------------------------------- Discord


async def test_discord_gets_an_embed_with_the_chart_attached(db: Database) -> None:
    original_base = discord.http.Route.BASE
    try:
        async with FakeDiscord() as fake, database(db) as sessions:
            guild = fake.add_guild("launch crew")
            channel = next(iter(guild.channels))
            team_id = await seed(sessions, team_external=guild.id)
            async with sessions.begin() as s:
                team = await s.get(Team, team_id)
                assert team is not None
                team.chat = "discord"
                for post in (await s.execute(select(ScheduledPost))).scalars():
                    post.origin_channel = channel if post.origin_channel == CHANNEL else post.origin_channel
                await set_digest(
                    s, team_id, channel, weekday=MONDAY, minute=NINE, by="1", now=SLOT - timedelta(days=3)
                )
            rest = DiscordReporter(fake.token, fake.api_base_url)
            await rest.start()
            try:
                router = NotifierRouter({ChatKind.DISCORD: rest.notifier()})
                clock = Clock(SLOT + timedelta(minutes=1))
                assert await DigestJob(sessions, "w1", router, ResultsSettings(), clock=clock).send_due() == 1
            finally:
                await rest.close()
            (message,) = fake.channel_messages(channel)
            (embed,) = message["embeds"]
            assert embed["title"] == "Weekly results, 30 Nov to 7 Dec (Europe/Berlin)"
            assert embed["image"]["url"] == "attachment://results.png"
            youtube = next(f for f in embed["fields"] if f["name"] == "YouTube")
            assert "[#1](<https://youtu.be/aaa>) 1,204 views" in youtube["value"]
            assert all("secret" not in f["value"] for f in embed["fields"])
            (attached,) = message["attachments"]
            assert attached["filename"] == "results.png" and attached["content_type"] == "image/png"
            image = Image.open(io.BytesIO(fake.attachments[attached["id"]].data))
            assert image.format == "PNG" and image.size == (800, 450)
    finally:
        discord.http.Route.BASE = original_base


# --------------------------------------------------------------------------- an unreachable channel

ADMIN, OPS = "U0ADMIN", "U0OPS"


@dataclass
class Unreachable:
    slack: FakeSlack
    jobs: list[DigestJob]
    clock: Clock
    sessions: async_sessionmaker[AsyncSession]
    team_id: int

    def dms(self, user: str) -> list[dict[str, Any]]:
        channel = self.slack.ims.get(user)
        return self.slack.posted(channel) if channel else []

    async def shown(self) -> str:
        """What /digest answers in the channel now."""
        async with self.sessions() as s:
            (view,) = await team_digests(s, self.team_id)
        return digest_setting_text(DigestOutcome(view, changed=False))

    async def week(self, weeks: int) -> int:
        self.clock.now = SLOT + timedelta(days=7 * weeks, minutes=1)
        return sum(await asyncio.gather(*(j.send_due() for j in self.jobs)))

    async def set_again(self) -> None:
        async with self.sessions.begin() as s:
            await set_digest(
                s, self.team_id, CHANNEL, weekday=MONDAY, minute=NINE, by=ADMIN, now=self.clock.now
            )


@asynccontextmanager
async def unreachable_world(
    db: Database, *, workers: int = 1, ops_admins: list[str] | None = None
) -> AsyncIterator[Unreachable]:
    """#launch's digest set by U0ADMIN; ``workers`` processes, each with its own engine. The chat's
    admins, as alerts reach them (slack.admin_user_ids, no ops channel): ``ops_admins``."""
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(FakeSlack())
        slack.add_channel(CHANNEL, "launch")
        slack.add_user(ADMIN, "ada", is_admin=True)
        slack.add_user(OPS, "oli", is_admin=True)
        first = await stack.enter_async_context(database(db))
        team_id = await seed(first, team_external=slack.team_id)
        await set_monday_nine(first, team_id, at=SLOT - timedelta(days=3))
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        router = NotifierRouter({ChatKind.SLACK: SlackNotifier(web)})
        alerter = Alerter(
            AlertSettings(),
            router,
            channels={ChatKind.SLACK: None},
            admins={ChatKind.SLACK: ops_admins or []},
        )
        clock = Clock(SLOT + timedelta(minutes=1))
        jobs = []
        for n in range(workers):
            sessions = first if n == 0 else await stack.enter_async_context(database(db))
            jobs.append(DigestJob(sessions, f"w{n}", router, ResultsSettings(), admins=alerter, clock=clock))
        yield Unreachable(slack, jobs, clock, first, team_id)


async def test_slack_digest_removed_from_its_channel_tells_its_admin_once_per_breakage(db: Database) -> None:
    async with unreachable_world(db) as world:
        world.slack.remove_bot(CHANNEL)
        assert await world.week(0) == 0
        (dm,) = world.dms(ADMIN)
        fix = (
            "postbot is no longer a member of the channel. Invite @postbot back (/invite @postbot there), "
            "or set the digest in another channel with /postbot digest &lt;day&gt; &lt;HH:MM&gt; there."
        )
        assert dm["text"].startswith(
            f"⚠️ The weekly results digest for <#{CHANNEL}> didn't go out (Monday 7 Dec at 09:00): {fix}"
        )
        # The channel is a link in the message too, and only the channel: the rest stays escaped.
        (block,) = dm["blocks"]
        assert f"<#{CHANNEL}>" in block["text"]["text"] and "&lt;day&gt;" in block["text"]["text"]
        assert world.dms(OPS) == []
        # /digest in the channel says it did not go out, and why.
        assert (await world.shown()).endswith(
            "\nThe last one, due Monday 7 Dec at 09:00, didn't go out: postbot is no longer a member of "
            "the channel. Invite @postbot back (/invite @postbot there)."
        )

        # Still out the next week: tried, failed, and not a second message.
        assert await world.week(1) == 0
        assert len(world.dms(ADMIN)) == 1
        assert "due Monday 14 Dec at 09:00" in await world.shown()

        # Set again (there): a breakage after that is news again.
        await world.set_again()
        assert "didn't go out" not in await world.shown()
        assert await world.week(2) == 0
        assert len(world.dms(ADMIN)) == 2

        # postbot invited back: the next digest goes out, and says nothing of the failure any more.
        world.slack.bot_channels.add(CHANNEL)
        assert await world.week(3) == 1
        assert "didn't go out" not in await world.shown()
        # Removed again after a digest went out: a new breakage, told once more.
        world.slack.remove_bot(CHANNEL)
        assert await world.week(4) == 0
        assert await world.week(5) == 0
        assert len(world.dms(ADMIN)) == 3
        async with world.sessions() as s:
            states = (await s.execute(select(DigestSend.period, DigestSend.state))).all()
        assert sorted(states) == [
            ("2026-W50", "failed"),
            ("2026-W51", "failed"),
            ("2026-W52", "failed"),
            ("2026-W53", "sent"),
            ("2027-W01", "failed"),
            ("2027-W02", "failed"),
        ]


async def test_slack_archived_digest_channel_is_told_with_its_own_fix(db: Database) -> None:
    async with unreachable_world(db) as world:
        world.slack.archive(CHANNEL)
        assert await world.week(0) == 0
        (dm,) = world.dms(ADMIN)
        assert (
            ": the channel is archived. Unarchive it and invite @postbot back, or set the digest in "
            "another channel with /postbot digest"
        ) in dm["text"]
        (refused,) = world.slack.calls_to("files.completeUploadExternal")
        assert refused.response["error"] == "is_archived"


async def test_two_workers_racing_on_an_unreachable_digest_send_one_dm(db: Database) -> None:
    async with unreachable_world(db, workers=2) as world:
        world.slack.remove_bot(CHANNEL)
        jobs = world.jobs * 2
        world.clock.now = SLOT + timedelta(minutes=1)
        assert sum(await asyncio.gather(*(j.send_due() for j in jobs))) == 0
        assert len(world.dms(ADMIN)) == 1
        world.clock.now += timedelta(days=7)
        assert sum(await asyncio.gather(*(j.send_due() for j in jobs))) == 0
        assert len(world.dms(ADMIN)) == 1


async def test_an_admin_who_cant_be_told_leaves_it_to_the_chats_admins_and_nobody_means_next_week(
    db: Database,
) -> None:
    async with unreachable_world(db) as world:
        world.slack.remove_bot(CHANNEL)
        # The admin who set it left the workspace (conversations.open: user_disabled).
        world.slack.users[ADMIN]["deleted"] = True
        # No ops channel and no admin configured: nobody hears of it, so the next week tries again.
        assert await world.week(0) == 0
        assert world.dms(ADMIN) == [] and world.dms(OPS) == []
        async with world.sessions() as s:
            (told,) = (await s.execute(select(ResultsDigest.told_at))).scalars().all()
        assert told is None
        # An admin configured since (slack.admin_user_ids): the admins alerts go to hear of it, once.
        alerter = world.jobs[0].admins
        assert isinstance(alerter, Alerter)
        alerter.admins[ChatKind.SLACK] = [OPS]
        assert await world.week(1) == 0
        (dm,) = world.dms(OPS)
        assert f"The weekly results digest for <#{CHANNEL}> didn't go out (Monday 14 Dec" in dm["text"]
        assert await world.week(2) == 0
        assert len(world.dms(OPS)) == 1 and world.dms(ADMIN) == []


async def test_discord_digest_channel_out_of_reach_tells_its_admin_the_permissions(db: Database) -> None:
    original_base = discord.http.Route.BASE
    try:
        async with FakeDiscord() as fake, database(db) as sessions:
            guild = fake.add_guild("launch crew", channels=("launch", "news"))
            launch, news = list(guild.channels)
            ada = fake.add_user("ada")
            team_id = await seed(sessions, team_external=guild.id)
            async with sessions.begin() as s:
                team = await s.get(Team, team_id)
                assert team is not None
                team.chat = "discord"
                for channel in (launch, news):
                    await set_digest(
                        s,
                        team_id,
                        channel,
                        weekday=MONDAY,
                        minute=NINE,
                        by=ada.id,
                        now=SLOT - timedelta(days=3),
                    )
            # postbot's role was denied View Channel in #launch; #news was deleted.
            guild.hidden_from_bot.add(launch)
            del guild.channels[news]
            rest = DiscordReporter(fake.token, fake.api_base_url)
            await rest.start()
            try:
                router = NotifierRouter({ChatKind.DISCORD: rest.notifier()})
                clock = Clock(SLOT + timedelta(minutes=1))
                digests = DigestJob(sessions, "w1", router, ResultsSettings(), clock=clock)
                assert await digests.send_due() == 0
                clock.now += timedelta(days=7)
                assert await digests.send_due() == 0
            finally:
                await rest.close()
            hidden, deleted = sorted(
                (m["content"] for m in fake.dm_messages(ada.id)), key=lambda c: launch not in c
            )
            assert hidden.startswith(
                f"⚠️ The weekly results digest for <#{launch}> didn't go out (Monday 7 Dec at 09:00): "
                "postbot can't see the channel (Missing Access). Give postbot's role View Channel, Send "
                "Messages, Embed Links and Attach Files in the channel's permissions, or set the digest in "
                "another channel with /postbot-admin digest <day> <HH:MM> there."
            )
            assert deleted.startswith(
                f"⚠️ The weekly results digest for <#{news}> didn't go out (Monday 7 Dec at 09:00): the "
                "channel no longer exists (Unknown Channel). Set the digest in another channel with "
                "/postbot-admin digest <day> <HH:MM> there."
            )
    finally:
        discord.http.Route.BASE = original_base


async def test_slack_keeps_channel_links_in_postbots_own_dms_and_escapes_a_failure_dm_in_full() -> None:
    """A digest notice names its channel as ``<#C…>``: a link in the DM. A failure DM quotes the
    platform's error, which could hold the same characters: shown as they are, never a link."""
    async with FakeSlack() as slack:
        slack.add_user(ADMIN, "ada")
        notifier = SlackNotifier(AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url))
        await notifier.dm(slack.team_id, ADMIN, f"The digest for <#{CHANNEL}> & /digest <day>")
        failed = PostView(
            id=7,
            chat=ChatKind.SLACK,
            team_id=slack.team_id,
            platform=Platform.YOUTUBE,
            status=PostStatus.FAILED,
            run_at=SLOT,
            caption="launch",
            title=None,
            author_id=ADMIN,
            channel_id=CHANNEL,
            thread_id=None,
            attempts=3,
            last_error=f"refused: see <#{CHANNEL}>",
            remote_id=None,
            remote_url=None,
            media_name="launch.mp4",
            batch_id="b",
        )
        await notifier.dm_failure(failed)
        notice, failure = slack.posted(slack.ims[ADMIN])
        assert notice["text"] == f"The digest for <#{CHANNEL}> &amp; /postbot digest &lt;day&gt;"
        assert notice["blocks"][0]["text"]["text"] == notice["text"]
        assert f"refused: see &lt;#{CHANNEL}&gt;" in failure["text"]
        assert f"<#{CHANNEL}>" not in failure["blocks"][0]["text"]["text"]


async def test_a_digest_the_chat_kept_refusing_says_so_in_digest_without_a_dm(db: Database) -> None:
    """Not an unreachable channel (a 5xx every time, up to digest_max_attempts): /digest shows it,
    and nobody is messaged, as retrying was the fix and the next week tries again."""
    async with unreachable_world(db, ops_admins=[OPS]) as world:
        world.slack.fail("files.getUploadURLExternal", "internal_error", times=2)
        settings = ResultsSettings(digest_max_attempts=2)
        world.jobs = [DigestJob(world.sessions, "w1", world.jobs[0].sink, settings, clock=world.clock)]
        assert await world.week(0) == 0
        world.clock.now += timedelta(minutes=3)
        assert await world.jobs[0].send_due() == 0
        assert (await world.shown()).endswith(
            "\nThe last one, due Monday 7 Dec at 09:00, didn't go out: the chat refused it 2 times "
            "(internal_error)."
        )
        assert world.dms(ADMIN) == [] and world.dms(OPS) == []
        assert await world.week(1) == 1
        assert "didn't go out" not in await world.shown()
