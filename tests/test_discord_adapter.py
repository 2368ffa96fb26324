"""The Discord adapter, end to end: a real discord.py client against the local fake Discord.

The fake speaks Discord's REST API and gateway; the bot under test is the production client
(`adapters.discord.DiscordChat`) wired to the real core (SQLite and PostgreSQL), and posts go
to the sandbox platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord.http
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from adapters.discord import DiscordChat, DiscordReporter
from adapters.discord.attachments import check_size
from bot.wiring import App, build_app
from core.config import (
    DiscordSettings,
    LinkSettings,
    PlatformSettings,
    PlatformsSettings,
    Settings,
    VaultSettings,
)
from core.db.models import MediaAsset, OAuthState, ScheduledPost, SocialAccount, Team
from core.domain import ChatContext, ChatKind, Platform, PostStatus
from core.errors import MediaError
from tests.clips import clip_file
from tests.conftest import Database
from tests.fakes.discord_api import (
    EPHEMERAL,
    LOADING,
    NITRO,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    Interaction,
)
from tests.fakes.web_host import WebHost

MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11


@dataclass
class World:
    fake: FakeDiscord
    guild: FakeGuild
    channel_id: str
    alice: FakeUser
    admin: FakeUser
    settings: Settings
    db: Database

    async def build_app(self) -> App:
        return await build_app(self.settings, schema=self.db.schema)

    async def start_bot(self, app: App) -> DiscordChat:
        token = self.settings.discord.token
        assert token is not None
        runtime = DiscordChat(app.postbot, app.http, token=token.get_secret_value(), guild_ready_timeout=0.05)
        app.notifier.register(runtime.kind, runtime.notifier())
        # As Runtime.start does before any chat starts (bot/runtime.py): otherwise the first time
        # dateparser reads (an autocomplete, say) loads its data inside Discord's 3-second deadline,
        # which a loaded machine misses.
        await app.warm()
        await runtime.start()
        await self.fake.wait_connected()
        return runtime

    def ctx(self, user: FakeUser) -> ChatContext:
        return ChatContext(
            chat=ChatKind.DISCORD, team_id=self.guild.id, user_id=user.id, channel_id=self.channel_id
        )

    async def run(self, payload: dict[str, Any], followups: int = 1) -> Interaction:
        record = await self.fake.send_interaction(payload)
        # Answered: the deferred message edited into the answer, and/or follow-ups (errors).
        await self.fake.wait_for(lambda: len(record.followups) + len(record.answers) >= followups)
        return record


@pytest.fixture
async def world(settings: Settings, db: Database) -> AsyncIterator[World]:
    original_base = discord.http.Route.BASE
    async with FakeDiscord() as fake:
        guild = fake.add_guild("launch crew")
        channel_id = next(iter(guild.channels))
        settings = settings.model_copy(
            update={
                "discord": DiscordSettings(
                    token=SecretStr(fake.token), api_base_url=fake.api_base_url, guild_ids=[guild.id]
                )
            }
        )
        yield World(fake, guild, channel_id, fake.add_user("alice"), fake.add_user("root"), settings, db)
    discord.http.Route.BASE = original_base


@pytest.fixture
async def running(world: World) -> AsyncIterator[App]:
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        yield app
    finally:
        await runtime.close()
        await app.close()


def _schedule(
    world: World, clip: Path, when: str, platforms: str = "sandbox", **extra: Any
) -> dict[str, Any]:
    att = world.fake.upload_attachment(world.channel_id, clip.name, clip.read_bytes())
    values = {"when": when, "platforms": platforms, "video": att, "caption": "Launch day #rocket", **extra}
    return world.fake.command_interaction(
        "schedule", values, user=world.alice, guild=world.guild, permissions=SEND_MESSAGES
    )


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message["components"] for c in row["components"]]


async def test_connects_with_minimal_intents_and_syncs_commands(world: World, running: App) -> None:
    fake = world.fake
    identify = fake.identifies[-1]
    # GUILDS, and GUILD_MESSAGE_REACTIONS for ✅ approvals: no privileged intent (the fake closes
    # with 4014 if one is asked for).
    assert identify["intents"] == 1 | 1 << 10
    assert identify["shard"] == [0, 1]
    await fake.wait_for(lambda: fake.live_connection().heartbeats >= 1)
    commands = {c["name"]: c for c in fake.guild_commands[world.guild.id]}
    # Two headline commands; everything else is a subcommand of /postbot, or of /postbot-admin for
    # what only admins may do.
    assert set(commands) == {"schedule", "post", "postbot", "postbot-admin"}
    subcommands = {o["name"]: o for o in commands["postbot"]["options"]}
    assert {o["type"] for o in subcommands.values()} == {1}  # SUB_COMMAND
    assert {"queue", "cancel", "reschedule", "suggest", "accounts", "results", "help"} <= set(subcommands)
    admin = {o["name"] for o in commands["postbot-admin"]["options"]}
    assert admin == {"link", "unlink", "default", "pause", "resume", "status", "digest", "approval"}
    options = {o["name"]: o for o in commands["schedule"]["options"]}
    # A video is attached (type 11) or, when too big to attach, linked (a string).
    assert options["video"]["type"] == 11 and not options["video"].get("required")
    assert options["url"]["type"] == 3 and not options["url"].get("required")
    assert options["when"]["autocomplete"] and options["platforms"]["autocomplete"]
    assert fake.rejections == []


async def test_schedule_with_attachment_replies_with_embed_and_buttons(
    world: World, running: App, clip: Path
) -> None:
    payload = _schedule(world, clip, "tomorrow 6pm")
    record = await world.run(payload)

    assert record.callback is not None and record.callback["type"] == 5
    message = world.fake.original(record)
    assert message is not None and not message["flags"] & (EPHEMERAL | LOADING)
    embed = message["embeds"][0]
    assert embed["title"] == "Scheduled for Sandbox"
    assert embed["description"] == "Launch day #rocket"
    posts = await running.postbot.list_queue(world.ctx(world.alice))
    assert len(posts) == 1 and posts[0].status == PostStatus.QUEUED
    post = posts[0]
    assert any(f["name"] == f"#{post.id} Sandbox" for f in embed["fields"])
    assert "18:00 Europe/Berlin" in str(embed["fields"])
    cancel, *slots = _buttons(message)
    assert cancel["custom_id"] == f"postbot:cancel:{post.id}" and cancel["label"] == "Cancel"
    # The core's suggested alternatives, one button each, in the author's zone.
    assert len(slots) == 3
    assert all(b["custom_id"].startswith(f"postbot:slot:{post.id}:") for b in slots)
    assert all(b["label"].startswith("Sandbox: ") for b in slots)
    # The video came from the CDN link in the interaction, exactly once, byte for byte.
    [attachment] = payload["data"]["resolved"]["attachments"].values()
    assert world.fake.cdn_requests == [attachment["id"]]
    # The answer replaced "thinking…" by editing @original, not through a follow-up.
    assert record.answers == [record.original_id] and record.followups == []
    assert world.fake.loading_replaced_by_followup == []
    async with running.sessions() as session:
        [asset] = (await session.scalars(select(MediaAsset))).all()
    assert asset.sha256 == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert asset.original_name == post.media_name == clip.name
    assert world.fake.rejections == []

    # The answer is recorded with the post: its upload's live progress is sent as a reply to it.
    await _replies_under(running, post.id, message)


async def _replies_under(app: App, post_id: int, message: dict[str, Any]) -> None:
    """Waits until ``message`` is recorded as the answer the post's upload progress goes under."""

    async def recorded() -> tuple[str | None, str | None]:
        async with app.sessions() as session:
            row = await session.get(ScheduledPost, post_id)
            assert row is not None
            return row.reply_channel, row.reply_message

    async with asyncio.timeout(5):
        while await recorded() != (message["channel_id"], message["id"]):
            await asyncio.sleep(0.02)


async def test_when_autocomplete_previews_the_parsed_time(world: World, running: App) -> None:
    fake = world.fake
    payload = fake.autocomplete_interaction(
        "schedule", {"when": "tomorrow 6pm"}, "when", user=world.alice, guild=world.guild
    )
    record = await fake.send_interaction(payload)
    await fake.wait_for(lambda: record.callback)
    assert record.callback is not None and record.callback["type"] == 8
    [choice] = record.callback["data"]["choices"]
    assert choice["value"] == "tomorrow 6pm"
    assert choice["name"].startswith("tomorrow 6pm → ") and choice["name"].endswith("18:00 Europe/Berlin")

    bad = fake.autocomplete_interaction(
        "schedule", {"when": "whenever"}, "when", user=world.alice, guild=world.guild
    )
    record = await fake.send_interaction(bad)
    await fake.wait_for(lambda: record.callback)
    assert record.callback is not None
    assert record.callback["data"]["choices"][0]["name"].startswith("✗ I couldn't read 'whenever'")


async def test_platforms_autocomplete_completes_the_last_platform(world: World, running: App) -> None:
    fake = world.fake
    payload = fake.autocomplete_interaction(
        "schedule",
        {"when": "tomorrow 6pm", "platforms": "youtube, in"},
        "platforms",
        user=world.alice,
        guild=world.guild,
    )
    record = await fake.send_interaction(payload)
    await fake.wait_for(lambda: record.callback)
    assert record.callback is not None and record.callback["type"] == 8
    choices = record.callback["data"]["choices"]
    assert [c["value"] for c in choices] == ["youtube,instagram"]
    assert choices[0]["name"].startswith("YouTube, Instagram")


async def test_bad_time_gets_an_ephemeral_error_and_queues_nothing(
    world: World, running: App, clip: Path
) -> None:
    record = await world.run(_schedule(world, clip, "the day after never"))
    assert record.callback is not None and record.callback["type"] == 5
    # The public "thinking…" placeholder is removed; the error is visible to the author only.
    assert world.fake.original(record) is None
    assert [m["id"] for m in world.fake.deleted_messages] == [record.original_id]
    [error] = world.fake.followup_messages(record)
    assert error["flags"] & EPHEMERAL
    assert "I couldn't read 'the day after never' as a time" in error["content"]
    assert await running.postbot.list_queue(world.ctx(world.alice)) == []
    # The command is read before the video is fetched, as in Slack: a typo costs no download.
    assert world.fake.cdn_requests == []


async def test_oversize_attachment_is_refused_before_download(world: World, running: App, clip: Path) -> None:
    world.fake.attachment_size_limit = clip.stat().st_size - 1
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    [error] = world.fake.followup_messages(record)
    assert error["flags"] & EPHEMERAL and "Discord lets you attach here" in error["content"]
    assert world.fake.cdn_requests == []
    assert await running.postbot.list_queue(world.ctx(world.alice)) == []


async def test_cancel_button_works_after_a_restart(world: World, clip: Path) -> None:
    fake = world.fake
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
        message = fake.original(record)
        assert message is not None
    finally:
        await runtime.close()
        await app.close()

    # A new process: new core, new client, nothing in memory from the first run.
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        [post] = await app.postbot.list_queue(world.ctx(world.alice))
        click = fake.component_interaction(
            message["id"], f"postbot:cancel:{post.id}", user=world.alice, guild=world.guild
        )
        press = await world.run(click)
        assert press.callback == {"type": 6}
        assert await app.postbot.list_queue(world.ctx(world.alice)) == []
        edited = fake.messages[message["id"]]
        cancel = next(b for b in _buttons(edited) if b["custom_id"] == f"postbot:cancel:{post.id}")
        assert cancel["disabled"] is True
        assert "cancelled" in str(edited["embeds"][0]["fields"])
        [note] = fake.followup_messages(press)
        assert note["flags"] & EPHEMERAL and note["content"] == f"Cancelled #{post.id} (Sandbox)."
        assert fake.rejections == []
    finally:
        await runtime.close()
        await app.close()


async def test_slot_button_moves_the_post(world: World, running: App, clip: Path) -> None:
    fake = world.fake
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    [post] = await running.postbot.list_queue(world.ctx(world.alice))
    message = fake.original(record)
    assert message is not None
    slot_id = next(b["custom_id"] for b in _buttons(message) if b["custom_id"].startswith("postbot:slot:"))
    slot_at = datetime.fromtimestamp(int(slot_id.rsplit(":", 1)[1]), UTC)
    assert slot_at != post.run_at
    press = await world.run(
        fake.component_interaction(message["id"], slot_id, user=world.alice, guild=world.guild)
    )
    assert press.callback == {"type": 6}
    [moved] = await running.postbot.list_queue(world.ctx(world.alice))
    assert moved.id == post.id and moved.run_at == slot_at
    slot = next(b for b in _buttons(fake.messages[message["id"]]) if b["custom_id"] == slot_id)
    assert slot["disabled"] is True
    [note] = fake.followup_messages(press)
    assert note["flags"] & EPHEMERAL and note["content"].startswith(f"Moved #{post.id} (Sandbox) to ")


async def test_someone_else_cannot_cancel_with_the_button(world: World, running: App, clip: Path) -> None:
    fake = world.fake
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    [post] = await running.postbot.list_queue(world.ctx(world.alice))
    bob = fake.add_user("bob")
    click = fake.component_interaction(
        record.original_id or "", f"postbot:cancel:{post.id}", user=bob, guild=world.guild
    )
    press = await world.run(click)
    [note] = fake.followup_messages(press)
    assert note["flags"] & EPHEMERAL and "Only the author" in note["content"]
    assert [p.id for p in await running.postbot.list_queue(world.ctx(world.alice))] == [post.id]


async def test_failure_dm_falls_back_to_the_channel_when_dms_are_closed(
    world: World, clip: Path, settings: Settings
) -> None:
    fake = world.fake
    world.alice.dms_open = False
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        # The sandbox "platform" cannot write its folder: every attempt fails, then the post fails.
        world.settings.platform_dir("sandbox").parent.mkdir(parents=True, exist_ok=True)
        world.settings.platform_dir("sandbox").write_text("not a folder")
        await app.start_scheduler()
        await world.run(_schedule(world, clip, "in 1 second"))
        mention = f"<@{world.alice.id}> I couldn't DM you"
        await fake.wait_for(
            lambda: any(m["content"].startswith(mention) for m in fake.channel_messages(world.channel_id)),
            timeout=20,
        )
        result = next(
            m
            for m in fake.channel_messages(world.channel_id)
            if m["embeds"] and m["embeds"][0]["title"].startswith("Failed")
        )
        assert result["embeds"][0]["title"].startswith("Failed: #")
        assert ("POST", f"/api/v10/channels/{next(iter(fake.dm_channels))}/messages") in fake.requests
        assert fake.dm_messages(world.alice.id) == []
        assert any(code == 50007 for *_, code in fake.rejections)
    finally:
        await runtime.close()
        await app.close()


async def test_post_now_publishes_and_reports_in_the_channel(world: World, clip: Path) -> None:
    fake = world.fake
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        await app.start_scheduler()
        att = fake.upload_attachment(world.channel_id, clip.name, clip.read_bytes())
        payload = fake.command_interaction(
            "post", {"platforms": "sandbox", "video": att}, user=world.alice, guild=world.guild
        )
        accepted = await world.run(payload)
        # The embed's title agrees with the text: going now, not "Scheduled" (issue 23).
        assert fake.original(accepted)["embeds"][0]["title"] == "Publishing to Sandbox now"  # type: ignore[index]
        await fake.wait_for(
            lambda: any(
                m["embeds"] and m["embeds"][0]["title"].startswith("Published")
                for m in fake.channel_messages(world.channel_id)
            ),
            timeout=20,
        )
    finally:
        await runtime.close()
        await app.close()


async def test_rate_limited_answer_is_retried(world: World, running: App, clip: Path) -> None:
    fake = world.fake
    fake.inject_failure("PATCH", r"^/api/v10/webhooks/", status=429, retry_after=0.3)
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    assert fake.original(record)["embeds"][0]["title"] == "Scheduled for Sandbox"  # type: ignore[index]
    edits = [r for r in fake.requests if r[0] == "PATCH" and r[1].startswith("/api/v10/webhooks/")]
    assert len(edits) == 2


async def test_resumes_the_gateway_session_after_a_drop(world: World, running: App) -> None:
    fake = world.fake
    first = fake.live_connection()
    session_id = first.session.session_id if first.session else None
    await fake.drop_connection(4000)
    await fake.wait_for(lambda: fake.resumes, timeout=20)
    assert fake.resumes[-1]["session_id"] == session_id and fake.resumes[-1]["seq"] >= 1
    assert len(fake.identifies) == 1
    payload = fake.command_interaction("postbot help", {}, user=world.alice, guild=world.guild)
    record = await fake.send_interaction(payload)
    await fake.wait_for(lambda: record.callback)
    assert record.callback is not None and record.callback["type"] == 4


async def test_bot_heartbeats_at_the_interval_the_gateway_asks_for(world: World, running: App) -> None:
    fake = world.fake
    conn = fake.live_connection()
    start = conn.heartbeats
    # A 41.25 s interval is the norm; the client must follow whatever HELLO says.
    await fake.drop_connection(4000)
    fake.heartbeat_interval_ms = 150
    await fake.wait_for(lambda: fake.resumes, timeout=20)
    resumed = fake.live_connection()
    await asyncio.sleep(1.0)
    assert resumed.heartbeats >= 4 and not resumed.ws.closed
    assert start >= 1


async def test_help_is_ephemeral(world: World, running: App) -> None:
    payload = world.fake.command_interaction("postbot help", {}, user=world.alice, guild=world.guild)
    record = await world.fake.send_interaction(payload)
    await world.fake.wait_for(lambda: record.callback)
    assert record.callback is not None and record.callback["type"] == 4
    assert record.callback["data"]["flags"] == EPHEMERAL
    [embed] = record.callback["data"]["embeds"]
    assert "/schedule" in embed["description"]
    # Every platform is named, and the help is one message however many there are.
    assert all(p.value in embed["description"] for p in Platform)
    assert "`video2`" in embed["description"] and "`every`" in embed["description"]


async def test_a_separate_worker_reports_discord_posts_over_rest(world: World, clip: Path) -> None:
    fake = world.fake
    bot_app = await world.build_app()
    runtime = await world.start_bot(bot_app)
    worker_app = await world.build_app()
    rest = DiscordReporter(world.fake.token, world.fake.api_base_url)
    worker_app.notifier.register(rest.kind, rest.notifier())
    await rest.start()
    try:
        await world.run(_schedule(world, clip, "in 1 second"))
        # Only the worker runs a scheduler; it has no gateway connection, just the REST login.
        await worker_app.start_scheduler()
        await fake.wait_for(
            lambda: any(
                m["embeds"] and m["embeds"][0]["title"].startswith("Published")
                for m in fake.channel_messages(world.channel_id)
            ),
            timeout=20,
        )
        assert len(fake.identifies) == 1
    finally:
        await rest.close()
        await runtime.close()
        await worker_app.close()
        await bot_app.close()


@pytest.fixture
async def linking(world: World) -> AsyncIterator[App]:
    """The bot with account linking configured (vault secret, a YouTube OAuth app)."""
    world.settings = world.settings.model_copy(
        update={
            "secret_key": SecretStr("test vault secret"),
            "vault": VaultSettings(iterations=100_000),
            "platforms": PlatformsSettings(
                youtube=PlatformSettings(client_id="yt-client", client_secret=SecretStr("yt-secret"))
            ),
        }
    )
    app = await world.build_app()
    assert app.accounts is not None
    runtime = await world.start_bot(app)
    try:
        yield app
    finally:
        await runtime.close()
        await app.close()


async def _oauth_states(app: App) -> int:
    async with app.sessions() as session:
        return len((await session.scalars(select(OAuthState))).all())


async def test_link_is_admin_only_and_checked_again_by_the_bot(world: World, linking: App) -> None:
    fake = world.fake
    # Discord offers /postbot-admin to members with Manage Server only; a server may grant it to
    # everyone in Integrations, so the bot checks again.
    with pytest.raises(LookupError, match="hidden from this member"):
        fake.command_interaction(
            "postbot-admin link", {"platform": "youtube"}, user=world.alice, guild=world.guild
        )
    world.guild.granted_commands.add("postbot-admin")
    payload = fake.command_interaction(
        "postbot-admin link",
        {"platform": "youtube"},
        user=world.alice,
        guild=world.guild,
        permissions=SEND_MESSAGES,
    )
    record = await fake.send_interaction(payload)
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None and reply["flags"] & EPHEMERAL
    assert reply["content"].startswith("✗ Only admins can link accounts")
    assert fake.dm_channels == {} and await _oauth_states(linking) == 0


async def test_admin_link_sends_the_single_use_link_by_dm(world: World, linking: App) -> None:
    fake = world.fake
    payload = fake.command_interaction(
        "postbot-admin link",
        {"platform": "youtube"},
        user=world.admin,
        guild=world.guild,
        permissions=MANAGE_GUILD,
    )
    record = await fake.send_interaction(payload)
    await fake.wait_for(lambda: fake.dm_messages(world.admin.id))
    [dm] = fake.dm_messages(world.admin.id)
    assert "/oauth/youtube/start?state=" in dm["content"]
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None and reply["flags"] & EPHEMERAL
    assert reply["content"] == "I've sent you a direct message with a link to connect YouTube."
    # The link itself never appears in the channel.
    assert all("state=" not in m["content"] for m in fake.channel_messages(world.channel_id))
    assert await _oauth_states(linking) == 1


async def test_link_with_closed_dms_says_so_privately(world: World, linking: App) -> None:
    fake = world.fake
    world.admin.dms_open = False
    payload = fake.command_interaction(
        "postbot-admin link",
        {"platform": "youtube"},
        user=world.admin,
        guild=world.guild,
        permissions=MANAGE_GUILD,
    )
    record = await fake.send_interaction(payload)
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None and reply["flags"] & EPHEMERAL
    assert reply["content"].startswith("✗ I can't send you a direct message.")
    assert fake.dm_messages(world.admin.id) == []


async def test_accounts_and_suggest(world: World, linking: App) -> None:
    fake = world.fake
    record = await fake.send_interaction(
        fake.command_interaction("postbot accounts", {}, user=world.alice, guild=world.guild)
    )
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None and reply["content"].startswith("No accounts are linked yet.")

    record = await fake.send_interaction(
        fake.command_interaction(
            "postbot suggest", {"platforms": "sandbox"}, user=world.alice, guild=world.guild
        )
    )
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None and reply["flags"] & EPHEMERAL
    [embed] = reply["embeds"]
    assert embed["title"] == "Suggested times"
    [field] = embed["fields"]
    assert field["name"] == "Sandbox" and "Europe/Berlin" in field["value"]


async def test_timezone_command_sets_how_times_are_read(world: World, running: App, clip: Path) -> None:
    fake = world.fake
    complete = await fake.send_interaction(
        fake.autocomplete_interaction(
            "postbot timezone", {"zone": "new y"}, "zone", user=world.alice, guild=world.guild
        )
    )
    await fake.wait_for(lambda: complete.callback)
    assert complete.callback is not None and complete.callback["type"] == 8
    assert {"name": "America/New_York", "value": "America/New_York"} in complete.callback["data"]["choices"]

    async def reply_to(values: dict[str, Any], permissions: int = SEND_MESSAGES) -> dict[str, Any]:
        record = await fake.send_interaction(
            fake.command_interaction(
                "postbot timezone", values, user=world.alice, guild=world.guild, permissions=permissions
            )
        )
        await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
        message = fake.original(record)
        assert message is not None and message["flags"] & EPHEMERAL
        return message

    assert (await reply_to({"zone": "new york"}))["content"] == "Your time zone is now America/New_York."
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    message = fake.original(record)
    assert message is not None and "18:00 America/New_York" in str(message["embeds"][0]["fields"])

    # Only Manage Server may change the server's default, and the bot checks it itself.
    refused = await reply_to({"zone": "Tokyo", "server": True})
    assert refused["content"].startswith("✗ Only an admin can set the server's time zone.")
    assert "I don't know the time zone 'Mars'" in (await reply_to({"zone": "Mars"}))["content"]


async def test_run_discord_serves_until_cancelled(world: World) -> None:
    if world.db.kind != "sqlite":
        pytest.skip("the entry point builds its own app on the default schema; SQLite covers it")
    fake = world.fake
    from bot.runtime import run_discord

    task = asyncio.create_task(run_discord(world.settings))
    try:
        await fake.wait_connected()
        record = await fake.send_interaction(
            fake.command_interaction("postbot help", {}, user=world.alice, guild=world.guild)
        )
        await fake.wait_for(lambda: record.callback)
        assert record.callback is not None and record.callback["type"] == 4
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert fake.live_connection_count() == 0


async def test_queue_lists_upcoming_posts_privately(world: World, running: App, clip: Path) -> None:
    fake = world.fake
    await world.run(_schedule(world, clip, "tomorrow 6pm"))
    [post] = await running.postbot.list_queue(world.ctx(world.alice))
    record = await fake.send_interaction(
        fake.command_interaction("postbot queue", {}, user=world.admin, guild=world.guild)
    )
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None and reply["flags"] & EPHEMERAL
    assert reply["content"].startswith("Upcoming posts:") and f"#{post.id} Sandbox" in reply["content"]


async def test_commands_can_be_synced_globally(world: World) -> None:
    world.settings = world.settings.model_copy(
        update={"discord": world.settings.discord.model_copy(update={"guild_ids": [], "sync_global": True})}
    )
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        fake = world.fake
        assert fake.guild_commands == {}
        names = {c["name"] for c in fake.global_commands}
        assert names == {"schedule", "post", "postbot", "postbot-admin"}
        # Server-only commands say so with contexts (GUILD) and integration_types (GUILD_INSTALL),
        # not the deprecated dm_permission; Discord then offers none of them in a DM.
        assert all(c["contexts"] == [0] and c["integration_types"] == [0] for c in fake.global_commands)
        assert fake.deprecated_fields == [] and fake.dm_commands() == set()
        # The admins' command is shown to members with Manage Server (or Administrator) only.
        [admin] = [c for c in fake.global_commands if c["name"] == "postbot-admin"]
        assert admin["default_member_permissions"] == str(MANAGE_GUILD)
        assert fake.visible_commands(world.guild, SEND_MESSAGES) == {"schedule", "post", "postbot"}
        assert fake.visible_commands(world.guild, MANAGE_GUILD) == names
        assert fake.visible_commands(world.guild, 1 << 3) == names  # Administrator
    finally:
        await runtime.close()
        await app.close()


async def test_platforms_autocomplete_puts_linked_platforms_first(world: World, linking: App) -> None:
    fake = world.fake
    ctx = world.ctx(world.alice)
    await linking.postbot.list_queue(ctx)  # the server's team row, as any first command creates it
    async with linking.sessions.begin() as session:
        team = (await session.scalars(select(Team).where(Team.external_id == world.guild.id))).one()
        session.add(
            SocialAccount(team_id=team.id, platform="youtube", remote_account_id="UC123", status="active")
        )
    payload = fake.autocomplete_interaction(
        "schedule", {"platforms": ""}, "platforms", user=world.alice, guild=world.guild
    )
    record = await fake.send_interaction(payload)
    await fake.wait_for(lambda: record.callback)
    assert record.callback is not None
    names = [c["name"] for c in record.callback["data"]["choices"]]
    assert names[:3] == ["YouTube (linked)", "Sandbox (no account needed)", "Instagram (not linked)"]


def test_platform_size_limits_are_checked_from_the_declared_size() -> None:
    # Boosted servers accept files far larger than some platforms do; the smallest limit wins.
    with pytest.raises(MediaError) as caught:
        check_size(
            600 * 1000 * 1000, discord_limit=1024**3, platforms=(Platform.YOUTUBE, Platform.X), name="a.mp4"
        )
    assert "X takes at most" in caught.value.message and "YouTube" not in caught.value.message
    check_size(600 * 1000 * 1000, discord_limit=1024**3, platforms=(Platform.YOUTUBE,), name="a.mp4")


@pytest.fixture
async def web_host(world: World) -> AsyncIterator[WebHost]:
    """ "The internet" for videos shared by link: https on loopback, which only tests may reach."""
    async with WebHost() as host:
        world.settings.links = LinkSettings(allow_networks=["127.0.0.0/8"], ca_file=host.ca_pem)
        yield host


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_300_mb_video_is_scheduled_from_a_link(world: World, web_host: WebHost, clip: Path) -> None:
    """Far over the 10 MiB a bot may receive as an attachment: the link is fetched instead, streamed
    from a server that generates the bytes as it sends them, into the media store."""
    size = 300 * 1024 * 1024
    url = web_host.add_generated("launch-cut.mp4", clip.read_bytes(), size)
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        payload = world.fake.command_interaction(
            "schedule",
            {"when": "tomorrow 6pm", "platforms": "sandbox", "url": url, "caption": "Launch cut"},
            user=world.alice,
            guild=world.guild,
            permissions=SEND_MESSAGES,
        )
        record = await world.fake.send_interaction(payload)
        await world.fake.wait_for(lambda: record.answers or record.followups, timeout=180)
        message = world.fake.original(record) or world.fake.followup_messages(record)[0]
        assert message["embeds"][0]["title"] == "Scheduled for Sandbox", message
        [post] = await app.postbot.list_queue(world.ctx(world.alice))
        assert post.media_name == "launch-cut.mp4"
        async with app.sessions() as session:
            [asset] = (await session.scalars(select(MediaAsset))).all()
        stored = app.storage.local_path(asset.path)  # the storage key, in the local folder
        assert asset.size_bytes == size and stored is not None and stored.stat().st_size == size
        assert world.fake.cdn_requests == []
        assert web_host.sent_bytes == size
    finally:
        await runtime.close()
        await app.close()


async def test_a_link_to_a_private_address_is_refused(world: World, running: App) -> None:
    """The production policy (no extra networks): loopback, private ranges and the cloud metadata
    address are refused before any connection, and the user is told why."""
    for url in ("https://127.0.0.1:8443/v.mp4", "https://192.168.1.20/v.mp4", "https://169.254.169.254/"):
        payload = world.fake.command_interaction(
            "schedule",
            {"when": "tomorrow 6pm", "platforms": "sandbox", "url": url},
            user=world.alice,
            guild=world.guild,
            permissions=SEND_MESSAGES,
        )
        record = await world.run(payload)
        [error] = world.fake.followup_messages(record)
        assert error["flags"] & EPHEMERAL
        assert "not a public internet address" in error["content"]
    assert await running.postbot.list_queue(world.ctx(world.alice)) == []


async def test_schedule_needs_a_video_or_a_link(world: World, running: App) -> None:
    payload = world.fake.command_interaction(
        "schedule",
        {"when": "tomorrow 6pm", "platforms": "sandbox"},
        user=world.alice,
        guild=world.guild,
        permissions=SEND_MESSAGES,
    )
    record = await world.run(payload)
    [error] = world.fake.followup_messages(record)
    assert error["flags"] & EPHEMERAL and "Which video?" in error["content"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_failure_in_a_channel_the_bot_cannot_see_still_reaches_the_author(
    world: World, clip: Path
) -> None:
    """The bot lost View Channel while the post waited: the result can't go to the channel, the
    failure DM still goes to the author, and the outcome is not retried for a day."""
    fake = world.fake
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        world.settings.platform_dir("sandbox").parent.mkdir(parents=True, exist_ok=True)
        world.settings.platform_dir("sandbox").write_text("not a folder")
        world.settings.platforms.sandbox = PlatformSettings(max_attempts=1)
        await world.run(_schedule(world, clip, "in 1 hour"))
        world.guild.hidden_from_bot.add(world.channel_id)
        async with app.sessions() as session:
            post = (await session.scalars(select(ScheduledPost))).one()
            post.run_at = post.due_at = datetime.now(UTC)
            await session.commit()
        await app.start_scheduler()
        dm = await fake.wait_for(lambda: fake.dm_messages(world.alice.id), timeout=20)
        assert "could not be published" in dm[0]["content"]
        assert any(code == 50001 for *_, code in fake.rejections)
        async with asyncio.timeout(10):
            while True:
                async with app.sessions() as session:
                    row = (await session.scalars(select(ScheduledPost))).one()
                if row.notified_at is not None:
                    break
                await asyncio.sleep(0.05)
        assert row.status == "failed"
    finally:
        await runtime.close()
        await app.close()


def test_the_documented_invite_permissions_cover_what_the_bot_does() -> None:
    """docs/discord.md's permissions integer: seeing the channel, posting results there and in
    threads (buttons reply in threads), embeds."""
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "discord.md").read_text()
    match = re.search(r"permissions integer `(\d+)`", doc)
    assert match is not None
    granted = discord.Permissions(int(match.group(1)))
    assert granted.view_channel and granted.send_messages and granted.send_messages_in_threads
    assert granted.embed_links and granted.read_message_history


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_bot_with_no_servers_to_sync_says_so(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.settings.discord.guild_ids = []
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        assert any("no Discord commands registered" in r.getMessage() for r in caplog.records)
    finally:
        await runtime.close()
        await app.close()


def test_the_discord_py_floor_has_the_api_the_adapter_uses() -> None:
    """adapters/discord reads Interaction.filesize_limit, new in discord.py 2.6
    (https://discordpy.readthedocs.io/en/stable/interactions/api.html#discord.Interaction.filesize_limit):
    an install allowed by pyproject.toml must have it."""
    import re
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    [spec] = [d for d in project["project"]["dependencies"] if d.startswith("discord.py")]
    floor = re.search(r">=\s*(\d+)\.(\d+)", spec)
    assert floor is not None, spec
    assert (int(floor.group(1)), int(floor.group(2))) >= (2, 6), spec
    source = (Path(__file__).resolve().parents[1] / "adapters" / "discord" / "commands.py").read_text()
    assert "filesize_limit" in source


def _answer(fake: FakeDiscord, record: Interaction) -> str:
    """A public command's answer: its deferred message, edited."""
    message = fake.original(record)
    assert message is not None
    return str(message["content"])


async def test_pause_holds_posts_and_resume_publishes_them(world: World, running: App, clip: Path) -> None:
    fake = world.fake
    world.guild.granted_commands.add("postbot-admin")  # Integrations: everyone may run it
    refused = await fake.send_interaction(
        fake.command_interaction(
            "postbot-admin pause", {}, user=world.alice, guild=world.guild, permissions=SEND_MESSAGES
        )
    )
    # Refused privately, with no public "thinking…" before it: the member was no admin.
    await fake.wait_for(lambda: "Only an admin" in (fake.original(refused) or {}).get("content", ""))
    assert refused.callback == {"type": 5, "data": {"flags": EPHEMERAL}}

    held = await world.run(
        fake.command_interaction(
            "postbot-admin pause",
            {"platform": "sandbox"},
            user=world.admin,
            guild=world.guild,
            permissions=MANAGE_GUILD,
        )
    )
    assert _answer(fake, held).startswith("Publishing to Sandbox is paused.")
    await running.start_scheduler()
    att = fake.upload_attachment(world.channel_id, clip.name, clip.read_bytes())
    waiting = await world.run(
        fake.command_interaction(
            "post", {"platforms": "sandbox", "video": att}, user=world.alice, guild=world.guild
        )
    )
    title = fake.original(waiting)["embeds"][0]["title"]  # type: ignore[index]
    assert title == "Queued for Sandbox · publishing is paused"
    await running.runner.tick()
    [post] = await running.postbot.list_queue(world.ctx(world.alice))
    assert (post.status, post.paused) == (PostStatus.QUEUED, True)
    listing = await fake.send_interaction(
        fake.command_interaction("postbot queue", {}, user=world.alice, guild=world.guild)
    )
    await fake.wait_for(lambda: (m := fake.original(listing)) is not None and "paused" in m["content"])

    resumed = await world.run(
        fake.command_interaction(
            "postbot-admin resume", {}, user=world.admin, guild=world.guild, permissions=MANAGE_GUILD
        )
    )
    said = _answer(fake, resumed)
    assert said == "Publishing to all platforms resumed. 1 due post(s) start now."
    await fake.wait_for(
        lambda: any(
            m["embeds"] and m["embeds"][0]["title"].startswith("Published")
            for m in fake.channel_messages(world.channel_id)
        ),
        timeout=20,
    )


async def test_status_is_private_and_for_admins(world: World, running: App, clip: Path) -> None:
    fake = world.fake
    await world.run(_schedule(world, clip, "tomorrow 6pm"))
    record = await fake.send_interaction(
        fake.command_interaction(
            "postbot-admin status", {}, user=world.admin, guild=world.guild, permissions=MANAGE_GUILD
        )
    )
    await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
    reply = fake.original(record)
    assert reply is not None and reply["flags"] & EPHEMERAL
    assert reply["content"].startswith("postbot status") and "Sandbox: 1 queued" in reply["content"]
    assert "YouTube quota today: 0 of 100 uploads" in reply["content"]
    assert "Workers: " in reply["content"]


async def test_listings_show_only_channels_the_member_can_view(world: World, clip: Path) -> None:
    """A private channel's captions are for those who can view it: /postbot queue and the post
    autocomplete list posts from the channels the member may view (roles and overwrites, as Discord
    computes them), and their own."""
    fake = world.fake
    secret = fake.snowflake()
    world.guild.channels[secret] = "secret-launch"
    world.guild.private[secret] = {world.admin.id}
    app = await world.build_app()
    runtime = await world.start_bot(app)
    try:
        att = fake.upload_attachment(secret, clip.name, clip.read_bytes())
        values = {"when": "tomorrow 9am", "platforms": "sandbox", "video": att, "caption": "Secret launch"}
        await world.run(
            fake.command_interaction(
                "schedule",
                values,
                user=world.admin,
                guild=world.guild,
                channel_id=secret,
                permissions=SEND_MESSAGES,
            )
        )
        await world.run(_schedule(world, clip, "tomorrow 6pm"))

        async def queue_for(user: FakeUser) -> str:
            record = await fake.send_interaction(
                fake.command_interaction("postbot queue", {}, user=user, guild=world.guild)
            )
            await fake.wait_for(lambda: (m := fake.original(record)) is not None and not m["flags"] & LOADING)
            reply = fake.original(record)
            assert reply is not None
            return str(reply["content"])

        alice = await queue_for(world.alice)
        assert "Launch day" in alice and "Secret launch" not in alice
        assert "Secret launch" in await queue_for(world.admin)

        record = await fake.send_interaction(
            fake.autocomplete_interaction(
                "postbot cancel", {"post": ""}, "post", user=world.alice, guild=world.guild
            )
        )
        await fake.wait_for(lambda: record.callback)
        assert record.callback is not None
        names = [c["name"] for c in record.callback["data"]["choices"]]
        assert any("Launch day" in n for n in names) and not any("Secret" in n for n in names)
    finally:
        await runtime.close()
        await app.close()


# --------------------------------------------------------------------------- long commands


def _bot_messages(fake: FakeDiscord, channel_id: str) -> list[dict[str, Any]]:
    """Messages the bot posted in the channel itself, not through an interaction's webhook."""
    return [m for m in fake.channel_messages(channel_id) if "webhook_id" not in m]


async def test_an_answer_after_the_token_expired_comes_in_the_channel_and_a_retry_queues_nothing(
    world: World, running: App, clip: Path
) -> None:
    """A download longer than the interaction token's life: Discord answers the late edit with
    401 50027, so the answer goes to the channel as a bot message naming the member; the member
    runs the same command again on the same file and gets the posts already queued."""
    fake = world.fake
    fake.token_lifetime_s = 1.0
    fake.cdn_seconds = 1.5
    first = await fake.send_interaction(_schedule(world, clip, "tomorrow 6pm"))
    await fake.wait_for(lambda: _bot_messages(fake, world.channel_id), timeout=20)
    [answer] = _bot_messages(fake, world.channel_id)
    assert (
        "PATCH",
        f"/api/v10/webhooks/{fake.application_id}/{first.token}/messages/@original",
        401,
        50027,
    ) in fake.rejections
    assert answer["content"].startswith(f"<@{world.alice.id}>")
    assert answer["embeds"][0]["title"] == "Scheduled for Sandbox"
    [post] = await running.postbot.list_queue(world.ctx(world.alice))
    assert _buttons(answer)[0]["custom_id"] == f"postbot:cancel:{post.id}"

    # The upload's progress goes under this answer, as it would under the interaction's.
    await _replies_under(running, post.id, answer)

    # The same member, the same command, the same file attached again (a new attachment id).
    await fake.send_interaction(_schedule(world, clip, "tomorrow 6pm"))
    await fake.wait_for(lambda: len(_bot_messages(fake, world.channel_id)) == 2, timeout=20)
    again = _bot_messages(fake, world.channel_id)[1]
    assert again["embeds"][0]["title"] == "Already scheduled for Sandbox"
    assert [p.id for p in await running.postbot.list_queue(world.ctx(world.alice))] == [post.id]

    # Another time is another request.
    fake.token_lifetime_s, fake.cdn_seconds = 15 * 60.0, 0.0
    other = await world.run(_schedule(world, clip, "friday 9am"))
    assert fake.original(other)["embeds"][0]["title"] == "Scheduled for Sandbox"  # type: ignore[index]
    assert len(await running.postbot.list_queue(world.ctx(world.alice))) == 2


async def test_a_retry_sent_while_the_first_still_downloads_queues_nothing_twice(
    world: World, running: App, clip: Path
) -> None:
    """Both runs download at once and reach the queue close together: the second meets the
    first's posts (in the queue, or at the insert) and answers with them."""
    fake = world.fake
    fake.cdn_seconds = 1.0
    first = await fake.send_interaction(_schedule(world, clip, "tomorrow 6pm"))
    second = await fake.send_interaction(_schedule(world, clip, "tomorrow 6pm"))
    await fake.wait_for(lambda: first.answers and second.answers, timeout=20)
    titles = sorted(fake.original(r)["embeds"][0]["title"] for r in (first, second))  # type: ignore[index]
    assert titles == ["Already scheduled for Sandbox", "Scheduled for Sandbox"]
    assert len(await running.postbot.list_queue(world.ctx(world.alice))) == 1


# --------------------------------------------------------------------------- attachment limits


async def test_a_nitro_member_attaches_past_the_default_limit_and_others_are_pointed_to_a_link(
    world: World, running: App, tmp_path: Path
) -> None:
    """Discord's limit is the member's: the larger of their Nitro's and the server's boost tier's
    (the interaction's attachment_size_limit). 12 MB is over the default 10 MiB of an unboosted
    server: taken from a member with Nitro; from one without, refused before download with the way
    that works, a link."""
    fake = world.fake
    video = clip_file(tmp_path / "launch.mp4", size_bytes=12 * 1000 * 1000)
    nitro = fake.add_user("nina", dms_open=True)
    nitro.premium_type = NITRO

    def command(user: FakeUser) -> dict[str, Any]:
        att = fake.upload_attachment(world.channel_id, video.name, video.read_bytes())
        values = {"when": "tomorrow 6pm", "platforms": "sandbox", "video": att}
        return fake.command_interaction(
            "schedule", values, user=user, guild=world.guild, permissions=SEND_MESSAGES
        )

    taken = await world.run(command(nitro))
    assert taken.payload["attachment_size_limit"] == 500 * 1000 * 1000
    assert fake.original(taken)["embeds"][0]["title"] == "Scheduled for Sandbox"  # type: ignore[index]
    [post] = await running.postbot.list_queue(world.ctx(nitro))
    assert post.media_name == "launch.mp4"

    downloads = len(fake.cdn_requests)
    refused = await world.run(command(world.alice))
    assert refused.payload["attachment_size_limit"] == 10 * 1024 * 1024
    [error] = fake.followup_messages(refused)
    assert error["flags"] & EPHEMERAL
    assert "launch.mp4 is 12.0 MB, more than the 10.5 MB Discord lets you attach here" in error["content"]
    assert "`url` instead of `video`" in error["content"]
    assert len(fake.cdn_requests) == downloads


# --------------------------------------------------------------------------- autocomplete limits


async def test_autocomplete_never_offers_a_value_cut_to_fit(world: World, running: App) -> None:
    """A picked choice's value replaces what was typed, and Discord takes at most 100 characters of
    it: past that a choice would fill in a cut list, so none is offered; shorter, every choice
    completes what was typed."""
    fake = world.fake

    async def complete(current: str) -> list[dict[str, Any]]:
        payload = fake.autocomplete_interaction(
            "schedule",
            {"platforms": "youtube", "options": current},
            "options",
            user=world.alice,
            guild=world.guild,
        )
        record = await fake.send_interaction(payload)
        await fake.wait_for(lambda: record.callback)
        assert record.callback is not None and record.callback["type"] == 8
        return list(record.callback["data"]["choices"])

    def whole(typed: str, choice: dict[str, Any]) -> bool:
        """The value is what was typed with one whole option name after it."""
        head = typed.removesuffix("--")
        return choice["value"].startswith(head) and bool(
            re.fullmatch(r"--[a-z_]+ ", choice["value"][len(head) :])
        )

    short = "--tags launch,demo --"
    offered = await complete(short)
    assert offered and all(whole(short, c) for c in offered)
    assert any(c["value"] == "--tags launch,demo --kids " for c in offered)

    long = "--tags " + ",".join(f"launch-{i}" for i in range(10)) + " --"
    assert 90 < len(long) < 100
    assert all(whole(long, c) for c in await complete(long))
    assert fake.rejections == []


async def test_schedule_where_the_bot_cannot_post_says_how_to_fix_it(
    world: World, running: App, clip: Path
) -> None:
    """The results and the upload progress go to the channel: where the bot lacks View Channel
    (the interaction's app_permissions say so), /schedule is refused at once, privately, saying
    what to fix, before the video is fetched."""
    fake = world.fake
    world.guild.hidden_from_bot.add(world.channel_id)
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    [error] = fake.followup_messages(record)
    assert error["flags"] & EPHEMERAL
    assert "I can't post in this channel (I lack View Channel, Send Messages here)" in error["content"]
    assert "permissions in this channel's settings" in error["content"]
    assert fake.cdn_requests == [] and await running.postbot.list_queue(world.ctx(world.alice)) == []


async def test_a_deliberate_rerun_after_cancelling_queues_again(
    world: World, running: App, clip: Path
) -> None:
    """The repeat window answers a lost answer's retry with the posts already queued; a member who
    cancelled that post and runs the same command again means it, and must not be told "Already
    scheduled" about a cancelled post while nothing is queued."""
    fake = world.fake
    first = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    assert fake.original(first)["embeds"][0]["title"] == "Scheduled for Sandbox"  # type: ignore[index]
    [post] = await running.postbot.list_queue(world.ctx(world.alice))
    await running.postbot.cancel(world.ctx(world.alice), post.id)
    assert await running.postbot.list_queue(world.ctx(world.alice)) == []

    again = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    assert fake.original(again)["embeds"][0]["title"] == "Scheduled for Sandbox"  # type: ignore[index]
    [queued] = await running.postbot.list_queue(world.ctx(world.alice))
    assert queued.id != post.id
