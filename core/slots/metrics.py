"""Reading a published post's results (~24 h after it went out) so history.py can learn from them.

Only YouTube has a reader so far (videos.list part=statistics, 1 quota unit per call of up to 50
ids). A reader per platform plugs into `collect_due_metrics`, which the scheduler process runs
periodically; running it in two processes at once only writes the same numbers twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import ScheduledPost, SocialAccount
from core.domain import Platform, PostStatus
from core.publishers.base import PublishError, TokenSource
from core.publishers.http import send_authorized, transport_error
from core.publishers.youtube import DEFAULT_BASE_URL as YOUTUBE_BASE_URL
from core.publishers.youtube import google_error
from core.scheduler.processor import TokenFactory

log = logging.getLogger(__name__)

# Results settle after about a day; after a week a post that still has none is left alone.
SETTLE = timedelta(hours=24)
GIVE_UP = timedelta(days=7)
YOUTUBE_IDS_PER_CALL = 50


@dataclass(frozen=True)
class Metrics:
    views: int | None
    likes: int | None
    comments: int | None


class MetricsReader(Protocol):
    platform: Platform

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        """Metrics per remote id; ids the platform no longer knows are simply absent."""
        ...


def _count(value: object) -> int | None:
    # The Data API sends counts as strings, and leaves likeCount out when likes are hidden.
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


class YouTubeMetrics:
    platform = Platform.YOUTUBE

    def __init__(self, http: httpx.AsyncClient, base_url: str | None = None) -> None:
        self.http = http
        self.base_url = (base_url or YOUTUBE_BASE_URL).rstrip("/")

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for start in range(0, len(remote_ids), YOUTUBE_IDS_PER_CALL):
            batch = remote_ids[start : start + YOUTUBE_IDS_PER_CALL]

            # videos.list by id takes up to 50 ids and no maxResults (that is for myRating/chart).
            async def send(token: str, batch: Sequence[str] = batch) -> httpx.Response:
                return await self.http.get(
                    f"{self.base_url}/youtube/v3/videos",
                    params={"part": "statistics", "id": ",".join(batch)},
                    headers={"Authorization": f"Bearer {token}"},
                )

            try:
                response = await send_authorized(tokens, send)
            except httpx.TransportError as exc:
                raise transport_error(exc) from None
            if response.status_code != 200:
                raise google_error(response, "videos.list")
            for item in response.json().get("items", []):
                stats = item.get("statistics") or {}
                found[str(item["id"])] = Metrics(
                    _count(stats.get("viewCount")),
                    _count(stats.get("likeCount")),
                    _count(stats.get("commentCount")),
                )
        return found


async def collect_due_metrics(
    sessions: async_sessionmaker[AsyncSession],
    readers: Mapping[Platform, MetricsReader],
    tokens_for: TokenFactory,
    now: datetime,
    *,
    limit: int = 500,
) -> int:
    """Fetch results for posts published 24 h to 7 days ago that have none yet; returns how many
    posts were settled (a post the platform no longer has is settled with no numbers)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(ScheduledPost.id, ScheduledPost.remote_id, SocialAccount)
                .join(SocialAccount, ScheduledPost.account_id == SocialAccount.id)
                .where(
                    ScheduledPost.status == PostStatus.PUBLISHED.value,
                    ScheduledPost.platform.in_([p.value for p in readers]),
                    ScheduledPost.metrics_fetched_at.is_(None),
                    ScheduledPost.remote_id.is_not(None),
                    ScheduledPost.published_at <= now - SETTLE,
                    ScheduledPost.published_at >= now - GIVE_UP,
                )
                .order_by(ScheduledPost.published_at)
                .limit(limit)
            )
        ).all()
    by_account: dict[int, tuple[SocialAccount, list[tuple[int, str]]]] = {}
    for post_id, remote_id, account in rows:
        by_account.setdefault(account.id, (account, []))[1].append((post_id, str(remote_id)))
    settled = 0
    for account, posts in by_account.values():
        reader = readers[Platform(account.platform)]
        try:
            found = await reader.read(tokens_for(account), [remote for _, remote in posts])
        except PublishError as exc:
            # Left for the next run; the message is the platform's, never a token.
            log.warning("metrics for account %s not read: %s", account.id, exc)
            continue
        settled += await _store(sessions, posts, found, now)
    return settled


async def _store(
    sessions: async_sessionmaker[AsyncSession],
    posts: list[tuple[int, str]],
    found: dict[str, Metrics],
    now: datetime,
) -> int:
    nothing = Metrics(None, None, None)
    async with sessions.begin() as session:
        for post_id, remote_id in posts:
            post = await session.get(ScheduledPost, post_id)
            if post is None or post.metrics_fetched_at is not None:
                continue
            m = found.get(remote_id, nothing)
            post.views, post.likes, post.comments = m.views, m.likes, m.comments
            post.metrics_fetched_at = now
    return len(posts)
