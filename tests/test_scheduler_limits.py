"""Per platform/account limits from config: concurrency cap and token-bucket rate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.config import PlatformSettings, PlatformsSettings, SchedulerSettings, Settings
from core.scheduler.limits import Limits, TokenBucket
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, seed_posts
from tests.scheduler_support import HeldClock, Worker, rows, worker

SCHED = SchedulerSettings(lease_s=5, batch_size=20, max_in_flight=20)


async def _publish_all(w: Worker, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while any(p.status != "published" for p in await rows(w.sessions)):
            await w.processor.run_due()
            await asyncio.sleep(0.05)


async def test_concurrency_cap_per_account(db: Database, settings: Settings) -> None:
    fake = FakePlatform(latency_s=0.15)
    url = await fake.start()
    platforms = PlatformsSettings(youtube=PlatformSettings(max_concurrency=2))
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=SCHED, platforms=platforms) as w:
            await seed_posts(w.sessions, count=8, run_at=datetime.now(UTC), platforms=("youtube",))
            await seed_posts(w.sessions, count=4, run_at=datetime.now(UTC), platforms=("x",))
            await _publish_all(w)
            final = await rows(w.sessions)
    finally:
        await fake.stop()
    assert fake.peak_active["youtube"] == 2
    # Unlimited platforms are not held up behind the capped one.
    assert fake.peak_active["x"] == 4
    assert fake.stats() == {"requests": 12, "created": 12, "replays": 0}
    # Posts that found the account busy went back to the queue without spending an attempt.
    assert {p.attempts for p in final} == {1}


async def test_token_bucket_spaces_requests_and_defers_long_waits(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the bucket lets each request go: the instant it reserved the token plus the wait it gave.
    releases: list[float] = []
    reserve = TokenBucket.reserve

    def recorded(bucket: TokenBucket) -> float:
        wait = reserve(bucket)
        releases.append(bucket.updated + wait)  # ``updated``: the clock reading reserve used
        return wait

    monkeypatch.setattr(TokenBucket, "reserve", recorded)
    fake = FakePlatform()
    url = await fake.start()
    platforms = PlatformsSettings(linkedin=PlatformSettings(rate_per_s=5, burst=2))
    sched = SCHED.model_copy(update={"max_rate_wait_s": 0.5})
    clock = HeldClock()
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=sched, platforms=platforms) as w:
            # The bucket's clock only (the breaker keeps real time), held from the first reservation
            # for the whole first round: the eight posts ask at one instant, so four must wait past
            # 0.5 s. On a slow machine (or under tracing) they would ask over a second or more, the
            # bucket would rightly refill in between, and none would be put back.
            w.processor.limits.clock = clock
            await seed_posts(w.sessions, count=8, run_at=datetime.now(UTC), platforms=("linkedin",))
            clock.hold()
            await w.processor.run_due()
            clock.release()
            first_round = await rows(w.sessions)
            await _publish_all(w)
            final = await rows(w.sessions)
    finally:
        await fake.stop()
    times = sorted(fake.arrivals["linkedin"])
    releases.sort()
    assert len(times) == len(releases) == 8
    # The bucket's promise, on the instants it let the requests go: any run of them fits within
    # burst + rate * its duration. Checked there rather than on arrival at the platform, which a
    # loaded machine delays unevenly (a first request 0.1 s late on its new connection arrived
    # with the third).
    for i in range(len(releases)):
        for j in range(i + 1, len(releases)):
            assert j - i + 1 <= 2 + 5 * (releases[j] - releases[i]) + 1e-6, (i, j, releases)
    assert releases[-1] - releases[0] >= (8 - 2) / 5 - 1e-6
    # And the processor holds each request until then: none reaches the platform early (the k-th
    # arrival is no earlier than the k-th release), however late the machine makes it.
    assert all(t >= r for t, r in zip(times, releases, strict=True)), (times, releases)
    # Those that would have waited past 0.5 s were put back in the queue rather than held.
    deferred = [p for p in first_round if p.status == "queued"]
    assert deferred and all(p.attempts == 0 and p.due_at > p.run_at for p in deferred)
    assert {p.attempts for p in final} == {1}


async def test_two_workers_publish_within_one_shared_allowance(db: Database, settings: Settings) -> None:
    """Two processors, each with its own connections, as the wiring builds them with
    ``scheduler.shared_limits``: together they send no faster than one account's rate. Mutation
    (issue 29): a processor that never uses the shared buckets (each worker its own in-memory
    bucket) passed, since the limit tests above build one processor without them."""
    fake = FakePlatform()
    url = await fake.start()
    platforms = PlatformsSettings(linkedin=PlatformSettings(rate_per_s=5, burst=1))
    # Each claims half of the posts; none waits long enough to be put back.
    sched = SCHED.model_copy(update={"batch_size": 4, "max_in_flight": 4, "max_rate_wait_s": 10})
    try:
        async with (
            worker(
                db, settings, url, worker_id="w1", scheduler=sched, platforms=platforms, shared_limits=True
            ) as w1,
            worker(
                db, settings, url, worker_id="w2", scheduler=sched, platforms=platforms, shared_limits=True
            ) as w2,
        ):
            await seed_posts(w1.sessions, count=8, run_at=datetime.now(UTC), platforms=("linkedin",))
            claimed = await asyncio.gather(w1.processor.run_due(), w2.processor.run_due())
            assert all(claimed), claimed  # both workers published some
            await _publish_all(w1)
    finally:
        await fake.stop()
    times = sorted(fake.arrivals["linkedin"])
    assert len(times) == 8
    # One bucket across both workers: 8 requests at 5/s with a burst of 1 span 7/5 = 1.4 s, less
    # what the first one's own delay takes off (each worker sleeps its wait from the database's
    # answer, so a slow answer shifts one request, never brings two together). A bucket per worker
    # sends them in 0.6 s (two at a time), a tripled rate in 0.5 s, a burst of 4 in 0.8 s.
    assert times[-1] - times[0] >= 1.2, times


# -- Survivors of tools/mutation.py token-buckets (issue 29): the in-memory bucket and the limits
# -- built from config, on a clock the test moves.


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_bucket_starts_full_refills_at_its_rate_and_holds_no_more_than_its_burst() -> None:
    """Mutations: the bucket starting empty or with another burst, a burst of 0 kept (no request
    would ever go), the refill uncapped or at another rate, wait_for_next taking a token or adding
    the tokens owed instead of counting them."""
    clock = Clock(10.0)
    bucket = TokenBucket(2.0, 3, clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.wait_for_next() == 0.5
    assert bucket.wait_for_next() == 0.5  # asking takes nothing
    assert bucket.reserve() == 0.5
    assert bucket.reserve() == 1.0
    assert bucket.wait_for_next() == 1.5  # two owed, and one for the next: 3 tokens at 2/s
    clock.now = 11.0  # two tokens back: the balance is 0, the next waits half a second
    assert bucket.wait_for_next() == 0.5
    clock.now = 100.0  # idle for long: full again, but never more than the burst
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    assert TokenBucket(1.0, 0, clock).reserve() == 0.0  # a burst of 0 is read as 1
    assert TokenBucket(1.0, 0, clock).burst == 1


def test_limits_come_from_each_platforms_settings() -> None:
    """Mutations: the burst's default (the rate rounded down, at least 1) changed, the concurrency
    cap not built or not kept, limits built for platforms without settings, one key's limits shared
    with another's or built anew on every call."""
    platforms = PlatformsSettings(
        youtube=PlatformSettings(rate_per_s=5.0),
        x=PlatformSettings(rate_per_s=0.5),
        tiktok=PlatformSettings(rate_per_s=2.0, burst=7, max_concurrency=3),
    )
    limits = Limits(platforms, Clock(0.0))
    youtube = limits.get(("youtube", 1))
    assert youtube.bucket is not None and (youtube.bucket.rate, youtube.bucket.burst) == (5.0, 5)
    assert youtube.slots is None and youtube.max_concurrency is None
    x = limits.get(("x", 1))
    assert x.bucket is not None and x.bucket.burst == 1
    tiktok = limits.get(("tiktok", 2))
    assert tiktok.bucket is not None and tiktok.bucket.burst == 7
    assert tiktok.max_concurrency == 3 and tiktok.slots is not None
    assert limits.get(("tiktok", 2)) is tiktok and limits.get(("tiktok", 3)) is not tiktok
    linkedin = limits.get(("linkedin", 1))
    assert (linkedin.bucket, linkedin.slots, linkedin.max_concurrency) == (None, None, None)
    none = Limits(None, Clock(0.0)).get(("youtube", 1))
    assert (none.bucket, none.slots) == (None, None)


async def test_a_concurrency_cap_admits_that_many_at_once() -> None:
    """Mutation: the semaphore built with another count than the cap."""
    limits = Limits(PlatformsSettings(youtube=PlatformSettings(max_concurrency=2)), Clock(0.0))
    slots = limits.get(("youtube", 1)).slots
    assert slots is not None
    await slots.acquire()
    await slots.acquire()
    assert slots.locked()
