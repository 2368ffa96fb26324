"""Socket Mode, the default: the same listeners behind slack_sdk's Socket Mode client, connected to
the fake's apps.connections.open + WebSocket with the app-level token."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from adapters.slack.blocks import escape
from adapters.slack.handlers import COMMAND_ACKS, HELP
from adapters.slack.run import SlackChat
from bot.wiring import App, build_app
from core.config import Settings, SlackSettings
from core.db.models import RecentFile
from tests.conftest import Database
from tests.fakes.slack_api import FakeSlack, SlackSender
from tests.test_slack_adapter import ANA, CHANNEL, manifest_scopes

SCHEDULING = COMMAND_ACKS["/schedule"]


async def _remembered(app: App, file_id: str) -> None:
    async with asyncio.timeout(10):
        while True:
            async with app.sessions() as session:
                query = select(RecentFile).where(RecentFile.file_id == file_id)
                if (await session.execute(query)).scalar_one_or_none() is not None:
                    return
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_socket_mode_acks_over_the_socket_and_schedules(
    settings: Settings, db: Database, clip: Path
) -> None:
    async with FakeSlack(scopes=manifest_scopes()) as slack, httpx.AsyncClient() as http:
        slack.add_user(ANA, "ana", tz="America/New_York")
        slack.add_channel(CHANNEL, "launch")
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            app_token=SecretStr(slack.app_token),
            mode="socket",
            api_base_url=slack.api_base_url,
            file_origins=[slack.base_url],
        )
        app = await build_app(settings, schema=db.schema)
        chat = SlackChat(app.postbot, app.http, bot_token=slack.bot_token, app_token=slack.app_token)
        # Builds Slack-shaped payloads; nothing is posted over HTTP in this mode.
        sender = SlackSender(slack, "http://127.0.0.1:9/unused", "", http)
        try:
            await chat.start()
            await slack.wait_for(lambda: slack.sockets)
            assert slack.calls_to("apps.connections.open")[0].token == slack.app_token

            ack = await slack.socket_request(
                "slash_commands", sender.command_fields("/schedule", "", user=ANA, channel=CHANNEL)
            )
            assert ack["payload"]["text"] == SCHEDULING

            upload = slack.add_file(ANA, CHANNEL, clip)
            message = sender.user_message(ANA, CHANNEL, "the cut", [upload])
            event = {**message, "channel": CHANNEL, "event_ts": message["ts"], "channel_type": "channel"}
            ack = await slack.socket_request("events_api", sender.event_envelope(event))
            assert ack == {"envelope_id": ack["envelope_id"]}
            await _remembered(app, upload.id)

            fields = sender.command_fields(
                "/schedule", "tomorrow 6pm sandbox Over the socket", user=ANA, channel=CHANNEL
            )
            ack = await slack.socket_request("slash_commands", fields)
            assert ack["payload"]["text"].startswith("Scheduling")
            [reply] = await slack.wait_for(lambda: slack.posted(CHANNEL))
            assert reply["thread_ts"] == message["ts"]
            assert "18:00 America/New_York" in str(reply["blocks"])
        finally:
            await chat.stop()
            await app.close()
            await chat.close()
            # chat.start() froze the heap it started with (settle_heap): give the test process its GC back.
            gc.unfreeze()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_an_event_slack_redelivers_over_the_socket_runs_once(settings: Settings, db: Database) -> None:
    """Slack retries an Events API event it has no ack for within 3 s over Socket Mode as over HTTP:
    a new envelope, the same ``event_id`` (see the fake's socket_request). The HTTP endpoint answers
    a retried event_id without running it again (tests/test_slack_front_door.py); over the socket
    the retry is acked and not run again either, so a mention is answered once.

    Before this, a redelivered mention ran twice: scheduling was already safe (the message is the
    request id, deduplicated in the database whichever process gets the retry), but help and
    refusals, which queue nothing, were said twice."""
    async with FakeSlack(scopes=manifest_scopes()) as slack, httpx.AsyncClient() as http:
        slack.add_user(ANA, "ana", tz="America/New_York")
        slack.add_channel(CHANNEL, "launch")
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            app_token=SecretStr(slack.app_token),
            mode="socket",
            api_base_url=slack.api_base_url,
            file_origins=[slack.base_url],
        )
        app = await build_app(settings, schema=db.schema)
        chat = SlackChat(app.postbot, app.http, bot_token=slack.bot_token, app_token=slack.app_token)
        sender = SlackSender(slack, "http://127.0.0.1:9/unused", "", http)
        try:
            await chat.start()
            await slack.wait_for(lambda: slack.sockets)
            message = sender.user_message(ANA, CHANNEL, f"<@{slack.bot_user_id}>")
            event = {**message, "type": "app_mention", "channel": CHANNEL, "event_ts": message["ts"]}
            envelope = sender.event_envelope(event)
            first = await slack.socket_request("events_api", envelope)
            await slack.wait_for(lambda: slack.ephemerals)
            retried = await slack.socket_request("events_api", envelope, retry_attempt=1)
            assert retried["envelope_id"] != first["envelope_id"]  # both acknowledged
            # Another event from the same person is still answered.
            await slack.socket_request("events_api", sender.event_envelope(event))
            await slack.wait_for(lambda: len(slack.ephemerals) >= 2)
            await asyncio.sleep(0.3)
            assert [e["text"] for e in slack.ephemerals] == [
                escape(HELP),
                escape(HELP),
            ]  # as the top-level text carries it
        finally:
            await chat.stop()
            await app.close()
            await chat.close()
            gc.unfreeze()
