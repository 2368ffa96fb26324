"""Backoff with full jitter: bounded, spread out, never shorter than the platform's Retry-After."""

from __future__ import annotations

import random

from core.scheduler.retry import RetryPolicy


def test_delay_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=2.0, max_s=30.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 30.0), (9, 30.0)]:
        delays = [policy.delay(attempt, rng=rng) for _ in range(400)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter spreads over the whole window rather than clustering at the ceiling.
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_s=1.0, max_s=4.0)
    rng = random.Random(1)
    assert all(policy.delay(3, retry_after=30.0, rng=rng) == 30.0 for _ in range(50))
    # A short Retry-After doesn't cut the backoff below what jitter picked.
    picked = [policy.delay(3, retry_after=0.5, rng=random.Random(s)) for s in range(50)]
    assert all(d >= 0.5 for d in picked) and max(picked) > 2.0


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]
