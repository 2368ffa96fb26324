"""Circuit breaker per (platform, account), shared by every worker: stop sending to a platform that
keeps failing.

Closed: everything goes through. After ``threshold`` consecutive transient failures, counted across the
whole fleet, it opens: posts for that key are put back in the queue (not failed, no attempt spent)
until ``open_s`` has passed. Then it is half-open: exactly one post, on one worker, goes through as a
probe; its success closes the breaker for everyone, a transient failure opens it again.

The state is the database's (core/store/breakers.py, one conditional UPDATE per transition). This
module is the policy around it and a short cache: a worker reads the whole (small) table at most once
per ``cache_s`` rather than once per post, and learns its own writes' results at once. The price of
the cache is bounded: after another worker opens the breaker, this one may still start posts to the
platform for up to ``cache_s`` (they fail fast and add to the streak). A success writes only when
this worker knows of a streak or an open breaker, so a healthy platform costs no writes at all.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core import metrics
from core.store.breakers import BreakerChange, BreakerRow, BreakerStore, Recorded

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class _View:
    """A breaker as this worker last saw it, with the database's times turned into monotonic ones."""

    failures: int = 0
    # Monotonic deadlines; 0: closed / no probe out.
    open_until: float = 0.0
    probe_until: float = 0.0

    def state(self, now: float) -> BreakerState:
        if self.open_until == 0:
            return BreakerState.CLOSED
        return BreakerState.OPEN if now < self.open_until else BreakerState.HALF_OPEN


def storage_key(key: BreakerKey) -> str:
    platform, account = key
    return f"{platform}:{account or ''}"


class Breakers:
    """This worker's side of the fleet's breakers."""

    def __init__(
        self,
        store: BreakerStore,
        *,
        threshold: int,
        open_s: float,
        cache_s: float = 1.0,
        probe_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.threshold = max(1, threshold)
        self.open_s = open_s
        self.cache_s = cache_s
        # How long a probe may stay out before another worker may send one (its worker may have died).
        self.probe_s = probe_s if probe_s is not None else max(open_s, 30.0)
        self.clock = clock
        self._views: dict[str, _View] = {}
        # Equivalent mutant: "INF" (float() reads infinity's name in any case).
        self._read_at = -float("inf")
        self._reading: asyncio.Lock | None = None
        self._probes: dict[str, float] = {}

    # -- the publishing path ------------------------------------------------------------------------

    async def admit(self, key: BreakerKey) -> Admission:
        name = storage_key(key)
        await self._fresh()
        now = self.clock()
        view = self._views.get(name, _View())
        state = view.state(now)
        if state is BreakerState.CLOSED:
            return Admission(True)
        if state is BreakerState.OPEN:
            return Admission(False, retry_at=view.open_until)
        # Half-open: one probe for the fleet. Known to be out already: don't ask the database.
        busy = Admission(False, retry_at=now + min(self.open_s, 5.0))
        if now < view.probe_until:
            return busy
        try:
            taken = await self.store.take_probe(name, probe_s=self.probe_s)
        except Exception:
            log.warning("taking the breaker probe failed", exc_info=True)
            return busy
        if taken is None:
            # Another worker has it: come back once it has had time to answer.
            self._set(name, _View(view.failures, view.open_until, busy.retry_at))
            return busy
        self._remember(name, taken)
        self._probes[name] = taken.probe_until
        return Admission(True, probe=True)

    async def record_success(self, key: BreakerKey) -> BreakerChange | None:
        """The platform answered (a publish, or a permanent error that proves it is up)."""
        name = storage_key(key)
        # Equivalent mutant (here and in record_failure): popping another key leaves this probe's
        # entry behind, and a later abandon_probe then sends a release that matches no row (the
        # close or reopen that answered the probe cleared its deadline): one idle statement.
        self._probes.pop(name, None)
        view = self._views.get(name)
        if view is None or (view.failures == 0 and view.open_until == 0):
            return None  # nothing to end, as far as this worker knows: no write
        return self._apply(name, await self._write(self.store.success(name)))

    async def record_failure(self, key: BreakerKey) -> BreakerChange | None:
        """A transient failure: timeout, 5xx, 429."""
        name = storage_key(key)
        self._probes.pop(name, None)
        recorded = await self._write(self.store.failure(name, threshold=self.threshold, open_s=self.open_s))
        if recorded is None:
            # The database is away: remember the failure here so this worker at least holds back.
            view = self._views.get(name, _View())
            failures = view.failures + 1
            opened = view.open_until or (self.clock() + self.open_s if failures >= self.threshold else 0.0)
            # Equivalent mutants: no probe deadline left to _View's default (0.0), or 1.0, as long
            # past on a monotonic clock.
            self._set(name, _View(failures, opened, 0.0))
            return None
        return self._apply(name, recorded)

    async def abandon_probe(self, key: BreakerKey) -> None:
        """The probe ended without an answer (worker stopping, lease lost): let another one try."""
        name = storage_key(key)
        mine = self._probes.pop(name, None)
        if mine is None:
            return
        try:
            await self.store.release_probe(name, mine)
        except Exception:
            log.warning("giving back the breaker probe failed; it frees itself later", exc_info=True)
        view = self._views.get(name)
        if view is not None:
            # Equivalent mutants: the deadline left to _View's default (0.0) or 1.0, which is as
            # long past on a monotonic clock (seconds since boot).
            self._set(name, _View(view.failures, view.open_until, 0.0))

    def state(self, key: BreakerKey) -> BreakerState:
        """As this worker last saw it."""
        view = self._views.get(storage_key(key), _View())
        return view.state(self.clock())

    # -- /status --------------------------------------------------------------------------------------

    async def states(self) -> dict[str, str]:
        """Per platform, the worst state among its accounts' breakers ("open", "half-open",
        "closed"), read from the database now: the fleet's truth, also in a process with no worker."""
        await self._refresh()
        now = self.clock()
        worst: dict[str, BreakerState] = {}
        # Equivalent mutants: OPEN ranked 3 (the order is all that counts), ``>=`` for ``>`` (a tie
        # is the same state), and the platform cut at every ":" or at the last one (storage_key
        # writes one, and platform names have none).
        rank = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
        for name, view in self._views.items():
            platform = name.split(":", 1)[0]
            state = view.state(now)
            if platform not in worst or rank[state] > rank[worst[platform]]:
                worst[platform] = state
        return {p: s.name.lower().replace("_", "-") for p, s in worst.items()}

    # -- the cache ------------------------------------------------------------------------------------

    async def _fresh(self) -> None:
        if self.clock() - self._read_at < self.cache_s:
            return
        if self._reading is None:
            self._reading = asyncio.Lock()
        async with self._reading:
            # Posts that waited for the lock use the read the first of them made.
            if self.clock() - self._read_at < self.cache_s:
                return
            try:
                await self._refresh()
            except Exception:
                # Keep publishing on what we knew; the next post tries again after cache_s.
                self._read_at = self.clock()
                log.warning("reading the shared breakers failed", exc_info=True)

    async def _refresh(self) -> None:
        started = self.clock()
        rows = await self.store.read()
        for name, row in rows.items():
            self._remember(name, row, at=started)
        for name in set(self._views) - set(rows):
            self._set(name, _View())
        self._read_at = started

    @staticmethod
    async def _write(call: Awaitable[Recorded | None]) -> Recorded | None:
        try:
            return await call
        except Exception:
            log.warning("writing the shared breaker failed", exc_info=True)
            return None

    def _apply(self, name: str, recorded: Recorded | None) -> BreakerChange | None:
        if recorded is None:
            return None
        self._remember(name, recorded.row)
        return recorded.change

    def _remember(self, name: str, row: BreakerRow, *, at: float | None = None) -> None:
        # The row's times are the database's; what matters here is how far ahead of its ``now`` they are.
        local = self.clock() if at is None else at

        def deadline(value: float) -> float:
            # Never exactly 0, which means closed.
            return 0.0 if value == 0 else (local + (value - row.now)) or 1e-9

        # Equivalent mutants: ``>=`` (a probe due exactly at the database's now becomes this
        # worker's now, already past at its next admission, as 0 is), and 1.0 for no probe (as long
        # past on a monotonic clock, seconds since boot).
        probe = deadline(row.probe_until) if row.probe_until > row.now else 0.0
        self._set(name, _View(row.failures, deadline(row.open_until), probe))

    def _set(self, name: str, view: _View) -> None:
        self._views[name] = view
        # Equivalent mutant: ``rpartition`` (storage_key writes one ":", and platform names have none).
        platform, _, account = name.partition(":")
        state = view.state(self.clock())
        metrics.BREAKER_STATE.labels(platform=platform, account=account).set(int(state))
