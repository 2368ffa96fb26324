"""Per (platform, account) limits from config: a token bucket for rate and a cap on concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from core.config import PlatformsSettings
from core.scheduler.breaker import BreakerKey


class TokenBucket:
    """``rate_per_s`` sustained, up to ``burst`` at once. Reservations may run the balance negative,
    which queues callers in arrival order without a lock."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate_per_s
        self.burst = max(1, burst)
        self.clock = clock
        self.tokens = float(self.burst)
        self.updated = clock()

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return now

    def wait_for_next(self) -> float:
        """Seconds until a token would be free, without taking one."""
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate)

    def reserve(self) -> float:
        """Take a token; returns how long the caller must wait before using it."""
        self._refill()
        self.tokens -= 1.0
        return max(0.0, -self.tokens / self.rate)


@dataclass
class KeyLimits:
    bucket: TokenBucket | None
    slots: asyncio.Semaphore | None
    max_concurrency: int | None
    waiting: int = 0


class Limits:
    def __init__(self, platforms: PlatformsSettings | None, clock: Callable[[], float]) -> None:
        self.platforms = platforms
        self.clock = clock
        self._by_key: dict[BreakerKey, KeyLimits] = {}

    def get(self, key: BreakerKey) -> KeyLimits:
        limits = self._by_key.get(key)
        if limits is None:
            limits = self._build(key[0])
            self._by_key[key] = limits
        return limits

    def _build(self, platform: str) -> KeyLimits:
        conf = self.platforms.for_platform(platform) if self.platforms is not None else None
        bucket = None
        slots = None
        cap = None
        if conf is not None and conf.rate_per_s:
            bucket = TokenBucket(conf.rate_per_s, conf.burst or max(1, int(conf.rate_per_s)), self.clock)
        if conf is not None and conf.max_concurrency:
            cap = conf.max_concurrency
            slots = asyncio.Semaphore(cap)
        return KeyLimits(bucket=bucket, slots=slots, max_concurrency=cap)
