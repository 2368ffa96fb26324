"""The circuit breaker, shared by the fleet through the database: opens after N transient failures
(on any worker), holds posts back everywhere, lets one worker probe, closes for all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from prometheus_client import REGISTRY

from core.config import SchedulerSettings, Settings
from core.db.engine import make_engine, migrate, session_factory
from core.scheduler.breaker import Breakers, BreakerState
from core.store.breakers import BreakerChange, BreakerRow, BreakerStore
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.scheduler_support import rows, worker

OPEN_S = 0.6


def _state(platform: str, account: str = "") -> float | None:
    return REGISTRY.get_sample_value("postbot_breaker_state", {"platform": platform, "account": account})


@asynccontextmanager
async def _breakers(db: Database, count: int, **kw: float) -> AsyncIterator[list[Breakers]]:
    """``count`` workers' breakers on one database, each with its own engine (its own connections)."""
    engines = [make_engine(db.url, schema=db.schema) for _ in range(count)]
    await migrate(engines[0])
    options = {"threshold": 3, "open_s": OPEN_S, "cache_s": 0.0} | kw
    try:
        yield [
            Breakers(
                BreakerStore(session_factory(e)),
                threshold=int(options["threshold"]),
                open_s=options["open_s"],
                cache_s=options["cache_s"],
                probe_s=options.get("probe_s"),
            )
            for e in engines
        ]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_opens_after_threshold_holds_half_opens_and_closes(db: Database) -> None:
    key = ("youtube", 7)
    async with _breakers(db, 2) as (breaker, other):
        for _ in range(2):
            assert (await breaker.admit(key)).allowed
            assert await breaker.record_failure(key) is None
        assert breaker.state(key) is BreakerState.CLOSED
        # A success resets the count: only consecutive failures open it.
        assert await breaker.record_success(key) is None
        for _ in range(2):
            assert (await breaker.admit(key)).allowed
            await breaker.record_failure(key)
        assert (await breaker.admit(key)).allowed
        assert await breaker.record_failure(key) is BreakerChange.OPENED
        assert breaker.state(key) is BreakerState.OPEN
        assert _state("youtube", "7") == 1

        # Held back on every worker, until the open interval has passed.
        for b in (breaker, other):
            held = await b.admit(key)
            assert not held.allowed and 0 < held.retry_at - time.monotonic() <= OPEN_S
        await asyncio.sleep(OPEN_S + 0.05)
        probe = await other.admit(key)
        assert probe.allowed and probe.probe
        # One probe for the fleet: neither worker gets a second one.
        assert not (await breaker.admit(key)).allowed
        assert not (await other.admit(key)).allowed
        assert await other.record_success(key) is BreakerChange.CLOSED
        assert other.state(key) is BreakerState.CLOSED and _state("youtube", "7") == 0
        # Closed for the whole fleet: the first worker sees it on its next read.
        admitted = await breaker.admit(key)
        assert admitted.allowed and not admitted.probe
        assert breaker.state(key) is BreakerState.CLOSED


async def test_failed_probe_reopens_and_abandoned_probe_frees_the_slot(db: Database) -> None:
    key = ("x", None)
    async with _breakers(db, 2, threshold=1) as (breaker, other):
        assert await breaker.record_failure(key) is BreakerChange.OPENED
        await asyncio.sleep(OPEN_S + 0.05)
        assert (await breaker.admit(key)).probe
        # The probe failed: open again (the same outage, so not a new OPENED).
        assert await breaker.record_failure(key) is BreakerChange.REOPENED
        assert breaker.state(key) is BreakerState.OPEN
        assert not (await other.admit(key)).allowed
        await asyncio.sleep(OPEN_S + 0.05)
        assert (await breaker.admit(key)).probe
        await breaker.abandon_probe(key)
        assert (await other.admit(key)).probe


async def test_a_probe_whose_worker_died_frees_itself_after_probe_s(db: Database) -> None:
    key = ("youtube", 9)
    async with _breakers(db, 2, threshold=1, probe_s=0.4) as (dead, alive):
        await dead.record_failure(key)
        await asyncio.sleep(OPEN_S + 0.05)
        assert (await dead.admit(key)).probe
        # Its worker is gone (killed mid-upload): no answer, no abandon_probe. The fleet waits ...
        assert not (await alive.admit(key)).allowed
        # ... only until the probe's time is up (and this worker's own hold-off, min(open_s, 5) s);
        # then another worker probes.
        await asyncio.sleep(OPEN_S + 0.05)
        assert (await alive.admit(key)).probe


async def test_a_streak_spans_workers_and_only_one_opens_or_probes(db: Database) -> None:
    key = ("tiktok", 3)
    async with _breakers(db, 4, threshold=5) as workers:
        # Two failures here, two there, one more anywhere: the fleet's fifth opens it.
        for b in workers[:2]:
            for _ in range(2):
                assert await b.record_failure(key) is None
        changes = await asyncio.gather(*(b.record_failure(key) for b in workers))
        assert changes.count(BreakerChange.OPENED) == 1, changes
        assert not any([(await b.admit(key)).allowed for b in workers])
        await asyncio.sleep(OPEN_S + 0.05)
        # Every worker asks for the probe at once: exactly one conditional UPDATE matches.
        admissions = await asyncio.gather(*(b.admit(key) for b in workers for _ in range(3)))
        assert [a.probe for a in admissions].count(True) == 1
        assert sum(a.allowed for a in admissions) == 1
        winner = workers[[a.probe for a in admissions].index(True) // 3]
        closes = await asyncio.gather(winner.record_success(key), *(b.record_success(key) for b in workers))
        assert closes.count(BreakerChange.CLOSED) == 1, closes


async def test_a_cached_read_costs_one_statement_per_interval(db: Database) -> None:
    key = ("linkedin", 1)
    async with _breakers(db, 1, cache_s=60.0) as (breaker,):
        reads = 0
        real = breaker.store.read

        async def counted() -> dict[str, BreakerRow]:
            nonlocal reads
            reads += 1
            return await real()

        breaker.store.read = counted  # type: ignore[method-assign]
        admissions = [await breaker.admit(key) for _ in range(200)]
        assert all(a.allowed for a in admissions) and reads == 1
        # Successes on a healthy platform write nothing either.
        assert [await breaker.record_success(key) for _ in range(50)] == [None] * 50


async def test_open_breaker_reschedules_posts_without_spending_attempts(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    down = Scripted(503, "unavailable", "down", headers={"Retry-After": "2"})
    fake.script("tiktok", down, down)
    sched = SchedulerSettings(
        lease_s=5,
        batch_size=1,
        max_in_flight=1,
        backoff_base_s=0.05,
        backoff_max_s=0.05,
        breaker_threshold=2,
        breaker_open_s=0.6,
    )
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=sched) as w:
            ids = await seed_posts(w.sessions, count=5, run_at=datetime.now(UTC), platforms=("tiktok",))
            await w.processor.run_due()
            held = {p.id: p for p in await rows(w.sessions)}
            state_open = _state("tiktok")
            # Two failures opened it; the other three never reached the platform.
            assert fake.stats()["requests"] == 2
            async with asyncio.timeout(15):
                while any(p.status != "published" for p in await rows(w.sessions)):
                    await w.processor.run_due()
                    await asyncio.sleep(0.05)
            final = {p.id: p for p in await rows(w.sessions)}
    finally:
        await fake.stop()

    failed_first, rest = ids[:2], ids[2:]
    assert state_open == 1
    assert [(held[i].status, held[i].attempts) for i in failed_first] == [("queued", 1)] * 2
    # Held back, not failed, and the wait did not count as an attempt.
    assert [(held[i].status, held[i].attempts) for i in rest] == [("queued", 0)] * 3
    assert all(held[i].due_at > held[i].run_at for i in rest)
    assert [final[i].attempts for i in ids] == [2, 2, 1, 1, 1]
    assert fake.stats() == {"requests": 7, "created": 5, "replays": 0}
    assert _state("tiktok") == 0
    assert not w.notifier.dms
