"""Accounts linked before their platform's results reader needed a scope are asked to relink once,
and only when relinking would grant it (core/watch.py), through the real slack_sdk against the fake,
with two processes checking at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.slack.notifier import SlackNotifier
from bot.wiring import relink_scopes
from core.alerts import Alerter
from core.config import AlertSettings, Settings
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import SocialAccount, Team
from core.domain import ChatKind, Platform
from core.notify import NotifierRouter
from core.platforms.registry import SPECS
from core.store.alerts import AlertGates
from core.store.heartbeats import Heartbeats
from core.watch import OpsWatch
from tests.conftest import Database
from tests.fakes.slack_api import FakeSlack

OPS = "C0OPS"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(db: Database) -> AsyncIterator[Sessions]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


async def test_a_missing_results_scope_is_said_once_and_only_where_relinking_helps(
    sessions: Sessions, settings: Settings, http: httpx.AsyncClient
) -> None:
    readers = {
        s.platform: s.results(http, settings.platforms.for_platform(s.name)) for s in SPECS if s.results
    }
    scopes = relink_scopes(settings, readers)
    # LinkedIn's analytics permission is not asked for by default: relinking would not help there.
    assert Platform.LINKEDIN not in scopes and Platform.INSTAGRAM in scopes and Platform.TIKTOK in scopes
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        async with sessions.begin() as s:
            team = Team(chat="slack", external_id=slack.team_id, name="t", timezone="UTC")
            s.add(team)
            await s.flush()
            old_ig = "instagram_business_basic,instagram_business_content_publish"
            s.add_all(
                [
                    SocialAccount(
                        team_id=team.id,
                        platform="instagram",
                        remote_account_id="1784",
                        display_name="Shop",
                        scopes=old_ig,
                    ),
                    SocialAccount(
                        team_id=team.id,
                        platform="tiktok",
                        remote_account_id="open-1",
                        display_name="Tok",
                        scopes="user.info.basic,video.upload,video.publish,video.list",
                    ),
                    SocialAccount(
                        team_id=team.id,
                        platform="linkedin",
                        remote_account_id="li",
                        display_name="Li",
                        scopes="openid profile w_member_social",
                    ),
                ]
            )
        conf = AlertSettings(slack_channel=OPS)
        watchers = []
        for _ in range(2):
            router = NotifierRouter()
            router.register(
                ChatKind.SLACK,
                SlackNotifier(AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)),
            )
            alerter = Alerter(
                conf, router, channels={ChatKind.SLACK: OPS}, admins={}, gate=AlertGates(sessions)
            )
            watchers.append(
                OpsWatch(
                    sessions,
                    Heartbeats(sessions),
                    alerter,
                    conf,
                    reaches=router.reaches,
                    result_scopes=scopes,
                )
            )
        for _ in range(3):
            await asyncio.gather(*(w.check_result_scopes() for w in watchers))
        said = [m["text"] for m in slack.posted(OPS)]
        assert len(said) == 1, said
        assert "Instagram results" in said[0] and "instagram_business_manage_insights" in said[0]
        assert "link instagram" in said[0]
