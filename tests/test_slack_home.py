"""The Slack Home tab through slack-bolt and slack_sdk against the fake: drawn on app_home_opened,
re-published (throttled) when the workspace's posts change, within what views.publish accepts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.home import MAX_HOME_BLOCKS
from adapters.slack.run import EVENTS_PATH, SlackChat
from bot.wiring import build_app
from core.config import Settings, SlackSettings, VaultSettings
from tests.conftest import Database
from tests.fakes.slack_api import FakeSlack, LoopbackServer, SlackSender
from tests.test_slack_adapter import ANA, BEN, CHANNEL, MANIFEST, SECRET, Harness, manifest_scopes

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
HOME_TAB = yaml.safe_load(MANIFEST.read_text())["features"]["app_home"]["home_tab_enabled"]
REFRESH_S = 1.5


class Clock:
    """A clock the test moves (HomeTabs' ``clock``): how long a step takes on a loaded machine does
    not count toward ``slack.home_recent_s``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def _workspace(
    settings: Settings, db: Database, *, publish_per_minute: int = 100, **slack_settings: Any
) -> AsyncIterator[Harness]:
    """Ana, Ben and #launch on a fake Slack with the Home tab on; ``slack_settings`` tune postbot."""
    async with FakeSlack(
        scopes=manifest_scopes(), home_tab_enabled=HOME_TAB, publish_limit_per_minute=publish_per_minute
    ) as slack:
        slack.add_user(ANA, "ana", tz="America/New_York")
        slack.add_user(BEN, "ben", tz="Europe/Berlin", is_admin=True)
        slack.add_channel(CHANNEL, "launch")
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            signing_secret=SecretStr(SECRET),
            mode="http",
            api_base_url=slack.api_base_url,
            file_origins=[slack.base_url],
            home_publish_per_minute=publish_per_minute,
            **slack_settings,
        )
        settings.secret_key = SecretStr("test-vault-secret-with-enough-entropy-0123456789")
        settings.vault = VaultSettings(iterations=100_000)
        app = await build_app(settings, schema=db.schema, worker_id="w1")
        chat = SlackChat(app.postbot, app.http, bot_token=slack.bot_token, signing_secret=SECRET)
        app.notifier.register(chat.kind, chat.notifier())
        try:
            async with LoopbackServer(chat.asgi()) as server, httpx.AsyncClient(timeout=10) as http:
                sender = SlackSender(slack, server.url + EVENTS_PATH, SECRET, http)
                yield Harness(slack, sender, app, settings, chat=chat)
        finally:
            await chat.stop()
            await app.close()
            await chat.close()


@pytest.fixture
async def home(settings: Settings, db: Database) -> AsyncIterator[Harness]:
    async with _workspace(settings, db, home_refresh_s=REFRESH_S) as harness:
        yield harness


def _opened(user: str, tab: str = "home") -> dict[str, Any]:
    """app_home_opened as Slack sends it (https://api.slack.com/events/app_home_opened)."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0HOME",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def _text(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(parts)


def _home_with(slack: FakeSlack, user: str, needle: str) -> dict[str, Any] | None:
    view = slack.home_views.get(user)
    return view if view is not None and needle in _text(view) else None


def _publishes(slack: FakeSlack, user: str) -> int:
    return len([c for c in slack.calls if c.method == "views.publish" and c.args.get("user_id") == user])


@sqlite_only
async def test_home_tab_shows_the_week_accounts_and_results_and_follows_changes(
    home: Harness, clip: Path
) -> None:
    h = home
    await h.sender.event(_opened(ANA, tab="messages"))  # the Messages tab: nothing to draw
    await h.sender.event(_opened(ANA))
    view = await h.slack.wait_for(lambda: h.slack.home_views.get(ANA))
    text = _text(view)
    assert view["type"] == "home" and len(view["blocks"]) <= MAX_HOME_BLOCKS
    assert "The week ahead" in text and "Today," in text and "_nothing scheduled_" in text
    assert "Linked accounts" in text and "No accounts are linked yet" in text and "/postbot link" in text
    assert "Latest results" in text and "Times in America/New_York" in text
    assert _publishes(h.slack, ANA) == 1

    # A post queued from a channel shows on the day it runs, in the viewer's zone.
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 9am sandbox Launch <day>", user=ANA, channel=CHANNEL)
    await h.reply()
    view = await h.slack.wait_for(lambda: _home_with(h.slack, ANA, "#1 Sandbox"))
    tomorrow = next(
        b["text"]["text"] for b in view["blocks"] if "#1 Sandbox" in b.get("text", {}).get("text", "")
    )
    assert tomorrow.startswith("*") and "09:00 · #1 Sandbox · Launch &lt;day&gt;" in tomorrow
    assert "Today," not in tomorrow

    # A burst of changes is one refresh per interval, not one per change.
    before = _publishes(h.slack, ANA)
    started = time.monotonic()
    for _ in range(4):
        await h.sender.command("/postbot", "pause sandbox", user=BEN, channel=CHANNEL)
    await h.slack.wait_for(lambda: len([x for x in h.slack.hooks if "paused. Due" in x["text"]]) >= 4 or None)
    elapsed = time.monotonic() - started
    paused = await h.slack.wait_for(lambda: _home_with(h.slack, ANA, "⏸ Paused: Sandbox"))
    assert "#1 Sandbox · Launch &lt;day&gt; · *paused*" in _text(paused)
    await asyncio.sleep(REFRESH_S * 1.5)
    # Four changes within about `elapsed`: one refresh at once, then at most one per interval.
    assert 1 <= _publishes(h.slack, ANA) - before <= 2 + int(elapsed / REFRESH_S)
    await h.sender.command("/postbot", "resume", user=BEN, channel=CHANNEL)
    await h.hook("resumed")

    # Published by the scheduler in this process: the result appears among the latest results.
    await h.app.start_scheduler()
    await h.sender.command("/postbot", "cancel 1", user=ANA, channel=CHANNEL)
    await h.sender.command("/post", "sandbox Now", user=ANA, channel=CHANNEL)
    view = await h.slack.wait_for(lambda: _home_with(h.slack, ANA, "✅ #2 Sandbox"), timeout=20)
    assert "#1 Sandbox" not in _text(view)  # cancelled: gone from the week


async def test_views_publish_is_held_to_slacks_rules() -> None:
    """https://api.slack.com/methods/views.publish and https://docs.slack.dev/reference/views/home-tab-views"""
    async with FakeSlack(home_tab_enabled=True) as slack:
        slack.add_user(ANA, "ana")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        ok = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
        assert (await client.views_publish(user_id=ANA, view=ok))["view"]["type"] == "home"
        bad: list[tuple[dict[str, Any], str]] = [
            ({"user_id": "", "view": ok}, "invalid_arguments"),
            ({"user_id": "U0NOBODY", "view": ok}, "invalid_arguments"),
            ({"user_id": ANA, "view": {**ok, "type": "modal"}}, "invalid_arguments"),
            ({"user_id": ANA, "view": {"type": "home"}}, "invalid_arguments"),
            ({"user_id": ANA, "view": {"type": "home", "blocks": ok["blocks"] * 101}}, "invalid_blocks"),
        ]
        for kwargs, error in bad:
            with pytest.raises(SlackApiError) as info:
                await client.views_publish(**kwargs)
            assert info.value.response["error"] == error, kwargs
    async with FakeSlack(home_tab_enabled=False) as slack:
        slack.add_user(ANA, "ana")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        with pytest.raises(SlackApiError) as info:
            await client.views_publish(user_id=ANA, view=ok)
        assert info.value.response["error"] == "not_enabled"


@sqlite_only
async def test_home_tab_shows_only_channels_the_viewer_is_in(home: Harness, clip: Path) -> None:
    """A private channel's captions and results are for its members: the Home tab lists posts from
    the channels a member shares with postbot (users.conversations), and their own."""
    h = home
    secret = "G0SECRET"
    h.slack.add_channel(secret, "secret-launch", private=True, members={BEN})
    await h.shared(BEN, secret, h.slack.add_file(BEN, secret, clip))
    await h.sender.command("/schedule", "tomorrow 9am sandbox Secret launch", user=BEN, channel=secret)
    await h.reply(channel=secret)
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    await h.sender.command("/schedule", "tomorrow 10am sandbox Open launch", user=ANA, channel=CHANNEL)
    await h.reply()

    await h.sender.event(_opened(ANA))
    ana = await h.slack.wait_for(lambda: _home_with(h.slack, ANA, "Open launch"))
    assert "Secret launch" not in _text(ana)
    await h.sender.event(_opened(BEN))
    ben = await h.slack.wait_for(lambda: _home_with(h.slack, BEN, "Open launch"))
    assert "Secret launch" in _text(ben)
    assert {c.args.get("user") for c in h.slack.calls_to("users.conversations")} == {ANA, BEN}


@pytest.fixture
async def crowd(settings: Settings, db: Database) -> AsyncIterator[Harness]:
    """A workspace whose views.publish allows 10 calls a minute (Slack's is 100, Tier 4: the same rule,
    scaled down so a test sees it within seconds), and postbot told the same."""
    async with _workspace(
        settings, db, publish_per_minute=10, home_refresh_s=0.5, home_recent_s=2.0
    ) as harness:
        for i in range(1, 7):
            harness.slack.add_user(f"U0V{i:02d}", f"viewer{i}")
        yield harness


@sqlite_only
async def test_changes_refresh_only_recent_viewers_within_the_rate_limit(crowd: Harness, clip: Path) -> None:
    h = crowd
    # The Home tabs' clock moves only where the test moves it: on the loop's, a loaded machine took
    # longer than slack.home_recent_s (2 s) to upload and queue the video, and the viewers who had
    # just opened the tab no longer counted as recent, so nobody's tab was refreshed.
    clock = Clock()
    assert h.chat is not None
    h.chat.handlers.homes.clock = clock
    gone, here = ["U0V01", "U0V02", "U0V03"], ["U0V04", "U0V05", "U0V06"]
    for user in gone:
        await h.sender.event(_opened(user))
    await h.slack.wait_for(lambda: all(u in h.slack.home_views for u in gone))
    clock.now += 2.2  # past slack.home_recent_s: they have left the tab, as far as anyone knows
    for user in here:
        await h.sender.event(_opened(user))
    await h.slack.wait_for(lambda: all(u in h.slack.home_views for u in here))

    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    await h.sender.command("/schedule", "tomorrow 9am sandbox Launch", user=ANA, channel=CHANNEL)
    # Fetching, probing and queueing the video, then three tabs built and published: 2.3 to 4.7 s
    # at load average 15, and once more than the default 10 s.
    await h.slack.wait_for(lambda: all(_publishes(h.slack, u) == 2 for u in here), timeout=30)
    assert all(_publishes(h.slack, u) == 1 for u in gone)

    # A burst of changes is one more refresh; it needs 3 calls and the minute has room for 1: the
    # rest wait for the window instead of being refused.
    for _ in range(4):
        await h.sender.command("/postbot", "pause sandbox", user=BEN, channel=CHANNEL)
    await h.slack.wait_for(lambda: len(h.slack.calls_to("views.publish")) >= 10, timeout=30)
    await asyncio.sleep(1.5)
    publishes = h.slack.calls_to("views.publish")
    assert len(publishes) == 10 and all(c.status == 200 for c in publishes)
    assert all(_publishes(h.slack, u) == 1 for u in gone)
