"""Circuit breaker per (platform, account): stop sending posts to a platform that keeps failing.

Closed: everything goes through. After ``threshold`` consecutive transient failures it opens: posts
for that key are put back in the queue (not failed, no attempt spent) until ``open_s`` has passed.
Then it is half-open: exactly one post goes through as a probe; its success closes the breaker, a
transient failure opens it again for another ``open_s``.

State lives in the worker's memory. With several workers each keeps its own breaker, so a platform
that is down receives up to ``threshold`` failing calls (plus one probe per interval) per worker
before all of them hold off; nothing is lost or posted twice, it only costs a few extra calls.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from core import metrics

BreakerKey = tuple[str, int | None]


class BreakerState(enum.IntEnum):
    # Values are what the breaker-state gauge exports.
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


@dataclass(frozen=True)
class Admission:
    """Whether a post may be published now; if not, ``retry_at`` (monotonic seconds) says when to."""

    allowed: bool
    probe: bool = False
    retry_at: float = 0.0


class CircuitBreaker:
    def __init__(self, key: BreakerKey, *, threshold: int, open_s: float, clock: Callable[[], float]) -> None:
        self.key = key
        self.threshold = max(1, threshold)
        self.open_s = open_s
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_until = 0.0
        self._probing = False
        self._export()

    def admit(self) -> Admission:
        now = self.clock()
        if self.state is BreakerState.OPEN:
            if now < self.opened_until:
                return Admission(False, retry_at=self.opened_until)
            self._set(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                # One probe at a time; the others come back once it has had time to answer.
                return Admission(False, retry_at=now + min(self.open_s, 5.0))
            self._probing = True
            return Admission(True, probe=True)
        return Admission(True)

    def record_success(self) -> None:
        """The platform answered (a publish, or a permanent error that proves it is up)."""
        self.failures = 0
        self._probing = False
        if self.state is not BreakerState.CLOSED:
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """A transient failure: timeout, 5xx, 429."""
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self._probing = False
            self.opened_until = self.clock() + self.open_s
            self._set(BreakerState.OPEN)

    def abandon_probe(self) -> None:
        """The probe ended without an answer (worker stopping, lease lost): let another one try."""
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        self.state = state
        self._export()

    def _export(self) -> None:
        platform, account = self.key
        metrics.BREAKER_STATE.labels(platform=platform, account=str(account or "")).set(int(self.state))


class Breakers:
    """The breakers of one worker, created on first use."""

    def __init__(self, *, threshold: int, open_s: float, clock: Callable[[], float]) -> None:
        self.threshold = threshold
        self.open_s = open_s
        self.clock = clock
        self._by_key: dict[BreakerKey, CircuitBreaker] = {}

    def get(self, key: BreakerKey) -> CircuitBreaker:
        breaker = self._by_key.get(key)
        if breaker is None:
            breaker = CircuitBreaker(key, threshold=self.threshold, open_s=self.open_s, clock=self.clock)
            self._by_key[key] = breaker
        return breaker

    def states(self) -> dict[str, str]:
        """Per platform, the worst state among its accounts' breakers ("open", "half-open", "closed")."""
        worst: dict[str, BreakerState] = {}
        rank = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
        for (platform, _), breaker in self._by_key.items():
            state = breaker.state
            if state is BreakerState.OPEN and self.clock() >= breaker.opened_until:
                state = BreakerState.HALF_OPEN  # its next post goes through as the probe
            if platform not in worst or rank[state] > rank[worst[platform]]:
                worst[platform] = state
        return {p: s.name.lower().replace("_", "-") for p, s in worst.items()}
