"""A local fake of Discord: REST API v10, gateway websocket and attachment CDN on one aiohttp server.

It follows Discord's developer documentation for the parts postbot uses, so a real discord.py client
(``discord.http.Route.BASE`` pointed at ``api_base_url``) logs in, finds the gateway through
``GET /gateway/bot``, identifies, syncs application commands and answers interactions:

- ``GET /users/@me``, ``GET /oauth2/applications/@me``, ``GET /gateway/bot``
- ``PUT/GET /applications/{app}/commands`` and ``.../guilds/{guild}/commands`` (bulk overwrite)
- ``POST /interactions/{id}/{token}/callback`` (types 4, 5, 6, 7, 8 checked against the interaction type,
  once only, within the 3 s window)
- ``POST /webhooks/{app}/{token}`` (follow-ups) and ``GET/PATCH/DELETE .../messages/@original|{id}``
- ``POST /users/@me/channels`` (DM) and ``POST /channels/{id}/messages`` (50007 when DMs are closed;
  ``message_reference`` replies) and ``PATCH /channels/{id}/messages/{id}`` (edits, by the author
  only, under a per-channel rate limit reported in the ``X-RateLimit-*`` headers)
- ``GET /attachments/{channel}/{id}/{name}?ex&is&hm`` (signed, expiring CDN links)

Requests that break the protocol get Discord's error bodies (``{"code", "message", "errors"}``).
Tests drive it by injecting INTERACTION_CREATE payloads built from the commands the bot registered,
and read what the bot sent back from the records kept here. Run ``python -m tests.fakes.discord_api``
to serve one on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.discord_gateway import GatewayConnection
from tests.fakes.loopback import LoopbackFake, serve_forever

DISCORD_EPOCH_MS = 1420070400000
API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6
LOADING = 1 << 7
# https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags
VIEW_CHANNEL = 1 << 10
# Flags a bot may set when creating a channel message (SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS).
CHANNEL_MESSAGE_FLAGS = (1 << 2) | (1 << 12)
# "The default limit is 10 MiB for all users, but may be higher for users depending on their Nitro
# status or by the server's Boost Tier. The attachment_size_limit value provided when working with
# interactions is calculated as the maximum of these values"
# (https://discord.com/developers/docs/reference#uploading-files, read 2026-12-06). The reference
# gives no figures past the default; these are an independent client's: discord.py's guild limits
# per premium tier (Guild._PREMIUM_GUILD_LIMITS, 2.7.1: 50 MiB at tier 2, 100 MiB at tier 3) and
# @sapphire/discord-utilities' MessageLimits (Nitro 500 MB, Nitro Basic 50 MB).
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
BOOST_TIER_LIMITS = {2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}
# User premium_type (resources/user#user-object-premium-types): 1 Nitro Classic, 2 Nitro, 3 Nitro Basic.
NITRO_CLASSIC, NITRO, NITRO_BASIC = 1, 2, 3
NITRO_LIMITS = {NITRO: 500 * 1000 * 1000, NITRO_BASIC: 50 * 1000 * 1000}

# Interaction types and which callback types each accepts (receiving-and-responding).
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {4, 5, 9},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}
OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_ATTACHMENT, OPTION_NUMBER = 3, 4, 5, 11, 10
# https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type
OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP = 1, 2
# "Subcommands and Subcommand Groups"
# (https://discord.com/developers/docs/interactions/application-commands#subcommands-and-subcommand-groups):
# a command's subcommands (type 1) may sit in groups (type 2) one level deep, "That is the only kind of
# nesting supported", and "Using subcommands or subcommand groups will make your base command unusable".
_NESTING = (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP)
_NAME_RE = re.compile(r"^[-_\w]{1,32}$")
# Interaction context types (receiving-and-responding#interaction-object-interaction-context-types)
# and installation contexts (resources/application#application-object-application-integration-types).
GUILD_CONTEXT, BOT_DM_CONTEXT, PRIVATE_CHANNEL_CONTEXT = 0, 1, 2
GUILD_INSTALL, USER_INSTALL = 0, 1
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL, SEND_MESSAGES, EMBED_LINKS, ATTACH_FILES = 1 << 10, 1 << 11, 1 << 14, 1 << 15
# Fields a command may still carry that Discord's reference marks deprecated
# (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-structure):
# "dm_permission: Deprecated (use contexts instead)". Discord accepts them; the fake notes them.
DEPRECATED_COMMAND_FIELDS = ("dm_permission", "default_permission")


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return json_response(body, status=self.status)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON as Discord labels it: ``application/json`` with no charset (clients compare it verbatim)."""
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def invalid_form(path: str, code: str, message: str) -> DiscordError:
    """Discord's 50035 shape: the offending field's path, then an _errors list."""
    node: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path.split(".")):
        node = {key: node}
    return DiscordError(400, 50035, "Invalid Form Body", node)


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).isoformat()


@dataclass
class FakeUser:
    id: str
    username: str
    dms_open: bool = True
    premium_type: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username.title(),
            "avatar": None,
            "bot": False,
            "public_flags": 0,
            "premium_type": self.premium_type,
        }


@dataclass
class FakeGuild:
    id: str
    name: str
    owner_id: str
    channels: dict[str, str] = field(default_factory=dict)
    premium_tier: int = 0
    # Channels where the bot's role lacks View Channel: posting there answers 403 Missing Access
    # (50001; https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes).
    hidden_from_bot: set[str] = field(default_factory=set)
    # Commands this server's admins granted to everyone in Server Settings → Integrations (command
    # permission overwrites, application-commands#permissions), whatever their default permission.
    granted_commands: set[str] = field(default_factory=set)
    # Private channels → the members who may view them: @everyone is denied View Channel there and
    # each member allowed by a member overwrite, as the Discord client sets up a private channel
    # (https://discord.com/developers/docs/topics/permissions#permission-overwrites).
    private: dict[str, set[str]] = field(default_factory=dict)
    # Roles beyond @everyone (id → name), and which members have them.
    roles: dict[str, str] = field(default_factory=dict)
    member_roles: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Interaction:
    id: str
    token: str
    type: int
    payload: dict[str, Any]
    created_at: float
    callback: dict[str, Any] | None = None
    callback_query: dict[str, str] = field(default_factory=dict)
    # The message the interaction's @original refers to: the response, or the component's message.
    original_id: str | None = None
    followups: list[str] = field(default_factory=list)
    # @original edits that turned the deferred "thinking…" message into the answer.
    answers: list[str] = field(default_factory=list)
    rejected_callbacks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Attachment:
    id: str
    channel_id: str
    filename: str
    content_type: str
    data: bytes
    expires_at: int


@dataclass
class InjectedFailure:
    method: str
    path: re.Pattern[str]
    status: int
    retry_after: float
    remaining: int


class FakeDiscord(LoopbackFake):
    """State plus the aiohttp app. Use ``async with FakeDiscord() as fake:``."""

    access_log = True

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        application_id: str | None = None,
        heartbeat_interval_ms: int = 41250,
        ack_deadline_s: float = 3.0,
        attachment_size_limit: int = DEFAULT_ATTACHMENT_LIMIT,
        edit_limit: int = 5,
        edit_window_s: float = 5.0,
    ) -> None:
        super().__init__()
        # "Interaction tokens are valid for 15 minutes"
        # (https://discord.com/developers/docs/interactions/receiving-and-responding#followup-messages);
        # past that every webhook call with the token answers 401 50027 Invalid Webhook Token
        # (https://github.com/discord/discord-api-docs/issues/6851). Tests shorten it.
        self.token_lifetime_s = 15 * 60.0
        # Seconds the CDN spreads each attachment over: a slow download.
        self.cdn_seconds = 0.0
        # Message edits per channel per window. Discord documents no fixed numbers ("rate limits
        # should not be hard coded", https://discord.com/developers/docs/topics/rate-limits), only
        # that limits are per route and top-level resource (the channel id here), announced in the
        # X-RateLimit-* headers and answered with a 429 past them: the fake holds the bot to that.
        self.edit_limit = edit_limit
        self.edit_window_s = edit_window_s
        self._edits: dict[str, list[float]] = {}
        self.edit_rate_limited: list[str] = []
        # Every accepted edit of a channel message: (message id, request body).
        self.channel_edits: list[tuple[str, dict[str, Any]]] = []
        self._counter = 0
        self.token = token
        self.application_id = application_id or self.snowflake()
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.ack_deadline_s = ack_deadline_s
        self.attachment_size_limit = attachment_size_limit
        self.cdn_secret = secrets.token_bytes(16)
        self.owner = FakeUser(self.snowflake(), "owner")
        self.bot_user = {
            "id": self.application_id,
            "username": "postbot",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
        }
        self.users: dict[str, FakeUser] = {self.owner.id: self.owner}
        self.guilds: dict[str, FakeGuild] = {}
        self.guild_commands: dict[str, list[dict[str, Any]]] = {}
        self.global_commands: list[dict[str, Any]] = []
        # (command name, field) for every deprecated field a registration carried.
        self.deprecated_fields: list[tuple[str, str]] = []
        self.interactions: dict[str, Interaction] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.deleted_messages: list[dict[str, Any]] = []
        self.loading_replaced_by_followup: list[str] = []
        self.dm_channels: dict[str, str] = {}  # channel id → recipient id
        self.attachments: dict[str, Attachment] = {}
        self.cdn_requests: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.rejections: list[tuple[str, str, int, int]] = []
        self.failures: list[InjectedFailure] = []
        # Gateway records.
        self.enabled_privileged_intents = 0
        self.connections: list[GatewayConnection] = []
        self.sessions: dict[str, Any] = {}
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.gateway_received: list[dict[str, Any]] = []
        self.gateway_closes: list[tuple[int, str]] = []
        self._changed = asyncio.Condition()

    # ----------------------------------------------------------------- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        r = app.router
        p = API_PREFIX
        r.add_get(f"{p}/users/@me", self._get_me)
        r.add_get(f"{p}/oauth2/applications/@me", self._get_application)
        r.add_get(f"{p}/gateway/bot", self._get_gateway_bot)
        r.add_get(f"{p}/gateway", self._get_gateway)
        r.add_put(f"{p}/applications/{{app}}/commands", self._put_global_commands)
        r.add_get(f"{p}/applications/{{app}}/commands", self._get_global_commands)
        r.add_put(f"{p}/applications/{{app}}/guilds/{{guild}}/commands", self._put_guild_commands)
        r.add_get(f"{p}/applications/{{app}}/guilds/{{guild}}/commands", self._get_guild_commands)
        r.add_post(f"{p}/interactions/{{iid}}/{{token}}/callback", self._interaction_callback)
        r.add_post(f"{p}/webhooks/{{app}}/{{token}}", self._followup)
        r.add_route("*", f"{p}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_message)
        r.add_post(f"{p}/users/@me/channels", self._create_dm)
        r.add_post(f"{p}/channels/{{cid}}/messages", self._channel_message)
        r.add_patch(f"{p}/channels/{{cid}}/messages/{{mid}}", self._edit_channel_message)
        r.add_get(f"{p}/channels/{{cid}}", self._get_channel)
        r.add_get("/attachments/{cid}/{aid}/{name}", self._cdn)
        r.add_get("/gateway-ws", self._gateway)
        return app

    async def stop(self) -> None:
        for conn in list(self.connections):
            if not conn.ws.closed:
                await conn.ws.close()
        await super().stop()

    @property
    def api_base_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-ws"

    # ----------------------------------------------------------------- world setup

    def snowflake(self) -> str:
        self._counter += 1
        return str(((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (self._counter & 0x3FFFFF))

    def add_user(self, username: str, *, dms_open: bool = True) -> FakeUser:
        user = FakeUser(self.snowflake(), username, dms_open)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, channels: tuple[str, ...] = ("general",)) -> FakeGuild:
        guild = FakeGuild(self.snowflake(), name, self.owner.id)
        for ch in channels:
            guild.channels[self.snowflake()] = ch
        self.guilds[guild.id] = guild
        return guild

    def channel_payload(self, guild: FakeGuild, channel_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "type": 0,
            "guild_id": guild.id,
            "name": guild.channels[channel_id],
            "position": 0,
            "permission_overwrites": self._overwrites(guild, channel_id),
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    @staticmethod
    def _overwrites(guild: FakeGuild, channel_id: str) -> list[dict[str, Any]]:
        # Overwrite objects: type 0 a role (@everyone's id is the guild's), 1 a member; allow/deny are
        # permission bit sets as strings (https://discord.com/developers/docs/resources/channel#overwrite-object).
        members = guild.private.get(channel_id)
        if members is None:
            return []
        view = str(VIEW_CHANNEL)
        return [
            {"id": guild.id, "type": 0, "allow": "0", "deny": view},
            *({"id": uid, "type": 1, "allow": view, "deny": "0"} for uid in sorted(members)),
        ]

    def guild_create_payload(self, guild_id: str) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        return {
            "id": guild.id,
            "name": guild.name,
            "icon": None,
            "owner_id": guild.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": guild.id,
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "position": 0,
                    # View Channel, Send Messages, Use Application Commands: @everyone's defaults
                    # that matter here (https://discord.com/developers/docs/topics/permissions).
                    "permissions": str(VIEW_CHANNEL | 1 << 11 | 1 << 31),
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                },
                *(self._role(rid, name) for rid, name in guild.roles.items()),
            ],
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": guild.premium_tier,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "stickers": [],
            "joined_at": iso(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.users),
            "voice_states": [],
            "members": [],
            "channels": [self.channel_payload(guild, cid) for cid in guild.channels],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def upload_attachment(
        self,
        channel_id: str,
        filename: str,
        data: bytes,
        content_type: str = "video/mp4",
        *,
        ttl_s: int = 86400,
    ) -> Attachment:
        """A file the user attached to a slash command: stored ephemerally, served by the CDN."""
        att = Attachment(self.snowflake(), channel_id, filename, content_type, data, int(time.time()) + ttl_s)
        self.attachments[att.id] = att
        return att

    def _cdn_signature(self, att: Attachment, issued: int) -> str:
        msg = f"{att.channel_id}/{att.id}/{att.filename}:{att.expires_at:x}:{issued:x}".encode()
        return hmac.new(self.cdn_secret, msg, hashlib.sha256).hexdigest()

    def attachment_payload(self, att: Attachment, *, size: int | None = None) -> dict[str, Any]:
        issued = int(time.time())
        query = f"ex={att.expires_at:x}&is={issued:x}&hm={self._cdn_signature(att, issued)}&"
        url = f"{self.base_url}/attachments/{att.channel_id}/{att.id}/{att.filename}?{query}"
        return {
            "id": att.id,
            "filename": att.filename,
            "size": len(att.data) if size is None else size,
            "url": url,
            "proxy_url": url,
            "content_type": att.content_type,
            "ephemeral": True,
        }

    # ----------------------------------------------------------------- interactions

    def commands_for(self, guild_id: str | None) -> list[dict[str, Any]]:
        guild_cmds = self.guild_commands.get(guild_id, []) if guild_id else []
        return guild_cmds + self.global_commands

    def command(self, name: str, guild_id: str | None) -> dict[str, Any]:
        for cmd in self.commands_for(guild_id):
            if cmd["name"] == name:
                return cmd
        raise LookupError(f"/{name} is not registered for guild {guild_id}; the bot has not synced it")

    @staticmethod
    def app_permissions(guild: FakeGuild, channel_id: str) -> int:
        """What the app may do in the interaction's channel ("Bitwise set of permissions the app has in
        the source location of the interaction",
        https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-structure):
        what the invite link grants (docs/discord.md), less View Channel and Send Messages where the
        bot's role was denied View Channel (a denied View Channel denies sending too:
        https://discord.com/developers/docs/topics/permissions#implicit-permissions)."""
        granted = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES
        if channel_id in guild.hidden_from_bot:
            granted &= ~(VIEW_CHANNEL | SEND_MESSAGES)
        return granted

    def attachment_limit(self, user: FakeUser, guild: FakeGuild) -> int:
        """What ``user`` may attach in ``guild``: the larger of their Nitro's and the server's boost
        tier's limit, never below the default (DEFAULT_ATTACHMENT_LIMIT above)."""
        return max(
            self.attachment_size_limit,
            NITRO_LIMITS.get(user.premium_type, 0),
            BOOST_TIER_LIMITS.get(guild.premium_tier, 0),
        )

    def may_use(self, cmd: dict[str, Any], guild: FakeGuild, permissions: int) -> bool:
        """Whether the client offers ``cmd`` to a member with ``permissions`` in ``guild``: they hold
        every bit of its ``default_member_permissions`` ("0": admins only), or Administrator ("Members
        with the Administrator permission can use all commands"), or the server granted it
        (application-commands#application-command-permissions-object-using-default-permissions)."""
        needed = cmd.get("default_member_permissions")
        if needed is None or permissions & ADMINISTRATOR or cmd["name"] in guild.granted_commands:
            return True
        return int(needed) != 0 and permissions & int(needed) == int(needed)

    def visible_commands(self, guild: FakeGuild, permissions: int) -> set[str]:
        """The command names a member with ``permissions`` is offered in ``guild``."""
        return {c["name"] for c in self.commands_for(guild.id) if self.may_use(c, guild, permissions)}

    def dm_commands(self) -> set[str]:
        """Global commands offered in a DM with the bot: ``contexts`` has BOT_DM (global commands
        only; "Guild commands don't support the BOT_DM interaction context"), or, for a command
        without contexts, its deprecated ``dm_permission`` is not false (interaction-contexts)."""
        return {
            c["name"]
            for c in self.global_commands
            if (
                BOT_DM_CONTEXT in c["contexts"]
                if c.get("contexts") is not None
                else c.get("dm_permission", True)
            )
        }

    def _member(self, user: FakeUser, permissions: int) -> dict[str, Any]:
        return {
            "user": user.payload(),
            "roles": [],
            "joined_at": iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
            "permissions": str(permissions),
        }

    def _base_interaction(
        self,
        itype: int,
        data: dict[str, Any],
        user: FakeUser,
        guild: FakeGuild,
        channel_id: str,
        permissions: int,
    ) -> dict[str, Any]:
        return {
            "id": self.snowflake(),
            "application_id": self.application_id,
            "type": itype,
            "data": data,
            "guild_id": guild.id,
            "guild": {"id": guild.id, "locale": "en-US", "features": []},
            "channel": self.channel_payload(guild, channel_id),
            "channel_id": channel_id,
            "member": {**self._member(user, permissions), "roles": list(guild.member_roles.get(user.id, []))},
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            "version": 1,
            "app_permissions": str(self.app_permissions(guild, channel_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild.id},
            "context": 0,
            "attachment_size_limit": self.attachment_limit(user, guild),
        }

    def _option_values(
        self, cmd: dict[str, Any], values: dict[str, Any], focused: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        declared = {o["name"]: o for o in cmd.get("options", [])}
        options: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for name, value in values.items():
            if name not in declared:
                raise LookupError(f"/{cmd['name']} has no option {name!r}")
            opt = declared[name]
            entry: dict[str, Any] = {"name": name, "type": opt["type"]}
            if opt["type"] == OPTION_ATTACHMENT:
                if not isinstance(value, Attachment):
                    raise TypeError(f"option {name} takes an uploaded Attachment")
                entry["value"] = value.id
                resolved.setdefault("attachments", {})[value.id] = self.attachment_payload(value)
            else:
                allowed = [c["value"] for c in opt.get("choices") or []]
                if allowed and value not in allowed and name != focused:
                    raise LookupError(f"{value!r} is not one of the choices of {name}: {allowed}")
                entry["value"] = value
            if name == focused:
                entry["focused"] = True
            options.append(entry)
        if focused is None:
            missing = [n for n, o in declared.items() if o.get("required") and n not in values]
            if missing:
                raise LookupError(
                    f"/{cmd['name']} requires {missing}: the Discord client would not send this"
                )
        return options, resolved

    def _invoked(
        self, name: str, guild_id: str, permissions: int | None = None
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """``"postbot status"`` → (the registered command, the subcommand's declaration, the path of
        SUB_COMMAND(_GROUP) options leading to it); a command without subcommands is its own leaf."""
        words = name.split()
        cmd = self.command(words[0], guild_id)
        if permissions is not None and not self.may_use(cmd, self._guild(guild_id), permissions):
            raise LookupError(f"/{words[0]} is hidden from this member: the Discord client would not send it")
        leaf, path = cmd, []
        for word in words[1:]:
            nested = [o for o in leaf.get("options") or [] if o.get("type") in _NESTING]
            found = next((o for o in nested if o["name"] == word), None)
            if found is None:
                raise LookupError(f"/{name}: /{words[0]} has no subcommand {word!r}")
            leaf = found
            path.append(found)
        if any(o.get("type") in _NESTING for o in leaf.get("options") or []):
            # "Using subcommands or subcommand groups will make your base command unusable".
            raise LookupError(f"/{name} has subcommands: the Discord client cannot send it alone")
        return cmd, leaf, path

    @staticmethod
    def _nest(path: list[dict[str, Any]], options: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The options as Discord sends them for a subcommand: inside one option per level, each
        with the level's name and type and no value
        (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-application-command-interaction-data-option-structure)."""
        for level in reversed(path):
            options = [{"name": level["name"], "type": level["type"], "options": options}]
        return options

    def command_interaction(
        self,
        name: str,
        values: dict[str, Any],
        *,
        user: FakeUser,
        guild: FakeGuild,
        channel_id: str | None = None,
        permissions: int = 0,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE for a slash command (``"postbot status"`` for a subcommand), checked
        against what the bot registered."""
        cmd, leaf, path = self._invoked(name, guild.id, permissions)
        options, resolved = self._option_values(leaf, values, None)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": 1,
            "guild_id": guild.id,
            "options": self._nest(path, options),
        }
        if resolved:
            data["resolved"] = resolved
        return self._base_interaction(
            APPLICATION_COMMAND, data, user, guild, channel_id or next(iter(guild.channels)), permissions
        )

    def autocomplete_interaction(
        self,
        name: str,
        values: dict[str, str],
        focused: str,
        *,
        user: FakeUser,
        guild: FakeGuild,
        channel_id: str | None = None,
        permissions: int = 0,
    ) -> dict[str, Any]:
        cmd, leaf, path = self._invoked(name, guild.id, permissions)
        opt = next((o for o in leaf.get("options", []) if o["name"] == focused), None)
        if opt is None or not opt.get("autocomplete"):
            raise LookupError(f"/{name} {focused} is not an autocomplete option")
        options, _ = self._option_values(leaf, values, focused)
        data = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": 1,
            "guild_id": guild.id,
            "options": self._nest(path, options),
        }
        return self._base_interaction(
            AUTOCOMPLETE, data, user, guild, channel_id or next(iter(guild.channels)), permissions
        )

    def component_interaction(
        self, message_id: str, custom_id: str, *, user: FakeUser, guild: FakeGuild, permissions: int = 0
    ) -> dict[str, Any]:
        """A button press on a message the bot sent; the button must exist on that message."""
        message = self.messages[message_id]
        buttons = [c for row in message.get("components", []) for c in row.get("components", [])]
        button = next((b for b in buttons if b.get("custom_id") == custom_id), None)
        if button is None:
            raise LookupError(f"message {message_id} has no button {custom_id!r}")
        if button.get("disabled"):
            raise LookupError(f"button {custom_id!r} is disabled: the Discord client would not send this")
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._base_interaction(
            MESSAGE_COMPONENT, data, user, guild, message["channel_id"], permissions
        )
        payload["message"] = message
        return payload

    async def add_role(self, guild: FakeGuild, name: str, members: list[FakeUser]) -> str:
        """A role made in the server while the bot is connected: GUILD_ROLE_CREATE, sent under the
        GUILDS intent (https://discord.com/developers/docs/topics/gateway-events#guild-role-create),
        so the bot's cache knows it as it knows the roles GUILD_CREATE listed."""
        role = self.snowflake()
        guild.roles[role] = name
        for member in members:
            guild.member_roles.setdefault(member.id, []).append(role)
        live = [c for c in self.connections if c.session is not None and not c.ws.closed]
        if live and live[-1].session is not None and live[-1].session.intents & 1:
            await live[-1].dispatch(
                "GUILD_ROLE_CREATE", {"guild_id": guild.id, "role": self._role(role, name)}
            )
        return role

    @staticmethod
    def _role(role: str, name: str) -> dict[str, Any]:
        return {
            "id": role,
            "name": name,
            "color": 0,
            "hoist": False,
            "position": 1,
            "permissions": "0",
            "managed": False,
            "mentionable": True,
            "flags": 0,
        }

    def modal_submit_interaction(
        self,
        opened_by: Interaction,
        values: dict[str, str],
        *,
        user: FakeUser,
        guild: FakeGuild,
        permissions: int = 0,
    ) -> dict[str, Any]:
        """Submitting the modal an interaction answered with (callback type 9, MODAL): the modal's
        custom_id and each text input's value in an action row, as MODAL_SUBMIT data carries them
        (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-modal-submit-data-structure);
        a modal opened from a button carries that button's message. Every value must name one of the
        modal's inputs and keep to its max_length (the client refuses more)."""
        callback = opened_by.callback or {}
        if callback.get("type") != 9:
            raise LookupError("that interaction was not answered with a modal")
        modal = callback["data"]
        inputs = {
            c["custom_id"]: c
            for row in modal.get("components", [])
            for c in row.get("components", [])
            if c.get("type") == 4
        }
        rows = []
        for custom_id, value in values.items():
            if custom_id not in inputs:
                raise LookupError(f"the modal has no text input {custom_id!r}")
            limit = inputs[custom_id].get("max_length")
            if limit is not None and len(value) > limit:
                raise LookupError(f"{custom_id} takes at most {limit} characters")
            rows.append({"type": 1, "components": [{"type": 4, "custom_id": custom_id, "value": value}]})
        data = {"custom_id": modal["custom_id"], "components": rows}
        channel = opened_by.payload["channel_id"]
        payload = self._base_interaction(MODAL_SUBMIT, data, user, guild, channel, permissions)
        if "message" in opened_by.payload:
            payload["message"] = self.messages[opened_by.payload["message"]["id"]]
        return payload

    async def react(self, user: FakeUser, guild: FakeGuild, message_id: str, emoji: str = "✅") -> bool:
        """A member adds a standard emoji reaction to a message: MESSAGE_REACTION_ADD
        (https://discord.com/developers/docs/topics/gateway-events#message-reaction-add) with user_id,
        channel_id, message_id, guild_id, the reacting member, message_author_id and the emoji
        ({id: null, name: the character} for a standard emoji). Sent only to a session that asked
        for GUILD_MESSAGE_REACTIONS (1 << 10, https://discord.com/developers/docs/topics/gateway#list-of-intents):
        False when the bot's did not."""
        conn = self.live_connection()
        assert conn.session is not None
        if not conn.session.intents & (1 << 10):
            return False
        message = self.messages[message_id]
        member = {**self._member(user, 0), "roles": list(guild.member_roles.get(user.id, []))}
        member.pop("permissions")
        await conn.dispatch(
            "MESSAGE_REACTION_ADD",
            {
                "user_id": user.id,
                "channel_id": message["channel_id"],
                "message_id": message_id,
                "guild_id": guild.id,
                "member": member,
                "message_author_id": message["author"]["id"],
                "emoji": {"id": None, "name": emoji},
                "burst": False,
                "burst_colors": [],
                "type": 0,
            },
        )
        return True

    async def send_interaction(self, payload: dict[str, Any]) -> Interaction:
        record = Interaction(payload["id"], payload["token"], payload["type"], payload, time.monotonic())
        if payload["type"] in (MESSAGE_COMPONENT, MODAL_SUBMIT) and "message" in payload:
            record.original_id = payload["message"]["id"]
        self.interactions[record.id] = record
        conn = self.live_connection()
        await conn.dispatch("INTERACTION_CREATE", payload)
        return record

    async def drop_connection(self, code: int = 4000, reason: str = "Unknown error.") -> None:
        """Close the bot's websocket as Discord does during an outage; the session stays resumable."""
        await self.live_connection().close(code, reason)

    def live_connection_count(self) -> int:
        return sum(1 for c in self.connections if not c.ws.closed)

    def live_connection(self) -> GatewayConnection:
        live = [c for c in self.connections if c.session is not None and not c.ws.closed]
        if not live:
            raise RuntimeError("no bot is connected to the fake gateway")
        return live[-1]

    # ----------------------------------------------------------------- waiting

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        async def _wait() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(_wait(), timeout)

    async def wait_connected(self, timeout: float = 15.0) -> GatewayConnection:
        result: GatewayConnection = await self.wait_for(
            lambda: next(
                (c for c in reversed(self.connections) if c.identified.is_set() and not c.ws.closed), None
            ),
            timeout,
        )
        return result

    def channel_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == channel_id]

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if self.dm_channels.get(m["channel_id"]) == user_id]

    def original(self, record: Interaction) -> dict[str, Any] | None:
        return self.messages.get(record.original_id) if record.original_id else None

    def followup_messages(self, record: Interaction) -> list[dict[str, Any]]:
        return [self.messages[mid] for mid in record.followups if mid in self.messages]

    def inject_failure(
        self, method: str, path_regex: str, *, status: int = 429, retry_after: float = 0.2, times: int = 1
    ) -> None:
        """Make the next ``times`` matching requests fail (429 with Discord's headers, or a 5xx)."""
        self.failures.append(InjectedFailure(method, re.compile(path_regex), status, retry_after, times))

    # ----------------------------------------------------------------- HTTP plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        self.requests.append((request.method, path))
        if path.startswith(API_PREFIX):
            for failure in self.failures:
                if failure.remaining > 0 and failure.method == request.method and failure.path.search(path):
                    failure.remaining -= 1
                    return self._failure_response(failure)
        authed = path.startswith(API_PREFIX) and not re.match(rf"{API_PREFIX}/(webhooks|interactions)/", path)
        if authed and request.headers.get("Authorization") != f"Bot {self.token}":
            self.rejections.append((request.method, path, 401, 0))
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        try:
            response = await handler(request)
        except DiscordError as exc:
            self.rejections.append((request.method, path, exc.status, exc.code))
            response = exc.response()
        if path.startswith(API_PREFIX) and not response.prepared:
            bucket = hashlib.sha1(
                f"{request.method}{request.match_info.route.resource}".encode()
            ).hexdigest()[:16]
            defaults = {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "4",
                "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
                "X-RateLimit-Reset-After": "1.000",
                "X-RateLimit-Bucket": bucket,
            }
            for name, value in defaults.items():
                response.headers.setdefault(name, value)
        if path.startswith(API_PREFIX):
            await self._notify()
        return response

    def _failure_response(self, failure: InjectedFailure) -> web.Response:
        if failure.status != 429:
            return json_response({"message": "500: Internal Server Error", "code": 0}, status=failure.status)
        body = {"message": "You are being rate limited.", "retry_after": failure.retry_after, "global": False}
        headers = {
            "Retry-After": str(max(1, round(failure.retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + failure.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{failure.retry_after:.3f}",
            "X-RateLimit-Bucket": "injected",
            "X-RateLimit-Scope": "user",
            # Discord's API sits behind Google's frontend; clients treat a 429 without it as Cloudflare's.
            "Via": "1.1 google",
        }
        return json_response(body, status=429, headers=headers)

    async def _json(self, request: web.Request) -> Any:
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            form = await request.post()
            raw = form.get("payload_json")
            if not isinstance(raw, str):
                raise DiscordError(400, 50109, "The request body contains invalid JSON.")
            text = raw
        elif ctype.startswith("application/json"):
            text = await request.text()
        else:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.")
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from exc

    # ----------------------------------------------------------------- REST: identity

    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response(self.bot_user)

    async def _get_application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": self.application_id,
                "name": "postbot",
                "icon": None,
                "description": "",
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.owner.payload(),
                "verify_key": secrets.token_hex(32),
                "team": None,
                "flags": 0,
                "summary": "",
                "interactions_endpoint_url": None,
                "rpc_origins": [],
                "tags": [],
                "redirect_uris": [],
            }
        )

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    # ----------------------------------------------------------------- REST: commands

    def _check_app(self, request: web.Request) -> None:
        if request.match_info["app"] != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")

    def _validate_commands(
        self, body: Any, existing: list[dict[str, Any]], guild_id: str | None
    ) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise invalid_form("_", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        if len(body) > 100:
            raise invalid_form("_", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        by_name = {c["name"]: c for c in existing}
        seen: set[tuple[str, int]] = set()
        out = []
        for i, cmd in enumerate(body):
            ctype = cmd.get("type", 1)
            name = cmd.get("name")
            if not isinstance(name, str) or not _NAME_RE.match(name) or (ctype == 1 and name != name.lower()):
                raise invalid_form(f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if (name, ctype) in seen:
                raise invalid_form(
                    f"{i}.name",
                    "APPLICATION_COMMAND_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            seen.add((name, ctype))
            desc = cmd.get("description", "")
            if ctype == 1 and not (isinstance(desc, str) and 1 <= len(desc) <= 100):
                raise invalid_form(
                    f"{i}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            perms = cmd.get("default_member_permissions")
            # Documented as a bitset string; the API also coerces a JSON integer (discord.py sends one).
            if perms is not None:
                digits = isinstance(perms, str) and perms.isdigit()
                if isinstance(perms, bool) or not (isinstance(perms, int) or digits):
                    raise invalid_form(
                        f"{i}.default_member_permissions", "NUMBER_TYPE_COERCE", "Value is not int."
                    )
                perms = str(perms)
            for key, allowed in (
                ("contexts", (GUILD_CONTEXT, BOT_DM_CONTEXT, PRIVATE_CHANNEL_CONTEXT)),
                ("integration_types", (GUILD_INSTALL, USER_INSTALL)),
            ):
                values = cmd.get(key)
                if values is not None and (
                    not isinstance(values, list) or not values or any(v not in allowed for v in values)
                ):
                    raise invalid_form(f"{i}.{key}", "BASE_TYPE_CHOICES", f"Value must be one of {allowed}.")
            self.deprecated_fields.extend((name, key) for key in DEPRECATED_COMMAND_FIELDS if key in cmd)
            self._validate_options(f"{i}.options", cmd.get("options") or [])
            stored = dict(cmd)
            prev = by_name.get(name)
            stored.update(
                {
                    "id": prev["id"] if prev else self.snowflake(),
                    "application_id": self.application_id,
                    "version": self.snowflake(),
                    "type": ctype,
                    "default_member_permissions": perms,
                    "options": cmd.get("options") or [],
                    "nsfw": bool(cmd.get("nsfw", False)),
                }
            )
            if guild_id:
                stored["guild_id"] = guild_id
            out.append(stored)
        return out

    def _validate_options(
        self, path: str, options: list[dict[str, Any]], *, within: int | None = None
    ) -> None:
        """``within``: the type of the option these are nested in (None: the command itself)."""
        if len(options) > 25:
            raise invalid_form(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        kinds = {o.get("type") for o in options}
        nesting = kinds & set(_NESTING)
        # Subcommands make the base unusable: they can't sit beside plain options (the API answers
        # APPLICATION_COMMAND_OPTIONS_TYPE_INVALID), a group holds subcommands only, and a
        # subcommand holds no subcommand or group (#subcommands-and-subcommand-groups above).
        if (
            (nesting and kinds - set(_NESTING))
            or (within == OPTION_SUB_COMMAND_GROUP and kinds - {OPTION_SUB_COMMAND})
            or (within == OPTION_SUB_COMMAND and nesting)
        ):
            raise invalid_form(
                path,
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command options must be nested correctly",
            )
        seen_optional = False
        for j, opt in enumerate(options):
            where = f"{path}.{j}"
            if (
                not isinstance(opt.get("name"), str)
                or not _NAME_RE.match(opt["name"])
                or opt["name"] != opt["name"].lower()
            ):
                raise invalid_form(
                    f"{where}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            if not (1 <= len(opt.get("description", "")) <= 100):
                raise invalid_form(
                    f"{where}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            if opt.get("type") not in range(1, 12):
                raise invalid_form(f"{where}.type", "BASE_TYPE_CHOICES", "Value must be one of (1..11).")
            if opt.get("required"):
                if seen_optional:
                    raise invalid_form(
                        where,
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
            if opt.get("autocomplete") and opt.get("choices"):
                raise invalid_form(
                    f"{where}.autocomplete",
                    "AUTOCOMPLETE_CHOICES_INVALID",
                    "Autocomplete cannot be set with choices",
                )
            if opt.get("autocomplete") and opt["type"] not in (OPTION_STRING, OPTION_INTEGER, OPTION_NUMBER):
                raise invalid_form(
                    f"{where}.autocomplete",
                    "AUTOCOMPLETE_INVALID_TYPE",
                    "Autocomplete is only valid for string, integer and number",
                )
            if opt["type"] in _NESTING:
                self._validate_options(f"{where}.options", opt.get("options") or [], within=opt["type"])

    async def _put_global_commands(self, request: web.Request) -> web.Response:
        self._check_app(request)
        self.global_commands = self._validate_commands(await self._json(request), self.global_commands, None)
        return json_response(self.global_commands)

    async def _get_global_commands(self, request: web.Request) -> web.Response:
        self._check_app(request)
        return json_response(self.global_commands)

    def _guild(self, guild_id: str) -> FakeGuild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild

    async def _put_guild_commands(self, request: web.Request) -> web.Response:
        self._check_app(request)
        gid = self._guild(request.match_info["guild"]).id
        body = await self._json(request)
        self.guild_commands[gid] = self._validate_commands(body, self.guild_commands.get(gid, []), gid)
        return json_response(self.guild_commands[gid])

    async def _get_guild_commands(self, request: web.Request) -> web.Response:
        self._check_app(request)
        return json_response(self.guild_commands.get(self._guild(request.match_info["guild"]).id, []))

    # ----------------------------------------------------------------- REST: messages

    def _validate_message(
        self, body: dict[str, Any], *, allow_ephemeral: bool, partial: bool = False
    ) -> None:
        content = body.get("content")
        if content is not None and (not isinstance(content, str) or len(content) > 2000):
            raise invalid_form("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        components = body.get("components") or []
        if not partial and not (content or embeds or components or body.get("attachments")):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        if len(embeds) > 10:
            raise invalid_form("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        for i, embed in enumerate(embeds):
            self._validate_embed(f"embeds.{i}", embed)
        if len(components) > 5:
            raise invalid_form("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        custom_ids: set[str] = set()
        for i, row in enumerate(components):
            if row.get("type") != 1:
                raise invalid_form(
                    f"components.{i}.type", "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
                )
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                raise invalid_form(
                    f"components.{i}.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                )
            for j, button in enumerate(children):
                where = f"components.{i}.components.{j}"
                if button.get("type") != 2:
                    continue
                style = button.get("style")
                if style == 5:
                    if not button.get("url") or button.get("custom_id"):
                        raise invalid_form(
                            f"{where}.url", "BUTTON_COMPONENT_URL_REQUIRED", "A url is required"
                        )
                    continue
                cid = button.get("custom_id")
                if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
                    raise invalid_form(
                        f"{where}.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                    )
                if cid in custom_ids:
                    raise invalid_form(
                        f"{where}.custom_id",
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                custom_ids.add(cid)
                if len(button.get("label") or "") > 80:
                    raise invalid_form(
                        f"{where}.label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length."
                    )
        flags = int(body.get("flags") or 0)
        allowed = CHANNEL_MESSAGE_FLAGS | (EPHEMERAL if allow_ephemeral else 0)
        if flags & ~allowed:
            raise invalid_form("flags", "MESSAGE_FLAGS_INVALID", "Invalid message flags")

    def _validate_embed(self, where: str, embed: dict[str, Any]) -> None:
        url = embed.get("url")
        if url is not None and not re.match(r"^https?://", str(url)):
            scheme = str(url).split(":", 1)[0]
            raise invalid_form(
                f"{where}.url",
                "URL_TYPE_INVALID_SCHEME",
                f"Scheme \"{scheme}\" is not supported. Scheme must be one of ('http', 'https').",
            )
        limits = {"title": 256, "description": 4096}
        total = 0
        for key, limit in limits.items():
            value = embed.get(key) or ""
            if len(value) > limit:
                raise invalid_form(
                    f"{where}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                )
            total += len(value)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise invalid_form(f"{where}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for k, f in enumerate(fields):
            name, value = f.get("name") or "", f.get("value") or ""
            if not 1 <= len(name) <= 256:
                raise invalid_form(
                    f"{where}.fields.{k}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 256 in length."
                )
            if not 1 <= len(value) <= 1024:
                raise invalid_form(
                    f"{where}.fields.{k}.value",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1024 in length.",
                )
            total += len(name) + len(value)
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > 2048:
            raise invalid_form(
                f"{where}.footer.text", "BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length."
            )
        total += footer.__len__()
        if total > 6000:
            raise invalid_form(
                where, "MESSAGE_EMBEDS_TOTAL_LENGTH", "Embed size exceeds maximum size of 6000"
            )

    def _store_message(
        self,
        channel_id: str,
        body: dict[str, Any],
        *,
        author: dict[str, Any],
        mtype: int = 0,
        webhook_id: str | None = None,
    ) -> dict[str, Any]:
        message_id = self.snowflake()
        message: dict[str, Any] = {
            "id": message_id,
            "channel_id": channel_id,
            "author": author,
            "content": body.get("content") or "",
            "timestamp": iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": mtype,
            "flags": int(body.get("flags") or 0),
        }
        if webhook_id:
            message["webhook_id"] = webhook_id
            message["application_id"] = self.application_id
        self.messages[message_id] = message
        return message

    def _edit_message(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        self._validate_message(body, allow_ephemeral=True, partial=True)
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["flags"] = int(message.get("flags") or 0) & ~LOADING
        message["edited_timestamp"] = iso()
        return message

    def _interaction_for_token(self, request: web.Request) -> Interaction:
        token = request.match_info["token"]
        record = next((i for i in self.interactions.values() if i.token == token), None)
        if record is None or request.match_info.get("app", self.application_id) != self.application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if time.monotonic() - record.created_at > self.token_lifetime_s:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return record

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        record = self.interactions.get(request.match_info["iid"])
        if record is None or record.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = await self._json(request)
        if record.callback is not None:
            record.rejected_callbacks.append(body)
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.created_at > self.ack_deadline_s:
            record.rejected_callbacks.append(body)
            raise DiscordError(404, 10062, "Unknown interaction")
        ctype = body.get("type")
        if ctype not in ALLOWED_CALLBACKS[record.type]:
            record.rejected_callbacks.append(body)
            raise invalid_form(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
            )
        data = body.get("data") or {}
        channel_id = record.payload["channel_id"]
        author = dict(self.bot_user)
        if ctype == 8:
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                raise invalid_form("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            for k, choice in enumerate(choices):
                name, value = choice.get("name"), choice.get("value")
                if not isinstance(name, str) or not 1 <= len(name) <= 100:
                    raise invalid_form(
                        f"data.choices.{k}.name",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                if isinstance(value, str) and len(value) > 100:
                    raise invalid_form(
                        f"data.choices.{k}.value", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
                    )
        elif ctype == 4:
            self._validate_message(data, allow_ephemeral=True)
            message = self._store_message(
                channel_id, data, author=author, mtype=20, webhook_id=self.application_id
            )
            record.original_id = message["id"]
        elif ctype == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = self._store_message(
                channel_id, {"flags": flags}, author=author, mtype=20, webhook_id=self.application_id
            )
            record.original_id = message["id"]
        elif ctype == 7:
            original = self.original(record)
            assert original is not None
            self._edit_message(original, data)
        record.callback = body
        record.callback_query = dict(request.query)
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        interaction: dict[str, Any] = {"id": record.id, "type": record.type}
        out: dict[str, Any] = {"interaction": interaction}
        if ctype in (4, 5) and record.original_id:
            message = self.messages[record.original_id]
            interaction.update(
                response_message_id=message["id"],
                response_message_loading=ctype == 5,
                response_message_ephemeral=bool(message["flags"] & EPHEMERAL),
            )
            out["resource"] = {"type": ctype, "message": message}
        elif ctype == 7 and record.original_id:
            out["resource"] = {"type": ctype, "message": self.messages[record.original_id]}
        return json_response(out)

    async def _followup(self, request: web.Request) -> web.Response:
        record = self._interaction_for_token(request)
        if record.callback is None:
            # A follow-up needs the interaction to be acknowledged first.
            raise DiscordError(404, 10015, "Unknown Webhook")
        body = await self._json(request)
        self._validate_message(body, allow_ephemeral=True)
        original = self.original(record)
        if original is not None and original["flags"] & LOADING and record.type == APPLICATION_COMMAND:
            # The first follow-up after a deferred response replaces the "thinking..." message and
            # keeps its visibility. Discord still does this but documents editing @original as the
            # way (https://discord.com/developers/docs/interactions/receiving-and-responding
            # #create-followup-message): the fake notes it so a test can hold the bot to that.
            self._edit_message(original, body)
            self.loading_replaced_by_followup.append(original["id"])
            message = original
        else:
            message = self._store_message(
                record.payload["channel_id"],
                body,
                author=dict(self.bot_user),
                mtype=20,
                webhook_id=self.application_id,
            )
        record.followups.append(message["id"])
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(message)
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        record = self._interaction_for_token(request)
        mid = request.match_info["mid"]
        if mid == "@original":
            if record.callback is None or record.original_id is None:
                raise DiscordError(404, 10008, "Unknown Message")
            mid = record.original_id
        elif mid not in record.followups:
            raise DiscordError(404, 10008, "Unknown Message")
        message = self.messages.get(mid)
        if message is None:
            raise DiscordError(404, 10008, "Unknown Message")
        if request.method == "GET":
            return json_response(message)
        if request.method == "PATCH":
            loading = bool(int(message.get("flags") or 0) & LOADING)
            edited = self._edit_message(message, await self._json(request))
            if loading:
                record.answers.append(mid)
            return json_response(edited)
        if request.method == "DELETE":
            self.deleted_messages.append(self.messages.pop(mid))
            return web.Response(status=204)
        raise DiscordError(405, 0, "405: Method Not Allowed")

    async def _create_dm(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        recipient = self.users.get(str(body.get("recipient_id")))
        if recipient is None:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        cid = next((c for c, u in self.dm_channels.items() if u == recipient.id), None) or self.snowflake()
        self.dm_channels[cid] = recipient.id
        return json_response(
            {"id": cid, "type": 1, "last_message_id": None, "flags": 0, "recipients": [recipient.payload()]}
        )

    def _find_channel(self, cid: str) -> tuple[FakeGuild | None, str]:
        if cid in self.dm_channels:
            return None, cid
        for guild in self.guilds.values():
            if cid in guild.channels:
                return guild, cid
        raise DiscordError(404, 10003, "Unknown Channel")

    async def _get_channel(self, request: web.Request) -> web.Response:
        guild, cid = self._find_channel(request.match_info["cid"])
        if guild is None:
            user = self.users[self.dm_channels[cid]]
            return json_response(
                {"id": cid, "type": 1, "last_message_id": None, "recipients": [user.payload()]}
            )
        return json_response(self.channel_payload(guild, cid))

    async def _files(self, request: web.Request, body: dict[str, Any]) -> list[tuple[str, str, bytes]]:
        """The files of a multipart message, as "Uploading Files" has them
        (https://discord.com/developers/docs/reference#uploading-files): the JSON body in
        ``payload_json``, each file in a ``files[n]`` part, and an ``attachments`` entry per file
        whose ``id`` "must match the n in files[n]"
        (https://discord.com/developers/docs/resources/message#attachment-object-attachment-structure).
        An embed may show one of them as ``attachment://<filename>`` ("Using Attachments within
        Embeds", same page): a name that no file has is refused. Returns (n, filename, bytes)."""
        if not request.headers.get("Content-Type", "").startswith("multipart/form-data"):
            files: list[tuple[str, str, bytes]] = []
        else:
            form = await request.post()
            files = []
            for name, value in form.items():
                if name == "payload_json":
                    continue
                matched = re.fullmatch(r"files\[(\d+)\]", name)
                if matched is None or not isinstance(value, web.FileField):
                    raise invalid_form(name, "UNKNOWN_FIELD", f"Unknown multipart field {name}.")
                files.append((matched[1], value.filename, value.file.read()))
        declared = {str(a.get("id")): a for a in body.get("attachments") or []}
        for n, filename, _ in files:
            if n not in declared:
                raise invalid_form(f"attachments.{n}", "ATTACHMENT_NOT_FOUND", "Unknown attachment.")
            if declared[n].get("filename") not in (None, filename):
                raise invalid_form(f"attachments.{n}.filename", "BASE_TYPE_INVALID", "Filename mismatch.")
        names = {filename for _, filename, _ in files}
        for i, embed in enumerate(body.get("embeds") or []):
            for key in ("image", "thumbnail"):
                url = str((embed.get(key) or {}).get("url") or "")
                if url.startswith("attachment://") and url.removeprefix("attachment://") not in names:
                    raise invalid_form(
                        f"embeds.{i}.{key}.url", "URL_TYPE_INVALID_URL", "Not a well formed URL."
                    )
        return files

    async def _channel_message(self, request: web.Request) -> web.Response:
        guild, cid = self._find_channel(request.match_info["cid"])
        body = await self._json(request)
        uploaded = await self._files(request, body)
        self._validate_message(body, allow_ephemeral=False)
        if guild is None and not self.users[self.dm_channels[cid]].dms_open:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        if guild is not None and cid in guild.hidden_from_bot:
            raise DiscordError(403, 50001, "Missing Access")
        reference = body.get("message_reference")
        mtype = 0
        if reference is not None:
            # A reply (https://discord.com/developers/docs/resources/message#message-reference-structure):
            # a referenced message that does not exist fails the send unless fail_if_not_exists is
            # false, in which case the message goes out as a plain one.
            target = self.messages.get(str(reference.get("message_id")))
            in_channel = target is not None and target["channel_id"] == str(
                reference.get("channel_id") or cid
            )
            if not in_channel:
                if reference.get("fail_if_not_exists", True):
                    raise invalid_form(
                        "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                    )
                reference = None
            else:
                mtype = 19
        message = self._store_message(cid, body, author=dict(self.bot_user), mtype=mtype)
        for _, filename, data in uploaded:
            kind = "image/png" if data.startswith(b"\x89PNG\r\n\x1a\n") else "application/octet-stream"
            att = self.upload_attachment(cid, filename, data, kind)
            message["attachments"].append(self.attachment_payload(att) | {"ephemeral": False})
        if reference is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reference["message_id"]),
                "channel_id": cid,
            }
        return json_response(message)

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        """https://discord.com/developers/docs/resources/message#edit-message: only the author
        edits content (50005 otherwise); an unknown message is 10008."""
        _guild, cid = self._find_channel(request.match_info["cid"])
        now = time.monotonic()
        window = [t for t in self._edits.get(cid, []) if t > now - self.edit_window_s]
        self._edits[cid] = window
        reset_after = (window[0] + self.edit_window_s - now) if window else self.edit_window_s
        limit_headers = {
            "X-RateLimit-Limit": str(self.edit_limit),
            "X-RateLimit-Bucket": f"edit-{cid}",
        }
        if len(window) >= self.edit_limit:
            self.edit_rate_limited.append(request.match_info["mid"])
            body = {
                "message": "You are being rate limited.",
                "retry_after": round(reset_after, 3),
                "global": False,
            }
            headers = {
                **limit_headers,
                "Retry-After": str(max(1, round(reset_after))),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Scope": "user",
                "Via": "1.1 google",
            }
            return json_response(body, status=429, headers=headers)
        message = self.messages.get(request.match_info["mid"])
        if message is None or message["channel_id"] != cid:
            raise DiscordError(404, 10008, "Unknown Message")
        if message["author"]["id"] != self.bot_user["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        body = await self._json(request)
        edited = self._edit_message(message, body)
        self.channel_edits.append((message["id"], body))
        window.append(now)
        headers = {
            **limit_headers,
            "X-RateLimit-Remaining": str(self.edit_limit - len(window)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        return json_response(edited, headers=headers)

    # ----------------------------------------------------------------- CDN

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        att = self.attachments.get(request.match_info["aid"])
        gone = web.Response(status=404, text="This content is no longer available.")
        if (
            att is None
            or request.match_info["cid"] != att.channel_id
            or request.match_info["name"] != att.filename
        ):
            return gone
        q = request.query
        try:
            expires, issued = int(q["ex"], 16), int(q["is"], 16)
        except (KeyError, ValueError):
            return gone
        signature = self._cdn_signature(att, issued)
        if (
            expires != att.expires_at
            or not hmac.compare_digest(signature, q.get("hm", ""))
            or expires < time.time()
        ):
            return gone
        self.cdn_requests.append(att.id)
        response = web.StreamResponse(
            headers={"Content-Type": att.content_type, "Content-Length": str(len(att.data))}
        )
        await response.prepare(request)
        pieces = range(0, len(att.data), 64 * 1024)
        for start in pieces:
            if self.cdn_seconds:
                await asyncio.sleep(self.cdn_seconds / len(pieces))
            await response.write(att.data[start : start + 64 * 1024])
        await response.write_eof()
        return response

    # ----------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("v") != "10" or request.query.get("encoding", "json") != "json":
            return web.Response(status=400, text="invalid gateway version or encoding")
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            return web.Response(status=400, text="unsupported transport compression")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4096 * 1024)
        await ws.prepare(request)
        conn = GatewayConnection(self, ws, compress == "zlib-stream")
        self.connections.append(conn)
        try:
            await conn.run()
        finally:
            await self._notify()
        return ws


async def _serve(port: int) -> None:
    fake = FakeDiscord()
    guild = fake.add_guild("postbot test server")
    await serve_forever(
        fake,
        port,
        lambda: (
            f"API     {fake.api_base_url}\nGATEWAY {fake.gateway_url}\n"
            f"TOKEN   {fake.token}\nGUILD   {guild.id}"
        ),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve a fake Discord API + gateway on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(_serve(parser.parse_args().port))
