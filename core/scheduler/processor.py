"""Publishing claimed posts: one post per task, outcome written to the row, then told to chat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from core.config import SchedulerSettings
from core.db.models import ScheduledPost, SocialAccount
from core.domain import MediaInfo, Platform, PostStatus
from core.notify import ResultNotifier
from core.publishers.base import (
    PermanentError,
    Publisher,
    PublishError,
    PublishJob,
    PublishResult,
    TokenSource,
)
from core.queue.posts import to_view
from core.scheduler import claim
from core.scheduler.retry import RetryPolicy

log = logging.getLogger(__name__)

TokenFactory = Callable[[SocialAccount], TokenSource]


class PublisherLookup(Protocol):
    """What the processor needs from the publisher registry."""

    def get(self, platform: Platform) -> Publisher: ...

    def retry_policy(self, platform: Platform) -> RetryPolicy: ...


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class PostProcessor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publishers: PublisherLookup,
        notifier: ResultNotifier,
        settings: SchedulerSettings,
        *,
        tokens_for: TokenFactory | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.publishers = publishers
        self.notifier = notifier
        self.settings = settings
        self.tokens_for = tokens_for
        self.worker_id = worker_id or settings.worker_id or default_worker_id()
        self.clock = clock
        self.lease = timedelta(seconds=settings.lease_s)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def claim(self, limit: int) -> list[int]:
        async with self.sessions.begin() as session:
            return await claim.claim_due(
                session, worker_id=self.worker_id, now=self.clock(), lease=self.lease, limit=limit
            )

    async def run_due(self) -> int:
        """Publish everything due now, keeping at most ``max_in_flight`` uploads going."""
        processed = 0
        while True:
            capacity = self.settings.max_in_flight - len(self._tasks)
            ids = await self.claim(min(capacity, self.settings.batch_size)) if capacity > 0 else []
            for post_id in ids:
                task = asyncio.create_task(self.process(post_id), name=f"publish-{post_id}")
                self._tasks.add(task)
            if not self._tasks:
                return processed
            if ids and len(self._tasks) < self.settings.max_in_flight:
                continue
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            self._tasks.difference_update(done)
            processed += len(done)

    async def stop(self) -> None:
        """Cancel uploads in progress and hand their posts back to the queue."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        async with self.sessions.begin() as session:
            released = await claim.release_claims(session, worker_id=self.worker_id)
        if released:
            log.info("released claims", extra={"count": released, "worker": self.worker_id})

    async def _load(self, session: AsyncSession, post_id: int) -> ScheduledPost | None:
        query = (
            select(ScheduledPost)
            .options(
                selectinload(ScheduledPost.team),
                selectinload(ScheduledPost.author),
                selectinload(ScheduledPost.media),
            )
            .where(ScheduledPost.id == post_id)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def process(self, post_id: int) -> None:
        try:
            await self._process(post_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug must not kill the worker loop; the lease makes the post come back.
            log.exception("processing failed", extra={"post_id": post_id})

    async def _process(self, post_id: int) -> None:
        async with self.sessions() as session:
            post = await self._load(session, post_id)
            if post is None or post.status != PostStatus.RUNNING.value or post.claimed_by != self.worker_id:
                return
            account = await session.get(SocialAccount, post.account_id) if post.account_id else None
        platform = Platform(post.platform)
        state = dict(post.upload_state or {})
        if state.get("remote_id"):
            # An earlier attempt published and died before recording it: finish, don't repost.
            result = PublishResult(remote_id=str(state["remote_id"]), url=state.get("remote_url"))
            await self._succeed(post_id, result)
            return
        try:
            publisher = self.publishers.get(platform)
            tokens = None
            if publisher.requires_account:
                if account is None or self.tokens_for is None:
                    raise PermanentError(
                        f"no {platform.label} account is linked",
                        hint=f"An admin can link one with /link {platform.value}, then schedule again.",
                    )
                tokens = self.tokens_for(account)
            job = PublishJob(
                post_id=post.id,
                platform=platform,
                idempotency_key=post.idempotency_key,
                caption=post.caption,
                title=post.title,
                media=MediaInfo(
                    path=post.media.path,
                    sha256=post.media.sha256,
                    size_bytes=post.media.size_bytes,
                    mime=post.media.mime,
                    original_name=post.media.original_name,
                    duration_s=post.media.duration_s,
                    width=post.media.width,
                    height=post.media.height,
                ),
                tokens=tokens,
                upload_state=state,
                save_state=lambda s: self._save_state(post_id, s),
                scheduled_for=post.run_at,
            )
            result = await self._with_lease(post_id, publisher.publish(job))
        except PublishError as exc:
            await self._fail(post_id, platform, exc)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("publisher crashed", extra={"post_id": post_id, "platform": platform.value})
            await self._fail(platform=platform, post_id=post_id, exc=_unexpected(exc))
            return
        await self._succeed(post_id, result)

    async def _with_lease(self, post_id: int, work: Any) -> PublishResult:
        """Run the upload while renewing the lease, so a long upload is not taken over midway."""
        task: asyncio.Task[PublishResult] = asyncio.ensure_future(work)
        interval = max(0.05, self.settings.lease_s / 3)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=interval)
                if done:
                    return task.result()
                async with self.sessions.begin() as session:
                    kept = await claim.extend_lease(
                        session, post_id=post_id, worker_id=self.worker_id, until=self.clock() + self.lease
                    )
                if not kept:
                    task.cancel()
                    raise asyncio.CancelledError(f"lease on post {post_id} lost")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _save_state(self, post_id: int, state: dict[str, Any]) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(ScheduledPost)
                .where(ScheduledPost.id == post_id, ScheduledPost.claimed_by == self.worker_id)
                .values(upload_state=state)
                .execution_options(synchronize_session=False)
            )

    async def _succeed(self, post_id: int, result: PublishResult) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            post = await self._load(session, post_id)
            if post is None:
                return
            state = dict(post.upload_state or {})
            state.update(remote_id=result.remote_id, remote_url=result.url)
            post.upload_state = state
            post.status = PostStatus.PUBLISHED.value
            post.remote_id = result.remote_id
            post.remote_url = result.url
            post.published_at = now
            post.last_error = None
            post.error_hint = None
            post.claimed_by = None
            post.lease_until = None
            view = to_view(post)
        log.info(
            "published",
            extra={
                "post_id": post_id,
                "platform": view.platform.value,
                "lateness_s": round((now - view.run_at).total_seconds(), 3),
            },
        )
        await self._notify(post_id, failed=False)

    async def _fail(self, post_id: int, platform: Platform, exc: PublishError) -> None:
        policy = self.publishers.retry_policy(platform)
        now = self.clock()
        async with self.sessions.begin() as session:
            post = await self._load(session, post_id)
            if post is None or post.claimed_by != self.worker_id:
                return
            post.last_error = exc.message
            post.error_hint = exc.hint
            post.claimed_by = None
            post.lease_until = None
            retry = exc.transient and not policy.exhausted(post.attempts)
            if retry:
                delay = policy.delay(post.attempts, exc.retry_after)
                post.status = PostStatus.QUEUED.value
                post.due_at = now + timedelta(seconds=delay)
            else:
                post.status = PostStatus.FAILED.value
        log.warning(
            "publish failed",
            extra={"post_id": post_id, "platform": platform.value, "retry": retry, "error": exc.message},
        )
        if not retry:
            await self._notify(post_id, failed=True)

    async def _notify(self, post_id: int, *, failed: bool) -> None:
        """Tell chat after the outcome is stored; a notifier outage is retried by ``renotify``."""
        async with self.sessions() as session:
            post = await self._load(session, post_id)
            if post is None or post.notified_at is not None:
                return
            view = to_view(post)
        try:
            await self.notifier.post_result(view)
            if failed:
                await self.notifier.dm_failure(view)
        except Exception:
            log.exception("notifying chat failed", extra={"post_id": post_id})
            return
        async with self.sessions.begin() as session:
            await session.execute(
                update(ScheduledPost)
                .where(ScheduledPost.id == post_id)
                .values(notified_at=self.clock())
                .execution_options(synchronize_session=False)
            )

    async def renotify(self, *, within: timedelta = timedelta(days=1)) -> int:
        """Deliver outcomes whose notification failed earlier."""
        since = self.clock() - within
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(ScheduledPost.id, ScheduledPost.status).where(
                        ScheduledPost.status.in_([PostStatus.PUBLISHED.value, PostStatus.FAILED.value]),
                        ScheduledPost.notified_at.is_(None),
                        ScheduledPost.updated_at >= since,
                    )
                )
            ).all()
        for post_id, status in rows:
            await self._notify(post_id, failed=status == PostStatus.FAILED.value)
        return len(rows)


def _unexpected(exc: Exception) -> PublishError:
    from core.publishers.base import TransientError

    return TransientError(f"internal error while publishing ({type(exc).__name__})")
