"""The circuit breaker: opens after N transient failures, holds posts back, probes, closes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prometheus_client import REGISTRY

from core.config import SchedulerSettings, Settings
from core.scheduler.breaker import BreakerState, CircuitBreaker
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.scheduler_support import rows, worker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state(platform: str, account: str = "") -> float | None:
    return REGISTRY.get_sample_value("postbot_breaker_state", {"platform": platform, "account": account})


def test_opens_after_threshold_holds_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(("youtube", 7), threshold=3, open_s=60, clock=clock)
    for _ in range(2):
        assert breaker.admit().allowed
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_success()  # a success resets the count: only consecutive failures open it
    for _ in range(3):
        assert breaker.admit().allowed
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert _state("youtube", "7") == 1

    clock.now += 59
    held = breaker.admit()
    assert not held.allowed and held.retry_at == 1060.0

    clock.now += 1
    probe = breaker.admit()
    assert probe.allowed and probe.probe
    assert breaker.state is BreakerState.HALF_OPEN and _state("youtube", "7") == 2
    # Only one probe at a time.
    assert not breaker.admit().allowed
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and _state("youtube", "7") == 0
    assert breaker.admit().allowed and not breaker.admit().probe


def test_failed_probe_reopens_and_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(("x", None), threshold=1, open_s=10, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.admit().probe
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.opened_until == clock.now + 10
    clock.now += 10
    assert breaker.admit().probe
    breaker.abandon_probe()
    assert breaker.admit().probe


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
