"""Results in Slack and Discord through the real slack-bolt and discord.py against the fakes:
`/postbot results [platform] [7d|30d]` (Block Kit the fake checks with slack_sdk.models; an embed),
who sees what (a private channel's numbers only for its members), `/postbot digest` and
`/postbot-admin digest` (admins) and the digest they set going out, and the Slack Home tab's results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import ResultsSettings, Settings
from core.db.models import MediaAsset, PostResult, ScheduledPost, Team, User
from core.domain import PostStatus
from core.scheduler.digests import DigestJob, last_slot
from tests import test_discord_adapter
from tests.conftest import Database
from tests.fakes.discord_api import EPHEMERAL, LOADING
from tests.test_discord_adapter import MANAGE_GUILD, World
from tests.test_slack_adapter import ANA, BEN, CHANNEL, Harness
from tests.test_slack_home import _opened, _text, _workspace

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
# The Discord adapter tests' world (a fake Discord, a server, Alice and an admin), shared.
world = test_discord_adapter.world
PRIVATE = "G0SECRET"
TZ = "Europe/Berlin"


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    *,
    chat: str,
    team: str,
    open_channel: str,
    open_author: str,
    secret_channel: str,
    secret_author: str,
) -> None:
    """Two YouTube posts and one Instagram post from the open channel in the last 7 days, one from
    the week before, and a YouTube post from a private channel."""
    now = datetime.now(UTC)
    async with sessions.begin() as s:
        row = Team(chat=chat, external_id=team, name="crew", timezone=TZ)
        s.add(row)
        await s.flush()
        authors = {}
        for external in {open_author, secret_author}:
            user = User(team_id=row.id, external_id=external)
            s.add(user)
            await s.flush()
            authors[external] = user.id
        media = MediaAsset(team_id=row.id, path="/v.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        s.add(media)
        await s.flush()
        specs: list[tuple[str, timedelta, str, str, str, int]] = [
            ("youtube", timedelta(days=2), open_channel, open_author, "https://youtu.be/aaa", 1204),
            ("youtube", timedelta(days=5), open_channel, open_author, "https://youtu.be/bbb", 300),
            (
                "instagram",
                timedelta(days=3),
                open_channel,
                open_author,
                "https://www.instagram.com/reel/c/",
                2400,
            ),
            ("youtube", timedelta(days=9), open_channel, open_author, "https://youtu.be/old", 751),
            ("youtube", timedelta(days=1), secret_channel, secret_author, "https://youtu.be/secret", 99999),
        ]
        for platform, age, channel, author, url, views in specs:
            post = ScheduledPost(
                team_id=row.id,
                author_id=authors[author],
                media_id=media.id,
                batch_id=uuid.uuid4().hex,
                platform=platform,
                run_at=now - age,
                due_at=now - age,
                status=PostStatus.PUBLISHED.value,
                idempotency_key=uuid.uuid4().hex,
                remote_id=uuid.uuid4().hex[:10],
                remote_url=url,
                published_at=now - age,
                origin_channel=channel,
            )
            s.add(post)
            await s.flush()
            s.add(
                PostResult(
                    post_id=post.id,
                    checkpoint_s=86400,
                    state="read",
                    due_at=now,
                    attempts=0,
                    views=views,
                    likes=views // 10,
                    comments=views // 100,
                )
            )


def _blocks_text(blocks: list[dict[str, Any]]) -> str:
    return _text({"blocks": blocks})


async def _slack(h: Harness) -> None:
    h.slack.add_channel(PRIVATE, "secret-launch", private=True, members={BEN})
    await seed(
        h.app.sessions,
        chat="slack",
        team=h.slack.team_id,
        open_channel=CHANNEL,
        open_author=ANA,
        secret_channel=PRIVATE,
        secret_author=BEN,
    )


@sqlite_only
async def test_slack_results_are_block_kit_with_links_and_only_what_the_member_may_see(
    settings: Settings, db: Database
) -> None:
    async with _workspace(settings, db) as h:
        await _slack(h)
        await h.sender.command("/postbot", "results", user=ANA, channel=CHANNEL)
        answer = await h.hook("Results, last 7 days")
        assert answer["response_type"] == "ephemeral"
        shown = _blocks_text(answer["blocks"])
        assert answer["blocks"][0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": "Results, last 7 days", "emoji": True},
        }
        assert "*YouTube*: 2 posts (+100%) · 1,504 views (+100%)" in shown
        assert "1. <https://youtu.be/aaa|#1> 1,204 views · 120 likes · 12 comments" in shown
        assert "*Instagram*: 1 post (new) · 2,400 views (new)" in shown
        # Ben's post from a private channel Ana is not in: not in her numbers.
        assert "secret" not in shown and "99,999" not in shown and "secret" not in answer["text"]

        await h.sender.command("/postbot", "results", user=BEN, channel=CHANNEL)
        ben = await h.hook("101,503 views")  # his own private post counts for him
        assert "<https://youtu.be/secret|#5>" in _blocks_text(ben["blocks"])

        await h.sender.command("/postbot", "results yt 30d", user=ANA, channel=CHANNEL)
        month = await h.hook("Results, last 30 days")
        assert "*YouTube*: 3 posts (new) · 2,255 views (new)" in _blocks_text(month["blocks"])
        assert "Instagram" not in month["text"]

        await h.sender.command("/postbot", "results 14d", user=ANA, channel=CHANNEL)
        assert (await h.hook("✗ Results cover"))["text"].startswith("✗ Results cover 7 or 30 days, not 14.")


@sqlite_only
async def test_slack_digest_is_set_by_admins_and_goes_out_with_the_chart(
    settings: Settings, db: Database
) -> None:
    async with _workspace(settings, db) as h:
        await _slack(h)
        await h.sender.command("/postbot", "digest monday 09:00", user=ANA, channel=CHANNEL)
        assert (await h.hook("✗ Only an admin"))[
            "text"
        ] == "✗ Only an admin can set the weekly results digest."
        await h.sender.command("/postbot", "digest mon 9am", user=BEN, channel=CHANNEL)
        set_ = await h.hook("Weekly results digest set")
        assert set_["text"].startswith("Weekly results digest set: Mondays at 09:00 (Europe/Berlin), here")
        assert "/postbot digest off stops it" in set_["text"]
        await h.sender.command("/postbot", "digest", user=ANA, channel=CHANNEL)
        assert (await h.hook("Weekly results digest: Mondays"))["text"].startswith(
            "Weekly results digest: Mondays at 09:00"
        )
        h.slack.add_channel("C0NOBOT", "no-bot", bot_member=False)
        await h.sender.command("/postbot", "digest monday 09:00", user=BEN, channel="C0NOBOT")
        assert (await h.hook("so I couldn't post the digest"))["text"].startswith(
            "✗ I'm not in this channel, so I couldn't post the digest here."
        )
        await h.sender.command("/postbot", "digest someday 9am", user=BEN, channel=CHANNEL)
        assert (await h.hook("is not a day"))["text"].startswith("✗ 'someday' is not a day of the week.")

        # Next Monday at 09:00 in Berlin: the app's own router sends it through Slack.
        slot = last_slot(datetime.now(UTC) + timedelta(days=7), tz=TZ, weekday=0, minute=540)
        clock = slot + timedelta(minutes=1)
        job = DigestJob(h.app.sessions, "w1", h.app.notifier, ResultsSettings(), clock=lambda: clock)
        assert await job.send_due() == 1
        (upload,) = h.slack.shared_uploads(CHANNEL)
        assert upload.data is not None and upload.data.startswith(b"\x89PNG")
        (done,) = h.slack.calls_to("files.completeUploadExternal")
        assert done.args["channel_id"] == CHANNEL and "secret" not in done.args["initial_comment"]

        await h.sender.command("/postbot", "digest off", user=BEN, channel=CHANNEL)
        assert (await h.hook("is off"))["text"] == "The weekly results digest is off for this channel."
        later = clock + timedelta(days=7)
        assert (
            await DigestJob(
                h.app.sessions, "w1", h.app.notifier, ResultsSettings(), clock=lambda: later
            ).send_due()
            == 0
        )


@sqlite_only
async def test_slack_home_tab_shows_the_weeks_results_of_what_the_member_may_see(
    settings: Settings, db: Database
) -> None:
    async with _workspace(settings, db) as h:
        await _slack(h)
        await h.sender.event(_opened(ANA))
        view = await h.slack.wait_for(lambda: h.slack.home_views.get(ANA))
        text = _text(view)
        assert "*YouTube*: 2 posts (+100%) · 1,504 views (+100%)" in text
        assert "1. <https://youtu.be/aaa|#1> 1,204 views" in text
        assert "Last 7 days against the 7 before" in text
        assert "published https://youtu.be/aaa · 1,204 views · 120 likes · 12 comments" in text
        assert "secret" not in text
        await h.sender.event(_opened(BEN))
        ben = await h.slack.wait_for(lambda: h.slack.home_views.get(BEN))
        assert "<https://youtu.be/secret|#5> 99,999 views" in _text(ben)


# --------------------------------------------------------------------------- Discord


async def _answer(world: World, record: Any) -> dict[str, Any]:
    fake = world.fake
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None
    return reply


async def test_discord_results_and_digest(world: World) -> None:
    fake = world.fake
    secret = fake.snowflake()
    world.guild.channels[secret] = "secret-launch"
    world.guild.private[secret] = {world.admin.id}
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        await seed(
            app.sessions,
            chat="discord",
            team=world.guild.id,
            open_channel=world.channel_id,
            open_author=world.alice.id,
            secret_channel=secret,
            secret_author=world.admin.id,
        )
        record = await fake.send_interaction(
            fake.command_interaction("postbot results", {}, user=world.alice, guild=world.guild)
        )
        reply = await _answer(world, record)
        assert reply["flags"] & EPHEMERAL
        (embed,) = reply["embeds"]
        assert embed["title"] == "Results, last 7 days"
        youtube = next(f for f in embed["fields"] if f["name"] == "YouTube")
        assert youtube["value"].startswith("2 posts (+100%) · 1,504 views (+100%)")
        assert "1. [#1](<https://youtu.be/aaa>) 1,204 views" in youtube["value"]
        assert all("secret" not in f["value"] for f in embed["fields"])

        record = await fake.send_interaction(
            fake.command_interaction(
                "postbot results",
                {"platform": "youtube", "period": "30d"},
                user=world.alice,
                guild=world.guild,
            )
        )
        (month,) = (await _answer(world, record))["embeds"]
        assert month["title"] == "Results, last 30 days" and [f["name"] for f in month["fields"]] == [
            "YouTube"
        ]

        # Only admins set the digest; Discord shows /postbot-admin to Manage Server only.
        record = await fake.send_interaction(
            fake.command_interaction(
                "postbot-admin digest",
                {"day": "friday", "time": "17:30"},
                user=world.admin,
                guild=world.guild,
                permissions=MANAGE_GUILD,
            )
        )
        set_ = await _answer(world, record)
        assert set_["content"].startswith("Weekly results digest set: Fridays at 17:30 (Europe/Berlin), here")
        assert "/postbot-admin digest off stops it" in set_["content"]

        slot = last_slot(datetime.now(UTC) + timedelta(days=7), tz=TZ, weekday=4, minute=17 * 60 + 30)
        clock = slot + timedelta(minutes=1)
        job = DigestJob(app.sessions, "w1", app.notifier, ResultsSettings(), clock=lambda: clock)
        assert await job.send_due() == 1
        (message,) = [m for m in fake.channel_messages(world.channel_id) if m["attachments"]]
        (digest,) = message["embeds"]
        assert (
            digest["title"].startswith("Weekly results, ")
            and digest["image"]["url"] == "attachment://results.png"
        )
        assert all("secret" not in f["value"] for f in digest["fields"])
        assert message["attachments"][0]["content_type"] == "image/png"
    finally:
        await runtime.close()
        await app.close()
