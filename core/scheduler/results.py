"""Collecting each published post's results at checkpoints after publishing (1 h, 24 h and 7 days by
default: ``[results] checkpoints_h``), through the scheduler's own machinery.

Every scheduler process runs ``collect`` every ``results.poll_interval_s``. The reads due are rows
in the database (core/store/results.py), made when they come due and claimed like due posts, so a
restart loses none and two workers never read the same checkpoint. Each account's reads go out in
one reader call, admitted by the same circuit breaker as publishing to that account and holding
the same rate limit (the fleet's shared buckets when ``scheduler.shared_limits``); a platform's
429 puts them back until its reset without spending an attempt, other failures are retried with
the scheduler's backoff up to ``results.max_attempts``. An account linked without the scopes its
platform's reader needs is not asked: its reads are kept as "not available", with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from core.config import ResultsSettings
from core.domain import Platform
from core.platforms.results import Metrics, MetricsReader, missing_scopes
from core.progress import ProgressSink
from core.publishers.base import PublishError, RateLimited
from core.render import readings_text
from core.scheduler.processor import Postponed, PostProcessor, TokenFactory
from core.scheduler.retry import RetryPolicy
from core.store.results import DUE, FAILED, READ, UNAVAILABLE, ClaimedRead, Finished, ResultReads

log = logging.getLogger(__name__)

DAY_S = 24 * 3600


def settle_checkpoint(checkpoints_s: list[int]) -> int:
    """The checkpoint whose reading slot suggestions learn from: the first a day or more after
    publishing (results settle after about a day), else the latest."""
    return next((c for c in checkpoints_s if c >= DAY_S), max(checkpoints_s))


class ResultsCollector:
    def __init__(
        self,
        reads: ResultReads,
        readers: Mapping[Platform, MetricsReader],
        tokens_for: TokenFactory,
        settings: ResultsSettings,
        processor: PostProcessor,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        chat: ProgressSink | None = None,
    ) -> None:
        self.reads = reads
        self.readers = readers
        self.tokens_for = tokens_for
        self.settings = settings
        self.processor = processor
        self.clock = clock
        # Where each post's readings are shown: a reply under the scheduling answer, edited as
        # checkpoints are read (the chats' notifiers); None: not shown.
        self.chat = chat
        self.checkpoints_s = [round(h * 3600) for h in settings.checkpoints_h]
        self.retry = RetryPolicy(
            max_attempts=settings.max_attempts,
            base_s=processor.settings.backoff_base_s * 30,
            max_s=max(processor.settings.backoff_max_s, 3600.0),
        )

    async def collect(self) -> int:
        """Seed, claim and read what is due; returns how many reads were settled (read, not
        available, or given up), not counting those put back for later."""
        if not self.readers or not self.checkpoints_s:
            return 0
        now = self.clock()
        await self.reads.seed(
            checkpoints_s=self.checkpoints_s,
            platforms=list(self.readers),
            now=now,
            catch_up=timedelta(hours=self.settings.catch_up_h),
        )
        claimed = await self.reads.claim(
            now=now, lease=timedelta(seconds=self.settings.lease_s), limit=self.settings.batch_size
        )
        groups: dict[int, list[ClaimedRead]] = {}
        for read in claimed:
            groups.setdefault(read.account.id, []).append(read)
        done: list[Finished] = []
        for reads in groups.values():
            try:
                done += await self._read_account(reads)
            except Exception as exc:
                # Anything a reader did not foresee (a 200 that is not JSON, a bug) costs these reads
                # an attempt, not the batch: raised out of collect, every claim in the batch stayed
                # until its lease ran out, no attempt was counted, and the same reads, first by
                # due time, were claimed and failed again every lease, holding the others back.
                log.warning("results read failed unexpectedly", exc_info=True)
                failure = PublishError(f"unexpected error: {type(exc).__name__}")
                done += [self._failed(r, failure) for r in reads]
        await self.reads.finish(done, now=self.clock(), settle_s=settle_checkpoint(self.checkpoints_s))
        numbers = {
            f.read.post_id for f in done if f.state == READ and (f.views, f.likes, f.comments) != (None,) * 3
        }
        await self._show(numbers)
        return sum(f.state != DUE for f in done)

    async def _show(self, post_ids: set[int]) -> None:
        """Edit (or first post) each post's results reply; a chat that fails costs only the message."""
        if self.chat is None or not post_ids:
            return
        for shown in await self.reads.messages(post_ids):
            text = readings_text(shown.post.platform.label, shown.readings)
            try:
                ref = await self.chat.progress(shown.post, text, shown.message, shown.reply)
            except LookupError:
                continue  # no client for that chat in this process
            except Exception:
                log.warning("results reply not updated", extra={"post_id": shown.post.id}, exc_info=True)
                continue
            if ref is not None and ref != shown.message:
                await self.reads.remember_message(shown.post.id, ref)

    async def _read_account(self, reads: list[ClaimedRead]) -> list[Finished]:
        first = reads[0]
        reader = self.readers.get(first.platform)
        if reader is None:
            return [
                Finished(r, UNAVAILABLE, note="postbot cannot read this platform's results") for r in reads
            ]
        missing = missing_scopes(reader, first.scopes)
        if missing:
            note = f"the account was linked without {', '.join(missing)}"
            return [Finished(r, UNAVAILABLE, note=note) for r in reads]
        key = (first.platform.value, first.account.id)
        breakers = self.processor.breakers
        admission = await breakers.admit(key)
        if not admission.allowed:
            wait = max(0.0, admission.retry_at - self.processor.monotonic())
            later = self.clock() + timedelta(seconds=wait)
            return [Finished(r, DUE, note="breaker open", due_at=later) for r in reads]
        answered = False
        try:
            try:
                async with self.processor.limited(first.platform, first.account.id):
                    found = await reader.read(
                        self.tokens_for(first.account), list(dict.fromkeys(r.remote_id for r in reads))
                    )
            except Postponed as deferred:
                return [Finished(r, DUE, note=deferred.reason, due_at=deferred.due_at) for r in reads]
            except PublishError as exc:
                answered = True
                await self._breaker(key, up=not exc.transient)
                return [self._failed(r, exc) for r in reads]
            answered = True
            await self._breaker(key, up=True)
        finally:
            if admission.probe and not answered:
                await breakers.abandon_probe(key)
        return [self._read(r, found.get(r.remote_id)) for r in reads]

    @staticmethod
    def _read(read: ClaimedRead, metrics: Metrics | None) -> Finished:
        if metrics is None:
            return Finished(read, READ, note="the platform no longer has this post")
        return Finished(read, READ, views=metrics.views, likes=metrics.likes, comments=metrics.comments)

    def _failed(self, read: ClaimedRead, exc: PublishError) -> Finished:
        now = self.clock()
        if isinstance(exc, RateLimited):
            # The platform's own wait; not the read's fault, so no attempt is spent.
            delay = self.retry.delay(1, exc.retry_after)
            return Finished(read, DUE, note=exc.message, due_at=now + timedelta(seconds=delay))
        attempt = read.attempts + 1
        if self.retry.exhausted(attempt):
            log.warning(
                "results read given up", extra={"post": read.post_id, "checkpoint_s": read.checkpoint_s}
            )
            return Finished(read, FAILED, note=exc.message, spent=True)
        delay = self.retry.delay(attempt, exc.retry_after)
        return Finished(read, DUE, note=exc.message, due_at=now + timedelta(seconds=delay), spent=True)

    async def _breaker(self, key: tuple[str, int | None], *, up: bool) -> None:
        try:
            if up:
                await self.processor.breakers.record_success(key)
            else:
                await self.processor.breakers.record_failure(key)
        except Exception:
            log.warning("recording a results read in the circuit breaker failed", exc_info=True)
