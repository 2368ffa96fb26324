"""Approval in Discord, end to end: the production discord.py client against the fake Discord (REST
and gateway: interactions, modals, MESSAGE_REACTION_ADD as documented), the real core and scheduler.
A member's post waits; an approver (by role) approves it with the button or with ✅ and it is
published once; a rejection's reason reaches the author; presses from a non-approver or from another
server are refused."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.wiring import App
from core.db.models import ApprovalRequest, ScheduledPost
from core.domain import PostStatus
from tests.fakes.discord_api import EPHEMERAL, FakeUser, Interaction
from tests.test_discord_adapter import MANAGE_GUILD, SEND_MESSAGES, World, _buttons, _schedule, running, world

__all__ = ["running", "world"]


async def _approval_on(world: World, role: str) -> None:
    payload = world.fake.command_interaction(
        "postbot-admin approval",
        {"state": "on", "approvers": f"<@&{role}>"},
        user=world.admin,
        guild=world.guild,
        permissions=MANAGE_GUILD | SEND_MESSAGES,
    )
    record = await world.run(payload)
    answer = world.fake.original(record)
    assert answer is not None and f"wait for <@&{role}> to approve" in answer["content"], answer


async def _request(world: World) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for message in world.fake.channel_messages(world.channel_id):
            if any(b.get("custom_id", "").startswith("postbot:ok:") for b in _all_buttons(message)):
                return message
        return None

    result: dict[str, Any] = await world.fake.wait_for(found)
    return result


def _all_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return _buttons(message) if message.get("components") else []


async def _status(app: App) -> PostStatus:
    async with app.sessions() as session:
        from sqlalchemy import select

        from core.db.models import ScheduledPost

        return PostStatus((await session.execute(select(ScheduledPost.status))).scalar_one())


async def test_a_role_approves_with_the_button_and_the_post_is_published_once(
    world: World, running: App, clip: Path
) -> None:
    fake = world.fake
    carol = fake.add_user("carol")
    role = await fake.add_role(world.guild, "video leads", [carol])
    await running.start_scheduler()
    await _approval_on(world, role)
    record = await world.run(_schedule(world, clip, "in 8 seconds"))
    answer = fake.original(record)
    assert answer is not None
    assert "Awaiting approval" in str(answer["embeds"][0])
    request = await _request(world)
    # A reply to the scheduling answer, pinging the role; the time renders in each reader's zone.
    assert request["message_reference"]["message_id"] == answer["id"]
    assert f"<@&{role}>" in request["content"]
    embed = request["embeds"][0]
    assert "clip.mp4" in embed["description"] and "(0:12)" in embed["description"]
    assert "<t:" in embed["description"] and "Launch day #rocket" in str(embed["fields"])
    assert await _status(running) is PostStatus.AWAITING

    # Alice (the author) and the admin are not in the role: refused, privately.
    for who in (world.alice, world.admin):
        press = await world.run(
            fake.component_interaction(request["id"], "postbot:ok:1", user=who, guild=world.guild)
        )
        [note] = fake.followup_messages(press)
        assert note["flags"] & EPHEMERAL and "Only an approver of this channel" in note["content"]
    # The same press from another server: there is no post #1 there.
    other = fake.add_guild("elsewhere")
    forged = fake.component_interaction(request["id"], "postbot:ok:1", user=carol, guild=world.guild)
    forged.update(guild_id=other.id, guild={"id": other.id, "locale": "en-US", "features": []})
    press = await world.run(forged)
    [note] = fake.followup_messages(press)
    assert "There is no post #1" in note["content"]
    assert await _status(running) is PostStatus.AWAITING

    # Carol presses twice at once: one approval.
    presses = [
        fake.component_interaction(request["id"], "postbot:ok:1", user=carol, guild=world.guild) for _ in "ab"
    ]
    records = await asyncio.gather(*(fake.send_interaction(p) for p in presses))
    await fake.wait_for(lambda: "approved by" in str(fake.messages[request["id"]].get("embeds")))
    # The second press says privately that it is decided already.
    await fake.wait_for(lambda: any(fake.followup_messages(r) for r in records))
    edited = fake.messages[request["id"]]
    assert f"approved by <@{carol.id}>" in str(edited["embeds"][0]) and not edited.get("components")
    assert await _status(running) is PostStatus.QUEUED

    def published() -> list[dict[str, Any]]:
        return [m for m in fake.channel_messages(world.channel_id) if "Published: #1" in str(m.get("embeds"))]

    await fake.wait_for(lambda: published())
    await asyncio.sleep(1.0)
    assert len(published()) == 1 and f"approved by <@{carol.id}>" in str(published()[0]["embeds"])


async def test_a_check_mark_by_an_approver_approves_and_one_by_the_author_does_nothing(
    world: World, running: App, clip: Path
) -> None:
    fake = world.fake
    carol = fake.add_user("carol")
    role = await fake.add_role(world.guild, "video leads", [carol])
    await _approval_on(world, role)
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    answer = fake.original(record)
    assert answer is not None
    await _request(world)
    assert await fake.react(world.alice, world.guild, answer["id"])
    await fake.react(carol, world.guild, answer["id"], emoji="👍")
    await asyncio.sleep(0.5)
    assert await _status(running) is PostStatus.AWAITING

    await fake.react(carol, world.guild, answer["id"])
    confirmed = await fake.wait_for(
        lambda: next(
            (m for m in fake.channel_messages(world.channel_id) if "(✅)" in m.get("content", "")), None
        )
    )
    assert f"approved by <@{carol.id}>" in confirmed["content"]
    assert confirmed["message_reference"]["message_id"] == answer["id"]
    assert await _status(running) is PostStatus.QUEUED


async def test_reject_asks_a_reason_in_a_modal_and_the_author_hears_it(
    world: World, running: App, clip: Path
) -> None:
    fake = world.fake
    carol = fake.add_user("carol")
    role = await fake.add_role(world.guild, "video leads", [carol])
    await running.start_scheduler()
    await _approval_on(world, role)
    await world.run(_schedule(world, clip, "tomorrow 6pm"))
    request = await _request(world)
    opened = await fake.send_interaction(
        fake.component_interaction(request["id"], "postbot:no:1", user=carol, guild=world.guild)
    )
    await fake.wait_for(lambda: opened.callback)
    assert opened.callback is not None and opened.callback["type"] == 9
    submit = fake.modal_submit_interaction(
        opened, {_reason_id(opened): "Use the new logo"}, user=carol, guild=world.guild
    )
    record: Interaction = await fake.send_interaction(submit)
    await fake.wait_for(lambda: "rejected by" in str(fake.messages[request["id"]].get("embeds")))
    assert record.callback is not None
    assert "Use the new logo" in str(fake.messages[request["id"]]["embeds"])
    assert await _status(running) is PostStatus.REJECTED
    told = await fake.wait_for(
        lambda: next((m for m in fake.dm_messages(world.alice.id) if "was rejected by" in m["content"]), None)
    )
    assert "Reason: Use the new logo" in told["content"]


def _reason_id(opened: Interaction) -> str:
    assert opened.callback is not None
    rows = opened.callback["data"]["components"]
    return str(rows[0]["components"][0]["custom_id"])


async def test_dm_delivery_sends_each_person_a_link_to_the_request_in_the_channel(
    world: World, running: App, clip: Path
) -> None:
    fake = world.fake
    carol = fake.add_user("carol")
    payload = fake.command_interaction(
        "postbot-admin approval",
        {"state": "on", "approvers": f"<@{carol.id}>", "dm": True},
        user=world.admin,
        guild=world.guild,
        permissions=MANAGE_GUILD | SEND_MESSAGES,
    )
    record = await world.run(payload)
    answer = fake.original(record)
    assert answer is not None and "by direct message" in answer["content"]
    await world.run(_schedule(world, clip, "tomorrow 6pm"))
    request = await _request(world)
    # Not pinged in the channel: asked privately, with the way back to the buttons.
    assert request["content"] == "Approval needed."
    dm = await fake.wait_for(lambda: next(iter(fake.dm_messages(carol.id)), None))
    assert request["id"] in dm["content"] and "Approval needed" in dm["embeds"][0]["title"]
    assert not dm.get("components")
    await world.run(
        fake.component_interaction(request["id"], "postbot:ok:1", user=carol, guild=world.guild), 0
    )
    await fake.wait_for(lambda: "approved by" in str(fake.messages[request["id"]].get("embeds")))
    assert await _status(running) is PostStatus.QUEUED


async def test_the_approve_commands_when_option_cannot_name_more_posts(
    world: World, running: App, clip: Path
) -> None:
    """`/postbot approve post:1 when:"2 now"` approves #1 only: the option is a time, not more ids
    (it was pasted after the id into `/approve`'s text, whose leading numbers are all post ids)."""
    fake = world.fake
    carol = fake.add_user("carol")
    role = await fake.add_role(world.guild, "video leads", [carol])
    await _approval_on(world, role)
    for when in ("tomorrow 9am", "tomorrow 10am"):
        await world.run(_schedule(world, clip, when))

    async def statuses() -> dict[int, PostStatus]:
        async with running.sessions() as session:
            from sqlalchemy import select

            from core.db.models import ScheduledPost

            rows = await session.execute(select(ScheduledPost.id, ScheduledPost.status))
            return {i: PostStatus(s) for i, s in rows}

    assert await statuses() == {1: PostStatus.AWAITING, 2: PostStatus.AWAITING}
    payload = fake.command_interaction(
        "postbot approve",
        {"post": "1", "when": "2 now"},
        user=carol,
        guild=world.guild,
        permissions=SEND_MESSAGES,
    )
    await world.run(payload)
    assert (await statuses())[2] is PostStatus.AWAITING
    payload = fake.command_interaction(
        "postbot approve",
        {"post": "1", "when": "now"},
        user=carol,
        guild=world.guild,
        permissions=SEND_MESSAGES,
    )
    record = await world.run(payload)
    assert "#1" in str(fake.original(record))
    assert await statuses() == {1: PostStatus.QUEUED, 2: PostStatus.AWAITING}


async def test_a_request_older_than_the_post_approves_nothing_and_is_redrawn(
    world: World, running: App, clip: Path
) -> None:
    """The author moves the post after the request went out: the request's Approve and a ✅ on the
    scheduling answer change nothing and say so; the request is redrawn at the new time, and its new
    button approves."""
    fake = world.fake
    carol = fake.add_user("carol")
    role = await fake.add_role(world.guild, "video leads", [carol])
    await _approval_on(world, role)
    record = await world.run(_schedule(world, clip, "tomorrow 6pm"))
    answer = fake.original(record)
    assert answer is not None
    request = await _request(world)
    shown = str(request["embeds"][0])
    moved = await world.run(
        fake.command_interaction(
            "postbot reschedule",
            {"post": "1", "when": "tomorrow 7pm"},
            user=world.alice,
            guild=world.guild,
            permissions=SEND_MESSAGES,
        )
    )
    assert "Moved" in str(fake.original(moved))

    press = await world.run(
        fake.component_interaction(request["id"], "postbot:ok:1", user=carol, guild=world.guild)
    )
    [note] = fake.followup_messages(press)
    assert note["flags"] & EPHEMERAL
    assert "This request is out of date: #1 Sandbox changed since (new time" in note["content"]
    assert await _status(running) is PostStatus.AWAITING
    redrawn = fake.messages[request["id"]]
    assert "changed since this request was sent" in str(redrawn["embeds"][0])
    assert str(redrawn["embeds"][0]) != shown
    fresh = [b["custom_id"] for b in _buttons(redrawn)]
    assert "postbot:ok:1" not in fresh and any(c.startswith("postbot:ok:1.") for c in fresh)

    # A ✅ on the scheduling answer (it showed 6pm): nothing approved; the request as it is now.
    await fake.react(carol, world.guild, answer["id"])
    again = await fake.wait_for(
        lambda: next(
            (
                m
                for m in fake.channel_messages(world.channel_id)
                if "out of date" in m.get("content", "") and m.get("message_reference")
            ),
            None,
        )
    )
    assert again["message_reference"]["message_id"] == answer["id"]
    assert await _status(running) is PostStatus.AWAITING

    [approve] = [c for c in fresh if c.startswith("postbot:ok:")]
    await fake.send_interaction(
        fake.component_interaction(request["id"], approve, user=carol, guild=world.guild)
    )
    await fake.wait_for(lambda: "approved by" in str(fake.messages[request["id"]].get("embeds")))
    assert await _status(running) is PostStatus.QUEUED


# ---------------------------------------------------------------- every copy redrawn once decided


async def _kept(app: App) -> int:
    """Request messages still stored (one row per message and post)."""
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ApprovalRequest)) or 0)


async def _until(read: Any, ok: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not ok(await read()):
            await asyncio.sleep(0.05)


async def _two_by_dm(world: World, app: App, clip: Path) -> tuple[FakeUser, FakeUser, dict[str, Any]]:
    """Carol and Dan approve by DM: the request in the channel (the buttons) and a copy each."""
    fake = world.fake
    carol, dan = fake.add_user("carol"), fake.add_user("dan")
    payload = fake.command_interaction(
        "postbot-admin approval",
        {"state": "on", "approvers": f"<@{carol.id}> <@{dan.id}>", "dm": True},
        user=world.admin,
        guild=world.guild,
        permissions=MANAGE_GUILD | SEND_MESSAGES,
    )
    assert "by direct message" in str(fake.original(await world.run(payload)))
    await world.run(_schedule(world, clip, "tomorrow 6pm"))
    request = await _request(world)
    for person in (carol, dan):
        await fake.wait_for(partial(fake.dm_messages, person.id))
    await _until(lambda: _kept(app), lambda n: n == 3)
    return carol, dan, request


def _says(message: dict[str, Any], text: str) -> bool:
    return text in str(message["embeds"])


def _copies(world: World, *people: FakeUser) -> list[dict[str, Any]]:
    return [m for p in people for m in world.fake.dm_messages(p.id)]


@pytest.mark.parametrize("decision", ["button", "reject", "command", "cancel"])
async def test_every_copy_is_redrawn_once_the_post_is_decided(
    world: World, running: App, clip: Path, decision: str
) -> None:
    """However the post stops awaiting (Carol's button or Reject in the channel, Dan's /postbot
    approve, Alice's cancel), the request in the channel and each approver's DM copy say so, without
    buttons, and are forgotten."""
    fake = world.fake
    carol, dan, request = await _two_by_dm(world, running, clip)
    if decision == "button":
        await world.run(
            fake.component_interaction(request["id"], "postbot:ok:1", user=carol, guild=world.guild), 0
        )
        said = f"approved by <@{carol.id}>"
    elif decision == "reject":
        opened = await fake.send_interaction(
            fake.component_interaction(request["id"], "postbot:no:1", user=carol, guild=world.guild)
        )
        await fake.wait_for(lambda: opened.callback)
        await fake.send_interaction(
            fake.modal_submit_interaction(
                opened, {_reason_id(opened): "Use the new logo"}, user=carol, guild=world.guild
            )
        )
        said = f"rejected by <@{carol.id}>: Use the new logo"
    elif decision == "command":
        await world.run(
            fake.command_interaction(
                "postbot approve", {"post": "1"}, user=dan, guild=world.guild, permissions=SEND_MESSAGES
            )
        )
        said = f"approved by <@{dan.id}>"
    else:
        await world.run(
            fake.command_interaction(
                "postbot cancel",
                {"post": "1"},
                user=world.alice,
                guild=world.guild,
                permissions=SEND_MESSAGES,
            )
        )
        said = "No longer waiting: #1 Sandbox is cancelled"
    copies = _copies(world, carol, dan)
    assert len(copies) == 2
    for copy in [*copies, fake.messages[request["id"]]]:
        await fake.wait_for(partial(_says, copy, said))
        assert not copy.get("components") and "clip.mp4" in copy["embeds"][0]["description"]
    assert all(c["content"] == "No longer awaiting approval." for c in copies)
    await _until(lambda: _kept(running), lambda n: n == 0)
    await asyncio.sleep(0.3)
    # Once each: the pressed request by its press, every other copy by the redraw.
    for copy in [*copies, request]:
        assert len([e for e in fake.channel_edits if e[0] == copy["id"]]) <= 1


async def test_a_deleted_copy_is_forgotten_and_the_others_redrawn(
    world: World, running: App, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake = world.fake
    carol, dan, request = await _two_by_dm(world, running, clip)
    [gone] = _copies(world, dan)
    del fake.messages[gone["id"]]
    await world.run(
        fake.command_interaction(
            "postbot approve", {"post": "1"}, user=carol, guild=world.guild, permissions=SEND_MESSAGES
        )
    )
    [kept] = _copies(world, carol)
    await fake.wait_for(lambda: f"approved by <@{carol.id}>" in str(kept["embeds"]))
    await fake.wait_for(lambda: f"approved by <@{carol.id}>" in str(fake.messages[request["id"]]["embeds"]))
    await _until(lambda: _kept(running), lambda n: n == 0)
    assert "approval request gone before its redraw" in caplog.text
    assert "redrawing an approval request failed" not in caplog.text


async def test_four_presses_at_once_approve_once_and_every_copy_says_who(
    world: World, running: App, clip: Path
) -> None:
    fake = world.fake
    carol, dan, request = await _two_by_dm(world, running, clip)
    presses = [
        fake.component_interaction(request["id"], "postbot:ok:1", user=who, guild=world.guild)
        for who in (carol, dan, carol, dan)
    ]
    await asyncio.gather(*(fake.send_interaction(p) for p in presses))
    await fake.wait_for(lambda: "approved by" in str(fake.messages[request["id"]].get("embeds")))
    await _until(lambda: _kept(running), lambda n: n == 0)
    async with running.sessions() as session:
        [(status, approver)] = (
            await session.execute(select(ScheduledPost.status, ScheduledPost.approved_by))
        ).all()
    assert status == "queued" and approver in (carol.id, dan.id)
    for copy in _copies(world, carol, dan):
        await fake.wait_for(partial(_says, copy, f"approved by <@{approver}>"))
