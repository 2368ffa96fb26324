"""The Slack adapter end to end: the real bolt AsyncApp in HTTP mode on loopback, signed requests from
a fake Slack, its Web API client pointed at the fake (``base_url``), the real core and scheduler."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy import Connection, event, select

from adapters.slack.run import EVENTS_PATH, SlackChat, SlackReporter
from bot.wiring import App, build_app
from core.config import LinkSettings, PlatformSettings, Settings, SlackSettings, VaultSettings
from core.db.models import MediaAsset, RecentFile, ScheduledPost
from core.domain import ChatKind
from tests.clips import sized_clip
from tests.conftest import Database
from tests.fakes.slack_api import FakeFile, FakeSlack, LoopbackServer, SlackSender, sign
from tests.fakes.web_host import WebHost

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
# For tests whose subject is not storage: one database is enough (the rest run on both).
sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
MANIFEST = Path(__file__).resolve().parents[1] / "adapters" / "slack" / "manifest.yml"
ANA, BEN, CHANNEL = "U0ANA", "U0BEN", "C0LAUNCH"


def manifest_scopes() -> set[str]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    return set(manifest["oauth_config"]["scopes"]["bot"])


@dataclass
class Harness:
    slack: FakeSlack
    sender: SlackSender
    app: App
    settings: Settings
    # The Slack process's chat (its request redraws), where a test needs it.
    chat: SlackChat | None = None

    async def posts(self) -> list[ScheduledPost]:
        async with self.app.sessions() as session:
            return list((await session.execute(select(ScheduledPost).order_by(ScheduledPost.id))).scalars())

    def bot_messages(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        return self.slack.posted(channel)

    async def reply(self, predicate: Any = None, channel: str = CHANNEL) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for message in self.bot_messages(channel):
                if predicate is None or predicate(message):
                    return message
            return None

        result: dict[str, Any] = await self.slack.wait_for(found)
        return result

    async def shared(
        self, user: str, channel: str, file: FakeFile, text: str = "", **kw: Any
    ) -> dict[str, Any]:
        """Upload a file the way Slack reports it, and wait until the bot has remembered it (events are
        processed after their ack, and a person types the command seconds later, not microseconds)."""
        message = await self.sender.share_file(user, channel, file, text, **kw)
        async with asyncio.timeout(10):
            while True:
                async with self.app.sessions() as session:
                    query = select(RecentFile).where(RecentFile.file_id == file.id)
                    row = (await session.execute(query)).scalar_one_or_none()
                if row is not None and row.message_ts == message["ts"] and row.size_bytes is not None:
                    return message
                await asyncio.sleep(0.02)

    async def hook(self, contains: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.slack.wait_for(
            lambda: next((h for h in self.slack.hooks if contains in h.get("text", "")), None)
        )
        return result


@pytest.fixture
async def harness(settings: Settings, db: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    async with FakeSlack(scopes=manifest_scopes()) as slack:
        slack.add_user(ANA, "ana", tz="America/New_York")
        slack.add_user(BEN, "ben", tz="Europe/Berlin", is_admin=True)
        slack.add_channel(CHANNEL, "launch")
        settings.slack = SlackSettings(
            bot_token=SecretStr(slack.bot_token),
            signing_secret=SecretStr(SECRET),
            mode="http",
            api_base_url=slack.api_base_url,
            file_origins=[slack.base_url],
            recent_file_window_s=900,
        )
        settings.secret_key = SecretStr("test-vault-secret-with-enough-entropy-0123456789")
        settings.vault = VaultSettings(iterations=100_000)
        settings.platforms.youtube = PlatformSettings(
            client_id="yt-client", client_secret=SecretStr("yt-secret")
        )
        app = await build_app(settings, schema=db.schema, worker_id="w1")
        chat = SlackChat(app.postbot, app.http, bot_token=slack.bot_token, signing_secret=SECRET)
        app.notifier.register(chat.kind, chat.notifier())
        try:
            async with LoopbackServer(chat.asgi()) as server, httpx.AsyncClient(timeout=10) as http:
                sender = SlackSender(slack, server.url + EVENTS_PATH, SECRET, http)
                yield Harness(slack, sender, app, settings, chat)
        finally:
            # The order bot/runtime.py stops a process in.
            await chat.stop()
            await app.close()
            await chat.close()


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        el["action_id"]
        for block in message.get("blocks", [])
        for el in [*block.get("elements", []), block.get("accessory") or {}]
        if el.get("type") == "button"
    ]


def _block_text(message: dict[str, Any]) -> str:
    parts = []
    for block in message.get("blocks", []):
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(obj, dict) and "text" in obj and isinstance(obj["text"], str):
                parts.append(obj["text"])
    return "\n".join(parts)


async def test_schedule_uses_the_video_the_user_just_shared(harness: Harness, clip: Path) -> None:
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    shared = await h.shared(ANA, CHANNEL, upload, "here's the launch cut")

    started = time.perf_counter()
    response = await h.sender.command(
        "/schedule", "tomorrow 6pm sandbox Launch day #launch", user=ANA, channel=CHANNEL
    )
    assert response.status_code == 200
    assert time.perf_counter() - started < 1.0
    assert response.text.startswith("Scheduling")

    reply = await h.reply()
    # The answer sits in the thread of the message that carried the video.
    assert reply["thread_ts"] == shared["ts"]
    text = _block_text(reply)
    assert "#1 Sandbox" in text and "clip.mp4" in text
    # Ana's zone comes from users.info, not from the workspace default (Europe/Berlin).
    assert "18:00 America/New_York" in text
    assert "postbot_cancel:1" in _buttons(reply)

    [post] = await h.posts()
    assert post.status == "queued" and post.caption == "Launch day #launch"
    assert post.origin_channel == CHANNEL and post.origin_thread == shared["ts"]
    # The answer is recorded with the post (right after it is sent): the upload's live progress
    # goes in its thread.
    async with asyncio.timeout(5):
        while ((p := (await h.posts())[0]).reply_channel, p.reply_message) != (CHANNEL, reply["ts"]):
            await asyncio.sleep(0.02)
    # Downloaded once, with the bot token, and stored byte for byte.
    assert h.slack.downloads == [{"file": upload.id, "authorized": True}]
    async with h.app.sessions() as session:
        asset = await session.get(MediaAsset, post.media_id)
        assert asset is not None
        stored = h.app.storage.local_path(asset.path)
        assert stored is not None and stored.read_bytes() == clip.read_bytes()
    assert h.slack.calls_to("users.info")[0].args["user"] == ANA


async def test_post_now_publishes_and_links_the_result_in_the_thread(harness: Harness, clip: Path) -> None:
    h = harness
    await h.app.start_scheduler()
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    shared = await h.shared(ANA, CHANNEL, upload, file_shared=False)
    response = await h.sender.command("/post", "sandbox Out now", user=ANA, channel=CHANNEL)
    assert response.status_code == 200
    # The summary block agrees with the text: going now, not "Scheduled" (issue 23).
    accepted = await h.reply(lambda m: m["text"].startswith("Publishing"))
    [summary] = [b for b in accepted["blocks"] if b.get("block_id") == "summary"]
    assert summary["text"]["text"] == f":calendar: Publishing *{clip.name}* to Sandbox now"

    published = await h.reply(lambda m: m["text"].startswith("Published #1"))
    assert published["thread_ts"] == shared["ts"]
    assert "file://" in published["text"]
    [post] = await h.posts()
    assert post.status == "published" and post.remote_id == "sandbox-1"


async def test_shortcut_opens_a_modal_and_its_submission_schedules(harness: Harness, clip: Path) -> None:
    h = harness
    upload = h.slack.add_file(BEN, CHANNEL, clip, name="teaser.mp4")
    message = h.sender.user_message(BEN, CHANNEL, "Teaser for friday <@U0ANA>", [upload])

    response = await h.sender.message_shortcut(
        "schedule_this_post", user=BEN, channel=CHANNEL, message=message
    )
    assert response.status_code == 200
    opened = await h.slack.wait_for(lambda: h.slack.views)
    [view] = opened.values()
    assert view["callback_id"] == "postbot_schedule_modal"
    caption_input = next(b for b in view["blocks"] if b.get("block_id") == "caption")
    assert caption_input["element"]["initial_value"] == "Teaser for friday"

    def values(when: str, platforms: list[str]) -> dict[str, Any]:
        return {
            "when": {"when_text": {"type": "plain_text_input", "value": when}},
            "platforms": {
                "platforms_selected": {
                    "type": "checkboxes",
                    "selected_options": [
                        {"text": {"type": "plain_text", "text": p}, "value": p} for p in platforms
                    ],
                }
            },
            "caption": {"caption_text": {"type": "plain_text_input", "value": "Teaser #friday"}},
        }

    # A time in the past is refused under the field, and the modal stays open.
    bad = await h.sender.submit_view(view["id"], user=BEN, values=values("yesterday 9am", ["sandbox"]))
    assert bad.status_code == 200
    assert bad.json()["response_action"] == "errors" and "past" in bad.json()["errors"]["when"]
    none = await h.sender.submit_view(view["id"], user=BEN, values=values("in 2 hours", []))
    assert none.json()["errors"] == {"platforms": "Pick at least one platform."}
    assert await h.posts() == []

    ok = await h.sender.submit_view(view["id"], user=BEN, values=values("friday 9am", ["sandbox"]))
    assert ok.status_code == 200 and ok.content == b""
    reply = await h.reply()
    assert reply["thread_ts"] == message["ts"]
    assert "09:00 Europe/Berlin" in _block_text(reply) and "teaser.mp4" in _block_text(reply)
    [post] = await h.posts()
    assert post.caption == "Teaser #friday"


async def test_mentioning_the_bot_on_the_message_with_the_video(harness: Harness, clip: Path) -> None:
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    message = await h.sender.mention(ANA, CHANNEL, "in 3 hours sandbox Mention launch", [upload])
    reply = await h.reply()
    assert reply["thread_ts"] == message["ts"]
    [post] = await h.posts()
    assert post.caption == "Mention launch" and post.origin_thread == message["ts"]

    # Slack redelivers an event it thinks was lost: the same posts, no second reply.
    event = next(e for e in h.sender.sent if e.get("event", {}).get("type") == "app_mention")
    await h.sender.event(event["event"], retry_num=1)
    await asyncio.sleep(0.5)
    assert len(await h.posts()) == 1
    assert len(h.bot_messages()) == 1


async def test_cancel_button_cancels_and_updates_the_message(harness: Harness, clip: Path) -> None:
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 9am sandbox Cancel me", user=ANA, channel=CHANNEL)
    reply = await h.reply()

    # Someone else (not an admin) may not cancel Ana's post.
    h.slack.add_user("U0EVE", "eve", tz="UTC")
    await h.sender.click("postbot_cancel:1", user="U0EVE", channel=CHANNEL, message=reply)
    refusal = await h.hook("Only the author")
    assert refusal["replace_original"] is False
    [post] = await h.posts()
    assert post.status == "queued"

    response = await h.sender.click("postbot_cancel:1", user=ANA, channel=CHANNEL, message=reply)
    assert response.status_code == 200
    await h.slack.wait_for(lambda: h.slack.calls_to("chat.update"))
    [post] = await h.posts()
    assert post.status == "cancelled"
    updated = h.bot_messages()[0]
    assert "postbot_cancel:1" not in _buttons(updated)
    assert "cancelled by <@U0ANA>" in _block_text(updated)
    # Every changed block came with a new block_id, so Slack clients redraw it.
    assert h.slack.reused_block_ids == []


async def test_queue_lists_channel_posts_with_cancel_buttons(harness: Harness, clip: Path) -> None:
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 9am sandbox First", user=ANA, channel=CHANNEL)
    await h.reply()
    await h.sender.command("/postbot", "queue", user=ANA, channel=CHANNEL)
    listing = await h.slack.wait_for(
        lambda: next((x for x in h.slack.hooks if "Upcoming" in x["text"]), None)
    )
    assert "#1 Sandbox" in listing["text"] and "First" in listing["text"]
    assert listing["response_type"] == "ephemeral"
    assert "postbot_cancel:1" in _buttons(listing)

    # Cancel on the private listing: the listing is replaced through its response_url.
    shown = {**listing, "ts": h.slack.new_ts()}
    await h.sender.click("postbot_cancel:1", user=ANA, channel=CHANNEL, message=shown, ephemeral=True)
    replaced = await h.slack.wait_for(
        lambda: next((x for x in h.slack.hooks if x.get("replace_original")), None)
    )
    assert "postbot_cancel:1" not in _buttons(replaced)
    assert "cancelled by <@U0ANA>" in _block_text(replaced)
    [post] = await h.posts()
    assert post.status == "cancelled"


async def test_final_failure_is_dmed_to_the_author(harness: Harness, clip: Path) -> None:
    h = harness
    # The sandbox "platform" cannot write its folder: every attempt fails, and one attempt is all.
    h.settings.platform_dir("sandbox").parent.mkdir(parents=True, exist_ok=True)
    h.settings.platform_dir("sandbox").write_text("not a folder")
    h.settings.platforms.sandbox = PlatformSettings(max_attempts=1)
    await h.app.start_scheduler()
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    shared = await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/post", "sandbox Doomed", user=ANA, channel=CHANNEL)

    failed = await h.reply(lambda m: "failed after" in m["text"])
    assert failed["thread_ts"] == shared["ts"]
    dm_channel = await h.slack.wait_for(lambda: h.slack.ims.get(ANA))
    dm = await h.slack.wait_for(lambda: h.slack.posted(dm_channel))
    assert "Your post #1 to Sandbox could not be published." in dm[0]["text"]
    assert "Reason:" in dm[0]["text"] and "What to do:" in dm[0]["text"]
    assert h.slack.bot_token not in dm[0]["text"]
    assert h.slack.calls_to("conversations.open")[0].args["users"] == ANA


def _bodies(h: Harness) -> dict[str, tuple[bytes, str]]:
    command = h.sender.command_body("/schedule", "tomorrow 6pm sandbox x", user=ANA, channel=CHANNEL)
    event = {"type": "event_callback", "team_id": h.slack.team_id, "event": {"type": "app_mention"}}
    payload = {"type": "block_actions", "team": {"id": h.slack.team_id}, "user": {"id": ANA}, "actions": []}
    return {
        "command": (command, "application/x-www-form-urlencoded"),
        "event": (json.dumps(event).encode(), "application/json"),
        "interaction": (
            urlencode({"payload": json.dumps(payload)}).encode(),
            "application/x-www-form-urlencoded",
        ),
    }


@sqlite_only
@pytest.mark.parametrize("kind", ["command", "event", "interaction"])
@pytest.mark.parametrize("case", ["forged", "stale", "unsigned"])
async def test_forged_and_stale_requests_are_rejected(harness: Harness, case: str, kind: str) -> None:
    h = harness
    body, content_type = _bodies(h)[kind]
    now = int(time.time())
    if case == "forged":
        response = await h.sender.post(body, content_type, signature=sign("wrong", str(now), body))
    elif case == "stale":
        # Correctly signed, but six minutes old: outside the 5-minute replay window.
        response = await h.sender.post(body, content_type, timestamp=now - 6 * 60)
    else:
        response = await h.sender.http.post(
            h.sender.app_url, content=body, headers={"Content-Type": content_type}
        )
    assert response.status_code == 401
    await asyncio.sleep(0.2)
    assert h.slack.calls == [] and h.slack.hooks == []
    assert await h.posts() == []


async def test_schedule_without_a_recent_video_says_what_to_do(harness: Harness, clip: Path) -> None:
    h = harness
    # Ben's video does not count for Ana, and neither does a video in another channel.
    h.slack.add_channel("C0OTHER", "other")
    await h.shared(BEN, CHANNEL, h.slack.add_file(BEN, CHANNEL, clip))
    await h.shared(ANA, "C0OTHER", h.slack.add_file(ANA, "C0OTHER", clip))
    response = await h.sender.command("/schedule", "tomorrow 6pm sandbox Hi", user=ANA, channel=CHANNEL)
    assert response.status_code == 200
    hook = await h.hook("no video you shared")
    assert "last 15 minutes" in hook["text"] and "Upload the video here first" in hook["text"]
    assert await h.posts() == []
    assert h.slack.downloads == [] and h.bot_messages() == []


@sqlite_only
async def test_a_video_too_large_for_a_platform_is_refused_before_download(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    big = sized_clip(tmp_path / "big.mp4", size_bytes=301 * 1000 * 1000, fill="sparse")
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, big))
    await h.sender.command("/schedule", "tomorrow 6pm instagram,sandbox Too big", user=ANA, channel=CHANNEL)
    hook = await h.hook("Instagram takes at most 300")
    assert "✗ The video is 301" in hook["text"]
    assert h.slack.downloads == []
    assert await h.posts() == []


async def test_one_command_is_one_write_transaction(harness: Harness, clip: Path) -> None:
    """/schedule reads the user's zone and the recent file without writing, reads the command once,
    and queues in one transaction (it used to upsert the team and user three times)."""
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    statements: dict[int, list[str]] = {}
    commits: list[list[str]] = []

    def executed(conn: Connection, cursor: object, statement: str, *args: object) -> None:
        statements.setdefault(id(conn), []).append(statement)

    def committed(conn: Connection) -> None:
        done = statements.pop(id(conn), [])
        # The upload's second report (file_shared after the message event) may still be stored
        # while the command runs: that transaction is the upload's, not the command's. So is the
        # media store's mark that the video's key is wanted, committed before it looks for the
        # object so retention can't take it meanwhile (core/media/retention.py).
        # A commit with no write in it (a session that only read, or none at all) isn't a write
        # transaction; under load one such empty commit lands inside the command's window.
        writes = any(s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for s in done)
        if writes and not any("recent_files" in s or "media_blobs" in s for s in done):
            commits.append(done)

    def rolled_back(conn: Connection) -> None:
        statements.pop(id(conn), None)

    engine = h.app.engine.sync_engine
    listeners = [("before_cursor_execute", executed), ("commit", committed), ("rollback", rolled_back)]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        await h.sender.command("/schedule", "tomorrow 6pm sandbox One write", user=ANA, channel=CHANNEL)
        await h.reply()
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
    assert len(commits) == 1, commits
    assert any(s.startswith("INSERT INTO scheduled_posts") for s in commits[0])
    assert [p.caption for p in await h.posts()] == ["One write"]


async def test_the_modal_reads_the_time_once_and_refuses_a_bad_one_before_the_download(
    harness: Harness, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "Schedule this post" form is one facade call, like /schedule: the time is read once (it
    used to be checked alone, then read again with the command), and a bad one is shown under the
    field before anything is downloaded."""
    import core.service.queue
    import core.timeparse.command

    h = harness
    reads: list[str] = []
    real = core.timeparse.command.parse_when

    def counted(text: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(text)
        return real(text, *args, **kwargs)

    # Observed, not replaced: both places the facade can read a time from.
    monkeypatch.setattr(core.timeparse.command, "parse_when", counted)
    monkeypatch.setattr(core.service.queue, "parse_when", counted)
    upload = h.slack.add_file(BEN, CHANNEL, clip, name="teaser.mp4")
    message = h.sender.user_message(BEN, CHANNEL, "Teaser", [upload])
    await h.sender.message_shortcut("schedule_this_post", user=BEN, channel=CHANNEL, message=message)
    [view] = (await h.slack.wait_for(lambda: h.slack.views)).values()

    def values(when: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": "sandbox"}, "value": "sandbox"}
        return {
            "when": {"when_text": {"type": "plain_text_input", "value": when}},
            "platforms": {"platforms_selected": {"type": "checkboxes", "selected_options": [option]}},
            "caption": {"caption_text": {"type": "plain_text_input", "value": "Teaser"}},
        }

    bad = await h.sender.submit_view(view["id"], user=BEN, values=values("yesterday 9am"))
    assert bad.json()["response_action"] == "errors" and "past" in bad.json()["errors"]["when"]
    assert reads == ["yesterday 9am"] and h.slack.downloads == []
    reads.clear()
    ok = await h.sender.submit_view(view["id"], user=BEN, values=values("friday 9am"))
    assert ok.status_code == 200 and ok.content == b""
    await h.reply()
    assert reads == ["friday 9am"]
    assert [p.caption for p in await h.posts()] == ["Teaser"]


@sqlite_only
async def test_a_bad_time_is_refused_before_the_download(harness: Harness, clip: Path) -> None:
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    await h.sender.command("/schedule", "someday sandbox Hi", user=ANA, channel=CHANNEL)
    hook = await h.hook("couldn't read")
    assert hook["text"].startswith("✗ ")
    assert h.slack.downloads == []


@sqlite_only
async def test_replies_wait_out_slack_rate_limits(harness: Harness, clip: Path) -> None:
    h = harness
    h.slack.rate_limit("chat.postMessage", retry_after=1)
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Busy day", user=ANA, channel=CHANNEL)
    await h.reply()
    statuses = [c.status for c in h.slack.calls_to("chat.postMessage")]
    assert statuses == [429, 200]


async def test_a_suggested_slot_button_moves_the_post(harness: Harness, clip: Path) -> None:
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Slots", user=ANA, channel=CHANNEL)
    reply = await h.reply()
    slots = [a for a in _buttons(reply) if a.startswith("postbot_slot:1:")]
    assert slots, "the scheduling reply offers the core's suggested slots"
    stamp = int(slots[0].rsplit(":", 1)[1])

    await h.sender.click(slots[0], user=ANA, channel=CHANNEL, message=reply)
    await h.slack.wait_for(lambda: h.slack.calls_to("chat.update"))
    [post] = await h.posts()
    assert int(post.run_at.timestamp()) == stamp
    updated = h.bot_messages()[0]
    assert not any(a.startswith("postbot_slot:1:") for a in _buttons(updated))
    assert "postbot_cancel:1" in _buttons(updated)
    assert "moved to" in _block_text(updated)
    assert h.slack.reused_block_ids == []


@sqlite_only
async def test_the_top_level_text_is_escaped_current_and_names_todays_commands(
    harness: Harness, clip: Path
) -> None:
    """The top-level text is what notifications and screen readers show: escaped as Slack's
    formatting reference asks (the fake refuses raw &, < and >), naming /postbot cancel (new
    installs have no /cancel), and saying what a button did once it did it."""
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip, name="R&D final.mp4"))
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Slots", user=ANA, channel=CHANNEL)
    reply = await h.reply()
    assert "R&amp;D final.mp4" in reply["text"]
    assert "Cancel with /postbot cancel &lt;id&gt;." in reply["text"] and "/cancel <" not in reply["text"]
    old_time = reply["text"].split(" at ", 1)[1].split(" (", 1)[0]

    slot = next(a for a in _buttons(reply) if a.startswith("postbot_slot:1:"))
    await h.sender.click(slot, user=ANA, channel=CHANNEL, message=reply)
    await h.slack.wait_for(lambda: h.slack.calls_to("chat.update"))
    moved = h.bot_messages()[0]
    assert "#1 Sandbox moved to" in moved["text"] and "by <@U0ANA>" in moved["text"]
    assert old_time not in moved["text"]

    await h.sender.click("postbot_cancel:1", user=ANA, channel=CHANNEL, message=moved)
    await h.slack.wait_for(lambda: len(h.slack.calls_to("chat.update")) >= 2)
    assert h.bot_messages()[0]["text"] == "#1 Sandbox cancelled by <@U0ANA>."


@sqlite_only
async def test_suggest_lists_times_in_the_users_zone(harness: Harness) -> None:
    h = harness
    await h.sender.command("/postbot", "suggest youtube,instagram", user=BEN, channel=CHANNEL)
    hook = await h.hook("Suggested times")
    assert "YouTube:" in hook["text"] and "Instagram:" in hook["text"]
    assert "Europe/Berlin" in hook["text"]


@sqlite_only
async def test_link_is_for_admins_and_goes_by_dm(harness: Harness) -> None:
    h = harness
    await h.sender.command("/postbot", "link youtube", user=ANA, channel=CHANNEL)
    refusal = await h.hook("Only admins")
    assert "/postbot link youtube" in refusal["text"]
    assert h.slack.ims == {}

    await h.sender.command("/postbot", "link yt", user=BEN, channel=CHANNEL)
    await h.hook("I've sent you a direct message")
    dm = await h.slack.wait_for(lambda: h.slack.posted(h.slack.ims.get(BEN, "-")))
    assert "/oauth/youtube/start?state=" in dm[0]["text"]
    # The single-use link never appears in the channel or in a response_url reply.
    assert not any("state=" in h_["text"] for h_ in h.slack.hooks)
    assert h.bot_messages() == []


@sqlite_only
async def test_accounts_and_unlink_answer_from_the_core(harness: Harness) -> None:
    h = harness
    await h.sender.command("/postbot", "accounts", user=ANA, channel=CHANNEL)
    await h.hook("No accounts are linked yet")
    await h.sender.command("/postbot", "unlink youtube", user=ANA, channel=CHANNEL)
    await h.hook("Only admins can unlink")
    await h.sender.command("/postbot", "unlink youtube", user=BEN, channel=CHANNEL)
    await h.hook("No YouTube account is linked")


@sqlite_only
async def test_a_worker_process_reports_to_slack_without_serving_it(
    settings: Settings, db: Database, clip: Path
) -> None:
    """`postbot worker` runs no Slack endpoint; it reports through the Web API with the bot token."""
    async with FakeSlack(scopes=manifest_scopes()) as slack:
        slack.add_user(ANA, "ana")
        settings.slack = SlackSettings(bot_token=SecretStr(slack.bot_token), api_base_url=slack.api_base_url)
        app = await build_app(settings, schema=db.schema)
        reporter = SlackReporter(slack.bot_token, slack.api_base_url)
        app.notifier.register(reporter.kind, reporter.notifier())
        try:
            await app.notifier.dm(ChatKind.SLACK, slack.team_id, ANA, "Linked YouTube as @launchco.")
            [dm] = slack.posted(slack.ims[ANA])
            assert dm["text"] == "Linked YouTube as @launchco."
        finally:
            await app.close()
            await reporter.close()


@sqlite_only
async def test_a_failed_reply_still_tells_the_user_what_was_queued(harness: Harness, clip: Path) -> None:
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    h.slack.fail("chat.postMessage", "fatal_error")
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Quiet", user=ANA, channel=CHANNEL)
    hook = await h.hook("Slack said fatal_error")
    assert hook["text"].startswith("Scheduled clip.mp4 for Sandbox")
    [post] = await h.posts()
    assert post.status == "queued"


@sqlite_only
async def test_url_verification_challenge_is_answered(harness: Harness) -> None:
    """Slack checks a new Request URL with a signed challenge before sending anything else."""
    h = harness
    body = json.dumps(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = await h.sender.post(body.encode(), "application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


@sqlite_only
async def test_shortcut_on_a_message_without_a_video(harness: Harness, tmp_path: Path) -> None:
    h = harness
    image = tmp_path / "shot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    upload = h.slack.add_file(ANA, CHANNEL, image, mimetype="image/png", filetype="png")
    message = h.sender.user_message(ANA, CHANNEL, "a screenshot", [upload])
    response = await h.sender.message_shortcut(
        "schedule_this_post", user=ANA, channel=CHANNEL, message=message
    )
    assert response.status_code == 200
    note = await _seen(h, ANA, "no video")
    assert note["user"] == ANA
    assert h.slack.views == {} and h.slack.calls_to("views.open") == []


@sqlite_only
async def test_a_file_slack_will_not_hand_over_is_reported(harness: Harness, clip: Path) -> None:
    """Without files:read Slack answers a private download with its sign-in page, not the video."""
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    h.slack.scopes.discard("files:read")
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Locked", user=ANA, channel=CHANNEL)
    hook = await h.hook("did not hand over")
    assert "files:read" in hook["text"] and h.slack.bot_token not in hook["text"]
    assert h.slack.downloads == [{"file": h.slack.downloads[0]["file"], "authorized": True}]
    assert await h.posts() == []


@pytest.fixture
async def web_host(settings: Settings) -> AsyncIterator[WebHost]:
    """Videos shared by link come from here: https on loopback, reachable because the test says so.
    Requested before ``harness`` so the app is built with these link settings."""
    async with WebHost() as host:
        settings.links = LinkSettings(allow_networks=["127.0.0.0/8"], ca_file=host.ca_pem)
        yield host


async def _seen(h: Harness, user: str, contains: str) -> dict[str, Any]:
    """An ephemeral the user can actually see (Slack hides one aimed at a thread that doesn't exist)."""
    found: dict[str, Any] = await h.slack.wait_for(
        lambda: next((e for e in h.slack.shown_ephemerals(user) if contains in e["text"]), None)
    )
    return found


@sqlite_only
async def test_errors_reach_the_user_in_the_mention_shortcut_and_modal_flows(
    harness: Harness, clip: Path
) -> None:
    h = harness
    # @mention on a message without a video: said in the channel, where Ana sees it.
    await h.sender.mention(ANA, CHANNEL, "tomorrow 6pm sandbox No video here")
    await _seen(h, ANA, "has no video")
    # @mention with an unreadable time.
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.sender.mention(ANA, CHANNEL, "someday sandbox Hi", [upload])
    await _seen(h, ANA, "couldn't read")

    # The shortcut on a message without a video.
    plain = h.sender.user_message(BEN, CHANNEL, "just words")
    await h.sender.message_shortcut("schedule_this_post", user=BEN, channel=CHANNEL, message=plain)
    await _seen(h, BEN, "has no video")

    # A modal submitted for a file Slack won't hand over: the failed download is reported too.
    video = h.sender.user_message(BEN, CHANNEL, "teaser", [h.slack.add_file(BEN, CHANNEL, clip)])
    await h.sender.message_shortcut("schedule_this_post", user=BEN, channel=CHANNEL, message=video)
    [view] = (await h.slack.wait_for(lambda: h.slack.views)).values()
    h.slack.scopes.discard("files:read")
    values = {
        "when": {"when_text": {"type": "plain_text_input", "value": "tomorrow 9am"}},
        "platforms": {
            "platforms_selected": {
                "type": "checkboxes",
                "selected_options": [{"text": {"type": "plain_text", "text": "sandbox"}, "value": "sandbox"}],
            }
        },
        "caption": {"caption_text": {"type": "plain_text_input", "value": "x"}},
    }
    await h.sender.submit_view(view["id"], user=BEN, values=values)
    await _seen(h, BEN, "did not hand over")
    assert await h.posts() == []
    # Nothing was aimed at a thread that doesn't exist.
    assert all(e["shown"] for e in h.slack.ephemerals)


@sqlite_only
async def test_an_error_in_a_thread_stays_in_that_thread(harness: Harness) -> None:
    h = harness
    root = h.sender.user_message(ANA, CHANNEL, "launch plans")
    h.sender.user_message(BEN, CHANNEL, "sounds good", thread_ts=root["ts"])
    await h.sender.mention(ANA, CHANNEL, "tomorrow 6pm sandbox", thread_ts=root["ts"])
    note = await _seen(h, ANA, "has no video")
    assert note["thread_ts"] == root["ts"]


@sqlite_only
async def test_the_shortcut_in_a_channel_without_the_bot_answers_by_dm(harness: Harness) -> None:
    h = harness
    h.slack.add_channel("C0NOBOT", "elsewhere", bot_member=False)
    plain = h.sender.user_message(ANA, "C0NOBOT", "no video")
    await h.sender.message_shortcut("schedule_this_post", user=ANA, channel="C0NOBOT", message=plain)
    dm = await h.slack.wait_for(lambda: h.slack.posted(h.slack.ims.get(ANA, "-")))
    assert "has no video" in dm[0]["text"]


@sqlite_only
async def test_cancel_on_the_private_queue_keeps_the_rest_of_the_listing(
    harness: Harness, clip: Path
) -> None:
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    await h.sender.command("/schedule", "tomorrow 9am sandbox First", user=ANA, channel=CHANNEL)
    await h.reply()
    await h.sender.command("/schedule", "tomorrow 10am sandbox Second", user=ANA, channel=CHANNEL)
    await h.slack.wait_for(lambda: len(h.bot_messages()) >= 2)
    await h.sender.command("/postbot", "queue", user=ANA, channel=CHANNEL)
    listing = await h.hook("Upcoming")
    assert {"postbot_cancel:1", "postbot_cancel:2"} <= set(_buttons(listing))

    # Slack sends no copy of an ephemeral message with the click.
    shown = {**listing, "ts": h.slack.new_ts()}
    await h.sender.click("postbot_cancel:1", user=ANA, channel=CHANNEL, message=shown, ephemeral=True)
    assert "message" not in h.sender.sent[-1]
    replaced = await h.slack.wait_for(
        lambda: next((x for x in h.slack.hooks if x.get("replace_original")), None)
    )
    assert _buttons(replaced) == ["postbot_cancel:2"]
    assert "Second" in _block_text(replaced) and "cancelled by <@U0ANA>" in _block_text(replaced)


@sqlite_only
async def test_slack_connect_files_are_looked_up_with_files_info(harness: Harness, clip: Path) -> None:
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip, connect=True)
    shared = await h.shared(ANA, CHANNEL, upload, file_shared=False)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Agency cut", user=ANA, channel=CHANNEL)
    reply = await h.reply()
    assert reply["thread_ts"] == shared["ts"]
    [post] = await h.posts()
    assert post.caption == "Agency cut"
    assert any(c.args.get("file") == upload.id for c in h.slack.calls_to("files.info"))

    # The shortcut on such a message finds it the same way.
    message = h.sender.user_message(ANA, CHANNEL, "again", [upload])
    await h.sender.message_shortcut("schedule_this_post", user=ANA, channel=CHANNEL, message=message)
    [view] = (await h.slack.wait_for(lambda: h.slack.views)).values()
    assert clip.name in json.dumps(view["blocks"])


@sqlite_only
async def test_a_mention_uses_its_own_message_whatever_the_events_say(harness: Harness, clip: Path) -> None:
    h = harness
    # An older upload of Ana's is in the window: the mention must not take it for the new message.
    older = h.slack.add_file(ANA, CHANNEL, clip, name="older.mp4")
    await h.shared(ANA, CHANNEL, older)
    fresh = h.slack.add_file(ANA, CHANNEL, clip, name="fresh.mp4")
    message = await h.sender.mention(
        ANA,
        CHANNEL,
        "in 3 hours sandbox Fresh one",
        [fresh],
        files_in_app_mention=False,
        app_mention_first=True,
    )
    reply = await h.reply()
    assert reply["thread_ts"] == message["ts"] and "fresh.mp4" in _block_text(reply)
    assert len(await h.posts()) == 1
    assert h.slack.downloads[-1]["file"] == fresh.id

    # A mention on a message with no video says so instead of picking up the latest upload.
    await h.sender.mention(ANA, CHANNEL, "in 4 hours sandbox Nothing attached", files_in_app_mention=False)
    await _seen(h, ANA, "has no video")
    assert len(await h.posts()) == 1


@sqlite_only
async def test_a_mention_in_the_thread_of_a_video_uses_only_what_a_bot_token_may_read(
    harness: Harness, clip: Path
) -> None:
    """A bot token may not call conversations.replies on channels (the fake refuses it as Slack's
    reference says): a reply that mentions the bot is read from its own event, else the thread's
    parent is read with conversations.history."""
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip, name="parent.mp4")
    root = h.sender.user_message(ANA, CHANNEL, "launch cut", [upload])
    await h.sender.mention(BEN, CHANNEL, "in 3 hours sandbox From the thread", thread_ts=root["ts"])
    reply = await h.reply()
    assert reply["thread_ts"] == root["ts"] and "parent.mp4" in _block_text(reply)
    [post] = await h.posts()
    assert post.caption == "From the thread" and h.slack.downloads[-1]["file"] == upload.id
    assert h.slack.calls_to("conversations.replies") == []

    # A reply carrying its own video posts that one, not the parent's, even when Slack delivers the
    # app_mention first.
    own = h.slack.add_file(BEN, CHANNEL, clip, name="reply.mp4")
    await h.sender.mention(
        BEN, CHANNEL, "in 4 hours sandbox Its own", [own], thread_ts=root["ts"], app_mention_first=True
    )
    await h.slack.wait_for(lambda: len(h.bot_messages()) >= 2)
    assert "reply.mp4" in _block_text(h.bot_messages()[-1])
    assert h.slack.downloads[-1]["file"] == own.id
    assert [p.caption for p in await h.posts()] == ["From the thread", "Its own"]

    # The same when the app_mention comes without the reply's files: its message event has them.
    late = h.slack.add_file(BEN, CHANNEL, clip, name="late.mp4")
    await h.sender.mention(
        BEN,
        CHANNEL,
        "in 5 hours sandbox Late files",
        [late],
        thread_ts=root["ts"],
        files_in_app_mention=False,
        app_mention_first=True,
    )
    await h.slack.wait_for(lambda: len(h.bot_messages()) >= 3)
    assert "late.mp4" in _block_text(h.bot_messages()[-1])
    assert h.slack.downloads[-1]["file"] == late.id
    assert all(c.response["ok"] for c in h.slack.calls)


def _form(when: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": "sandbox"}, "value": "sandbox"}
    return {
        "when": {"when_text": {"type": "plain_text_input", "value": when}},
        "platforms": {"platforms_selected": {"type": "checkboxes", "selected_options": [option]}},
        "caption": {"caption_text": {"type": "plain_text_input", "value": "Teaser"}},
    }


@sqlite_only
async def test_the_form_is_answered_within_slacks_3_seconds_when_users_info_is_slow(
    harness: Harness, clip: Path
) -> None:
    """Slack allows 3 s to answer a view submission: a rate-limited users.info (the client waits out
    Retry-After) must not hold the answer; the post is queued after it, and a time that turns out
    unreadable is said privately with what was typed."""
    h = harness
    upload = h.slack.add_file(BEN, CHANNEL, clip, name="teaser.mp4")
    message = h.sender.user_message(BEN, CHANNEL, "Teaser", [upload])
    h.slack.rate_limit("users.info", retry_after=4)
    await h.sender.message_shortcut("schedule_this_post", user=BEN, channel=CHANNEL, message=message)
    [view] = (await h.slack.wait_for(lambda: h.slack.views)).values()
    started = time.monotonic()
    ok = await h.sender.submit_view(view["id"], user=BEN, values=_form("friday 9am"))
    assert ok.status_code == 200 and ok.content == b""
    assert time.monotonic() - started < 3.0
    reply = await h.reply()
    assert "09:00 Europe/Berlin" in _block_text(reply) and "teaser.mp4" in _block_text(reply)

    again = h.sender.user_message(ANA, CHANNEL, "Second cut", [h.slack.add_file(ANA, CHANNEL, clip)])
    h.slack.rate_limit("users.info", retry_after=4)
    await h.sender.message_shortcut("schedule_this_post", user=ANA, channel=CHANNEL, message=again)
    await h.slack.wait_for(lambda: len(h.slack.views) == 2)
    second = list(h.slack.views.values())[-1]
    started = time.monotonic()
    late = await h.sender.submit_view(second["id"], user=ANA, values=_form("someday sandbox"))
    assert late.status_code == 200 and time.monotonic() - started < 3.0
    note = await _seen(h, ANA, "someday")
    assert "Schedule this post" in note["text"] and "Something went wrong" not in note["text"]
    assert len(await h.posts()) == 1


@sqlite_only
async def test_the_time_picker_shows_the_zone_it_means(harness: Harness, clip: Path) -> None:
    """A picked time is read in the user's zone: the picker says which (Block Kit timepicker
    ``timezone``), and the reply agrees."""
    h = harness
    message = h.sender.user_message(BEN, CHANNEL, "Teaser", [h.slack.add_file(BEN, CHANNEL, clip)])
    await h.sender.message_shortcut("schedule_this_post", user=BEN, channel=CHANNEL, message=message)
    [view] = (await h.slack.wait_for(lambda: h.slack.views)).values()
    picker = next(b for b in view["blocks"] if b.get("block_id") == "when_time")
    assert picker["element"]["timezone"] == "Europe/Berlin"
    assert picker["label"]["text"] == "Time (Europe/Berlin)"
    option = {"text": {"type": "plain_text", "text": "sandbox"}, "value": "sandbox"}
    day = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=2)).date().isoformat()
    values = {
        "when_date": {"date": {"type": "datepicker", "selected_date": day}},
        "when_time": {"time": {"type": "timepicker", "selected_time": "09:00"}},
        "platforms": {"platforms_selected": {"type": "checkboxes", "selected_options": [option]}},
    }
    await h.sender.submit_view(view["id"], user=BEN, values=values)
    reply = await h.reply()
    assert "09:00 Europe/Berlin" in _block_text(reply)


@sqlite_only
async def test_an_expired_trigger_says_to_try_again(harness: Harness, clip: Path) -> None:
    h = harness
    message = h.sender.user_message(BEN, CHANNEL, "Teaser", [h.slack.add_file(BEN, CHANNEL, clip)])
    await h.sender.message_shortcut(
        "schedule_this_post", user=BEN, channel=CHANNEL, message=message, trigger_ttl_s=0
    )
    note = await _seen(h, BEN, "again")
    assert "Schedule this post" in note["text"] and "Something went wrong" not in note["text"]
    assert h.slack.calls_to("views.open")[-1].response["error"] == "expired_trigger_id"


@sqlite_only
async def test_schedule_where_postbot_is_not_says_to_invite_it(
    web_host: WebHost, harness: Harness, clip: Path
) -> None:
    """Slash commands work everywhere, but postbot sees uploads only where it is a member."""
    h = harness
    h.slack.add_channel("C0NOBOT", "elsewhere", bot_member=False)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Hi", user=ANA, channel="C0NOBOT")
    said = await h.hook("not in this channel")
    assert "/invite @postbot" in said["text"] and "no video you shared" not in said["text"]
    # A DM between two people: the bot can't be invited there.
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Hi", user=ANA, channel="D0ANABEN")
    said = await h.hook("direct messages")
    assert "--url" in said["text"] and h.slack.calls_to("conversations.info")[-1].args["channel"] == "C0NOBOT"
    # A link from that DM is queued; the reply says where the results will go instead.
    url = web_host.add_file(clip)
    await h.sender.command("/schedule", f"tomorrow 6pm sandbox --url {url} Hi", user=ANA, channel="D0ANABEN")
    said = await h.hook("results will come to you by direct message")
    assert "/invite" not in said["text"] and len(await h.posts()) == 1


@sqlite_only
async def test_an_answer_after_the_response_url_expired_comes_by_dm(harness: Harness, clip: Path) -> None:
    """A response_url takes 5 uses within 30 minutes (Slack refuses it after): work that outlived it
    still reaches the person, by DM."""
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    h.slack.response_url_ttl_s = 0  # as if the download had taken longer than 30 minutes
    await h.sender.command("/schedule", "someday sandbox Hi", user=ANA, channel=CHANNEL)
    dm = await h.slack.wait_for(lambda: h.slack.posted(h.slack.ims.get(ANA, "-")))
    assert "couldn't read" in dm[0]["text"] and h.slack.hooks == []


@sqlite_only
async def test_schedule_from_a_link(web_host: WebHost, harness: Harness, clip: Path) -> None:
    h = harness
    url = web_host.add_file(clip)
    ack = await h.sender.command(
        "/schedule", f"tomorrow 6pm sandbox --url {url} From a link", user=ANA, channel=CHANNEL
    )
    reply = await h.reply()
    # No message carried the video: the answer goes to the channel itself, as the ack said it would.
    assert "thread_ts" not in reply
    assert "in the channel for a --url link" in ack.text
    [post] = await h.posts()
    assert post.caption == "From a link" and post.origin_thread is None
    assert h.slack.downloads == []

    # A link in the message a mention is about works the same way (Slack wraps it in <…>).
    await h.sender.mention(ANA, CHANNEL, f"in 2 hours sandbox Mentioned <{url}>")
    await h.slack.wait_for(lambda: len(h.bot_messages()) >= 2)
    assert len(await h.posts()) == 2


@sqlite_only
async def test_a_link_to_a_private_address_is_refused_on_slack(harness: Harness) -> None:
    h = harness
    await h.sender.command(
        "/schedule", "tomorrow 6pm sandbox --url https://10.0.0.5/v.mp4 Nope", user=ANA, channel=CHANNEL
    )
    refusal = await h.hook("not a public internet address")
    assert refusal["text"].startswith("✗ ")
    assert await h.posts() == []


@sqlite_only
async def test_a_failure_in_a_channel_the_bot_left_still_reaches_the_author(
    harness: Harness, clip: Path
) -> None:
    h = harness
    h.settings.platform_dir("sandbox").parent.mkdir(parents=True, exist_ok=True)
    h.settings.platform_dir("sandbox").write_text("not a folder")
    h.settings.platforms.sandbox = PlatformSettings(max_attempts=1)
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    await h.sender.command("/schedule", "in 1 hour sandbox Orphan", user=ANA, channel=CHANNEL)
    await h.reply()
    h.slack.remove_bot(CHANNEL)
    async with h.app.sessions() as session:
        post = (await session.execute(select(ScheduledPost))).scalar_one()
        # Due now: the bot was removed while the post waited.
        post.run_at = post.due_at = datetime.now(UTC)
        await session.commit()
    await h.app.start_scheduler()

    dm_channel = await h.slack.wait_for(lambda: h.slack.ims.get(ANA))
    dm = await h.slack.wait_for(lambda: h.slack.posted(dm_channel))
    assert "Your post #1 to Sandbox could not be published." in dm[0]["text"]
    assert [c.response.get("error") for c in h.slack.calls_to("chat.postMessage")][-2] == "not_in_channel"
    # Told once and done: the outcome is marked as delivered, so nothing retries it for a day.
    async with asyncio.timeout(10):
        while True:
            [row] = await h.posts()
            if row.notified_at is not None:
                break
            await asyncio.sleep(0.05)
    assert row.status == "failed"


def test_an_updated_message_gets_new_block_ids() -> None:
    """Cancel one post of two: the actions block keeps the other's button, under a new block_id
    (Slack asks for one per iteration of a message; the fake lists reuses, see chat.update)."""
    from adapters.slack.blocks import retire_buttons

    def button(post_id: int) -> dict[str, Any]:
        label = {"type": "plain_text", "text": f"Cancel {post_id}"}
        return {
            "type": "button",
            "action_id": f"postbot_cancel:{post_id}",
            "text": label,
            "value": str(post_id),
        }

    first = [
        {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "Scheduled"}},
        {"type": "actions", "block_id": "cancel_0", "elements": [button(1), button(2)]},
    ]
    second = retire_buttons(first, 1, "#1 cancelled", keep_cancel=False)
    assert [b.get("block_id") for b in second] == ["summary~1", "cancel_0~1", None]
    assert [e["action_id"] for e in second[1]["elements"]] == ["postbot_cancel:2"]
    third = retire_buttons(second, 2, "#2 cancelled", keep_cancel=False)
    assert [b.get("block_id") for b in third] == ["summary~2", None, None]


@sqlite_only
async def test_the_shortcut_on_a_message_with_a_link(web_host: WebHost, harness: Harness, clip: Path) -> None:
    h = harness
    url = web_host.add_file(clip)
    message = h.sender.user_message(BEN, CHANNEL, f"Final cut: <{url}>")
    await h.sender.message_shortcut("schedule_this_post", user=BEN, channel=CHANNEL, message=message)
    [view] = (await h.slack.wait_for(lambda: h.slack.views)).values()
    caption = next(b for b in view["blocks"] if b.get("block_id") == "caption")
    assert caption["element"]["initial_value"] == "Final cut:"
    values = {
        "when": {"when_text": {"type": "plain_text_input", "value": "friday 9am"}},
        "platforms": {
            "platforms_selected": {
                "type": "checkboxes",
                "selected_options": [{"text": {"type": "plain_text", "text": "sandbox"}, "value": "sandbox"}],
            }
        },
        "caption": {"caption_text": {"type": "plain_text_input", "value": "Final cut"}},
    }
    await h.sender.submit_view(view["id"], user=BEN, values=values)
    reply = await h.reply()
    assert reply["thread_ts"] == message["ts"] and clip.name in _block_text(reply)
    [post] = await h.posts()
    assert post.caption == "Final cut"

    # A link too long to carry in the modal's private_metadata (3,000 characters) is refused aloud.
    long_link = f"{url}?{'x' * 3100}"
    too_long = h.sender.user_message(BEN, CHANNEL, f"<{long_link}>")
    await h.sender.message_shortcut("schedule_this_post", user=BEN, channel=CHANNEL, message=too_long)
    await _seen(h, BEN, "too long")
    assert len(h.slack.views) == 1


@sqlite_only
async def test_a_remote_file_with_its_link_in_the_message_is_fetched_as_a_link(
    web_host: WebHost, harness: Harness, clip: Path
) -> None:
    """An app attached the Drive file as a remote file and the message has its link: the link is
    fetched under the link rules (public address, no bot token), the remote entry is not downloaded."""
    h = harness
    url = web_host.add_file(clip)
    remote = h.slack.add_remote_file(ANA, CHANNEL, url, name=clip.name)
    await h.sender.mention(ANA, CHANNEL, f"in 2 hours sandbox Drive cut <{url}>", [remote])
    reply = await h.reply()
    assert "Drive cut" in _block_text(reply) or clip.name in _block_text(reply)
    [post] = await h.posts()
    assert post.status == "queued"
    [request] = web_host.requests
    assert "authorization" not in {k.lower() for k in request["headers"]}
    assert h.slack.downloads == []


@sqlite_only
async def test_postbot_pause_holds_posts_which_queue_shows_and_resume_publishes(
    harness: Harness, clip: Path
) -> None:
    h = harness
    await h.sender.command("/postbot", "pause sandbox", user=ANA, channel=CHANNEL)
    await h.hook("Only an admin can pause publishing")
    await h.sender.command("/postbot", "pause sandbox", user=BEN, channel=CHANNEL)
    await h.hook("Publishing to Sandbox is paused.")

    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/post", "sandbox Held", user=ANA, channel=CHANNEL)
    # /post says it will wait instead of "publishing now" (issue 23).
    held = await h.reply(
        lambda m: "Publishing is paused for Sandbox: it waits until /postbot resume." in m["text"]
    )
    [summary] = [b for b in held["blocks"] if b.get("block_id") == "summary"]
    assert summary["text"]["text"] == f":calendar: Queued *{clip.name}* for Sandbox · publishing is paused"
    await h.app.start_scheduler()
    await h.app.runner.tick()
    [post] = await h.posts()
    assert (post.status, post.attempts) == ("queued", 0)
    await h.sender.command("/postbot", "queue", user=ANA, channel=CHANNEL)
    listing = await h.hook("Upcoming")
    assert "#1 Sandbox" in listing["text"] and "paused" in listing["text"]

    await h.sender.command("/postbot", "resume", user=BEN, channel=CHANNEL)
    await h.hook("Publishing to all platforms resumed. 1 due post(s) start now.")
    await h.reply(lambda m: "Published" in m["text"])
    [post] = await h.posts()
    assert post.status == "published"
    await h.sender.command("/postbot", "frobnicate", user=BEN, channel=CHANNEL)
    await h.hook("I don't know `/postbot frobnicate`")


@sqlite_only
async def test_postbot_status_is_for_admins(harness: Harness, clip: Path) -> None:
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 9am sandbox First", user=ANA, channel=CHANNEL)
    await h.reply()
    await h.sender.command("/postbot", "status", user=ANA, channel=CHANNEL)
    await h.hook("Only an admin can see postbot's status")
    await h.sender.command("/postbot", "status", user=BEN, channel=CHANNEL)
    status = await h.hook("postbot status")
    assert "Sandbox: 1 queued · 0 in flight · next " in status["text"]
    # The same view as the console: workers (this harness runs no scheduler) and the shared quota.
    assert "Workers: none seen in the last" in status["text"]
    assert "YouTube quota today: 0 of 100 uploads" in status["text"]
    assert "start `postbot worker`" in status["text"]
    # A response_url message without response_type is ephemeral (Slack's default).
    assert status.get("response_type", "ephemeral") == "ephemeral"


@sqlite_only
async def test_old_top_level_names_still_answer_and_point_to_postbot(harness: Harness, clip: Path) -> None:
    """A workspace that installed the old manifest keeps sending /queue, /help, ... until an admin
    updates the app: each runs as its /postbot subcommand and says what it is called now."""
    h = harness
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 9am sandbox First", user=ANA, channel=CHANNEL)
    await h.reply()

    await h.sender.command("/queue", "", user=ANA, channel=CHANNEL)
    listing = await h.hook("Upcoming")
    assert "#1 Sandbox" in listing["text"]
    await h.hook("`/queue` is now `/postbot queue`")

    await h.sender.command("/help", "", user=ANA, channel=CHANNEL)
    await h.hook("Everything else is under `/postbot`")
    await h.hook("`/help` is now `/postbot help`")

    # A failing old command still says the new name, after the reason.
    await h.sender.command("/cancel", "#99", user=ANA, channel=CHANNEL)
    await h.hook("There is no post #99")
    await h.hook("`/cancel` is now `/postbot cancel`")
    # The core's own hints name the namespaced commands.
    missing = next(x for x in h.slack.hooks if "There is no post #99" in x["text"])
    assert "/postbot queue" in missing["text"]

    # /postbot alone is its help; an unknown word after it says how to find the list.
    await h.sender.command("/postbot", "", user=ANA, channel=CHANNEL)
    helps = await h.slack.wait_for(
        lambda: [x for x in h.slack.hooks if x["text"].startswith("*postbot* schedules")][1:] or None
    )
    assert "/postbot status" in helps[0]["text"]
