"""`postbot slack` in HTTP mode, started the way the CLI starts it: the Slack endpoint on the shared
web server (OAuth pages and /health when the vault secret is set, alone otherwise)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from adapters.slack.handlers import COMMAND_ACKS
from adapters.slack.run import EVENTS_PATH
from bot.runtime import run_slack
from core.config import Settings, SlackSettings, VaultSettings, WebSettings
from core.errors import ConfigError
from tests.conftest import Database
from tests.fakes.slack_api import FakeSlack, SlackSender
from tests.test_slack_adapter import ANA, CHANNEL, SECRET

SCHEDULING = COMMAND_ACKS["/schedule"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    # run_slack freezes the heap it starts with (see settle_heap); give the test process its GC back.
    yield
    gc.unfreeze()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("vault", [True, False])
async def test_http_mode_serves_slack_on_the_web_server(
    settings: Settings, db: Database, vault: bool
) -> None:
    async with FakeSlack() as slack, httpx.AsyncClient(timeout=5) as http:
        slack.add_user(ANA, "ana")
        slack.add_channel(CHANNEL, "launch")
        port = _free_port()
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            signing_secret=SecretStr(SECRET),
            mode="http",
            api_base_url=slack.api_base_url,
            file_origins=[slack.base_url],
        )
        settings.web = WebSettings(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}")
        if vault:
            settings.secret_key = SecretStr("test-vault-secret-with-enough-entropy-0123456789")
            settings.vault = VaultSettings(iterations=100_000)
        task = asyncio.create_task(run_slack(settings))
        try:
            sender = SlackSender(slack, f"http://127.0.0.1:{port}{EVENTS_PATH}", SECRET, http)
            async with asyncio.timeout(20):
                while True:
                    assert not task.done(), task
                    try:
                        response = await sender.command("/schedule", "", user=ANA, channel=CHANNEL)
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.05)
            assert response.status_code == 200 and response.text == SCHEDULING
            forged = await sender.post(
                b"command=%2Fschedule", "application/x-www-form-urlencoded", signature="v0=00"
            )
            assert forged.status_code == 401
            health = await http.get(f"http://127.0.0.1:{port}/health")
            assert health.status_code == (200 if vault else 404)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_socket_mode_connects_and_keeps_the_oauth_pages_up(settings: Settings, db: Database) -> None:
    async with FakeSlack() as slack, httpx.AsyncClient(timeout=5) as http:
        slack.add_user(ANA, "ana")
        slack.add_channel(CHANNEL, "launch")
        port = _free_port()
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            app_token=SecretStr(slack.app_token),
            mode="socket",
            api_base_url=slack.api_base_url,
            file_origins=[slack.base_url],
        )
        settings.web = WebSettings(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}")
        settings.secret_key = SecretStr("test-vault-secret-with-enough-entropy-0123456789")
        settings.vault = VaultSettings(iterations=100_000)
        task = asyncio.create_task(run_slack(settings))
        try:
            await slack.wait_for(lambda: slack.sockets or task.done(), timeout=20)
            assert not task.done(), task
            sender = SlackSender(slack, "http://127.0.0.1:9/unused", "", http)
            ack = await slack.socket_request(
                "slash_commands", sender.command_fields("/schedule", "", user=ANA, channel=CHANNEL)
            )
            assert ack["payload"]["text"] == SCHEDULING
            # The links /link DMs point at this server: it must be up in Socket Mode too.
            assert (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_socket_mode_with_a_refused_app_token_stops_with_one_line(
    settings: Settings, db: Database
) -> None:
    """A mistyped or revoked app token (still xapp-…): Slack answers invalid_auth, which the socket
    client would retry for ever (found following docs/setup/slack.md with a wrong token)."""
    async with FakeSlack() as slack:
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            app_token=SecretStr("xapp-1-A0POSTBOT-1-not-the-one-slack-issued"),
            mode="socket",
            api_base_url=slack.api_base_url,
        )
        settings.web = WebSettings(host="127.0.0.1", port=_free_port())
        with pytest.raises(ConfigError) as refused:
            async with asyncio.timeout(20):
                await run_slack(settings)
    assert str(refused.value).startswith("config error: Slack refused slack.app_token (invalid_auth)")
    assert "POSTBOT_SLACK__APP_TOKEN" in str(refused.value)
    assert not slack.sockets
