"""Reading a published post's results (~24 h after it went out) so history.py can learn from them.

Each platform that has a reader keeps it in core/platforms/<name>/results.py (the registry's
``results``); they plug into `collect_due_metrics`, which the scheduler process runs periodically;
running it in two processes at once only writes the same numbers twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import ScheduledPost, SocialAccount
from core.domain import Platform, PostStatus
from core.platforms.results import Metrics, MetricsReader, missing_scopes
from core.publishers.base import PublishError
from core.scheduler.processor import TokenFactory
from core.store.accounts import posting_account

log = logging.getLogger(__name__)

# Results settle after about a day; after a week a post that still has none is left alone.
SETTLE = timedelta(hours=24)
GIVE_UP = timedelta(days=7)


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
        if missing_scopes(reader, account.scopes):
            # Linked before the reader needed these (or the app cannot get them): asking would only
            # be refused. Its posts stay without results until the account is relinked.
            continue
        try:
            found = await reader.read(tokens_for(posting_account(account)), [remote for _, remote in posts])
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
