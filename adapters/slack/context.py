"""Who is asking, as the core sees it: Slack ids plus the user's zone and role from ``users.info``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.web.async_client import AsyncWebClient

from core.domain import ChatContext, ChatKind


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
        )


def _known_zone(tz: str | None) -> str | None:
    if not tz:
        return None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return tz
