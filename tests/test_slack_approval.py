"""Approval in Slack, end to end: the real bolt app against the fake Slack (signed requests, the
documented reaction_added and block_actions payloads), the real core and scheduler. A member's post
waits, an approver approves it with the button or with ✅ and it is published once at its time;
a rejection reaches the author with its reason; clicks racing, forged from another workspace or by
a non-approver approve nothing twice and nothing wrongly."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db.models import ApprovalRequest
from core.domain import ChatContext, ChatKind
from core.service import Postbot, RequestCloser
from tests.clips import distinct_clip
from tests.fakes.slack_api import button_in
from tests.test_slack_adapter import ANA, BEN, CHANNEL, Harness, _block_text, _buttons, harness

__all__ = ["harness"]

CAROL = "U0CAROL"


async def _setup(h: Harness, clip: Path, when: str = "tomorrow 6pm") -> tuple[dict[str, Any], dict[str, Any]]:
    """Approval on (the admins approve), Ana (a member) schedules: her answer and the request."""
    await h.sender.command("/postbot", "approval on", user=BEN, channel=CHANNEL)
    await h.hook("Approval is on in this channel")
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", f"{when} sandbox Launch day", user=ANA, channel=CHANNEL)
    answer = await h.reply(lambda m: m["text"].startswith("Awaiting approval"))
    request = await h.reply(lambda m: "postbot_approve:" in " ".join(_buttons(m)))
    return answer, request


async def _status(h: Harness) -> str:
    return (await h.posts())[0].status


async def test_a_members_post_waits_and_an_approvers_button_publishes_it_once(
    harness: Harness, clip: Path
) -> None:
    h = harness
    await h.app.start_scheduler()
    answer, request = await _setup(h, clip, "in 6 seconds")
    assert "Awaiting approval from the admins: nothing goes out before" in _block_text(answer)
    # The request sits in the answer's thread: the video, its length, the time in each reader's zone
    # (Slack's date formatting), the caption, and the three buttons.
    assert request["thread_ts"] == answer["thread_ts"]
    text = _block_text(request)
    assert "clip.mp4" in text and "(0:12)" in text and "<!date^" in text and "Launch day" in text
    assert f"<@{ANA}>" in text
    assert _buttons(request) == ["postbot_approve:1", "postbot_reject:1", "postbot_approve_time:1"]
    assert await _status(h) == "awaiting"

    # Ana is no approver: her click is refused, privately.
    await h.sender.click("postbot_approve:1", user=ANA, channel=CHANNEL, message=request)
    await h.hook("Only an approver of this channel")
    assert await _status(h) == "awaiting"

    # Ben double-clicks: two deliveries at once, one approval.
    first, second = await asyncio.gather(
        h.sender.click("postbot_approve:1", user=BEN, channel=CHANNEL, message=request),
        h.sender.click("postbot_approve:1", user=BEN, channel=CHANNEL, message=request),
    )
    assert first.status_code == second.status_code == 200
    await h.slack.wait_for(lambda: "approved by" in _block_text(request))
    assert f"approved by <@{BEN}>" in _block_text(request)
    assert "postbot_approve:1" not in _buttons(request)
    [post] = await h.posts()
    assert post.status == "queued" and post.approved_by == BEN and post.approved_at is not None

    published = await h.reply(
        lambda m: m["text"].startswith("Published #1"),
    )
    assert f"approved by <@{BEN}>" in _block_text(published)
    await asyncio.sleep(1.0)
    assert len([m for m in h.bot_messages() if m["text"].startswith("Published #1")]) == 1
    assert (await h.posts())[0].status == "published"


async def test_a_check_mark_by_an_approver_approves_and_one_by_anyone_else_does_nothing(
    harness: Harness, clip: Path
) -> None:
    h = harness
    answer, _ = await _setup(h, clip)
    # A ✅ from Ana (the author, no approver) and a 👍 from Ben change nothing.
    assert await h.sender.react(ANA, CHANNEL, answer) is not None
    await h.sender.react(BEN, CHANNEL, answer, reaction="thumbsup")
    await asyncio.sleep(0.5)
    assert await _status(h) == "awaiting"

    await h.sender.react(BEN, CHANNEL, answer)
    confirmed = await h.reply(lambda m: "(✅)" in m.get("text", ""))
    assert f"approved by <@{BEN}>" in confirmed["text"]
    # In the same thread as the answer (the video's thread).
    assert confirmed["thread_ts"] == answer["thread_ts"]
    [post] = await h.posts()
    assert post.status == "queued" and post.approved_by == BEN
    # Another ✅ (Slack redelivers, or a second approver) approves nothing again and says nothing.
    await h.sender.react(BEN, CHANNEL, answer)
    await asyncio.sleep(0.5)
    assert len([m for m in h.bot_messages() if "(✅)" in m.get("text", "")]) == 1


async def test_without_reactions_read_slack_sends_no_reaction_event(harness: Harness, clip: Path) -> None:
    h = harness
    answer, _ = await _setup(h, clip)
    h.slack.scopes.discard("reactions:read")
    assert await h.sender.react(BEN, CHANNEL, answer) is None
    assert await _status(h) == "awaiting"


async def test_reject_asks_a_reason_and_the_author_hears_it(harness: Harness, clip: Path) -> None:
    h = harness
    await h.app.start_scheduler()
    _, request = await _setup(h, clip)
    await h.sender.click("postbot_reject:1", user=BEN, channel=CHANNEL, message=request)
    opened = await h.slack.wait_for(lambda: h.slack.views)
    [view] = opened.values()
    assert view["callback_id"] == "postbot_reject_modal"
    values = {"field": {"value": {"type": "plain_text_input", "value": "Use the new logo"}}}
    response = await h.sender.submit_view(view["id"], user=BEN, values=values)
    assert response.status_code == 200
    await h.slack.wait_for(lambda: "rejected by" in _block_text(request))
    assert "Use the new logo" in _block_text(request) and not _buttons(request)
    assert await _status(h) == "rejected"
    # The author is told by DM, with the reason.
    dm = await h.slack.wait_for(lambda: h.slack.ims.get(ANA))
    told = await h.slack.wait_for(
        lambda: next((m for m in h.slack.posted(dm) if "was rejected by" in m["text"]), None)
    )
    assert "Reason: Use the new logo" in told["text"]


async def test_change_time_keeps_it_waiting_and_a_bad_time_stays_in_the_form(
    harness: Harness, clip: Path
) -> None:
    h = harness
    _, request = await _setup(h, clip)
    await h.sender.click("postbot_approve_time:1", user=BEN, channel=CHANNEL, message=request)
    opened = await h.slack.wait_for(lambda: h.slack.views)
    [view] = opened.values()
    bad = {"field": {"value": {"type": "plain_text_input", "value": "yesterday"}}}
    response = await h.sender.submit_view(view["id"], user=BEN, values=bad)
    assert response.json()["response_action"] == "errors"
    good = {"field": {"value": {"type": "plain_text_input", "value": "tomorrow 9am"}}}
    response = await h.sender.submit_view(view["id"], user=BEN, values=good)
    assert response.status_code == 200
    await h.slack.wait_for(lambda: "still awaits approval" in _block_text(request))
    [post] = await h.posts()
    assert post.status == "awaiting" and post.run_at.hour in (8, 9, 14, 15)


async def test_forged_clicks_from_another_workspace_or_a_user_group_outsider_are_refused(
    harness: Harness, clip: Path
) -> None:
    h = harness
    h.slack.add_user(CAROL, "carol", tz="Europe/Berlin")
    h.slack.add_usergroup("S0LEADS", "video-leads", [CAROL])
    await h.sender.command(
        "/postbot", "approval on <!subteam^S0LEADS|@video-leads>", user=BEN, channel=CHANNEL
    )
    await h.hook("wait for <!subteam^S0LEADS> to approve")
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Launch day", user=ANA, channel=CHANNEL)
    request = await h.reply(lambda m: "postbot_approve:" in " ".join(_buttons(m)))

    # Ben is an admin but not in the group the rule names: refused.
    await h.sender.click("postbot_approve:1", user=BEN, channel=CHANNEL, message=request)
    await h.hook("Only an approver of this channel")
    # The same button, signed, from another workspace (its team in the payload): no such post there.
    block_id, button = button_in(request, "postbot_approve:1")
    payload = {
        "type": "block_actions",
        "user": {"id": CAROL, "username": "carol", "team_id": "T0OTHER"},
        "api_app_id": h.slack.app_id,
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": request["ts"], "channel_id": CHANNEL},
        "trigger_id": h.slack.new_trigger(),
        "team": {"id": "T0OTHER", "domain": "elsewhere"},
        "channel": {"id": CHANNEL, "name": "launch"},
        "message": request,
        "response_url": h.slack.response_url("actions"),
        "actions": [{**button, "block_id": block_id, "type": "button", "action_ts": "1.0"}],
    }
    response = await h.sender.interaction(payload)
    assert response.status_code == 200
    await h.hook("There is no post #1 in this workspace")
    assert await _status(h) == "awaiting"

    # Carol, in the group, approves.
    await h.sender.click("postbot_approve:1", user=CAROL, channel=CHANNEL, message=request)
    await h.slack.wait_for(lambda: "approved by" in _block_text(request))
    assert (await h.posts())[0].approved_by == CAROL
    assert json.dumps(h.slack.calls_to("usergroups.list")[0].args).count("include_users") == 1


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_dm_delivery_asks_each_approver_privately(harness: Harness, clip: Path) -> None:
    h = harness
    h.slack.add_user(CAROL, "carol", tz="Asia/Tokyo")
    await h.sender.command("/postbot", f"approval on <@{CAROL}|carol> dm", user=BEN, channel=CHANNEL)
    await h.hook("by direct message")
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Launch day", user=ANA, channel=CHANNEL)
    await h.reply(lambda m: m["text"].startswith("Awaiting approval"))
    dm = await h.slack.wait_for(lambda: h.slack.ims.get(CAROL))
    request = await h.slack.wait_for(
        lambda: next((m for m in h.slack.posted(dm) if "postbot_approve:1" in _buttons(m)), None)
    )
    await h.sender.click("postbot_approve:1", user=CAROL, channel=dm, message=request)
    await h.slack.wait_for(lambda: "approved by" in _block_text(request))
    assert (await h.posts())[0].approved_by == CAROL


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_several_videos_each_get_a_request_and_one_check_mark_approves_them_all(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    await h.sender.command("/postbot", "slots add mon,wed,fri 18:00 sandbox", user=BEN, channel=CHANNEL)
    await h.hook("Added 3 Sandbox slots")
    await h.sender.command("/postbot", "approval on", user=BEN, channel=CHANNEL)
    await h.hook("Approval is on in this channel")
    # Two different videos: the same bytes twice would be one video (nothing is posted twice).
    names = ("a.mp4", "b.mp4")
    clips = [distinct_clip(tmp_path / n, i) for i, n in enumerate(names)]
    files = [h.slack.add_file(ANA, CHANNEL, c, name=c.name) for c in clips]
    await h.sender.mention(ANA, CHANNEL, "next sandbox Clips", files)
    answer = await h.reply(lambda m: m["text"].startswith("Scheduled 2 of 2 videos"))
    assert "Awaiting approval: it goes out once an approver approves it." in answer["text"]

    def requests() -> list[dict[str, Any]]:
        return [m for m in h.bot_messages() if any(b.startswith("postbot_approve:") for b in _buttons(m))]

    await h.slack.wait_for(lambda: len(requests()) == 2)
    assert {_buttons(m)[0] for m in requests()} == {"postbot_approve:1", "postbot_approve:2"}
    await h.sender.react(BEN, CHANNEL, answer)
    await h.reply(lambda m: "(✅)" in m.get("text", ""))
    assert [p.status for p in await h.posts()] == ["queued", "queued"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_dm_request_older_than_the_post_approves_nothing_and_is_redrawn(
    harness: Harness, clip: Path
) -> None:
    """Two approvers by DM; the author moves the post: Carol's old Approve (and Reject) change
    nothing, say so, and her request is redrawn at the new time; its new button approves. Dan's copy,
    pressed after Carol decided, loses its buttons and says who decided."""
    h = harness
    dan = "U0DAN"
    h.slack.add_user(CAROL, "carol", tz="Asia/Tokyo")
    h.slack.add_user(dan, "dan")
    await h.sender.command(
        "/postbot", f"approval on <@{CAROL}|carol> <@{dan}|dan> dm", user=BEN, channel=CHANNEL
    )
    await h.hook("by direct message")
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Launch day", user=ANA, channel=CHANNEL)
    await h.reply(lambda m: m["text"].startswith("Awaiting approval"))

    async def request_to(person: str) -> tuple[str, dict[str, Any]]:
        dm = await h.slack.wait_for(lambda: h.slack.ims.get(person))
        message = await h.slack.wait_for(
            lambda: next((m for m in h.slack.posted(dm) if "postbot_approve:1" in _buttons(m)), None)
        )
        return dm, message

    (carol_dm, carols), (dan_dm, dans) = await request_to(CAROL), await request_to(dan)
    assert button_in(carols, "postbot_approve:1")[1]["value"] == "1.0"
    shown = _block_text(carols)

    await h.sender.command("/postbot", "reschedule 1 tomorrow 7pm", user=ANA, channel=CHANNEL)
    await h.hook("Moved #1")
    old = button_in(carols, "postbot_approve:1")
    await h.sender.click("postbot_approve:1", user=CAROL, channel=carol_dm, message=carols)
    await h.hook("This request is out of date: #1 Sandbox changed since (new time")
    [post] = await h.posts()
    assert post.status == "awaiting" and post.approved_by is None
    # Her request now shows the post as it is: the new time and the new revision on its buttons.
    await h.slack.wait_for(lambda: "changed since this request was sent" in _block_text(carols))
    assert _block_text(carols) != shown
    assert button_in(carols, "postbot_approve:1")[1]["value"] == f"1.{post.revision}"

    # The old Reject, through its form: refused too, the form says why.
    await h.sender.click(
        "postbot_reject:1",
        user=CAROL,
        channel=carol_dm,
        message={
            **carols,
            "blocks": [
                {
                    "type": "actions",
                    "block_id": old[0],
                    "elements": [{**old[1], "action_id": "postbot_reject:1"}],
                }
            ],
        },
    )
    opened = await h.slack.wait_for(lambda: h.slack.views)
    [view] = opened.values()
    values = {"field": {"value": {"type": "plain_text_input", "value": "no"}}}
    response = await h.sender.submit_view(view["id"], user=CAROL, values=values)
    assert "out of date" in response.json()["errors"]["field"]
    assert (await h.posts())[0].status == "awaiting"

    # The redrawn request's button approves.
    await h.sender.click("postbot_approve:1", user=CAROL, channel=carol_dm, message=carols)
    await h.slack.wait_for(lambda: "approved by" in _block_text(carols))
    assert (await h.posts())[0].approved_by == CAROL
    # Dan's copy, still showing 6pm: nothing changes, and it stops offering buttons.
    await h.sender.click("postbot_approve:1", user=dan, channel=dan_dm, message=dans)
    await h.slack.wait_for(lambda: not _buttons(dans))
    assert f"approved by <@{CAROL}>" in _block_text(dans)
    assert (await h.posts())[0].approved_by == CAROL


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_check_mark_on_an_answer_older_than_the_post_approves_nothing(
    harness: Harness, clip: Path
) -> None:
    h = harness
    answer, _ = await _setup(h, clip)
    await h.sender.command("/postbot", "reschedule 1 tomorrow 7pm", user=ANA, channel=CHANNEL)
    await h.hook("Moved #1")
    await h.sender.react(BEN, CHANNEL, answer)
    again = await h.reply(lambda m: "This request is out of date" in _block_text(m))
    assert again["thread_ts"] == answer["thread_ts"] and "postbot_approve:1" in _buttons(again)
    assert await _status(h) == "awaiting"
    await h.sender.click("postbot_approve:1", user=BEN, channel=CHANNEL, message=again)
    await h.slack.wait_for(lambda: "approved by" in _block_text(again))
    assert (await h.posts())[0].approved_by == BEN


# ---------------------------------------------------------------- every DM copy redrawn once decided

DAN = "U0DAN"


async def _two_by_dm(h: Harness, clip: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Carol and Dan approve by DM; Ana schedules: Carol's copy and Dan's, each with live buttons."""
    h.slack.add_user(CAROL, "carol", tz="Asia/Tokyo")
    h.slack.add_user(DAN, "dan")
    await h.sender.command(
        "/postbot", f"approval on <@{CAROL}|carol> <@{DAN}|dan> dm", user=BEN, channel=CHANNEL
    )
    await h.hook("by direct message")
    upload = h.slack.add_file(ANA, CHANNEL, clip)
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Launch day", user=ANA, channel=CHANNEL)
    await h.reply(lambda m: m["text"].startswith("Awaiting approval"))

    async def copy_for(person: str) -> dict[str, Any]:
        dm = await h.slack.wait_for(lambda: h.slack.ims.get(person))
        found: dict[str, Any] = await h.slack.wait_for(
            lambda: next((m for m in h.slack.posted(dm) if "postbot_approve:1" in _buttons(m)), None)
        )
        return found

    carols, dans = await copy_for(CAROL), await copy_for(DAN)
    await _until(lambda: _kept(h), lambda n: n == 2)
    return carols, dans


def _where(h: Harness, message: dict[str, Any]) -> str:
    """The channel (here a DM) a message the bot sent sits in."""
    return next(c for c, sent in h.slack.messages.items() if any(m is message for m in sent))


async def _kept(h: Harness) -> int:
    """Request messages still stored (one row per message and post)."""
    async with h.app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ApprovalRequest)) or 0)


async def _until(read: Any, ok: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not ok(await read()):
            await asyncio.sleep(0.05)


def _updates(h: Harness, message: dict[str, Any]) -> int:
    return len(
        [c for c in h.slack.calls_to("chat.update") if c.args.get("ts") == message["ts"] and c.status == 200]
    )


async def _reject(h: Harness, request: dict[str, Any], user: str, reason: str) -> None:
    await h.sender.click("postbot_reject:1", user=user, channel=_where(h, request), message=request)
    opened = await h.slack.wait_for(lambda: h.slack.views)
    [view] = opened.values()
    values = {"field": {"value": {"type": "plain_text_input", "value": reason}}}
    assert (await h.sender.submit_view(view["id"], user=user, values=values)).status_code == 200


@pytest.mark.parametrize("decision", ["button", "reject", "command", "cancel"])
async def test_every_dm_copy_loses_its_buttons_once_the_post_is_decided(
    harness: Harness, clip: Path, decision: str
) -> None:
    """Two approvers by DM: however the post stops awaiting (Carol's button or Reject, Dan's
    /postbot approve typed in the channel, Ana's cancel), every copy is redrawn once, without
    buttons, saying who decided, and is forgotten."""
    h = harness
    carols, dans = await _two_by_dm(h, clip)
    if decision == "button":
        await h.sender.click("postbot_approve:1", user=CAROL, channel=_where(h, carols), message=carols)
        said = f"approved by <@{CAROL}>"
    elif decision == "reject":
        await _reject(h, carols, CAROL, "Use the new logo")
        said = f"rejected by <@{CAROL}>: Use the new logo"
    elif decision == "command":
        await h.sender.command("/postbot", "approve 1", user=DAN, channel=CHANNEL)
        said = f"approved by <@{DAN}>"
    else:
        await h.sender.command("/postbot", "cancel 1", user=ANA, channel=CHANNEL)
        said = "No longer waiting: #1 Sandbox is cancelled"
    for copy in (carols, dans):
        await h.slack.wait_for(lambda copy=copy: not _buttons(copy))
        assert said in _block_text(copy), _block_text(copy)
        # Still the request (the video, the caption), only decided.
        assert "clip.mp4" in _block_text(copy) and "Launch day" in _block_text(copy)
    await _until(lambda: _kept(h), lambda n: n == 0)
    await asyncio.sleep(0.3)
    # Once each: the pressed copy by its press, the other by the redraw.
    assert _updates(h, carols) == 1 and _updates(h, dans) == 1
    approver = {"button": CAROL, "command": DAN}.get(decision)
    assert (await h.posts())[0].approved_by == approver


async def test_a_copy_deleted_meanwhile_is_forgotten_and_the_others_redrawn(
    harness: Harness, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.INFO)
    carols, dans = await _two_by_dm(h, clip)
    # Dan's copy is gone before the decision (the DM was cleared): chat.update finds no message.
    h.slack.messages[_where(h, dans)].remove(dans)
    await h.sender.command("/postbot", "approve 1", user=CAROL, channel=CHANNEL)
    await h.slack.wait_for(lambda: not _buttons(carols))
    assert f"approved by <@{CAROL}>" in _block_text(carols)
    await _until(lambda: _kept(h), lambda n: n == 0)
    refused = [c for c in h.slack.calls_to("chat.update") if c.args.get("ts") == dans["ts"]]
    assert [c.response.get("error") for c in refused] == ["message_not_found"]
    assert "approval request gone before its redraw" in caplog.text
    assert "redrawing an approval request failed" not in caplog.text


async def test_four_presses_at_once_approve_once_and_leave_no_live_copy(harness: Harness, clip: Path) -> None:
    h = harness
    carols, dans = await _two_by_dm(h, clip)
    await asyncio.gather(
        *(
            h.sender.click("postbot_approve:1", user=who, channel=_where(h, copy), message=copy)
            for who, copy in ((CAROL, carols), (DAN, dans), (CAROL, carols), (DAN, dans))
        )
    )
    for copy in (carols, dans):
        await h.slack.wait_for(lambda copy=copy: not _buttons(copy))
    [post] = await h.posts()
    assert post.status == "queued" and post.approved_by in (CAROL, DAN)
    for copy in (carols, dans):
        assert f"approved by <@{post.approved_by}>" in _block_text(copy)
    await _until(lambda: _kept(h), lambda n: n == 0)


async def test_a_decision_in_another_process_is_redrawn_by_the_slack_process_polling(
    harness: Harness, clip: Path
) -> None:
    """The post is cancelled through another process's facade (a worker, a second Slack process):
    nothing tells this one, whose poll finds the closed copies and redraws them; two processes
    polling at once redraw each copy once."""
    h = harness
    assert h.chat is not None
    carols, dans = await _two_by_dm(h, clip)
    elsewhere = Postbot(h.settings, h.app.sessions)
    ana = ChatContext(chat=ChatKind.SLACK, team_id=h.slack.team_id, user_id=ANA, channel_id=CHANNEL)
    await elsewhere.cancel(ana, 1)
    await asyncio.sleep(0.5)
    assert _buttons(carols) and _buttons(dans)
    # Two Slack processes' closers poll at once: each message is leased to one of them.
    here = h.chat.handlers.approval.closer
    there = RequestCloser(elsewhere, ChatKind.SLACK, h.chat.handlers.approval.redraw_closed)
    claimed = await asyncio.gather(here.run_once(), there.run_once())
    assert sorted(claimed) in ([0, 2], [1, 1])
    for copy in (carols, dans):
        assert not _buttons(copy) and "No longer waiting: #1 Sandbox is cancelled" in _block_text(copy)
        assert _updates(h, copy) == 1
    assert await _kept(h) == 0

    # The same through the poll alone (no kick from this process): a second post, approved elsewhere.
    upload = h.slack.add_file(ANA, CHANNEL, distinct_clip(clip.parent / "b.mp4", 1), name="b.mp4")
    await h.shared(ANA, CHANNEL, upload)
    await h.sender.command("/schedule", "tomorrow 7pm sandbox Second", user=ANA, channel=CHANNEL)
    second = await h.slack.wait_for(
        lambda: next((m for m in h.slack.posted(_where(h, dans)) if "postbot_approve:2" in _buttons(m)), None)
    )
    here.interval_s = 0.2
    here.start()
    dan = ChatContext(chat=ChatKind.SLACK, team_id=h.slack.team_id, user_id=DAN, channel_id=CHANNEL)
    assert (await elsewhere.approve(dan, [2])).done
    await h.slack.wait_for(lambda: not _buttons(second))
    assert f"approved by <@{DAN}>" in _block_text(second)


async def test_redraws_wait_out_slacks_rate_limit(harness: Harness, clip: Path) -> None:
    """chat.update is Tier 3: past the limit Slack answers 429 with Retry-After; the redraws wait it
    out instead of dropping a copy."""
    h = harness
    carols, dans = await _two_by_dm(h, clip)
    # One update a second, so the second copy's redraw is refused once.
    h.slack.per_minute["chat.update"] = 1
    h.slack.tier_window_s = 1.0
    await h.sender.command("/postbot", "cancel 1", user=ANA, channel=CHANNEL)
    for copy in (carols, dans):
        await h.slack.wait_for(lambda copy=copy: not _buttons(copy))
    assert any(c.status == 429 for c in h.slack.calls_to("chat.update"))
    await _until(lambda: _kept(h), lambda n: n == 0)
