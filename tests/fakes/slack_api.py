"""A local fake of Slack: the Web API, private file downloads, response_url hooks, and the Slack side
that calls an app (signed slash commands, Events API callbacks, interactivity payloads).

It follows Slack's documented wire format for the parts postbot uses, so a real ``AsyncWebClient``
(``base_url`` pointed at ``api_base_url``) and a real bolt ``AsyncApp`` talk to it unchanged:

- ``/api/{method}``: ``auth.test``, ``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``,
  ``chat.delete``, ``users.info``, ``conversations.open``, ``views.open``, ``files.info``. Arguments
  are read from the query string, a form body or a JSON body, as Slack accepts all three. Answers are
  HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``; ``not_authed`` /
  ``invalid_auth`` for a missing or wrong bearer token, ``missing_scope`` (with ``needed`` and
  ``provided``) when the token lacks the method's scope, ``invalid_blocks`` for Block Kit that breaks
  the documented limits, ``invalid_trigger_id`` / ``expired_trigger_id`` (triggers live 3 s).
  Injected rate limits answer HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.
- ``/files-pri/{team}-{file}/download/{name}``: ``url_private_download``; bytes only with the bot
  token in ``Authorization: Bearer``, otherwise a redirect to the HTML sign-in page, as Slack does.
  ``download_redirect`` makes it answer authorized downloads with a redirect there instead, and
  ``download_status`` with that status and nothing else (a 3xx without ``Location``, a 5xx).
- Remote files (``add_remote_file``): what ``files.remote.add`` + ``files.remote.share`` put in a
  channel, ``mode: external`` / ``is_external: true`` with the creator's ``external_url`` as
  ``url_private`` (https://docs.slack.dev/reference/methods/files.remote.add).
- ``/hooks/commands/...`` and ``/hooks/actions/...``: response URLs, recorded.

``SlackSender`` plays Slack calling the app: it signs each request with the v0 scheme
(``v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`` in ``X-Slack-Signature``, the timestamp in
``X-Slack-Request-Timestamp``) and can forge or backdate signatures. Run ``python -m tests.fakes.slack_api``
to serve the Web API on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from aiohttp import web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.fakes.loopback import LoopbackFake, serve_forever

# The scopes each Web API method needs, as its reference page lists them (tests/data/slack_methods.json
# cites each page); the manifest test reads the same file, so the fake can't drift into agreeing with
# a manifest that Slack would refuse.
DOCUMENTED_METHODS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "slack_methods.json").read_text()
)["methods"]
# Conversation kind by ID prefix (C public channel, G private, D direct message).
_KIND = {"C": "channel", "G": "group", "D": "im"}
TRIGGER_TTL_S = 3.0
# "You can use a response_url up to 5 times within 30 minutes":
# https://api.slack.com/interactivity/handling#message_responses
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_S = 30 * 60
MESSAGE_BLOCKS_MAX = 50
MODAL_BLOCKS_MAX = 100
# "Max of 100 blocks": https://docs.slack.dev/reference/views/home-tab-views
HOME_BLOCKS_MAX = 100
DOWNLOAD_CHUNK = 256 * 1024


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]


@dataclass
class Fault:
    error: str | None = None
    retry_after: int | None = None


@dataclass
class FakeFile:
    id: str
    user: str
    name: str
    mimetype: str
    filetype: str
    path: Path
    size: int
    created: int
    channel: str
    ts: str | None = None
    # A remote file: its bytes live at this URL, outside Slack.
    external_url: str | None = None
    # Shared into a Slack Connect channel from another organisation: see ``entry``.
    connect: bool = False

    def entry(self, team_id: str, base_url: str) -> dict[str, Any]:
        """The file as a message event (or a shortcut's message, or conversations.history) carries it.
        In Slack Connect channels that is only a stub to look up with files.info:
        https://docs.slack.dev/reference/events/message/file_share (Slack Connect files)."""
        if self.connect:
            return {
                "id": self.id,
                "mode": "file_access",
                "file_access": "check_file_info",
                "created": 0,
                "timestamp": 0,
                "user": "",
            }
        return self.payload(team_id, base_url)

    def payload(self, team_id: str, base_url: str) -> dict[str, Any]:
        """A file object as files.info and message events carry it."""
        if self.external_url is not None:
            return self._remote_payload(team_id, base_url, self.external_url)
        private = f"{base_url}/files-pri/{team_id}-{self.id}/{self.name}"
        shares: dict[str, Any] = {}
        if self.ts is not None:
            kind = "public" if self.channel.startswith("C") else "private"
            shares[kind] = {self.channel: [{"ts": self.ts, "reply_count": 0, "channel_name": self.channel}]}
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.name,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "pretty_type": self.filetype.upper(),
            "user": self.user,
            "user_team": team_id,
            "mode": "hosted",
            "editable": False,
            "is_external": False,
            "external_type": "",
            "is_public": self.channel.startswith("C"),
            "size": self.size,
            "url_private": private,
            "url_private_download": f"{base_url}/files-pri/{team_id}-{self.id}/download/{self.name}",
            "permalink": f"{base_url}/files/{self.user}/{self.id}/{self.name}",
            "channels": [self.channel] if self.channel.startswith("C") else [],
            "groups": [self.channel] if self.channel.startswith("G") else [],
            "ims": [],
            "shares": shares,
            "has_rich_preview": False,
            "file_access": "visible",
        }

    def _remote_payload(self, team_id: str, base_url: str, external_url: str) -> dict[str, Any]:
        # https://docs.slack.dev/reference/objects/file-object: a remote file has mode "external",
        # is_external true, an external_type, and url_private is the external URL (no download URL).
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.name,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "pretty_type": self.filetype.upper(),
            "user": self.user,
            "user_team": team_id,
            "mode": "external",
            "editable": False,
            "is_external": True,
            "external_type": "app",
            "external_id": f"ext-{self.id}",
            "external_url": external_url,
            "url_private": external_url,
            "size": self.size,
            "permalink": f"{base_url}/files/{self.user}/{self.id}/{self.name}",
            "channels": [self.channel] if self.channel.startswith("C") else [],
            "groups": [],
            "ims": [],
            "shares": {},
            "has_rich_preview": False,
            "file_access": "visible",
        }


@dataclass
class ExternalUpload:
    """A file on its way in through the external upload flow (files.getUploadURLExternal, the POST,
    files.completeUploadExternal)."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    # Where files.completeUploadExternal shared it, and the message that carries it.
    channel: str | None = None
    message_ts: str | None = None
    completed: bool = False


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json; charset=utf-8"},
    )


class FakeSlack(LoopbackFake):
    """One workspace with one installed bot."""

    access_log = True

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot-token",
        app_token: str = "xapp-1-A0POSTBOT-1-test-app-token",
        scopes: set[str] | None = None,
        team_id: str = "T0POSTBOT",
        team_domain: str = "postbot-hq",
        bot_user_id: str = "U0BOT",
        app_id: str = "A0POSTBOT",
        home_tab_enabled: bool = False,
        update_limit_per_minute: int = 50,
        publish_limit_per_minute: int = 100,
        tier_window_s: float = 60.0,
    ) -> None:
        super().__init__()
        # The app's features.app_home.home_tab_enabled (tests pass the manifest's).
        self.home_tab_enabled = home_tab_enabled
        # user id → the Home tab view last published for them.
        self.home_views: dict[str, dict[str, Any]] = {}
        # chat.update is a Tier 3 method, "50+ per minute" per workspace
        # (https://api.slack.com/methods/chat.update, https://api.slack.com/docs/rate-limits#tiers):
        # past that Slack answers HTTP 429 with Retry-After. The fake holds to the documented floor.
        # views.publish is Tier 4, "100+ per minute" per workspace
        # (https://docs.slack.dev/reference/methods/views.publish, https://docs.slack.dev/apis/web-api/rate-limits).
        self.per_minute = {"chat.update": update_limit_per_minute, "views.publish": publish_limit_per_minute}
        # The tiers' minute; a test may shrink it (with the limits in proportion) to stay fast.
        self.tier_window_s = tier_window_s
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes = set(scopes) if scopes is not None else documented_bot_scopes()
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.app_id = app_id
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, str] = {}
        # Channels the bot is a member of. Without chat:write.public a bot posts only where it is
        # a member, else `not_in_channel`: https://api.slack.com/methods/chat.postMessage#errors
        self.bot_channels: set[str] = set()
        # Channel → its members (None: everyone), and which channels are private.
        self.channel_members: dict[str, set[str] | None] = {}
        self.private_channels: set[str] = set()
        # Archived channels: nothing can be posted in them (`is_archived`, see _writable_channel).
        self.archived_channels: set[str] = set()
        # Per method, the calls answered in the last minute (see _tier_fault).
        self._recent_calls: dict[str, deque[float]] = {}
        # response_url → (uses, first use deadline): see RESPONSE_URL_USES. A test lowers the lifetime
        # to play a command whose work outlived it.
        self.response_url_ttl_s = RESPONSE_URL_TTL_S
        self._response_urls: dict[str, tuple[int, float]] = {}
        self.ims: dict[str, str] = {}
        # User groups (a paid-plan feature): id → {"handle": ..., "users": [...]}.
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.files: dict[str, FakeFile] = {}
        # files.getUploadURLExternal tickets: upload token → the file it will become (see _upload).
        self.uploads: dict[str, ExternalUpload] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.reused_block_ids: list[str] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.hooks: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.downloads: list[dict[str, Any]] = []
        self.download_redirect: str | None = None
        self.download_status: int | None = None
        self._triggers: dict[str, float] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        # Socket Mode: open connections, tickets issued by apps.connections.open, acks awaited.
        self.sockets: list[web.WebSocketResponse] = []
        self._tickets: set[str] = set()
        self._socket_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    # ----------------------------------------------------------------- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._download)
        app.router.add_get("/signin", self._signin)
        app.router.add_post("/hooks/{kind}/{rest:.*}", self._hook)
        app.router.add_get("/link/", self._socket)
        app.router.add_post("/upload/v1/{ticket}", self._upload)
        return app

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        await super().stop()

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/api/"

    # ----------------------------------------------------------------- workspace setup

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        tz: str = "America/New_York",
        is_admin: bool = False,
        is_owner: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": name.title(),
            "tz": tz,
            "tz_label": tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": {"real_name": name.title(), "display_name": name, "team": self.team_id},
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": int(time.time()),
        }
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        bot_member: bool = True,
        private: bool = False,
        members: set[str] | None = None,
    ) -> None:
        """A channel; ``members`` are its people (None: everyone in the workspace, now and later)."""
        self.channels[channel_id] = name
        self.messages.setdefault(channel_id, [])
        self.channel_members[channel_id] = None if members is None else set(members)
        if private:
            self.private_channels.add(channel_id)
        if bot_member:
            self.bot_channels.add(channel_id)

    def add_usergroup(self, group_id: str, handle: str, users: list[str]) -> None:
        self.usergroups[group_id] = {"handle": handle, "users": list(users)}

    def is_member(self, user: str, channel: str) -> bool:
        members = self.channel_members.get(channel)
        return user in self.users if members is None else user in members

    def remove_bot(self, channel_id: str) -> None:
        """Someone removed the bot from the channel (/remove @postbot)."""
        self.bot_channels.discard(channel_id)

    def archive(self, channel_id: str) -> None:
        """Someone archived the channel (its members, the bot among them, stay members)."""
        self.archived_channels.add(channel_id)

    def thread_is_active(self, channel: str, thread_ts: str) -> bool:
        """A thread exists once a message has a reply under it."""
        return any(
            m.get("thread_ts") == thread_ts and m["ts"] != thread_ts for m in self.messages.get(channel, [])
        )

    def shown_ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """The ephemeral messages a user actually gets to see (see chat.postEphemeral below)."""
        return [e for e in self.ephemerals if e["shown"] and (user is None or e["user"] == user)]

    def add_file(
        self,
        user: str,
        channel: str,
        path: Path,
        *,
        name: str | None = None,
        mimetype: str = "video/mp4",
        filetype: str = "mp4",
        connect: bool = False,
    ) -> FakeFile:
        """A file as uploaded by ``user`` into ``channel`` (served from ``path``, which may be sparse)."""
        fake = FakeFile(
            id=self._id("F"),
            user=user,
            name=name or path.name,
            mimetype=mimetype,
            filetype=filetype,
            path=path,
            size=path.stat().st_size,
            created=int(time.time()),
            channel=channel,
            connect=connect,
        )
        self.files[fake.id] = fake
        return fake

    def add_remote_file(
        self, user: str, channel: str, external_url: str, *, name: str = "launch.mp4", size: int = 200_000
    ) -> FakeFile:
        """A remote file an app added with files.remote.add and shared into ``channel``."""
        fake = FakeFile(
            id=self._id("F"),
            user=user,
            name=name,
            mimetype="video/mp4",
            filetype="mp4",
            path=Path(name),
            size=size,
            created=int(time.time()),
            channel=channel,
            external_url=external_url,
        )
        self.files[fake.id] = fake
        return fake

    def file_payload(self, file: FakeFile) -> dict[str, Any]:
        return file.payload(self.team_id, self.base_url)

    def new_trigger(self, ttl_s: float = TRIGGER_TTL_S) -> str:
        trigger = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"
        self._triggers[trigger] = time.monotonic() + ttl_s
        return trigger

    # ----------------------------------------------------------------- fault injection

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        self._faults.setdefault(method, deque()).extend(Fault(retry_after=retry_after) for _ in range(times))

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        self._faults.setdefault(method, deque()).extend(Fault(error=error) for _ in range(times))

    # ----------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posted(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.get(channel, []) if m.get("user") == self.bot_user_id]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` returns something truthy (re-checked on every API call)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ----------------------------------------------------------------- Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = {}
        token = self._bearer(request)
        status, body, headers = 200, {}, {"X-OAuth-Scopes": ",".join(sorted(self.scopes))}
        try:
            args = await self._args(request)
            token = token or args.pop("token", None)
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise SlackError("unknown_method")
            if not token:
                raise SlackError("not_authed")
            if method == "apps.connections.open":
                # Only an app-level token opens a socket; a bot token is the wrong kind.
                if token.startswith("xoxb-"):
                    raise SlackError("not_allowed_token_type")
                if not hmac.compare_digest(token, self.app_token):
                    raise SlackError("invalid_auth")
            elif token.startswith("xapp-"):
                raise SlackError("not_allowed_token_type")
            elif not hmac.compare_digest(token, self.bot_token):
                raise SlackError("invalid_auth")
            needed = needed_scopes(method, args)
            headers["X-Accepted-OAuth-Scopes"] = ",".join(needed)
            missing = [s for s in needed if s not in self.scopes]
            if missing:
                raise SlackError(
                    "missing_scope", needed=",".join(missing), provided=",".join(sorted(self.scopes))
                )
            fault = self._next_fault(method)
            if fault is None and method in self.per_minute:
                fault = self._tier_fault(method, self.per_minute[method])
            if fault is not None and fault.retry_after is not None:
                status = 429
                headers["Retry-After"] = str(fault.retry_after)
                raise SlackError("ratelimited")
            if fault is not None and fault.error is not None:
                raise SlackError(fault.error)
            body = {"ok": True, **handler(args)}
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
        self.calls.append(Call(method, args, token, status, body))
        await self._notify()
        return _json(body, status=status, headers=headers)

    def _tier_fault(self, method: str, limit: int) -> Fault | None:
        """Slack's rate limits are per method and per workspace (https://docs.slack.dev/apis/web-api/rate-limits):
        past ``limit`` calls in a minute, HTTP 429 with Retry-After."""
        now = time.monotonic()
        window = self.tier_window_s
        recent = self._recent_calls.setdefault(method, deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) >= limit:
            return Fault(retry_after=max(1, round(recent[0] + window - now)))
        recent.append(now)
        return None

    def _next_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        return queue.popleft() if queue else None

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        return header[7:] if header.startswith("Bearer ") else None

    @staticmethod
    async def _args(request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            raw = await request.read()
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    data = json.loads(raw or b"{}")
                except ValueError as exc:
                    raise web.HTTPBadRequest(text="invalid json") from exc
                args.update(data)
            elif ctype in ("application/x-www-form-urlencoded", ""):
                args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        for key in ("blocks", "view"):
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError as exc:
                    raise SlackError(
                        "invalid_blocks_format" if key == "blocks" else "invalid_arguments"
                    ) from exc
        return args

    @staticmethod
    def _require(args: dict[str, Any], *names: str) -> None:
        for name in names:
            if not args.get(name):
                raise SlackError("invalid_arguments", response_metadata={"messages": [f"missing {name}"]})

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Postbot HQ",
            "user": "postbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0POSTBOT",
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _channel(self, channel: str) -> str:
        if channel in self.channels or channel in self.ims.values():
            return channel
        raise SlackError("channel_not_found")

    def _member_channel(self, channel: str) -> str:
        """A channel the bot may write or read in: `not_in_channel` where it is not a member
        (https://api.slack.com/methods/chat.postMessage#errors,
        https://api.slack.com/methods/conversations.history#errors)."""
        channel = self._channel(channel)
        if channel in self.channels and channel not in self.bot_channels:
            raise SlackError("not_in_channel")
        return channel

    def _writable_channel(self, channel: str) -> str:
        """A channel the bot may post in: a member channel that is not archived (`is_archived`,
        "Channel has been archived": https://api.slack.com/methods/chat.postMessage#errors)."""
        channel = self._member_channel(channel)
        if channel in self.archived_channels:
            raise SlackError("is_archived")
        return channel

    def _message_content(self, args: dict[str, Any]) -> dict[str, Any]:
        text = args.get("text")
        blocks = args.get("blocks")
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        if blocks and not str(text or "").strip():
            # Stricter than Slack, on purpose: Slack accepts blocks without a top-level text, but
            # documents that text is then what notifications and screen readers show ("The text
            # field is not enforced as required when using blocks ... we highly recommend that you
            # include text to provide a fallback", https://api.slack.com/methods/chat.postMessage#arg_text,
            # likewise chat.postEphemeral and chat.update). postbot always sends one, so a message
            # without it is refused here with the error Slack gives a message with no content.
            raise SlackError("no_text", response_metadata={"messages": ["[ERROR] missing top-level text"]})
        if blocks is not None:
            validate_blocks(blocks, limit=MESSAGE_BLOCKS_MAX)
        check_escaped(str(text or ""))
        return {"text": text or "", "blocks": blocks or []}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "channel")
        channel = self._writable_channel(args["channel"])
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": "B0POSTBOT",
            "ts": self.new_ts(),
            **self._message_content(args),
        }
        thread_ts = args.get("thread_ts")
        if thread_ts:
            if not any(m["ts"] == thread_ts for m in self.messages[channel]):
                # Slack accepts an unknown thread_ts and posts to the channel: the reply would be lost.
                raise AssertionError(f"thread_ts {thread_ts} is not a message in {channel}")
            message["thread_ts"] = thread_ts
        self.messages[channel].append(message)
        return {"channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://api.slack.com/methods/chat.postEphemeral
        self._require(args, "channel", "user")
        channel = self._member_channel(args["channel"])
        if args["user"] not in self.users:
            raise SlackError("user_not_in_channel")
        message = {"channel": channel, "user": args["user"], **self._message_content(args), "shown": True}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
            # "Ephemeral messages in threads are only shown if there is already an active thread."
            # Slack still answers ok: the user simply never sees it.
            message["shown"] = self.thread_is_active(channel, args["thread_ts"])
        self.ephemerals.append(message)
        return {"message_ts": self.new_ts()}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://api.slack.com/methods/chat.update: channel and ts are required and name the message;
        # only the bot's own messages can be updated (cant_update_message), an unknown ts is
        # message_not_found, and a message that lost its blocks needs a top-level text.
        self._require(args, "channel", "ts")
        channel = self._member_channel(args["channel"])
        for message in self.messages[channel]:
            if message["ts"] == args["ts"]:
                if message.get("user") != self.bot_user_id:
                    raise SlackError("cant_update_message")
                content = self._message_content(args)
                # block_ids must be unique "for each message and each iteration of a message"
                # (https://api.slack.com/reference/block-kit/blocks): Slack accepts a reused one, but
                # clients may keep the old block, so the fake keeps a list for tests to check.
                before = {b.get("block_id"): b for b in message.get("blocks") or [] if b.get("block_id")}
                self.reused_block_ids.extend(
                    b["block_id"]
                    for b in content["blocks"]
                    if b.get("block_id") in before and before[b["block_id"]] != b
                )
                message.update(content)
                message["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
                return {"channel": channel, "ts": message["ts"], "text": message["text"]}
        raise SlackError("message_not_found")

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "channel", "ts")
        channel = self._channel(args["channel"])
        for i, message in enumerate(self.messages[channel]):
            if message["ts"] == args["ts"]:
                if message.get("user") != self.bot_user_id:
                    raise SlackError("cant_delete_message")
                del self.messages[channel][i]
                return {"channel": channel, "ts": args["ts"]}
        raise SlackError("message_not_found")

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "user")
        user = self.users.get(args["user"])
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/conversations.info: the conversation object, with
        # is_member for the calling bot; a private channel or DM the bot is not in is
        # channel_not_found, as it can't see it.
        self._require(args, "channel")
        channel = args["channel"]
        if channel in self.ims.values():
            return {"channel": {"id": channel, "is_im": True, "is_member": True}}
        if channel not in self.channels or (
            channel in self.private_channels and channel not in self.bot_channels
        ):
            raise SlackError("channel_not_found")
        return {
            "channel": {
                "id": channel,
                "name": self.channels[channel],
                "is_channel": True,
                "is_private": channel in self.private_channels,
                "is_member": channel in self.bot_channels,
            }
        }

    def _m_users_conversations(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/users.conversations: "Using a bot user token, this
        # method returns the channels and conversations your bot is party to. Specifying a user
        # parameter filters to conversations your bot shares with that user." types defaults to
        # public_channel; cursor pagination with limit (at most 999) and response_metadata.next_cursor.
        types = set(str(args.get("types") or "public_channel").split(","))
        user = args.get("user")
        if user is not None and user not in self.users:
            raise SlackError("user_not_found")
        limit = int(args.get("limit") or 100)
        if not 0 < limit <= 999:
            raise SlackError("invalid_limit")
        shared = [
            {"id": c, "name": name, "is_channel": True, "is_private": c in self.private_channels}
            for c, name in sorted(self.channels.items())
            if c in self.bot_channels
            and ("private_channel" if c in self.private_channels else "public_channel") in types
            and (user is None or self.is_member(user, c))
        ]
        start = int(args.get("cursor") or 0)
        page = shared[start : start + limit]
        more = start + limit < len(shared)
        return {"channels": page, "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise SlackError("invalid_arguments" if not users else "not_enough_users")
        user = self.users.get(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user["deleted"]:
            raise SlackError("user_disabled")
        already = users[0] in self.ims
        channel = self.ims.setdefault(users[0], self._id("D"))
        self.messages.setdefault(channel, [])
        body: dict[str, Any] = {"channel": {"id": channel}}
        if already:
            body.update(no_op=True, already_open=True)
        return body

    def _m_usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/usergroups.list: "include_users: Include the list
        # of users for each User Group" (without it, no ``users`` field); each group carries its id,
        # team_id, is_usergroup, name, handle and user_count.
        include = str(args.get("include_users", "")).lower() in ("1", "true")
        groups = []
        for group_id, group in self.usergroups.items():
            entry: dict[str, Any] = {
                "id": group_id,
                "team_id": self.team_id,
                "is_usergroup": True,
                "name": group["handle"].title(),
                "handle": group["handle"],
                "user_count": len(group["users"]),
            }
            if include:
                entry["users"] = list(group["users"])
            groups.append(entry)
        return {"usergroups": groups}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require(args, "trigger_id", "view")
        expires = self._triggers.pop(args["trigger_id"], None)
        if expires is None:
            raise SlackError("invalid_trigger_id")
        if time.monotonic() > expires:
            raise SlackError("expired_trigger_id")
        view = args["view"]
        validate_modal(view)
        opened = self._stored_view(view, self._id("V"))
        self.views[opened["id"]] = opened
        return {"view": opened}

    def _stored_view(self, view: dict[str, Any], view_id: str) -> dict[str, Any]:
        """A view as Slack answers with it: the app's payload plus the ids and state Slack adds."""
        return {
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": "B0POSTBOT",
            "hash": secrets.token_hex(8),
            "state": {"values": {}},
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
        }

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://api.slack.com/methods/views.publish: user_id and view are required ("invalid
        # `user_id`" is an invalid_arguments error); `not_enabled` when a home view is published but
        # the Home tab isn't enabled for the app; `view_too_large` over 250 kB.
        self._require(args, "user_id", "view")
        if args["user_id"] not in self.users:
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]})
        view = args["view"]
        if len(json.dumps(view)) > 250_000:
            raise SlackError("view_too_large")
        validate_home(view)
        if not self.home_tab_enabled:
            raise SlackError("not_enabled")
        # One Home view per member: publishing again replaces it under the same id.
        published = self._stored_view(
            view, self.home_views.get(args["user_id"], {}).get("id") or self._id("V")
        )
        self.home_views[args["user_id"]] = published
        return {"view": published}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/files.getUploadURLExternal: `filename` and
        # `length` ("Size in bytes of the file being uploaded") are required; `missing_argument`
        # "Typically only occurs when the `length` provided is 0" (the method's errors). A length that
        # is not an integer is `invalid_arguments`, as for any argument of the wrong type. The scope
        # (files:write) is checked with every method's, from tests/data/slack_methods.json.
        self._require(args, "filename")
        raw = str(args.get("length", "")).strip()
        if not raw.isdigit():
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `length`"]})
        if int(raw) == 0:
            raise SlackError("missing_argument")
        ticket = secrets.token_urlsafe(16)
        upload = ExternalUpload(self._id("F"), str(args["filename"]), int(raw))
        self.uploads[ticket] = upload
        return {"upload_url": f"{self.base_url}/upload/v1/{ticket}", "file_id": upload.file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        """Step 2: "Upload a file by making a POST request to the upload URL ... Files can be sent as
        raw bytes or can be multipart form encoded. Slack will return HTTP 200 if the upload is
        successful" (files.getUploadURLExternal, usage info). Stricter than Slack, on purpose: bytes
        that are not the length announced in step 1 are refused (HTTP 400), so a client that sends
        the wrong body (a JSON wrapper, a truncated PNG) fails here instead of sharing a broken file."""
        upload = self.uploads.get(request.match_info["ticket"])
        if upload is None or upload.completed:
            return web.Response(status=404, text="unknown upload")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = next((v for v in form.values() if isinstance(v, web.FileField)), None)
            data = part.file.read() if part is not None else b""
        else:
            data = await request.read()
        if len(data) != upload.length:
            return web.Response(status=400, text=f"expected {upload.length} bytes, got {len(data)}")
        upload.data = data
        await self._notify()
        return web.Response(status=200, text=f"OK - {len(data)}")

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/files.completeUploadExternal: `files` (required) is
        # an "Array of file ids and their corresponding (optional) titles"; `channel_id` is where it
        # is shared ("If not specified the file will be private"); `initial_comment` is "The message
        # text introducing the file". A file id that no upload of this app finished is refused
        # (`file_not_found`), and sharing where the bot cannot post fails as chat.postMessage does
        # (`channel_not_found`, `not_in_channel`, `is_archived`).
        self._require(args, "files")
        try:
            listed = json.loads(args["files"]) if isinstance(args["files"], str) else args["files"]
        except ValueError:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["invalid `files`"]}
            ) from None
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(f, dict) and f.get("id") for f in listed)
        ):
            raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `files`"]})
        by_id = {u.file_id: u for u in self.uploads.values()}
        uploads = []
        for entry in listed:
            upload = by_id.get(str(entry["id"]))
            if upload is None or upload.data is None or upload.completed:
                raise SlackError("file_not_found")
            uploads.append((upload, entry.get("title")))
        channel = args.get("channel_id")
        if channel:
            channel = self._writable_channel(str(channel))
        comment = str(args.get("initial_comment") or "")
        check_escaped(comment)
        shared = []
        for upload, title in uploads:
            upload.completed = True
            upload.title = str(title) if title else upload.filename
            upload.channel = channel
            shared.append(
                {"id": upload.file_id, "name": upload.filename, "title": upload.title, "size": upload.length}
            )
        if channel:
            message = {
                "type": "message",
                "subtype": "file_share",
                "user": self.bot_user_id,
                "bot_id": "B0POSTBOT",
                "ts": self.new_ts(),
                "text": comment,
                "files": shared,
            }
            self.messages[channel].append(message)
            for upload, _ in uploads:
                upload.message_ts = message["ts"]
        return {"files": shared}

    def shared_uploads(self, channel: str) -> list[ExternalUpload]:
        """Files shared in ``channel`` through the external upload flow, oldest first."""
        return [u for u in self.uploads.values() if u.completed and u.channel == channel]

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://api.slack.com/methods/files.info: the full file object, also for a Slack Connect
        # file whose message entry said only `file_access: check_file_info`.
        self._require(args, "file")
        file = self.files.get(args["file"])
        if file is None:
            raise SlackError("file_not_found")
        return {"file": self.file_payload(file), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _window(self, messages: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
        """``oldest``/``latest`` bound the ts range, exclusive unless ``inclusive`` is true."""
        inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")

        def inside(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        limit = int(args.get("limit") or 100)
        return [m for m in messages if inside(float(m["ts"]))][:limit]

    def _stored(self, message: dict[str, Any]) -> dict[str, Any]:
        # A message read back carries full file objects, or check_file_info stubs in Slack Connect.
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://api.slack.com/methods/conversations.history: newest first, top-level messages
        # (a thread's replies are read with conversations.replies).
        self._require(args, "channel")
        channel = self._member_channel(args["channel"])
        top = [m for m in self.messages[channel] if m.get("thread_ts") in (None, m["ts"])]
        found = self._window(sorted(top, key=lambda m: float(m["ts"]), reverse=True), args)
        return {"messages": [self._stored(m) for m in found], "has_more": False}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/conversations.replies (usage info): "Bot user tokens
        # may use this method for direct message and multi-party direct message conversations, but lack
        # sufficient permissions to use this method on public and private channels." The fake only has
        # the bot token, so a channel (C…, G…) is refused with Slack's error for a token of the wrong
        # kind ("not_allowed_token_type", https://docs.slack.dev/reference/methods/conversations.replies#errors).
        self._require(args, "channel", "ts")
        channel = self._member_channel(args["channel"])
        if channel in self.channels:
            raise SlackError("not_allowed_token_type")
        root = next((m for m in self.messages[channel] if m["ts"] == args["ts"]), None)
        if root is None:
            raise SlackError("thread_not_found")
        root_ts = root.get("thread_ts") or root["ts"]
        parent = next(m for m in self.messages[channel] if m["ts"] == root_ts)
        replies = sorted(
            (m for m in self.messages[channel] if m.get("thread_ts") == root_ts and m["ts"] != root_ts),
            key=lambda m: float(m["ts"]),
        )
        # "returns an entire thread (a message plus all the messages in reply to it)": the parent comes
        # first, whatever oldest/latest say, and the window and limit apply to the replies after it
        # (the reference's example response: the parent, then the replies oldest first).
        room = int(args.get("limit") or 100) - 1
        found = [parent, *(self._window(replies, {**args, "limit": room}) if room > 0 else [])]
        return {"messages": [self._stored(m) for m in found], "has_more": False}

    # ----------------------------------------------------------------- files and hooks

    async def _download(self, request: web.Request) -> web.StreamResponse:
        team_file = request.match_info["team_file"]
        team, _, file_id = team_file.partition("-")
        token = self._bearer(request)
        self.downloads.append({"file": file_id, "authorized": token == self.bot_token})
        await self._notify()
        if token is None or not hmac.compare_digest(token, self.bot_token) or "files:read" not in self.scopes:
            # Slack answers an unauthenticated private file request with its sign-in page.
            raise web.HTTPFound(f"/signin?redir={request.path}")
        file = self.files.get(file_id)
        if team != self.team_id or file is None or file.name != request.match_info["name"]:
            raise web.HTTPNotFound()
        if self.download_redirect is not None:
            raise web.HTTPFound(self.download_redirect)
        if self.download_status is not None:
            return web.Response(status=self.download_status)
        response = web.StreamResponse(
            headers={"Content-Type": file.mimetype, "Content-Length": str(file.size)},
        )
        await response.prepare(request)
        with file.path.open("rb") as fh:
            while chunk := fh.read(DOWNLOAD_CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        """Socket Mode: a ticket from apps.connections.open is good for one connection."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        await self._notify()
        try:
            async for message in ws:
                if message.type != web.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                future = self._socket_acks.pop(data.get("envelope_id", ""), None)
                if future is None:
                    raise AssertionError(f"ack for an unknown envelope: {data}")
                future.set_result(data)
        finally:
            self.sockets.remove(ws)
        return ws

    async def socket_request(
        self, kind: str, payload: dict[str, Any], *, timeout: float = 5.0, retry_attempt: int = 0
    ) -> dict[str, Any]:
        """Deliver an envelope over the open socket and return the app's ack (``envelope_id`` and,
        where the type allows one, ``payload``). ``kind``: slash_commands, events_api or interactive.

        ``retry_attempt`` > 0 plays Slack redelivering an Events API event it got no ack for: a new
        envelope, the same payload (same ``event_id``). Socket Mode envelopes carry ``retry_attempt``
        and ``retry_reason`` for events_api (slack_sdk.socket_mode.request.SocketModeRequest), and
        Slack "does retries for Events API messages" over Socket Mode, to any of the app's open
        connections (a Slack SDK maintainer: https://github.com/slackapi/bolt-python/issues/1071)."""
        if not self.sockets:
            raise AssertionError("no Socket Mode connection is open")
        envelope_id = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._socket_acks[envelope_id] = future
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                # The reason HTTP deliveries carry in X-Slack-Retry-Reason for a missing ack
                # (https://api.slack.com/apis/events-api#retries).
                "retry_reason": "http_timeout" if retry_attempt else "",
            }
        )
        return await asyncio.wait_for(future, timeout)

    async def _signin(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>", content_type="text/html"
        )

    async def _hook(self, request: web.Request) -> web.Response:
        # "You can use a response_url up to 5 times within 30 minutes"
        # (https://api.slack.com/interactivity/handling#message_responses). Which error Slack answers
        # past that is not documented (https://github.com/slackapi/node-slack-sdk/issues/828); the
        # fake answers 404 used_url / expired_url, so a sixth use fails loudly instead of vanishing.
        url = str(request.url)
        uses, deadline = self._response_urls.get(url, (0, time.monotonic() + self.response_url_ttl_s))
        if time.monotonic() > deadline:
            return web.Response(status=404, text="expired_url")
        if uses >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        self._response_urls[url] = (uses + 1, deadline)
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        try:
            check_escaped(str(body.get("text") or ""))
            # A response_url takes a message payload, blocks and all: the same Block Kit rules as
            # chat.postMessage (https://api.slack.com/interactivity/handling#message_responses).
            if body.get("blocks") is not None:
                validate_blocks(body["blocks"], limit=MESSAGE_BLOCKS_MAX)
        except SlackError as exc:
            return web.Response(status=400, text=exc.error)
        self.hooks.append({"url": url, **body})
        await self._notify()
        return web.Response(text="ok")

    def response_url(self, kind: str = "commands") -> str:
        return f"{self.base_url}/hooks/{kind}/{self.team_id}/{next(self._ids)}/{secrets.token_hex(12)}"


# --------------------------------------------------------------------- scopes


def documented_bot_scopes() -> set[str]:
    """Every bot scope the documented methods postbot calls need (for the conversation kinds it uses)."""
    scopes: set[str] = set()
    for doc in DOCUMENTED_METHODS.values():
        scopes.update(doc["scopes"])
        uses = doc.get("postbot_uses")
        kinds = [uses] if isinstance(uses, str) else uses or []
        scopes.update(doc["any_of"][k] for k in kinds)
    return scopes


def needed_scopes(method: str, args: dict[str, Any]) -> list[str]:
    """The bot scopes a call needs: the method's own, or for conversation methods the one that goes
    with the conversation's kind (channels:history for C…, groups:history for G…)."""
    doc = DOCUMENTED_METHODS[method]
    if method == "apps.connections.open":
        return []  # the app-level token's connections:write, checked by token kind above
    needed = list(doc["scopes"])
    any_of = doc.get("any_of")
    if method == "users.conversations":
        # One scope per conversation type listed: channels:read for public, groups:read for private.
        kinds = {"public_channel": "channel", "private_channel": "group", "im": "im", "mpim": "mpim"}
        types = str(args.get("types") or "public_channel").split(",")
        return needed + [any_of[kinds[t]] for t in types if t in kinds]
    if any_of:
        channel = str(args.get("channel") or "")
        kind = "im" if method == "conversations.open" else _KIND.get(channel[:1], "channel")
        needed.append(any_of[kind])
    return needed


# --------------------------------------------------------------------- Block Kit limits


def _text_len(obj: Any, limit: int, where: str) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        raise SlackError("invalid_blocks", errors=[f"{where}: must be a text object"])
    if not obj.get("text") or len(obj["text"]) > limit:
        raise SlackError("invalid_blocks", errors=[f"{where}: text must be 1-{limit} characters"])


def _option(option: Any, where: str, *, plain_only: bool = False) -> None:
    """An option object (https://api.slack.com/reference/block-kit/composition-objects#option): text
    ≤75 characters (plain_text in a select), value ≤150, description plain_text ≤75."""
    if not isinstance(option, dict):
        raise SlackError("invalid_blocks", errors=[f"{where}: must be an option object"])
    _text_len(option.get("text"), 75, f"{where}.text")
    if plain_only and option["text"]["type"] != "plain_text":
        raise SlackError("invalid_blocks", errors=[f"{where}.text: must be plain_text"])
    if not isinstance(option.get("value"), str) or not 1 <= len(option["value"]) <= 150:
        raise SlackError("invalid_blocks", errors=[f"{where}.value: 1-150 characters"])
    if "description" in option:
        _text_len(option["description"], 75, f"{where}.description")
        if option["description"]["type"] != "plain_text":
            raise SlackError("invalid_blocks", errors=[f"{where}.description: must be plain_text"])


def _element(el: dict[str, Any], where: str, seen: set[str]) -> None:
    action_id = el.get("action_id")
    if action_id is not None:
        if len(action_id) > 255 or action_id in seen:
            raise SlackError("invalid_blocks", errors=[f"{where}: action_id must be unique and ≤255"])
        seen.add(action_id)
    kind = el.get("type")
    if kind == "button":
        _text_len(el.get("text"), 75, f"{where}.text")
        if el["text"]["type"] != "plain_text":
            raise SlackError("invalid_blocks", errors=[f"{where}.text: must be plain_text"])
        if len(el.get("value", "")) > 2000 or el.get("style") not in (None, "primary", "danger"):
            raise SlackError("invalid_blocks", errors=[f"{where}: bad value or style"])
    elif kind == "checkboxes":
        # https://api.slack.com/reference/block-kit/block-elements#checkboxes: 1-10 options.
        options = el.get("options") or []
        if not 1 <= len(options) <= 10:
            raise SlackError("invalid_blocks", errors=[f"{where}: checkboxes need 1-10 options"])
        for j, option in enumerate(options):
            _option(option, f"{where}.options[{j}]")
    elif kind == "static_select":
        # https://api.slack.com/reference/block-kit/block-elements#static_select: at most 100
        # options; initial_option must exactly match one of them.
        options = el.get("options") or []
        if not 1 <= len(options) <= 100:
            raise SlackError("invalid_blocks", errors=[f"{where}: static_select needs 1-100 options"])
        for j, option in enumerate(options):
            _option(option, f"{where}.options[{j}]", plain_only=True)
        if "initial_option" in el and el["initial_option"] not in options:
            raise SlackError("invalid_blocks", errors=[f"{where}.initial_option: must be one of the options"])
        if "placeholder" in el:
            _text_len(el["placeholder"], 150, f"{where}.placeholder")
    elif kind in ("datepicker", "timepicker"):
        # https://api.slack.com/reference/block-kit/block-elements#datepicker: initial_date is
        # YYYY-MM-DD; #timepicker: initial_time is HH:mm (24-hour); placeholders ≤150 characters.
        initial, pattern = (
            ("initial_date", r"\d{4}-\d{2}-\d{2}")
            if kind == "datepicker"
            else ("initial_time", r"\d{2}:\d{2}")
        )
        if initial in el and not re.fullmatch(pattern, str(el[initial])):
            raise SlackError("invalid_blocks", errors=[f"{where}.{initial}: bad format"])
        # https://docs.slack.dev/reference/block-kit/block-elements/time-picker-element: timezone, "the
        # timezone to consider for this input value", an IANA name.
        if "timezone" in el and (kind != "timepicker" or not _known_zone(el["timezone"])):
            raise SlackError("invalid_blocks", errors=[f"{where}.timezone: not an IANA zone"])
        if "placeholder" in el:
            _text_len(el["placeholder"], 150, f"{where}.placeholder")
    elif kind == "plain_text_input":
        if len(el.get("initial_value", "")) > el.get("max_length", 3000):
            raise SlackError("invalid_blocks", errors=[f"{where}: initial_value too long"])
    elif kind not in ("image", "overflow", "datetimepicker"):
        raise SlackError("invalid_blocks", errors=[f"{where}: unknown element {kind}"])


def validate_blocks(blocks: Any, *, limit: int) -> None:
    """The Block Kit limits Slack enforces with ``invalid_blocks``."""
    if not isinstance(blocks, list) or len(blocks) > limit:
        raise SlackError("invalid_blocks", errors=[f"blocks must be a list of at most {limit}"])
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > 255 or block_id in block_ids:
                raise SlackError("invalid_blocks", errors=[f"{where}: block_id must be unique and ≤255"])
            block_ids.add(block_id)
        kind = block.get("type")
        if kind == "section":
            if "text" in block:
                _text_len(block["text"], 3000, f"{where}.text")
            fields = block.get("fields") or []
            if len(fields) > 10:
                raise SlackError("invalid_blocks", errors=[f"{where}: at most 10 fields"])
            for j, fld in enumerate(fields):
                _text_len(fld, 2000, f"{where}.fields[{j}]")
            if "text" not in block and not fields:
                raise SlackError("invalid_blocks", errors=[f"{where}: section needs text or fields"])
            if "accessory" in block:
                _element(block["accessory"], f"{where}.accessory", action_ids)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                raise SlackError("invalid_blocks", errors=[f"{where}: actions need 1-25 elements"])
            for j, el in enumerate(elements):
                _element(el, f"{where}.elements[{j}]", action_ids)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                raise SlackError("invalid_blocks", errors=[f"{where}: context needs 1-10 elements"])
        elif kind == "header":
            _text_len(block.get("text"), 150, f"{where}.text")
        elif kind == "input":
            # https://api.slack.com/reference/block-kit/blocks#input: label and hint ≤2000.
            _text_len(block.get("label"), 2000, f"{where}.label")
            if "hint" in block:
                _text_len(block["hint"], 2000, f"{where}.hint")
            _element(block.get("element") or {}, f"{where}.element", action_ids)
        elif kind != "divider":
            raise SlackError("invalid_blocks", errors=[f"{where}: unknown block type {kind}"])
        _sdk_check(block, where)


# Slack's control sequences: mentions <@U…>, channels <#C…>, special mentions <!here>, and links
# <https://…|label>, <mailto:…> (https://api.slack.com/reference/surfaces/formatting).
_CONTROL = re.compile(r"<(?:[@#!][^<>]*|(?:https?|mailto):[^<>]*)>")
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")


def check_escaped(text: str) -> None:
    """Stricter than Slack, on purpose: Slack takes any text, but reads &, < and > as control
    characters, so text not meant as a control sequence "must be converted to HTML entities"
    (https://api.slack.com/reference/surfaces/formatting#escaping). A message whose top-level text
    (what notifications and screen readers show) has them raw is refused here, so `<id>` can't
    vanish from a notification unnoticed."""
    rest = _CONTROL.sub("", text)
    if "<" in rest or ">" in rest or _BARE_AMP.search(rest):
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] unescaped text: {text[:200]!r}"]}
        )


def _known_zone(name: Any) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _sdk_check(block: dict[str, Any], where: str) -> None:
    """A second reading of Block Kit, independent of the fake's: Slack's own SDK models
    (slack_sdk.models, written by Slack from the same reference) validate each block too."""
    try:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    except SlackObjectFormationError as exc:
        raise SlackError("invalid_blocks", errors=[f"{where}: {exc}"]) from exc


def validate_modal(view: dict[str, Any]) -> None:
    if view.get("type") != "modal":
        raise SlackError("invalid_arguments", response_metadata={"messages": ["view.type must be modal"]})
    _text_len(view.get("title"), 24, "view.title")
    blocks = view.get("blocks") or []
    validate_blocks(blocks, limit=MODAL_BLOCKS_MAX)
    if any(b.get("type") == "input" for b in blocks) and "submit" not in view:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["inputs need a submit button"]})
    if len(view.get("private_metadata", "")) > 3000 or len(view.get("callback_id", "")) > 255:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["metadata too long"]})


def validate_home(view: dict[str, Any]) -> None:
    """https://docs.slack.dev/reference/views/home-tab-views: ``type`` "home", ``blocks`` required
    with at most 100, private_metadata at most 3000 characters, callback_id at most 255."""
    if view.get("type") != "home":
        raise SlackError("invalid_arguments", response_metadata={"messages": ["view.type must be home"]})
    if "blocks" not in view:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["view.blocks is required"]})
    validate_blocks(view["blocks"], limit=HOME_BLOCKS_MAX)
    if len(view.get("private_metadata", "")) > 3000 or len(view.get("callback_id", "")) > 255:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["metadata too long"]})


# --------------------------------------------------------------------- Slack calling the app


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def button_in(message: dict[str, Any], action_id: str) -> tuple[str, dict[str, Any]]:
    """The block_id and element of a button the bot put on a message (so tests press real buttons)."""
    for block in message.get("blocks") or []:
        for el in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if el.get("type") == "button" and el.get("action_id") == action_id:
                return block.get("block_id", ""), el
    raise AssertionError(f"no button {action_id} on message {message.get('ts')}")


def _check_state(element: dict[str, Any], value: dict[str, Any]) -> None:
    """A submitted value is one the element can produce (view_submission state values:
    https://api.slack.com/reference/interaction-payloads/views#view_submission)."""
    offered = [o["value"] for o in element.get("options") or []]
    if "selected_option" in value and value["selected_option"]["value"] not in offered:
        raise AssertionError(
            f"{value['selected_option']['value']!r} is not an option of {element['action_id']}"
        )
    for picked in value.get("selected_options") or []:
        if picked["value"] not in offered:
            raise AssertionError(f"{picked['value']!r} is not an option of {element['action_id']}")
    if "selected_date" in value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value["selected_date"]):
        raise AssertionError("a datepicker sends YYYY-MM-DD")
    if "selected_time" in value and not re.fullmatch(r"\d{2}:\d{2}", value["selected_time"]):
        raise AssertionError("a timepicker sends HH:mm")
    # A plain-text input's max_length: "The maximum length of input that the user can provide. If the
    # user provides more, they will receive an error" and the form is not submitted
    # (https://api.slack.com/reference/block-kit/block-elements#input, plain-text input).
    limit = element.get("max_length")
    if (
        element.get("type") == "plain_text_input"
        and limit is not None
        and len(value.get("value") or "") > limit
    ):
        raise AssertionError(
            f"{element['action_id']} takes at most {limit} characters: Slack keeps the form open"
        )


@dataclass
class SlackSender:
    """Sends what Slack sends an app, signed with the app's signing secret."""

    slack: FakeSlack
    app_url: str
    signing_secret: str
    http: httpx.AsyncClient
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or sign(self.signing_secret, ts, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return await self.http.post(self.app_url, content=body, headers=headers)

    def _team(self) -> dict[str, str]:
        return {"id": self.slack.team_id, "domain": self.slack.team_domain}

    def _user(self, user_id: str) -> dict[str, str]:
        return {"id": user_id, "username": self.slack.users[user_id]["name"], "team_id": self.slack.team_id}

    def command_body(self, command: str, text: str, *, user: str, channel: str) -> bytes:
        return urlencode(self.command_fields(command, text, user=user, channel=channel)).encode()

    def command_fields(self, command: str, text: str, *, user: str, channel: str) -> dict[str, str]:
        return {
            "token": "deprecated-verification-token",
            "team_id": self.slack.team_id,
            "team_domain": self.slack.team_domain,
            "channel_id": channel,
            "channel_name": self.slack.channels.get(channel, "directmessage"),
            "user_id": user,
            "user_name": self.slack.users[user]["name"],
            "command": command,
            "text": text,
            "api_app_id": self.slack.app_id,
            "is_enterprise_install": "false",
            "response_url": self.slack.response_url("commands"),
            "trigger_id": self.slack.new_trigger(),
        }

    async def command(self, command: str, text: str, *, user: str, channel: str, **kw: Any) -> httpx.Response:
        body = self.command_body(command, text, user=user, channel=channel)
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    async def event(self, event: dict[str, Any], **kw: Any) -> httpx.Response:
        envelope = self.event_envelope(event)
        self.sent.append(envelope)
        return await self.post(json.dumps(envelope).encode(), "application/json", **kw)

    def event_envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "token": "deprecated-verification-token",
            "team_id": self.slack.team_id,
            "api_app_id": self.slack.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.slack.team_id,
                    "user_id": self.slack.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    async def react(
        self, user: str, channel: str, message: dict[str, Any], reaction: str = "white_check_mark", **kw: Any
    ) -> httpx.Response | None:
        """Someone adds an emoji reaction to a message, as the Events API delivers it
        (https://docs.slack.dev/reference/events/reaction_added/): ``user`` who reacted, the
        ``reaction`` name without colons (✅ is ``white_check_mark``), ``item_user`` who wrote the
        message, and ``item`` {type: message, channel, ts}. The event's required scope is
        reactions:read: an app without it is not sent the event at all (None here)."""
        if "reactions:read" not in self.slack.scopes:
            return None
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item_user": message.get("user") or self.slack.bot_user_id,
            "item": {"type": "message", "channel": channel, "ts": message["ts"]},
            "event_ts": self.slack.new_ts(),
        }
        return await self.event(event, **kw)

    async def interaction(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        self.sent.append(payload)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    def user_message(
        self,
        user: str,
        channel: str,
        text: str,
        files: list[FakeFile] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A message a person posts (with uploads): stored in the channel, returned as the event."""
        ts = self.slack.new_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.slack.team_id,
        }
        if files:
            message["subtype"] = "file_share"
            message["upload"] = True
            message["display_as_bot"] = False
            for f in files:
                f.ts = ts
            message["files"] = [f.entry(self.slack.team_id, self.slack.base_url) for f in files]
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.slack.messages.setdefault(channel, []).append(message)
        return message

    async def share_file(
        self, user: str, channel: str, file: FakeFile, text: str = "", *, file_shared: bool = True
    ) -> dict[str, Any]:
        """What Slack delivers when someone uploads a file into a channel: the message event with the
        file objects, then a ``file_shared`` event carrying only ids."""
        return await self.share_files(user, channel, [file], text, file_shared=file_shared)

    async def share_files(
        self,
        user: str,
        channel: str,
        files: list[FakeFile],
        text: str = "",
        *,
        file_shared: bool = True,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Several files uploaded with one message: one ``file_share`` message whose ``files`` lists
        them all, then a ``file_shared`` event per file
        (https://docs.slack.dev/reference/events/file_shared: "sent when a file is shared", one file id
        each). ``thread_ts``: the message is a reply in that thread."""
        message = self.user_message(user, channel, text, files, thread_ts=thread_ts)
        response = await self.event(
            {**message, "channel": channel, "event_ts": message["ts"], "channel_type": "channel"}
        )
        assert response.status_code == 200, response.text
        for file in files if file_shared else []:
            shared = {
                "type": "file_shared",
                "channel_id": channel,
                "file_id": file.id,
                "user_id": user,
                "file": {"id": file.id},
                "event_ts": self.slack.new_ts(),
            }
            response = await self.event(shared)
            assert response.status_code == 200, response.text
        return message

    async def mention(
        self,
        user: str,
        channel: str,
        text: str,
        files: list[FakeFile] | None = None,
        *,
        thread_ts: str | None = None,
        files_in_app_mention: bool = True,
        app_mention_first: bool = False,
    ) -> dict[str, Any]:
        """A message that @-mentions the bot: Slack sends both the message and the app_mention event.

        Each is its own delivery, in no promised order (https://api.slack.com/apis/events-api: events
        are retried and delivered independently), and an app_mention for a message with an upload
        has been seen without its ``files`` (https://api.slack.com/events/app_mention lists no
        ``files`` field): ``files_in_app_mention=False`` and ``app_mention_first=True`` play those."""
        full = f"<@{self.slack.bot_user_id}> {text}"
        message = self.user_message(user, channel, full, files, thread_ts=thread_ts)
        event = {**message, "channel": channel, "event_ts": message["ts"]}
        app_mention = {k: v for k, v in event.items() if k not in ("subtype", "upload", "display_as_bot")}
        if not files_in_app_mention:
            app_mention.pop("files", None)
        deliveries = [{**event, "channel_type": "channel"}, {**app_mention, "type": "app_mention"}]
        for delivery in reversed(deliveries) if app_mention_first else deliveries:
            response = await self.event(delivery)
            assert response.status_code == 200, response.text
        return message

    async def message_shortcut(
        self,
        callback_id: str,
        *,
        user: str,
        channel: str,
        message: dict[str, Any],
        trigger_ttl_s: float = TRIGGER_TTL_S,
        **kw: Any,
    ) -> httpx.Response:
        payload: dict[str, Any] = {
            "type": "message_action",
            "token": "deprecated-verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": self._team(),
            "user": {"id": user, "name": self.slack.users[user]["name"]},
            "channel": {"id": channel, "name": self.slack.channels.get(channel, "")},
            "is_enterprise_install": False,
            "callback_id": callback_id,
            "trigger_id": self.slack.new_trigger(trigger_ttl_s),
            "response_url": self.slack.response_url("actions"),
            "message_ts": message["ts"],
            "message": message,
        }
        return await self.interaction(payload, **kw)

    async def submit_view(
        self, view_id: str, *, user: str, values: dict[str, dict[str, dict[str, Any]]], **kw: Any
    ) -> httpx.Response:
        """Submit an opened modal; every (block_id, action_id) must be an input the modal has."""
        view = self.slack.views[view_id]
        inputs = {
            (b.get("block_id"), b["element"].get("action_id")): b["element"]["type"]
            for b in view.get("blocks", [])
            if b.get("type") == "input"
        }
        elements = {
            (b.get("block_id"), b["element"].get("action_id")): b["element"]
            for b in view.get("blocks", [])
            if b.get("type") == "input"
        }
        for block_id, actions in values.items():
            for action_id, value in actions.items():
                kind = inputs.get((block_id, action_id))
                if kind is None or value.get("type") != kind:
                    raise AssertionError(f"modal {view_id} has no {kind or 'input'} {block_id}/{action_id}")
                _check_state(elements[(block_id, action_id)], value)
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.slack.app_id,
            "token": "deprecated-verification-token",
            "trigger_id": self.slack.new_trigger(),
            "view": {**view, "state": {"values": values}},
            "response_urls": [],
            "is_enterprise_install": False,
        }
        return await self.interaction(payload, **kw)

    async def click(
        self,
        action_id: str,
        *,
        user: str,
        channel: str,
        message: dict[str, Any],
        ephemeral: bool = False,
        **kw: Any,
    ) -> httpx.Response:
        block_id, button = button_in(message, action_id)
        # A click on an ephemeral message carries no ``message`` (Slack keeps no copy of it), only the
        # container: https://api.slack.com/reference/interaction-payloads/block-actions
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.slack.app_id,
            "token": "deprecated-verification-token",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": self.slack.new_trigger(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.slack.channels.get(channel, "")},
            "state": {"values": {}},
            "response_url": self.slack.response_url("actions"),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": button["text"],
                    "value": button.get("value", ""),
                    "style": button.get("style"),
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if not ephemeral:
            payload["message"] = message
        return await self.interaction(payload, **kw)


class LoopbackServer:
    """An ASGI app (the bot's HTTP endpoint) served by uvicorn on 127.0.0.1 and a free port."""

    def __init__(self, asgi: Any) -> None:
        import uvicorn

        config = uvicorn.Config(
            asgi,
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_config=None,
            access_log=False,
            backlog=2048,
            # Slack (and the benchmark) keep connections open between bursts.
            timeout_keep_alive=75,
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopbackServer:
        self._task = asyncio.create_task(self.server.serve())
        async with asyncio.timeout(10):
            while not self.server.started:
                await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task

    @property
    def url(self) -> str:
        sock = self.server.servers[0].sockets[0]
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _serve(port: int) -> None:
    slack = FakeSlack()
    slack.add_user("U0ANA", "ana", tz="Europe/Berlin")
    slack.add_channel("C0GENERAL", "general")
    await serve_forever(
        slack, port, lambda: f"fake Slack Web API on {slack.api_base_url} (bot token {slack.bot_token})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Slack Web API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
