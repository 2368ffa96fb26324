"""Operations alerts (core/watch.py): an account to relink, no worker alive. Each failing condition is
said once, and once when it is fixed, through the real slack_sdk / discord.py against the fakes, also
when two processes check at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.discord import DiscordReporter
from adapters.slack.notifier import SlackNotifier
from core.accounts.store import save_tokens
from core.accounts.tokens import TokenSources
from core.alerts import Alerter
from core.config import AlertSettings, PlatformSettings, PlatformsSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import SocialAccount
from core.domain import AccountStatus, ChatKind, MediaInfo, Platform
from core.notify import NotifierRouter
from core.oauth import OAuthClients
from core.oauth.models import TokenSet
from core.platforms.youtube.publisher import YouTubePublisher
from core.publishers.base import AuthError, PublishJob
from core.store.accounts import posting_account
from core.store.alerts import AlertGates
from core.store.heartbeats import Heartbeats
from core.watch import OpsWatch
from tests.clips import sized_clip
from tests.conftest import Database
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.oauth_provider import FakeOAuthProvider, seed_linked_account
from tests.fakes.slack_api import FakeSlack
from tests.fakes.youtube_api import CHUNK_UNIT, FakeYouTube

VAULT = Vault(derive_key("ops alert tests", iterations=MIN_ITERATIONS))
OPS = "C0OPS"
Sessions = async_sessionmaker[AsyncSession]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def sessions(db: Database) -> AsyncIterator[Sessions]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


def _slack_watchers(
    slack: FakeSlack,
    sessions: Sessions,
    clock: Clock,
    settings: AlertSettings,
    count: int = 2,
    platforms: PlatformsSettings | None = None,
) -> list[OpsWatch]:
    """``count`` processes, each with its own Slack client, alerter and watch over one database."""
    out = []
    for _ in range(count):
        router = NotifierRouter()
        router.register(
            ChatKind.SLACK, SlackNotifier(AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url))
        )
        alerter = Alerter(
            settings,
            router,
            channels={ChatKind.SLACK: settings.slack_channel},
            admins={},
            gate=AlertGates(sessions),
        )
        out.append(
            OpsWatch(
                sessions,
                Heartbeats(sessions),
                alerter,
                settings,
                reaches=router.reaches,
                clock=clock,
                platforms=platforms,
            )
        )
    return out


async def _check_all(watchers: list[OpsWatch]) -> None:
    await asyncio.gather(*(w.check() for w in watchers))


async def test_a_revoked_account_is_said_once_and_its_relink_once(
    sessions: Sessions, settings: Settings, http: httpx.AsyncClient
) -> None:
    clock = Clock()
    async with FakeOAuthProvider("youtube") as oauth, FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        seeded = await seed_linked_account(
            sessions, VAULT, oauth, chat="slack", team_external_id=slack.team_id
        )
        await Heartbeats(sessions).beat("w1", in_flight=0, completed=0, now=clock.now)
        conf = AlertSettings(slack_channel=OPS)
        watchers = _slack_watchers(slack, sessions, clock, conf)
        await _check_all(watchers)
        assert slack.posted(OPS) == [], "a healthy account and a live worker are not news"

        # The user withdrew the app: the refresh answers invalid_grant and the account is revoked.
        oauth.revoke_grants()
        platforms = PlatformsSettings(youtube=PlatformSettings(**oauth.platform_settings()))
        sources = TokenSources(
            sessions, VAULT, OAuthClients(settings.model_copy(update={"platforms": platforms}), http)
        )
        async with sessions() as session:
            row = await session.get(SocialAccount, seeded.account_row_id)
        assert row is not None
        with pytest.raises(AuthError):
            await sources(posting_account(row)).refresh()

        # Two processes check together, and again a minute later: one alert in all.
        await _check_all(watchers)
        clock.now += timedelta(minutes=1)
        await _check_all(watchers)
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 1, said
        assert said[0].startswith(":warning: YouTube account")
        assert oauth.account.name in said[0] and "/postbot link youtube" in said[0] and "revoked" in said[0]

        # An admin links it again (what the OAuth callback stores): one recovery, once.
        minted = oauth.mint()
        async with sessions.begin() as session:
            row = await session.get(SocialAccount, seeded.account_row_id)
            save_tokens(
                row,
                TokenSet(minted["access_token"], minted["refresh_token"], clock.now + timedelta(hours=1)),
                VAULT,
            )
        clock.now += timedelta(minutes=1)
        await _check_all(watchers)
        await _check_all(watchers)
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 2, said
        assert said[1].startswith(":white_check_mark: YouTube account") and "working" in said[1]


async def test_a_token_refused_after_a_refresh_marks_the_account_for_relinking(
    sessions: Sessions, settings: Settings, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A 401 on use, again with a freshly refreshed token: the grant is gone, whatever the refresh said."""
    clock = Clock()
    async with FakeOAuthProvider("youtube") as oauth, FakeYouTube(tokens={}) as youtube, FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        seeded = await seed_linked_account(
            sessions, VAULT, oauth, chat="slack", team_external_id=slack.team_id
        )
        await Heartbeats(sessions).beat("w1", in_flight=0, completed=0, now=clock.now)
        platforms = PlatformsSettings(youtube=PlatformSettings(**oauth.platform_settings()))
        sources = TokenSources(
            sessions, VAULT, OAuthClients(settings.model_copy(update={"platforms": platforms}), http)
        )
        async with sessions() as session:
            row = await session.get(SocialAccount, seeded.account_row_id)
        video = sized_clip(tmp_path / "clip.mp4", size_bytes=CHUNK_UNIT + 1000)
        job = PublishJob(
            post_id=1,
            platform=Platform.YOUTUBE,
            idempotency_key="k1",
            caption="Launch",
            title="Launch",
            media=MediaInfo(
                path=str(video), sha256="0" * 64, size_bytes=video.stat().st_size, mime="video/mp4"
            ),
            tokens=sources(posting_account(row)),
        )
        # The fake Data API knows none of the provider's tokens: each one is answered 401.
        with pytest.raises(AuthError):
            await YouTubePublisher(http, base_url=youtube.base_url).publish(job)
        async with sessions() as session:
            row = await session.get(SocialAccount, seeded.account_row_id)
        assert row.status == AccountStatus.REVOKED.value and "/link youtube" in (row.last_error or "")
        assert len(oauth.grants[0].stale_tokens) == 1, "one refresh, then the refusal stuck"

        (watch,) = _slack_watchers(slack, sessions, clock, AlertSettings(slack_channel=OPS), count=1)
        await watch.check()
        await watch.check()
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 1 and "/postbot link youtube" in said[0], said


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    original = discord.http.Route.BASE
    async with FakeDiscord() as fake:
        yield fake
    discord.http.Route.BASE = original


async def test_an_account_that_cannot_be_renewed_is_flagged_days_ahead_to_the_admins(
    sessions: Sessions, discord_fake: FakeDiscord
) -> None:
    """LinkedIn gives most apps no refresh token: its 60-day token just ends. Without an ops channel
    the admins hear it by DM, through discord.py."""
    clock = Clock()
    admin = discord_fake.add_user("ops-admin")
    guild = discord_fake.add_guild("Launch")
    async with FakeOAuthProvider("linkedin") as oauth:
        oauth.partner = False  # most apps: no refresh token
        seeded = await seed_linked_account(
            sessions, VAULT, oauth, chat="discord", team_external_id=guild.id, expires_in=5 * 86400
        )
    await Heartbeats(sessions).beat("w1", in_flight=0, completed=0, now=clock.now)
    rest = DiscordReporter(discord_fake.token, discord_fake.api_base_url)
    await rest.start()
    try:
        router = NotifierRouter({ChatKind.DISCORD: rest.notifier()})
        conf = AlertSettings(token_warn_days=3)
        alerter = Alerter(
            conf, router, channels={}, admins={ChatKind.DISCORD: [admin.id]}, gate=AlertGates(sessions)
        )
        beats = Heartbeats(sessions)
        watcher = OpsWatch(sessions, beats, alerter, conf, reaches=router.reaches, clock=clock)

        class Watch:
            # Days pass in this test, with a worker alive all along: accounts are what it is about.
            @staticmethod
            async def check() -> None:
                await beats.beat("w1", in_flight=0, completed=0, now=clock.now)
                await watcher.check()

        watch = Watch()
        await watch.check()
        assert discord_fake.dm_messages(admin.id) == [], "five days left: not yet"
        clock.now += timedelta(days=3)
        await watch.check()
        clock.now += timedelta(hours=12)
        await watch.check()
        dms = [m["content"] for m in discord_fake.dm_messages(admin.id)]
        assert len(dms) == 1, dms
        assert dms[0].startswith(":warning: LinkedIn account") and "ends in 2 days" in dms[0]
        assert "/postbot-admin link linkedin" in dms[0]  # as Discord names it
        # Relinked: a fresh 60-day token.
        async with sessions.begin() as session:
            row = await session.get(SocialAccount, seeded.account_row_id)
            save_tokens(row, TokenSet("fresh-access", None, clock.now + timedelta(days=60)), VAULT)
        await watch.check()
        await watch.check()
        dms = [m["content"] for m in discord_fake.dm_messages(admin.id)]
        assert len(dms) == 2 and dms[1].startswith(":white_check_mark: LinkedIn account"), dms
    finally:
        await rest.close()


async def test_no_worker_seen_is_said_once_and_a_worker_back_once(sessions: Sessions) -> None:
    clock = Clock()
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        conf = AlertSettings(slack_channel=OPS, workers_missing_s=300)
        watchers = _slack_watchers(slack, sessions, clock, conf)
        beats = Heartbeats(sessions)
        await beats.beat("worker-1", in_flight=0, completed=0, now=clock.now)
        await _check_all(watchers)
        clock.now += timedelta(minutes=4)
        await _check_all(watchers)
        assert slack.posted(OPS) == [], "a worker seen 4 minutes ago is alive"

        # The worker died: nothing beats for over five minutes.
        clock.now += timedelta(minutes=2)
        await _check_all(watchers)
        clock.now += timedelta(minutes=10)
        await _check_all(watchers)
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 1 and said[0].startswith(":warning: No postbot worker has been seen for 5 min"), (
            said
        )

        await beats.beat("worker-2", in_flight=0, completed=0, now=clock.now)
        await _check_all(watchers)
        await _check_all(watchers)
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 2 and said[1].startswith(
            ":white_check_mark: A postbot worker is running again"
        ), said


async def test_a_worker_stopped_on_purpose_gets_the_grace_and_is_named_as_stopped(sessions: Sessions) -> None:
    """Issue 30 item 4: a clean stop used to delete the heartbeat, so the alert fired at the next
    check saying no worker had been seen for 5 minutes. A restart is not an outage."""
    clock = Clock()
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        conf = AlertSettings(slack_channel=OPS, workers_missing_s=300)
        watchers = _slack_watchers(slack, sessions, clock, conf)
        beats = Heartbeats(sessions)
        await beats.beat("worker-1", in_flight=0, completed=0, now=clock.now)
        clock.now += timedelta(seconds=10)
        await beats.stopped("worker-1", completed=4, now=clock.now)
        clock.now += timedelta(seconds=23)
        await _check_all(watchers)
        clock.now += timedelta(minutes=4)
        await _check_all(watchers)
        assert slack.posted(OPS) == [], "a worker stopped 4 minutes ago is within the grace"

        clock.now += timedelta(minutes=2)
        await _check_all(watchers)
        said = [m["text"] for m in slack.posted(OPS)]
        assert said == [
            ":warning: No postbot worker is running: the last one (worker-1) was stopped 6 min ago and "
            "none has started since. Due posts are not going out (they wait, nothing is lost). Start one "
            "(`postbot worker`, or the bot with its scheduler). I'll say when one is back."
        ]


async def test_the_bot_checks_by_itself_from_its_chat_process(settings: Settings, db: Database) -> None:
    """Wired in: a chat-side process with no scheduler of its own notices that no worker runs."""
    from bot.runtime import Runtime
    from bot.wiring import build_app

    conf = settings.model_copy(
        update={"alerts": AlertSettings(slack_channel=OPS, check_interval_s=0.1, workers_missing_s=0.5)}
    )
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        app = await build_app(conf, schema=db.schema)

        class SlackOnly:
            kind = ChatKind.SLACK

            def notifier(self) -> SlackNotifier:
                return SlackNotifier(AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url))

            async def start(self) -> None:
                pass

            async def close(self) -> None:
                pass

        runtime = Runtime(app, reporters=[SlackOnly()], scheduler=False)
        try:
            await runtime.start()
            said = await slack.wait_for(lambda: slack.posted(OPS), timeout=10)
        finally:
            await runtime.stop()
    assert len(said) == 1 and "No postbot worker" in said[0]["text"]
    async with app.sessions() as session:
        assert (await session.execute(select(SocialAccount))).first() is None


async def test_an_api_version_nearing_its_sunset_is_said_once_with_its_fix(sessions: Sessions) -> None:
    """LinkedIn's 202510 went past its sunset with nobody told: every LinkedIn post then failed."""
    clock = Clock()
    clock.now = datetime(2026, 12, 10, 9, tzinfo=UTC)
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        await Heartbeats(sessions).beat("w1", in_flight=0, completed=0, now=clock.now)
        conf = AlertSettings(slack_channel=OPS, api_version_warn_days=30)
        platforms = PlatformsSettings(linkedin=PlatformSettings(client_id="li", api_version="202601"))
        watchers = _slack_watchers(slack, sessions, clock, conf, platforms=platforms)
        await _check_all(watchers)
        assert slack.posted(OPS) == [], "36 days before the sunset is outside the 30-day window"

        clock.now = datetime(2026, 12, 20, 9, tzinfo=UTC)
        await Heartbeats(sessions).beat("w1", in_flight=0, completed=0, now=clock.now)
        await _check_all(watchers)
        clock.now += timedelta(hours=2)
        await Heartbeats(sessions).beat("w1", in_flight=0, completed=0, now=clock.now)
        await _check_all(watchers)
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 1, said
        assert said[0].startswith(":warning: LinkedIn API version 202601 is sunset on 15 Jan 2027")
        assert 'platforms.linkedin.api_version = "202603"' in said[0]

        # The operator moves to a supported version: said once that it is fine.
        fixed = PlatformsSettings(linkedin=PlatformSettings(client_id="li", api_version="202603"))
        for watcher in watchers:
            watcher.platforms = fixed
        await _check_all(watchers)
        await _check_all(watchers)
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 2, said
        assert said[1].startswith(":white_check_mark: LinkedIn API version 202603 is supported")


async def test_an_unused_platform_s_version_is_not_news(sessions: Sessions) -> None:
    clock = Clock()
    clock.now = datetime(2027, 3, 20, 9, tzinfo=UTC)
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        await Heartbeats(sessions).beat("w1", in_flight=0, completed=0, now=clock.now)
        conf = AlertSettings(slack_channel=OPS)
        watchers = _slack_watchers(slack, sessions, clock, conf, platforms=PlatformsSettings())
        await _check_all(watchers)
        assert slack.posted(OPS) == [], "no LinkedIn app configured: its default's sunset is no alert"
