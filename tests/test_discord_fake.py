"""The fake Discord refuses what real Discord refuses, so the adapter tests cannot pass by accident."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_api import FakeDiscord, FakeGuild, FakeUser


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(ack_deadline_s=0.5) as fake:
        yield fake


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {fake.token}"}) as session:
        yield session


async def _identify(ws: aiohttp.ClientWebSocketResponse, token: str, intents: int = 1) -> None:
    await ws.send_json(
        {
            "op": 2,
            "d": {
                "token": token,
                "intents": intents,
                "properties": {"os": "linux", "browser": "t", "device": "t"},
            },
        }
    )


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def _connected(fake: FakeDiscord, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    hello = await _receive(ws)
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
    await _identify(ws, fake.token)
    ready = await _receive(ws)
    assert ready["t"] == "READY" and ready["s"] == 1
    assert ready["d"]["resume_gateway_url"] == fake.gateway_url
    return ws


async def _setup(fake: FakeDiscord, http: aiohttp.ClientSession) -> tuple[FakeGuild, FakeUser]:
    guild = fake.add_guild("g")
    user = fake.add_user("u")
    body = [
        {
            "name": "ping",
            "description": "ping",
            "options": [
                {"name": "when", "description": "w", "type": 3, "required": True, "autocomplete": True}
            ],
        }
    ]
    url = f"{fake.api_base_url}/applications/{fake.application_id}/guilds/{guild.id}/commands"
    async with http.put(url, json=body) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
    return guild, user


async def test_gateway_handshake_heartbeat_and_close_codes(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    ws = await _connected(fake, http)
    await ws.send_json({"op": 1, "d": 1})
    assert (await _receive(ws))["op"] == 11
    await ws.close()

    for token, intents, code in (
        (fake.token, 1 | (1 << 15), 4014),
        ("wrong", 1, 4004),
        (fake.token, -1, 4013),
    ):
        ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
        await _receive(ws)
        await _identify(ws, token, intents)
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == code

    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    await _receive(ws)
    await ws.send_json({"op": 3, "d": {}})
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4003


async def test_rest_needs_the_bot_token(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as anon, anon.get(f"{fake.api_base_url}/users/@me") as resp:
        assert resp.status == 401 and (await resp.json())["code"] == 0


async def test_command_registration_is_validated(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    guild = fake.add_guild("g")
    bad = [
        {
            "name": "ping",
            "description": "d",
            "options": [
                {"name": "a", "description": "a", "type": 3},
                {"name": "b", "description": "b", "type": 3, "required": True},
            ],
        }
    ]
    url = f"{fake.api_base_url}/applications/{fake.application_id}/guilds/{guild.id}/commands"
    async with http.put(url, json=bad) as resp:
        body = await resp.json()
    assert resp.status == 400 and body["code"] == 50035
    assert "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID" in json.dumps(body["errors"])
    # contexts are interaction context types 0-2, integration_types installation contexts 0-1; the
    # deprecated dm_permission is accepted, as Discord does, and noted.
    async with http.put(url, json=[{"name": "ping", "description": "d", "contexts": [0, 7]}]) as resp:
        body = await resp.json()
    assert resp.status == 400 and "contexts" in body["errors"]["0"]
    async with http.put(url, json=[{"name": "ping", "description": "d", "dm_permission": False}]) as resp:
        assert resp.status == 200
    assert fake.deprecated_fields == [("ping", "dm_permission")]


async def test_interaction_callbacks_follow_the_protocol(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    guild, user = await _setup(fake, http)
    ws = await _connected(fake, http)

    auto = await fake.send_interaction(
        fake.autocomplete_interaction("ping", {"when": "to"}, "when", user=user, guild=guild)
    )
    events = [await _receive(ws), await _receive(ws)]
    assert [e["t"] for e in events] == ["GUILD_CREATE", "INTERACTION_CREATE"]
    assert events[1]["d"]["data"]["options"] == [{"name": "when", "type": 3, "value": "to", "focused": True}]
    cb = f"{fake.api_base_url}/interactions/{auto.id}/{auto.token}/callback"
    async with http.post(cb, json={"type": 4, "data": {"content": "no"}}) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 50035
    async with http.post(
        cb, json={"type": 8, "data": {"choices": [{"name": "x" * 101, "value": "x"}]}}
    ) as resp:
        assert resp.status == 400
    async with http.post(
        cb, json={"type": 8, "data": {"choices": [{"name": "today", "value": "today"}]}}
    ) as resp:
        assert resp.status == 204
    async with http.post(cb, json={"type": 8, "data": {"choices": []}}) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 40060

    command = await fake.send_interaction(
        fake.command_interaction("ping", {"when": "now"}, user=user, guild=guild)
    )
    follow = f"{fake.api_base_url}/webhooks/{fake.application_id}/{command.token}?wait=true"
    async with http.post(follow, json={"content": "too early"}) as resp:
        assert resp.status == 404 and (await resp.json())["code"] == 10015
    await asyncio.sleep(0.6)
    cb = f"{fake.api_base_url}/interactions/{command.id}/{command.token}/callback"
    async with http.post(cb, json={"type": 5}) as resp:
        assert resp.status == 404 and (await resp.json())["code"] == 10062
    await ws.close()


async def test_dm_to_closed_user_and_cdn_signatures(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    user = fake.add_user("shy", dms_open=False)
    async with http.post(f"{fake.api_base_url}/users/@me/channels", json={"recipient_id": user.id}) as resp:
        channel = await resp.json()
    assert channel["type"] == 1
    async with http.post(
        f"{fake.api_base_url}/channels/{channel['id']}/messages", json={"content": "hi"}
    ) as resp:
        assert resp.status == 403
        assert await resp.json() == {"message": "Cannot send messages to this user", "code": 50007}

    att = fake.upload_attachment("1", "clip.mp4", b"\x00" * 70_000)
    url = fake.attachment_payload(att)["url"]
    async with http.get(url) as resp:
        assert resp.status == 200 and await resp.read() == att.data
    async with http.get(url.replace("hm=", "hm=0")) as resp:
        assert resp.status == 404


async def test_gateway_closes_a_connection_that_stops_heartbeating(http: aiohttp.ClientSession) -> None:
    async with FakeDiscord(heartbeat_interval_ms=100) as fake:
        ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
        await _receive(ws)
        await _identify(ws, fake.token)
        await ws.send_json({"op": 1, "d": None})
        msg = await asyncio.wait_for(ws.receive(), 5)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4009


async def test_subcommands_nest_as_discord_documents(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    """https://discord.com/developers/docs/interactions/application-commands#subcommands-and-subcommand-groups"""
    guild, user = fake.add_guild("g"), fake.add_user("u")
    url = f"{fake.api_base_url}/applications/{fake.application_id}/guilds/{guild.id}/commands"
    sub = {"name": "get", "description": "g", "type": 1}
    invalid = (
        # a subcommand beside a plain option: the base command would be unusable and usable at once
        [sub, {"name": "x", "description": "x", "type": 3}],
        # a subcommand that holds a group, a group that holds a group
        [{**sub, "options": [{"name": "grp", "description": "g", "type": 2, "options": [sub]}]}],
        [
            {
                "name": "g1",
                "description": "g",
                "type": 2,
                "options": [{"name": "g2", "description": "g", "type": 2}],
            }
        ],
    )
    for options in invalid:
        async with http.put(url, json=[{"name": "perm", "description": "d", "options": options}]) as resp:
            body = await resp.json()
        assert resp.status == 400 and "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID" in json.dumps(body), options

    valid = [
        {
            "name": "perm",
            "description": "d",
            "options": [
                {
                    **sub,
                    "options": [{"name": "who", "description": "w", "type": 3, "required": True}],
                },
                {"name": "role", "description": "r", "type": 2, "options": [{**sub, "name": "edit"}]},
            ],
        }
    ]
    async with http.put(url, json=valid) as resp:
        assert resp.status == 200

    # The interaction nests the values inside one option per level, named and typed, with no value.
    data = fake.command_interaction("perm get", {"who": "ana"}, user=user, guild=guild)["data"]
    assert data["name"] == "perm"
    assert data["options"] == [
        {"name": "get", "type": 1, "options": [{"name": "who", "type": 3, "value": "ana"}]}
    ]
    grouped = fake.command_interaction("perm role edit", {}, user=user, guild=guild)["data"]["options"]
    assert grouped == [{"name": "role", "type": 2, "options": [{"name": "edit", "type": 1, "options": []}]}]
    # "Using subcommands or subcommand groups will make your base command unusable"
    for unusable in ("perm", "perm role", "perm nope"):
        with pytest.raises(LookupError):
            fake.command_interaction(unusable, {}, user=user, guild=guild)
    with pytest.raises(LookupError):  # a required option of the subcommand is still required
        fake.command_interaction("perm get", {}, user=user, guild=guild)
