"""The fake Slack holds the real client to Slack's rules: a client that breaks them fails here too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack, SlackError, _check_state, check_escaped, documented_bot_scopes


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("U0ANA", "ana", tz="Europe/Berlin", is_owner=True)
        fake.add_channel("C0GEN", "general")
        yield fake


def client(slack: FakeSlack, token: str | None = None, **kw: object) -> AsyncWebClient:
    return AsyncWebClient(token=token or slack.bot_token, base_url=slack.api_base_url, **kw)  # type: ignore[arg-type]


async def _error(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call  # type: ignore[misc]
    return info.value


async def test_tokens_are_checked(slack: FakeSlack) -> None:
    assert (await _error(client(slack, "xoxb-wrong").auth_test())).response["error"] == "invalid_auth"
    missing = await _error(AsyncWebClient(base_url=slack.api_base_url).auth_test())
    assert missing.response["error"] == "not_authed"
    wrong_kind = await _error(client(slack).apps_connections_open(app_token=slack.bot_token))
    assert wrong_kind.response["error"] == "not_allowed_token_type"
    opened = await client(slack).apps_connections_open(app_token=slack.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:")


async def test_methods_need_their_scopes() -> None:
    async with FakeSlack(scopes={"chat:write"}) as slack:
        slack.add_user("U0ANA", "ana")
        error = await _error(client(slack).users_info(user="U0ANA"))
        assert error.response["error"] == "missing_scope"
        assert error.response["needed"] == "users:read" and error.response["provided"] == "chat:write"


async def test_users_info_shape(slack: FakeSlack) -> None:
    user = (await client(slack).users_info(user="U0ANA"))["user"]
    assert user["tz"] == "Europe/Berlin" and user["is_owner"] is True and user["is_admin"] is False
    assert isinstance(user["tz_offset"], int)
    assert (await _error(client(slack).users_info(user="U0NOPE"))).response["error"] == "user_not_found"


async def test_block_kit_limits(slack: FakeSlack) -> None:
    long_label = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x" * 76}}
    error = await _error(
        client(slack).chat_postMessage(
            channel="C0GEN", text="t", blocks=[{"type": "actions", "elements": [long_label]}]
        )
    )
    assert error.response["error"] == "invalid_blocks"
    twins = [
        {"type": "button", "action_id": "same", "text": {"type": "plain_text", "text": "a"}},
        {"type": "button", "action_id": "same", "text": {"type": "plain_text", "text": "b"}},
    ]
    error = await _error(
        client(slack).chat_postMessage(
            channel="C0GEN", text="t", blocks=[{"type": "actions", "elements": twins}]
        )
    )
    assert error.response["error"] == "invalid_blocks"
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        nothing = await _error(client(slack).chat_postMessage(channel="C0GEN"))
    assert nothing.response["error"] == "no_text"
    assert (await _error(client(slack).chat_postMessage(channel="C0NOPE", text="t"))).response[
        "error"
    ] == "channel_not_found"


@pytest.mark.parametrize("method", ["chat_postMessage", "chat_postEphemeral", "chat_update"])
async def test_blocks_without_a_top_level_text_are_refused(slack: FakeSlack, method: str) -> None:
    """postbot's rule, stricter than Slack's (see FakeSlack._message_content): every message carries
    the fallback text that notifications and screen readers show."""
    web = client(slack)
    posted = await web.chat_postMessage(channel="C0GEN", text="first")
    args: dict[str, Any] = {
        "channel": "C0GEN",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    if method == "chat_postEphemeral":
        args["user"] = next(iter(slack.users))
    if method == "chat_update":
        args["ts"] = posted["ts"]
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        error = await _error(getattr(web, method)(**args, text=" "))
    assert error.response["error"] == "no_text"
    await getattr(web, method)(**args, text="hi")


async def test_triggers_are_single_use_and_expire(slack: FakeSlack) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    trigger = slack.new_trigger()
    await client(slack).views_open(trigger_id=trigger, view=view)
    again = await _error(client(slack).views_open(trigger_id=trigger, view=view))
    assert again.response["error"] == "invalid_trigger_id"
    expired = await _error(client(slack).views_open(trigger_id=slack.new_trigger(ttl_s=-1), view=view))
    assert expired.response["error"] == "expired_trigger_id"
    long_title = {**view, "title": {"type": "plain_text", "text": "x" * 25}}
    too_long = await _error(client(slack).views_open(trigger_id=slack.new_trigger(), view=long_title))
    assert too_long.response["error"] == "invalid_blocks"


async def test_rate_limits_answer_429_with_retry_after(slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1)
    error = await _error(client(slack).chat_postMessage(channel="C0GEN", text="t"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] in ("1", ["1"])
    assert error.response["error"] == "ratelimited"
    slack.rate_limit("chat.postMessage", retry_after=1)
    patient = client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    assert (await patient.chat_postMessage(channel="C0GEN", text="t"))["ok"] is True


async def test_private_files_need_the_bot_token(slack: FakeSlack, clip: Path) -> None:
    file = slack.add_file("U0ANA", "C0GEN", clip)
    info = (await client(slack).files_info(file=file.id))["file"]
    assert info["size"] == clip.stat().st_size and info["mimetype"] == "video/mp4"
    url = info["url_private_download"]
    async with httpx.AsyncClient() as http:
        anonymous = await http.get(url)
        assert anonymous.status_code == 302 and "/signin" in anonymous.headers["location"]
        landed = await http.get(url, follow_redirects=True)
        assert landed.status_code == 200 and landed.headers["content-type"].startswith("text/html")
        authorized = await http.get(url, headers={"Authorization": f"Bearer {slack.bot_token}"})
        assert authorized.status_code == 200 and authorized.content == clip.read_bytes()
    assert slack.downloads[-1] == {"file": file.id, "authorized": True}


async def test_ephemerals_in_a_thread_that_does_not_exist_are_not_shown(slack: FakeSlack) -> None:
    web = client(slack)
    parent = (await web.chat_postMessage(channel="C0GEN", text="a video"))["ts"]
    # Slack answers ok either way; only a thread with a reply shows the ephemeral.
    assert (await web.chat_postEphemeral(channel="C0GEN", user="U0ANA", text="hidden", thread_ts=parent))[
        "ok"
    ]
    await web.chat_postMessage(channel="C0GEN", text="a reply", thread_ts=parent)
    await web.chat_postEphemeral(channel="C0GEN", user="U0ANA", text="seen", thread_ts=parent)
    await web.chat_postEphemeral(channel="C0GEN", user="U0ANA", text="in channel")
    assert [e["text"] for e in slack.shown_ephemerals("U0ANA")] == ["seen", "in channel"]


async def test_a_bot_outside_the_channel_gets_not_in_channel(slack: FakeSlack) -> None:
    slack.remove_bot("C0GEN")
    for call in (
        client(slack).chat_postMessage(channel="C0GEN", text="hi"),
        client(slack).chat_postEphemeral(channel="C0GEN", user="U0ANA", text="hi"),
        client(slack).conversations_history(channel="C0GEN"),
    ):
        assert (await _error(call)).response["error"] == "not_in_channel"


async def test_history_needs_the_scope_of_the_conversation_kind(slack: FakeSlack) -> None:
    slack.add_channel("G0SECRET", "secret")
    slack.scopes.discard("groups:history")
    assert (await client(slack).conversations_history(channel="C0GEN", limit=1))["ok"]
    refused = await _error(client(slack).conversations_history(channel="G0SECRET"))
    assert refused.response["error"] == "missing_scope" and refused.response["needed"] == "groups:history"


async def test_slack_connect_files_arrive_as_stubs_to_look_up(slack: FakeSlack, clip: Path) -> None:
    from tests.fakes.slack_api import SlackSender

    async with httpx.AsyncClient() as http:
        sender = SlackSender(slack, "http://127.0.0.1:9/unused", "secret", http)
        upload = slack.add_file("U0ANA", "C0GEN", clip, connect=True)
        message = sender.user_message("U0ANA", "C0GEN", "from our agency", [upload])
    [stub] = message["files"]
    assert stub == {
        "id": upload.id,
        "mode": "file_access",
        "file_access": "check_file_info",
        "created": 0,
        "timestamp": 0,
        "user": "",
    }
    info = (await client(slack).files_info(file=upload.id))["file"]
    assert info["mimetype"] == "video/mp4" and info["url_private_download"]


async def test_a_response_url_takes_five_uses(slack: FakeSlack) -> None:
    url = slack.response_url("commands")
    async with httpx.AsyncClient() as http:
        statuses = [(await http.post(url, json={"text": f"#{i}"})).status_code for i in range(6)]
        last = await http.post(url, json={"text": "again"})
    assert statuses == [200] * 5 + [404] and last.text == "used_url"
    assert len(slack.hooks) == 5


async def test_conversations_replies_follows_the_reference_for_bot_tokens() -> None:
    """https://docs.slack.dev/reference/methods/conversations.replies: bot tokens may read threads in
    DMs and group DMs only, and the parent comes first ("a message plus all the messages in reply")."""
    async with FakeSlack(scopes=documented_bot_scopes() | {"im:history"}) as slack:
        slack.add_user("U0ANA", "ana")
        slack.add_channel("C0GEN", "general")
        await _thread_reads(slack)


async def _thread_reads(slack: FakeSlack) -> None:
    root = {"type": "message", "user": "U0ANA", "text": "parent", "ts": slack.new_ts()}
    reply = {
        "type": "message",
        "user": "U0ANA",
        "text": "reply",
        "ts": slack.new_ts(),
        "thread_ts": root["ts"],
    }
    slack.messages["C0GEN"] += [root, reply]
    refused = await _error(client(slack).conversations_replies(channel="C0GEN", ts=root["ts"]))
    assert refused.response["error"] == "not_allowed_token_type"

    dm = (await client(slack).conversations_open(users="U0ANA"))["channel"]["id"]
    root = {**root, "ts": slack.new_ts()}
    later = {**reply, "ts": slack.new_ts(), "thread_ts": root["ts"]}
    slack.messages[dm] += [root, later]
    # Asked for the reply's moment with limit=1, Slack still answers the parent.
    window = {"latest": later["ts"], "oldest": later["ts"], "inclusive": True, "limit": 1}
    found = await client(slack).conversations_replies(channel=dm, ts=root["ts"], **window)
    assert [m["text"] for m in found["messages"]] == ["parent"]
    found = await client(slack).conversations_replies(channel=dm, ts=later["ts"], limit=10)
    assert [m["text"] for m in found["messages"]] == ["parent", "reply"]


def test_a_plain_text_input_refuses_more_than_its_max_length() -> None:
    """https://api.slack.com/reference/block-kit/block-elements#input: past max_length the user gets
    an error and the form is not submitted, so no submission carries a longer value."""
    element = {"type": "plain_text_input", "action_id": "caption_text", "max_length": 5}
    _check_state(element, {"type": "plain_text_input", "value": "12345"})
    with pytest.raises(AssertionError, match="at most 5"):
        _check_state(element, {"type": "plain_text_input", "value": "123456"})


def test_top_level_text_must_be_escaped() -> None:
    """https://api.slack.com/reference/surfaces/formatting#escaping"""
    check_escaped("Launch &amp; &lt;id&gt; <@U0ANA> <https://example.com|site> <!here>")
    for raw in ("Cancel with /cancel <id>", "R&D", "a > b"):
        with pytest.raises(SlackError):
            check_escaped(raw)
