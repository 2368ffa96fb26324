"""The gateway half of the fake Discord: one websocket session per connected bot.

Speaks gateway v10 as documented (topics/gateway, gateway-events): HELLO (op 10) on connect, then
expects IDENTIFY (op 2) or RESUME (op 6); answers HEARTBEAT (op 1) with HEARTBEAT_ACK (op 11); sends
READY (op 0, t=READY) and GUILD_CREATE when the GUILDS intent is set, then dispatches whatever the
test injects (INTERACTION_CREATE). Protocol breaks close the socket with Discord's close codes.
The optional ``compress=zlib-stream`` transport is honoured: one zlib context per connection, every
payload ending in a Z_SYNC_FLUSH, as the real gateway does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_RESUME = 6
OP_RECONNECT = 7
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# Close codes (topics/opcodes-and-status-codes#gateway-gateway-close-event-codes).
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_SESSION_TIMED_OUT = 4009
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014

INTENT_GUILDS = 1 << 0
# Privileged intents must be switched on in the developer portal; the fake app has none enabled.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
ALL_KNOWN_INTENTS = (1 << 26) - 1


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    # Dispatches sent on this session, kept so a RESUME can replay what was missed.
    sent: list[dict[str, Any]] = field(default_factory=list)


class GatewayConnection:
    """One websocket. Lives for as long as the bot stays connected."""

    def __init__(self, fake: FakeDiscord, ws: web.WebSocketResponse, compress: bool) -> None:
        self.fake = fake
        self.ws = ws
        self._zlib = zlib.compressobj() if compress else None
        self.session: GatewaySession | None = None
        self.heartbeats = 0
        self.identified = asyncio.Event()
        self._send_lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        async with self._send_lock:
            if self._zlib is None:
                await self.ws.send_str(text)
            else:
                data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        if self.session is None:
            raise RuntimeError("cannot dispatch before IDENTIFY")
        self.session.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": self.session.seq, "d": data}
        self.session.sent.append(payload)
        await self.send(payload)

    async def close(self, code: int, reason: str) -> None:
        self.fake.gateway_closes.append((code, reason))
        await self.ws.close(code=code, message=reason.encode())

    async def _watchdog(self) -> None:
        """Close a connection whose heartbeats stop, as the gateway does with zombied clients."""
        interval = self.fake.heartbeat_interval_ms / 1000
        # Clients add jitter to the first beat; allow one and a half intervals between beats.
        seen = -1
        while not self.ws.closed:
            await asyncio.sleep(interval * 1.5)
            if self.heartbeats == seen and not self.ws.closed:
                await self.close(CLOSE_SESSION_TIMED_OUT, "Session timed out.")
                return
            seen = self.heartbeats

    async def run(self) -> None:
        watchdog = asyncio.create_task(self._watchdog())
        try:
            await self._run()
        finally:
            watchdog.cancel()

    async def _run(self) -> None:
        await self.send(
            {
                "op": OP_HELLO,
                "s": None,
                "t": None,
                "d": {"heartbeat_interval": self.fake.heartbeat_interval_ms},
            }
        )
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                raw = msg.data
            elif msg.type == WSMsgType.BINARY:
                raw = msg.data.decode()
            else:
                break
            try:
                payload = json.loads(raw)
                op = payload["op"]
            except (ValueError, KeyError, TypeError):
                await self.close(CLOSE_DECODE_ERROR, "Decode error")
                return
            self.fake.gateway_received.append(payload)
            if not await self._handle(op, payload.get("d")):
                return

    async def _handle(self, op: int, data: Any) -> bool:
        if op == OP_HEARTBEAT:
            # d is the last sequence number the client saw (null before any dispatch).
            if data is not None and not isinstance(data, int):
                await self.close(CLOSE_DECODE_ERROR, "Decode error")
                return False
            self.heartbeats += 1
            await self.send({"op": OP_HEARTBEAT_ACK, "s": None, "t": None, "d": None})
            return True
        if op == OP_IDENTIFY:
            return await self._identify(data)
        if op == OP_RESUME:
            return await self._resume(data)
        if self.session is None:
            await self.close(CLOSE_NOT_AUTHENTICATED, "Not authenticated.")
            return False
        if op in (3, 4, 8):  # presence, voice state, request guild members: accepted, nothing to do
            return True
        await self.close(CLOSE_UNKNOWN_OPCODE, "Unknown opcode.")
        return False

    async def _identify(self, data: Any) -> bool:
        if self.session is not None:
            await self.close(CLOSE_ALREADY_AUTHENTICATED, "Already authenticated.")
            return False
        if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
            await self.close(CLOSE_DECODE_ERROR, "Decode error")
            return False
        props = data["properties"]
        if not all(isinstance(props.get(k), str) for k in ("os", "browser", "device")):
            await self.close(CLOSE_DECODE_ERROR, "Decode error")
            return False
        if data.get("token") != self.fake.token:
            await self.close(CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~ALL_KNOWN_INTENTS:
            await self.close(CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return False
        if intents & PRIVILEGED_INTENTS & ~self.fake.enabled_privileged_intents:
            await self.close(CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return False
        shard = data.get("shard")
        if shard is not None and (
            not isinstance(shard, list) or len(shard) != 2 or not 0 <= shard[0] < shard[1]
        ):
            await self.close(4010, "Invalid shard.")
            return False
        self.fake.identifies.append(data)
        self.session = GatewaySession(session_id=secrets.token_hex(16), intents=intents, shard=shard)
        self.fake.sessions[self.session.session_id] = self.session
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.fake.bot_user,
            "guilds": [{"id": gid, "unavailable": True} for gid in self.fake.guilds],
            "session_id": self.session.session_id,
            "resume_gateway_url": self.fake.gateway_url,
            "application": {"id": self.fake.application_id, "flags": 0},
        }
        if shard is not None:
            ready["shard"] = shard
        await self.dispatch("READY", ready)
        if intents & INTENT_GUILDS:
            for gid in self.fake.guilds:
                await self.dispatch("GUILD_CREATE", self.fake.guild_create_payload(gid))
        self.identified.set()
        await self.fake._notify()
        return True

    async def _resume(self, data: Any) -> bool:
        if not isinstance(data, dict) or data.get("token") != self.fake.token:
            await self.close(CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return False
        session = self.fake.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        if session is None or not isinstance(seq, int):
            # d=false: the session cannot be resumed, the client must IDENTIFY afresh.
            await self.send({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": False})
            return True
        self.session = session
        for missed in [p for p in session.sent if p["s"] > seq]:
            await self.send(missed)
        await self.dispatch("RESUMED", {})
        self.fake.resumes.append(data)
        self.identified.set()
        await self.fake._notify()
        return True
