"""Publishing claimed posts: one task per post, outcome written to the row, then told to chat.

The hot path per batch of posts: one claiming transaction (claim + one joined read), the publishes
(concurrently, up to ``max_in_flight``), one lease renewal statement per interval for everything in
flight, and group-committed outcome writes. Nothing is re-read per post.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from core import metrics
from core.alerts import Alerter
from core.config import PlatformsSettings, SchedulerSettings
from core.domain import MediaInfo, Platform, PostingAccount, PostStatus, PostView
from core.errors import DISK_FULL, DISK_FULL_HINT, ChannelUnreachable, MediaError, is_disk_full
from core.logs import post_context
from core.media import validation
from core.media.cache import MediaCache
from core.media.conversions import Converter
from core.media.probe import probe
from core.media.storage import MediaStorage
from core.media.storage.post_links import PostMediaLinks
from core.notify import NoNotifier, ResultNotifier
from core.progress import Progress, ProgressRelay, Stage
from core.publishers.base import (
    PermanentError,
    Publisher,
    PublishError,
    PublishJob,
    PublishResult,
    TokenSource,
    TransientError,
)
from core.scheduler.breaker import BreakerKey, Breakers, BreakerState
from core.scheduler.limits import Limits
from core.scheduler.outcomes import OutcomeWriter
from core.scheduler.retry import RetryPolicy
from core.store.breakers import BreakerChange, BreakerStore
from core.store.buckets import SharedBuckets
from core.store.queue import (
    ClaimedPost,
    Deferred,
    Failed,
    Lease,
    LeaseLost,
    Notified,
    PostQueue,
    Published,
    Retry,
    Sessions,
)

log = logging.getLogger(__name__)

TokenFactory = Callable[[PostingAccount], TokenSource]


class PublisherLookup(Protocol):
    """What the processor needs from the publisher registry."""

    def get(self, platform: Platform) -> Publisher: ...

    def retry_policy(self, platform: Platform) -> RetryPolicy: ...


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _log_fields(post: ClaimedPost) -> dict[str, Any]:
    """What every log record about ``post`` carries (core.logs.post_context)."""
    return {
        "post_id": post.id,
        "platform": post.platform.value,
        "team": post.team_external_id,
        "attempt": post.attempts,
    }


class Postponed(Exception):
    """Put the work (a post, a results read) back at ``due_at`` without spending an attempt."""

    def __init__(self, due_at: datetime, reason: str) -> None:
        self.due_at = due_at
        self.reason = reason


_Defer = Postponed


class PostProcessor:
    def __init__(
        self,
        sessions: Sessions,
        publishers: PublisherLookup,
        notifier: ResultNotifier,
        settings: SchedulerSettings,
        *,
        platforms: PlatformsSettings | None = None,
        tokens_for: TokenFactory | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        converter: Converter | None = None,
        alerter: Alerter | None = None,
        storage: MediaStorage | None = None,
        shared_buckets: SharedBuckets | None = None,
        media_links: PostMediaLinks | None = None,
        progress: ProgressRelay | None = None,
        cache: MediaCache | None = None,
    ) -> None:
        # Live upload progress in chat (None: none shown).
        self.progress = progress
        # Turns a queued file into the one its platform takes (None: files go out as they are).
        self.converter = converter
        # This machine's copies of bucket videos for the probe and the converter (core/media/cache.py).
        if cache is None and converter is not None:
            cache = MediaCache(converter.root.parent / "cache")
        self.cache = cache
        self.alerter = alerter
        # Where publishers read videos from; None reads ``media.path`` as a local file (tests).
        self.storage = storage
        # Rate limits kept in the database for every worker at once; None: this worker's own buckets.
        self.shared_buckets = shared_buckets
        # Each post's own link to its video, for platforms that fetch it (None: no signing secret).
        self.media_links = media_links
        self.publishers = publishers
        self.notifier = notifier
        self.settings = settings
        self.tokens_for = tokens_for
        self.worker_id = worker_id or settings.worker_id or default_worker_id()
        self.clock = clock
        self.monotonic = monotonic
        self.lease = timedelta(seconds=settings.lease_s)
        # Shared by the fleet through the database; read through a short cache, not per post.
        self.breakers = Breakers(
            BreakerStore(sessions),
            threshold=settings.breaker_threshold,
            open_s=settings.breaker_open_s,
            cache_s=settings.breaker_cache_s,
            # A probe that runs this long without an answer lets another worker probe: its worker died.
            probe_s=max(settings.breaker_open_s, settings.lease_s),
            clock=monotonic,
        )
        self.limits = Limits(platforms, monotonic)
        # Every read and write on the queue: the scheduler itself holds no SQL.
        self.queue = PostQueue(sessions, self.worker_id)
        self.outcomes = OutcomeWriter(self.queue)
        # Publishing tasks by post id; ``_finishing`` are past the publish and only record/notify.
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._leases: dict[int, Lease] = {}
        self._finishing: set[int] = set()
        self._claimed: dict[int, ClaimedPost] = {}
        # What the platform answered, kept until the outcome is stored: a failure after the publish
        # must record the publish, never a retry that would post twice.
        self._results: dict[int, PublishResult] = {}
        self._slot_freed = asyncio.Event()
        # Posts whose processing ended (any outcome) since this processor started.
        self.completed = 0
        self._keeper: asyncio.Task[None] | None = None
        self._stopping = False
        self._hurry = asyncio.Event()
        # Cleared while a claim is in progress: a stop waits for it, so what it took is handed back.
        self._not_claiming = asyncio.Event()
        self._not_claiming.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def claim(self, limit: int) -> list[ClaimedPost]:
        return await self.queue.claim(now=self.clock(), lease=self.lease, limit=limit)

    async def run_due(self) -> int:
        """Publish everything due now, keeping at most ``max_in_flight`` uploads going.

        Cancelling this call is what a crash looks like to the queue: the uploads stop and their
        leases are left to expire. ``stop`` is the graceful way out.
        """
        completed_before = self.completed
        max_in_flight = self.settings.max_in_flight
        # Refill in sizeable batches: one claim statement per many posts, not one per finished post.
        refill_at = max(1, min(self.settings.batch_size, max_in_flight // 4))
        self._ensure_keeper()
        try:
            while not self._stopping:
                capacity = max_in_flight - len(self._tasks)
                if capacity >= refill_at or (capacity > 0 and not self._tasks):
                    limit = min(capacity, self.settings.batch_size)
                    self._not_claiming.clear()
                    try:
                        posts = await self.claim(limit)
                    finally:
                        self._not_claiming.set()
                    if self._stopping:
                        break  # claimed while stopping: stop() hands them back unstarted
                    for post in posts:
                        self._start(post)
                    if len(posts) == limit and len(self._tasks) < max_in_flight:
                        continue  # more may be due and there is room: claim again right away
                if not self._tasks:
                    return self.completed - completed_before
                self._slot_freed.clear()
                await self._slot_freed.wait()
            return self.completed - completed_before
        except asyncio.CancelledError:
            self._abandon()
            raise

    def _start(self, post: ClaimedPost) -> None:
        task = asyncio.create_task(self.process(post), name=f"publish-{post.id}")
        self._tasks[post.id] = task
        self._claimed[post.id] = post
        self._leases[post.id] = post.lease(self.worker_id)
        metrics.IN_FLIGHT.inc()
        task.add_done_callback(functools.partial(self._done, post.id))

    def _done(self, post_id: int, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(post_id, None)
        self._claimed.pop(post_id, None)
        self._leases.pop(post_id, None)
        self._results.pop(post_id, None)
        self._finishing.discard(post_id)
        if self.progress is not None:
            self.progress.forget(post_id)
        metrics.IN_FLIGHT.dec()
        self.completed += 1
        self._slot_freed.set()

    def _abandon(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._keeper is not None:
            self._keeper.cancel()

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop claiming; give uploads in progress ``grace_s`` to finish (``hurry`` ends the wait
        early), cancel the rest, let recorded outcomes finish and hand what is left back."""
        self._stopping = True
        self._slot_freed.set()  # run_due sees the stop at once rather than at the next finished post
        if grace_s > 0 and self._tasks:
            log.info(
                "stopping: waiting for uploads in progress",
                extra={"count": len(self._tasks), "grace_s": grace_s, "worker": self.worker_id},
            )
            deadline = self.monotonic() + grace_s
            hurried = asyncio.ensure_future(self._hurry.wait())
            try:
                while self._tasks and not self._hurry.is_set():
                    left = deadline - self.monotonic()
                    if left <= 0:
                        break
                    await asyncio.wait(
                        {*self._tasks.values(), hurried}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                    )
            finally:
                hurried.cancel()
        for post_id, task in list(self._tasks.items()):
            if post_id not in self._finishing:
                task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        await self.outcomes.close()
        if self.progress is not None:
            # The final states, paced per chat lane: a stop waits one chat call's timeout for them.
            await self.progress.drain(within_s=self.progress.timeout_s)
        await self._not_claiming.wait()
        released = await self.queue.release()
        if released:
            log.info("released claims", extra={"count": released, "worker": self.worker_id})

    def hurry(self) -> None:
        """End ``stop``'s grace now: the uploads still going are handed back (a second signal)."""
        self._hurry.set()

    # -- leases -------------------------------------------------------------------------------

    def _ensure_keeper(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep_leases(), name=f"leases-{self.worker_id}")

    async def _keep_leases(self) -> None:
        """Renew every lease in flight with one statement per interval; cancel uploads we lost."""
        interval = max(0.05, self.settings.lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            ids = [pid for pid in self._tasks if pid not in self._finishing and pid in self._leases]
            if not ids:
                continue
            try:
                kept = await self.queue.renew(
                    [self._leases[pid] for pid in ids], until=self.clock() + self.lease
                )
            except Exception:
                log.exception("renewing leases failed")
                continue
            for pid in ids:
                task = self._tasks.get(pid)
                if pid not in kept and task is not None and pid not in self._finishing:
                    post = self._claimed.get(pid)
                    with post_context(**_log_fields(post)) if post else contextlib.nullcontext():
                        log.warning("lease lost, stopping upload", extra={"post_id": pid})
                    task.cancel()

    # -- one post ------------------------------------------------------------------------------

    async def process(self, post: ClaimedPost) -> None:
        # Every record logged below (publisher and HTTP client included) says which post it is about.
        try:
            with post_context(**_log_fields(post)):
                await self._process(post)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            # Another worker owns the post now: it publishes it and reports it; we only step aside.
            log.warning("lease lost, stopping upload", extra={"post_id": post.id})
        except Exception as exc:
            # A bug must not kill the worker loop, nor leave the post running until its lease ends.
            with post_context(**_log_fields(post)):
                log.exception("processing failed")
                await self._record_crash(post, exc)

    async def _record_crash(self, post: ClaimedPost, exc: Exception) -> None:
        """Store an outcome for a post whose processing raised: what was published is recorded as
        published; anything else is retried like a transient error (and fails once retries run out)."""
        self._finishing.add(post.id)
        try:
            result = self._results.get(post.id)
            if result is not None:
                await self._succeed(post, result)
            elif is_disk_full(exc):
                await self._fail(post, TransientError(DISK_FULL, hint=DISK_FULL_HINT))
            else:
                await self._fail(post, TransientError(f"internal error ({type(exc).__name__})"))
        except Exception:
            # The database itself is failing: nothing can be stored; the lease hands the post back.
            log.exception("recording the outcome failed; the post returns when its lease ends")

    async def _process(self, post: ClaimedPost) -> None:
        platform = post.platform.value
        if post.upload_state.get("remote_id"):
            # An earlier attempt published and died before recording it: finish, don't repost.
            state = post.upload_state
            result = PublishResult(remote_id=str(state["remote_id"]), url=state.get("remote_url"))
            await self._succeed(post, result)
            return
        try:
            post = await self._media_for(post)
        except MediaError as exc:
            self._finishing.add(post.id)
            await self._fail(post, PermanentError(exc.message, hint=exc.hint))
            return
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            # The bucket or the converter failing now (a dropped connection, a full disk) says
            # nothing about the video: try again later.
            log.warning("preparing the video failed", exc_info=True)
            self._finishing.add(post.id)
            failure = (
                TransientError(DISK_FULL, hint=DISK_FULL_HINT)
                if is_disk_full(exc)
                else TransientError(f"preparing the video failed ({type(exc).__name__})")
            )
            await self._fail(post, failure)
            return
        breaker = (platform, post.account_id)
        try:
            result = await self._admit_and_publish(post, breaker)
        except _Defer as deferral:
            self._observe(post, None, breaker)
            self._finishing.add(post.id)
            await self.outcomes.write(
                Deferred(post.id, deferral.due_at, max(0, post.attempts - 1), post.lease_version)
            )
            metrics.for_platform(platform).deferred.inc()
            return
        except PublishError as exc:
            # A permanent error (a refused video, a revoked token) says nothing about the platform.
            self._observe(post, False if exc.transient else None, breaker)
            self._finishing.add(post.id)
            await self._fail(post, exc)
            return
        self._observe(post, True, breaker)
        await self._succeed(post, result)

    async def _media_for(self, post: ClaimedPost) -> ClaimedPost:
        """The post with the file its platform takes. A conversion still running (it began when the
        post was queued) is waited for, one never begun is run now: the post goes out late rather
        than from a file the platform refuses, and never from a half-written one."""
        if self.converter is None:
            return post
        local = await self._local_media(post.media)
        # Checked when it was queued: the headers are enough to work out the same target again.
        facts = await probe(local.path, decode=False)
        target = validation.target_for(facts, post.platform)
        if target is None:
            return post
        # Published from the store like any video: another worker may have made it.
        converted = await self.converter.ensure(local, target)
        return dataclasses.replace(post, media=converted)

    def _observe(self, post: ClaimedPost, ok: bool | None, breaker: BreakerKey) -> None:
        if self.alerter is not None:
            self.alerter.observe(
                post.chat,
                post.team_external_id,
                post.platform,
                ok=ok,
                breaker_open=self.breakers.state(breaker) is BreakerState.OPEN,
            )

    async def _local_media(self, media: MediaInfo) -> MediaInfo:
        """The video as a file on this machine, for the probe and the converter (both read files).

        With a bucket this is the machine's cached copy (core/media/cache.py), downloaded once for
        every post of the video; publishing itself reads ranges from the store."""
        if self.storage is None or media.key is None:
            return media
        local = self.storage.local_path(media.key)
        if local is None:
            assert self.cache is not None
            try:
                local = await self.cache.fetch(self.storage, media.key)
            except FileNotFoundError as exc:
                raise MediaError(
                    "The video is no longer in the media store (it was deleted or expired).",
                    hint="Schedule the post again with the video.",
                ) from exc
        return dataclasses.replace(media, path=str(local))

    async def _admit_and_publish(self, post: ClaimedPost, breaker: BreakerKey) -> PublishResult:
        admission = await self.breakers.admit(breaker)
        if not admission.allowed:
            wait = admission.retry_at - self.monotonic()
            # Spread the held-back posts so they don't all return in the same instant.
            spread = random.uniform(0, min(1.0, self.settings.breaker_open_s / 4))
            raise _Defer(self.clock() + timedelta(seconds=wait + spread), "breaker open")
        answered = False
        try:
            try:
                async with self._limited(post):
                    result = await self._publish(post)
            except PublishError as exc:
                answered = True
                # A permanent error (a validation or auth error) is an answer: the platform is up.
                await self._record_breaker(post, breaker, up=not exc.transient)
                raise
            answered = True
            self._results[post.id] = result
            await self._record_breaker(post, breaker, up=True)
            return result
        finally:
            if admission.probe and not answered:
                await self.breakers.abandon_probe(breaker)

    async def _record_breaker(self, post: ClaimedPost, breaker: BreakerKey, *, up: bool) -> None:
        try:
            if up:
                change = await self.breakers.record_success(breaker)
            else:
                change = await self.breakers.record_failure(breaker)
        except Exception:
            # One result the breaker missed costs less than a publish recorded as a failure.
            log.warning("recording the result in the circuit breaker failed", exc_info=True)
            return
        self._breaker_changed(post, change)

    @staticmethod
    def _breaker_changed(post: ClaimedPost, change: BreakerChange | None) -> None:
        # Logged by the one worker whose write made the change, so once for the fleet.
        if change is BreakerChange.OPENED:
            log.warning(
                "circuit breaker opened", extra={"platform": post.platform.value, "account": post.account_id}
            )
        elif change is BreakerChange.CLOSED:
            log.info(
                "circuit breaker closed", extra={"platform": post.platform.value, "account": post.account_id}
            )

    @contextlib.asynccontextmanager
    async def _limited(self, post: ClaimedPost) -> AsyncIterator[None]:
        async with self.limited(post.platform, post.account_id):
            yield

    @contextlib.asynccontextmanager
    async def limited(self, platform: Platform, account_id: int | None) -> AsyncIterator[None]:
        """Hold one of (platform, account)'s calls to its rate limit and concurrency, the fleet's
        when shared; raises Postponed when the wait would be longer than max_rate_wait_s."""
        limits = self.limits.get((platform.value, account_id))
        if limits.slots is not None and limits.max_concurrency is not None:
            if limits.slots.locked() and limits.waiting >= limits.max_concurrency:
                # Enough posts already queue behind this account; don't let it eat every slot.
                raise _Defer(self.clock() + timedelta(seconds=random.uniform(0.5, 1.5)), "concurrency")
        if limits.bucket is not None and self.shared_buckets is not None:
            # One allowance for the whole fleet: the bucket's row in the database.
            bucket = limits.bucket
            wait, kept = await self.shared_buckets.reserve(
                f"{platform.value}:{account_id or ''}",
                rate=bucket.rate,
                burst=bucket.burst,
                max_wait_s=self.settings.max_rate_wait_s,
            )
            if not kept:
                raise _Defer(self.clock() + timedelta(seconds=wait), "rate limit")
            await asyncio.sleep(wait)
        elif limits.bucket is not None:
            wait = limits.bucket.wait_for_next()
            if wait > self.settings.max_rate_wait_s:
                raise _Defer(self.clock() + timedelta(seconds=wait), "rate limit")
            await asyncio.sleep(limits.bucket.reserve())
        if limits.slots is None:
            yield
            return
        limits.waiting += 1
        try:
            await limits.slots.acquire()
        finally:
            limits.waiting -= 1
        try:
            yield
        finally:
            limits.slots.release()

    async def _publish(self, post: ClaimedPost) -> PublishResult:
        platform = post.platform
        if post.attempts <= 1:
            # Measured when the post really goes out, so time held back by a breaker counts.
            metrics.for_platform(platform.value).lateness.observe(
                max(0.0, (self.clock() - post.run_at).total_seconds())
            )
        try:
            publisher = self.publishers.get(platform)
            tokens = await self._tokens(post, publisher)
            job = PublishJob(
                post_id=post.id,
                platform=platform,
                idempotency_key=post.idempotency_key,
                caption=post.caption,
                title=post.title,
                media=post.media,
                tokens=tokens,
                upload_state=dict(post.upload_state),
                save_state=self._state_saver(post.lease(self.worker_id)),
                options=dict(post.options),
                scheduled_for=post.run_at,
                storage=self.storage,
                media_link=(
                    self.media_links.for_post(post.id, post.media.storage_key) if self.media_links else None
                ),
                progress=self.progress.reporter(post.view(PostStatus.RUNNING)) if self.progress else None,
            )
            started = time.perf_counter()
            try:
                result = await publisher.publish(job)
            finally:
                metrics.for_platform(platform.value).publish_seconds.observe(time.perf_counter() - started)
            post.upload_state = job.upload_state
            return result
        except (PublishError, LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            if is_disk_full(exc):
                # Transient: once space is freed the retry goes through (issue 11 point 13).
                log.error(
                    "disk full while publishing", extra={"post_id": post.id, "platform": platform.value}
                )
                raise TransientError(DISK_FULL, hint=DISK_FULL_HINT) from exc
            log.exception("publisher crashed", extra={"post_id": post.id, "platform": platform.value})
            raise TransientError(f"internal error while publishing ({type(exc).__name__})") from exc

    async def _tokens(self, post: ClaimedPost, publisher: Publisher) -> TokenSource | None:
        if not publisher.requires_account:
            return None
        account = post.account
        if account is None or self.tokens_for is None:
            raise PermanentError(
                f"no {post.platform.label} account is linked",
                hint=f"An admin can link one with /link {post.platform.value}, then schedule again.",
            )
        return self.tokens_for(account)

    def _state_saver(self, lease: Lease) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def save(state: dict[str, Any]) -> None:
            # Progress checkpoints must be durable before the publisher goes on: written directly.
            # One that matches no row raises LeaseLost through the publisher: the upload stops here.
            await self.queue.save_checkpoint(lease, state)

        return save

    async def _succeed(self, post: ClaimedPost, result: PublishResult) -> None:
        self._finishing.add(post.id)
        now = self.clock()
        state = dict(post.upload_state)
        state.update(remote_id=result.remote_id, remote_url=result.url)
        if result.note:
            state["result_note"] = result.note
        ours = await self.outcomes.write(
            Published(post.id, result.remote_id, result.url, now, state, post.lease_version)
        )
        if not ours:
            log.warning("post was taken over before its outcome was stored", extra={"post_id": post.id})
            return
        metrics.for_platform(post.platform.value).published.inc()
        log.debug(
            "published",
            extra={
                "post_id": post.id,
                "platform": post.platform.value,
                "lateness_s": round((now - post.run_at).total_seconds(), 3),
            },
        )
        view = post.view(
            PostStatus.PUBLISHED, remote_id=result.remote_id, remote_url=result.url, published_at=now
        )
        if result.note:
            view.extra["note"] = result.note
        self._progress_end(post.id, Progress(Stage.PUBLISHED, url=result.url))
        await self._notify(view, failed=False)

    async def _fail(self, post: ClaimedPost, exc: PublishError) -> None:
        policy = self.publishers.retry_policy(post.platform)
        retry = exc.transient and not policy.exhausted(post.attempts)
        platform = post.platform.value
        if retry:
            due = self.clock() + timedelta(seconds=policy.delay(post.attempts, exc.retry_after))
            await self.outcomes.write(Retry(post.id, due, exc.message, exc.hint, post.lease_version))
            metrics.for_platform(platform).retried.inc()
        else:
            ours = await self.outcomes.write(Failed(post.id, exc.message, exc.hint, post.lease_version))
            if not ours:
                return
            metrics.for_platform(platform).failed.inc()
        log.warning(
            "publish failed",
            extra={"post_id": post.id, "platform": platform, "retry": retry, "error": exc.message},
        )
        self._progress_end(post.id, Progress(Stage.RETRYING if retry else Stage.FAILED, detail=exc.message))
        if not retry:
            view = post.view(PostStatus.FAILED, last_error=exc.message, hint=exc.hint)
            await self._notify(view, failed=True)

    def _progress_end(self, post_id: int, progress: Progress) -> None:
        if self.progress is not None:
            self.progress.finish(post_id, progress)

    async def _notify(self, view: PostView, *, failed: bool) -> None:
        """Tell chat after the outcome is stored; a notifier outage is retried by ``renotify``.

        A channel that can't take the result any more (the bot was removed, lost access) is not an
        outage: the author still gets the failure DM, and the outcome counts as delivered."""
        try:
            try:
                await self.notifier.post_result(view)
            except ChannelUnreachable as exc:
                log.warning(
                    "result not postable in its channel", extra={"post_id": view.id, "reason": str(exc)}
                )
            if failed:
                await self.notifier.dm_failure(view)
        except NoNotifier as exc:
            # Expected in a process without that chat's client: a process with one delivers it.
            log.info("outcome left for another process", extra={"post_id": view.id, "reason": str(exc)})
            return
        except Exception:
            log.exception("notifying chat failed", extra={"post_id": view.id})
            return
        await self.outcomes.write(Notified(view.id, self.clock()))

    async def tell_reviews(self) -> int:
        """Tell authors their post was rejected (with the reason), or that its time came before
        anyone approved it. Each is marked told before it is sent, so two workers never tell it
        twice; a telling that fails is given back for the next round."""
        now = self.clock()
        views = await self.queue.review_news(now=now)
        for view in views:
            try:
                await self.notifier.dm_failure(view)
            except NoNotifier:
                # Another process reaches that chat: leave it to them.
                await self.queue.untold(view.id, at=now)
            except Exception:
                log.exception("telling the author about a review failed", extra={"post_id": view.id})
                await self.queue.untold(view.id, at=now)
        return len(views)

    async def renotify(
        self, *, within: timedelta = timedelta(days=1), grace: timedelta = timedelta(seconds=30)
    ) -> int:
        """Deliver outcomes whose notification failed earlier (the slow path: rows are loaded).

        ``grace`` leaves alone outcomes so fresh that their worker may still be telling chat.
        """
        now = self.clock()
        views = await self.queue.unannounced(since=now - within, until=now - grace)
        for view in views:
            context = post_context(
                post_id=view.id, platform=view.platform.value, team=view.team_id, attempt=view.attempts
            )
            with context:
                await self._notify(view, failed=view.status == PostStatus.FAILED)
        return len(views)
