"""Who is asking, as the core sees it: Slack ids plus the user's zone and role from ``users.info``."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.domain import ChatContext, ChatKind

log = logging.getLogger(__name__)
# 200 a page, as Slack recommends: a member in more than 2,000 channels sees the first 2,000's posts.
_MAX_PAGES = 10


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str | None
    tz: str | None
    is_admin: bool


class Directory:
    """``users.info`` answers, kept for a few minutes: a busy channel asks about the same people again
    and again, and ``users.info`` is a rate-limited (tier 4) method."""

    def __init__(self, client: AsyncWebClient, admin_ids: set[str], *, ttl_s: float = 600.0) -> None:
        self.client = client
        self.admin_ids = admin_ids
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, SlackUser]] = {}
        self._channels: dict[str, tuple[float, frozenset[str]]] = {}
        # (when it expires, group id → its members): one usergroups.list answers for everyone.
        self._groups: tuple[float, dict[str, frozenset[str]]] | None = None
        self._groups_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}

    async def user(self, user_id: str) -> SlackUser:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            cached = self._cache.get(user_id)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            response = await self.client.users_info(user=user_id)
            data = response["user"]
            profile = data.get("profile") or {}
            user = SlackUser(
                id=user_id,
                name=profile.get("display_name") or data.get("name"),
                tz=_known_zone(data.get("tz")),
                # Workspace admins and owners administer postbot, as do ids listed in the config.
                is_admin=bool(data.get("is_admin") or data.get("is_owner") or user_id in self.admin_ids),
            )
            self._cache[user_id] = (time.monotonic() + self.ttl_s, user)
            return user

    async def channels(self, user_id: str) -> frozenset[str]:
        """The channels postbot and ``user_id`` are both in: with a bot token, users.conversations
        "filters to conversations your bot shares with that user", private channels included
        (https://docs.slack.dev/reference/methods/users.conversations, token support; channels:read
        and groups:read). An app installed before those scopes gets ``missing_scope``: then none,
        and listings show the user only their own posts. Kept as long as users.info answers (Tier 3)."""
        cached = self._channels.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found: set[str] = set()
        cursor = ""
        try:
            for _ in range(_MAX_PAGES):
                page = await self.client.users_conversations(
                    user=user_id,
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=200,
                    cursor=cursor or None,
                )
                found |= {str(c["id"]) for c in page.get("channels") or []}
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
                if not cursor:
                    break
        except SlackApiError as exc:
            log.warning("users.conversations failed", extra={"error": exc.response.get("error")})
            return frozenset()
        channels = frozenset(found)
        self._channels[user_id] = (time.monotonic() + self.ttl_s, channels)
        return channels

    async def group_members(self) -> dict[str, frozenset[str]]:
        """Every user group of the workspace and its members: usergroups.list with include_users
        (https://docs.slack.dev/reference/methods/usergroups.list, usergroups:read; Tier 2), kept
        as long as users.info answers. An approval rule may name a group; a workspace without
        groups (a free plan) or an install without the scope has none, and only named people or
        admins approve there."""
        async with self._groups_lock:
            if self._groups is not None and self._groups[0] > time.monotonic():
                return self._groups[1]
            try:
                answer = await self.client.usergroups_list(include_users=True)
                found = {
                    str(g["id"]): frozenset(str(u) for u in g.get("users") or [])
                    for g in answer.get("usergroups") or []
                }
            except SlackApiError as exc:
                log.warning("usergroups.list failed", extra={"error": exc.response.get("error")})
                found = {}
            self._groups = (time.monotonic() + self.ttl_s, found)
            return found

    async def groups(self, user_id: str) -> frozenset[str]:
        """The user groups ``user_id`` is in."""
        return frozenset(g for g, members in (await self.group_members()).items() if user_id in members)

    async def context(
        self,
        *,
        team_id: str,
        user_id: str,
        channel_id: str | None,
        thread_ts: str | None = None,
        request_id: str | None = None,
        team_name: str | None = None,
    ) -> ChatContext:
        user = await self.user(user_id)
        groups = await self.groups(user_id)
        return ChatContext(
            chat=ChatKind.SLACK,
            team_id=team_id,
            user_id=user_id,
            channel_id=channel_id,
            thread_id=thread_ts,
            team_name=team_name,
            user_name=user.name,
            user_tz=user.tz,
            is_admin=user.is_admin,
            request_id=request_id,
            groups=groups,
        )


def _known_zone(tz: str | None) -> str | None:
    if not tz:
        return None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return tz
