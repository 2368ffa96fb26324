"""When to try a failed post again: exponential backoff with full jitter, bounded attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 2.0
    max_s: float = 900.0

    def delay(
        self, attempt: int, retry_after: float | None = None, *, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Full jitter spreads retries of many posts that failed together (a platform outage) instead
        of sending them back in one wave; a platform's Retry-After is a floor, never shortened.
        """
        ceiling = min(self.max_s, self.base_s * (2 ** max(0, attempt - 1)))
        jittered = (rng or random).uniform(0, ceiling)
        return max(jittered, retry_after or 0.0)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
