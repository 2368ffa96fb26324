"""The fake Slack holds the real client to Slack's rules: a client that breaks them fails here too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack


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
    assert (await _error(client(slack).chat_postMessage(channel="C0GEN"))).response["error"] == "no_text"
    assert (await _error(client(slack).chat_postMessage(channel="C0NOPE", text="t"))).response[
        "error"
    ] == "channel_not_found"


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
