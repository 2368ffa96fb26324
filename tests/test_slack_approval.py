"""Approval in Slack, end to end: the real bolt app against the fake Slack (signed requests, the
documented reaction_added and block_actions payloads), the real core and scheduler. A member's post
waits, an approver approves it with the button or with ✅ and it is published once at its time;
a rejection reaches the author with its reason; clicks racing, forged from another workspace or by
a non-approver approve nothing twice and nothing wrongly."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

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
