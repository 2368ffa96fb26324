"""The circuit breaker, shared by the fleet through the database: opens after N transient failures
(on any worker), holds posts back everywhere, lets one worker probe, closes for all."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, text

from core.config import SchedulerSettings, Settings
from core.db.engine import make_engine, migrate, session_factory
from core.scheduler.breaker import Admission, Breakers, BreakerState
from core.store.breakers import BreakerChange, BreakerRow, BreakerStore
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.scheduler_support import HeldClock, rows, worker

OPEN_S = 0.6


def _state(platform: str, account: str = "") -> float | None:
    return REGISTRY.get_sample_value("postbot_breaker_state", {"platform": platform, "account": account})


@asynccontextmanager
async def _breakers(
    db: Database, count: int, *, clock: Callable[[], float] = time.monotonic, **kw: float
) -> AsyncIterator[list[Breakers]]:
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
                clock=clock,
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
    clock = HeldClock()
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=sched, monotonic=clock) as w:
            ids = await seed_posts(w.sessions, count=5, run_at=datetime.now(UTC), platforms=("tiktok",))
            # The whole first round inside the open period on the worker's clock: on a loaded machine
            # it can outlast open_s, and the breaker would rightly half-open for post 3.
            clock.hold()
            await w.processor.run_due()
            held = {p.id: p for p in await rows(w.sessions)}
            state_open = _state("tiktok")
            clock.release()
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


# -- Survivors of tools/mutation.py breaker (issue 29). Each docstring names the mutations it kills;
# -- the equivalent ones are explained at the code.


class Clock:
    """This worker's monotonic clock, moved by the test (the database keeps its own)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _statements(breaker: Breakers) -> list[str]:
    """Every SQL statement the breaker's engine sends from now on (the database is the edge)."""
    sent: list[str] = []
    engine = breaker.store.sessions.kw["bind"]

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return sent


async def test_while_another_worker_probes_this_one_asks_again_within_five_seconds(db: Database) -> None:
    """Half-open on this worker's clock, but the probe is not to be had (here: the database's open
    period has not ended): the post is held for min(open_s, 5) s, and until then this worker does not
    ask the database again. Mutations: the hold's ``retry_at`` dropped, ``None``, ``now - …``, or 6 s;
    the remembered view built with its fields shifted or ``None``; ``<=`` for ``<`` at the hold's end;
    the open branch's ``allowed`` ``None`` instead of ``False``."""
    key = ("youtube", 4)
    clock = Clock(1000.0)
    async with _breakers(db, 1, threshold=1, open_s=60.0, cache_s=1000.0, clock=clock) as (breaker,):
        assert (await breaker.admit(key)).allowed
        assert await breaker.record_failure(key) is BreakerChange.OPENED
        held = await breaker.admit(key)
        assert held.allowed is False and 1059 < held.retry_at <= 1060
        clock.now = 1061.0
        sent = _statements(breaker)
        busy = await breaker.admit(key)
        assert busy == Admission(False, retry_at=1066.0)
        assert breaker.state(key) is BreakerState.HALF_OPEN
        assert len(sent) == 1  # the probe asked for, once
        clock.now = 1065.5
        assert await breaker.admit(key) == Admission(False, retry_at=1070.5)
        assert len(sent) == 1
        clock.now = 1066.0
        assert await breaker.admit(key) == Admission(False, retry_at=1071.0)
        assert len(sent) == 2  # the hold is over: the database is asked again


async def test_one_failure_then_a_success_ends_the_streak(db: Database) -> None:
    """Mutation: the success's write skipped when this worker knows of exactly one failure
    (``failures == 1`` for ``== 0``), so the streak went on and opened the breaker early."""
    key = ("x", 5)
    async with _breakers(db, 1, threshold=3) as (breaker,):
        await breaker.record_failure(key)
        await breaker.record_success(key)
        for _ in range(2):
            assert await breaker.record_failure(key) is None
        assert breaker.state(key) is BreakerState.CLOSED


async def test_a_success_on_a_healthy_platform_sends_no_statement(db: Database) -> None:
    """Mutations: the no-write test of a success reading ``open_until != 0`` or ``== 1``: every
    success on a healthy platform then wrote (the cost the cache is there to avoid)."""
    key = ("linkedin", 2)
    async with _breakers(db, 1, cache_s=60.0) as (breaker,):
        assert (await breaker.admit(key)).allowed
        # A streak ended: the row (and this worker's view of it) is closed with no failures.
        await breaker.record_failure(key)
        await breaker.record_success(key)
        sent = _statements(breaker)
        assert [await breaker.record_success(key) for _ in range(5)] == [None] * 5
        assert sent == []


async def test_an_abandoned_probe_can_be_taken_again_by_the_same_worker(db: Database) -> None:
    """After abandon_probe this worker's view has no probe out and is still half-open, so its next
    admission is the probe again. Mutations: the view not updated (not looked up, looked up by
    ``None``, ``is None`` for ``is not None``), or rebuilt with its fields shifted (closed: a plain
    admission, no probe) or ``None`` as the probe's deadline; abandoning with no probe out raising
    (``pop`` without its default)."""
    key = ("tiktok", 8)
    # No read between the calls: what this worker does with its own view is what is seen.
    async with _breakers(db, 1, threshold=1, cache_s=60.0) as (breaker,):
        await breaker.abandon_probe(key)  # no probe out: nothing to give back
        await breaker.record_failure(key)
        await asyncio.sleep(OPEN_S + 0.05)
        assert (await breaker.admit(key)).probe
        await breaker.abandon_probe(key)
        assert breaker.state(key) is BreakerState.HALF_OPEN
        again = await breaker.admit(key)
        assert again.allowed and again.probe


def test_a_key_never_seen_is_closed() -> None:
    """Mutations: ``state`` looking up an unknown key with a default of ``None`` (or none)."""
    engine = make_engine("sqlite+aiosqlite://")  # never connected to
    breakers = Breakers(BreakerStore(session_factory(engine)), threshold=1, open_s=1.0)
    assert breakers.state(("youtube", 1)) is BreakerState.CLOSED


async def test_status_shows_each_platforms_worst_breaker(db: Database) -> None:
    """Per platform the worst of its accounts' states, whichever account the table lists first.
    Mutations: the ranks ``None`` (a crash on the second account), closed ranked with half-open, or
    half-open with open (the first account listed then wins); "half-open" spelled otherwise."""
    async with (
        _breakers(db, 1, threshold=1, open_s=0.3) as (short,),
        _breakers(db, 1, threshold=1, open_s=60.0) as (long,),
    ):
        # Rows in this order: per platform the first account listed is the lesser state for some
        # platforms and the worse for others.
        await short.record_failure(("youtube", 1))  # half-open by the time of reading
        await long.record_failure(("youtube", 2))  # open
        await long.record_failure(("tiktok", 1))  # open
        await short.record_failure(("tiktok", 2))  # half-open
        await short.record_failure(("x", 1))
        await short.record_success(("x", 1))  # closed (the row stays)
        await short.record_failure(("x", 2))  # half-open
        await short.record_failure(("linkedin", 1))  # half-open
        await short.record_failure(("linkedin", 2))
        await short.record_success(("linkedin", 2))  # closed
        await asyncio.sleep(0.35)
        # Read by the worker that opened the half-open ones: its own view lists them first.
        assert await short.states() == {
            "youtube": "open",
            "tiktok": "open",
            "x": "half-open",
            "linkedin": "half-open",
        }


async def test_a_success_with_nothing_to_end_returns_the_row_as_it_is(db: Database) -> None:
    """BreakerStore.success on a closed breaker with no streak (another worker ended it first)
    changes nothing and returns the row; on a key with no row, None. Mutations: the reset's test
    inverted, the last read dropped, sent without its statement or key, or its answer inverted."""
    engine = make_engine(db.url, schema=db.schema)
    try:
        await migrate(engine)
        store = BreakerStore(session_factory(engine))
        assert await store.success("youtube:1") is None
        await store.failure("youtube:1", threshold=5, open_s=60.0)
        reset = await store.success("youtube:1")
        assert reset is not None and reset.change is None and reset.row.failures == 0
        again = await store.success("youtube:1")
        assert again is not None and again.change is None
        assert (again.row.failures, again.row.open_until, again.row.probe_until) == (0, 0.0, 0.0)
        assert again.row.now > 1.7e9  # the database's clock, epoch seconds
    finally:
        await engine.dispose()


async def test_a_worker_holds_back_on_its_own_while_the_database_is_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No breaker table to read or write (a database that is away or not migrated): the worker
    retries the read once per ``cache_s``, counts the failures itself, opens at the threshold, and
    when half-open cannot take the probe, so it holds the post min(open_s, 5) s; each failure is
    logged with its traceback. Mutations: the local count not kept (looked up by ``None``, no
    default view, ``None`` or ``- 1`` for the count), the read retried only after more than
    ``cache_s``, the log messages or their tracebacks dropped."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    clock = Clock(500.0)
    try:
        breaker = Breakers(
            BreakerStore(session_factory(engine)), threshold=2, open_s=30.0, cache_s=10.0, clock=clock
        )
        key = ("instagram", 3)
        with caplog.at_level(logging.WARNING, logger="core.scheduler.breaker"):
            assert (await breaker.admit(key)).allowed
            clock.now = 509.9
            assert (await breaker.admit(key)).allowed  # within cache_s of the failed read: no retry
            clock.now = 510.0
            assert (await breaker.admit(key)).allowed
            assert await breaker.record_failure(key) is None
            assert breaker.state(key) is BreakerState.CLOSED
            await breaker.record_failure(key)
            assert breaker.state(key) is BreakerState.OPEN
            assert await breaker.admit(key) == Admission(False, retry_at=540.0)
            clock.now = 541.0
            assert await breaker.admit(key) == Admission(False, retry_at=546.0)
        assert [r.getMessage() for r in caplog.records] == [
            "reading the shared breakers failed",
            "reading the shared breakers failed",
            "writing the shared breaker failed",
            "writing the shared breaker failed",
            "reading the shared breakers failed",
            "taking the breaker probe failed",
        ]
        assert all(r.exc_info and r.exc_info[0] is not None for r in caplog.records)
    finally:
        await engine.dispose()


async def test_a_probe_given_back_while_the_database_is_away_frees_this_workers_view(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The probe's worker gives it back (stopping) but the database is gone: logged, and the row's
    probe frees itself after probe_s. Mutations: the log message or its traceback dropped."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'breakers.db'}")
    try:
        await migrate(engine)
        breaker = Breakers(BreakerStore(session_factory(engine)), threshold=1, open_s=0.2, cache_s=0.0)
        key = ("youtube", 6)
        await breaker.record_failure(key)
        await asyncio.sleep(0.25)
        assert (await breaker.admit(key)).probe
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE breaker_states"))
        with caplog.at_level(logging.WARNING, logger="core.scheduler.breaker"):
            await breaker.abandon_probe(key)
        [record] = caplog.records
        assert record.getMessage() == "giving back the breaker probe failed; it frees itself later"
        assert record.exc_info and record.exc_info[0] is not None  # a traceback, not just True
        assert breaker.state(key) is BreakerState.HALF_OPEN
    finally:
        await engine.dispose()


async def test_after_a_busy_probe_or_an_abandon_a_failure_counts_while_the_database_is_away(
    tmp_path: Path,
) -> None:
    """A worker told the probe is another's, and the worker that gave its probe back, each keep
    their streak in their view: when the database is then away, their next failure is counted here
    (not a crash in the publishing path) and the post stays held. Mutations: the view rebuilt with
    ``None`` failures after a busy probe (``admit``) or after an abandon (``abandon_probe``)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'breakers.db'}")
    try:
        await migrate(engine)
        # No read between the calls (cache_s): each worker acts on the view its own calls left.
        prober, waiter = (
            Breakers(BreakerStore(session_factory(engine)), threshold=1, open_s=0.2, cache_s=60.0)
            for _ in range(2)
        )
        key = ("youtube", 10)
        await prober.record_failure(key)
        await waiter.record_failure(key)
        # The waiter's one read: open, no probe out (it does not learn of the prober's).
        assert not (await waiter.admit(key)).allowed
        await asyncio.sleep(0.25)
        assert (await prober.admit(key)).probe
        assert not (await waiter.admit(key)).allowed  # asked for it: the prober's
        await prober.abandon_probe(key)
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE breaker_states"))
        for breaker in (prober, waiter):
            assert await breaker.record_failure(key) is None
            assert breaker.state(key) is BreakerState.HALF_OPEN
            assert not (await breaker.admit(key)).allowed  # no probe to be had: held
    finally:
        await engine.dispose()


# -- Survivors of the constructors, the cache's helpers and BreakerStore.failure (issue 29, second
# -- run over the functions the first did not measure).


async def test_by_default_a_worker_reads_once_a_second_and_a_probe_runs_30_s(tmp_path: Path) -> None:
    """Breakers' defaults: the fleet's breakers reread once per second, and a probe may stay out
    max(open_s, 30) s before another worker may send one. Mutations: the default ``cache_s`` 2.0;
    the default probe time ``max(open_s, 31.0)``."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'breakers.db'}")
    try:
        await migrate(engine)
        clock = Clock(100.0)
        breaker = Breakers(BreakerStore(session_factory(engine)), threshold=1, open_s=0.2, clock=clock)
        key = ("youtube", 14)
        assert (await breaker.admit(key)).allowed  # the first read
        sent = _statements(breaker)
        clock.now = 100.99
        assert (await breaker.admit(key)).allowed
        assert sent == []
        clock.now = 101.0
        assert (await breaker.admit(key)).allowed
        assert len(sent) == 1
        await breaker.record_failure(key)
        await asyncio.sleep(0.25)  # the database's open period
        clock.now = 103.0
        assert (await breaker.admit(key)).probe
        [row] = (await breaker.store.read()).values()
        assert 29.5 < row.probe_until - row.now <= 30.0
    finally:
        await engine.dispose()


async def test_a_slow_read_does_not_move_a_breakers_deadline_later(db: Database) -> None:
    """A read's deadlines are placed from when the read began: the database read its clock after
    that, so this worker never holds posts past the moment the fleet's breaker half-opens, however
    long the read took (here 5 s on this worker's clock). Mutation: ``_refresh`` placing them from
    this worker's clock after the read (``at=None``, or no ``at``)."""
    key = ("youtube", 11)
    clock = Clock(1000.0)
    async with _breakers(db, 2, threshold=1, open_s=60.0, clock=clock) as (opener, reader):
        assert await opener.record_failure(key) is BreakerChange.OPENED  # 60 s on the database's clock

        def slow(*args: object) -> None:
            clock.now += 5.0

        event.listen(reader.store.sessions.kw["bind"].sync_engine, "before_cursor_execute", slow)
        held = await reader.admit(key)
    assert not held.allowed and 1059 < held.retry_at <= 1060


async def test_a_breaker_the_database_does_not_have_is_closed_on_the_next_read(
    tmp_path: Path,
) -> None:
    """This worker opened a breaker on its own while the database was away; the database is back
    without that row (here: migrated only now): the next read closes it here too, posts go out and
    the gauge says closed. Mutations: ``_refresh`` resetting a view the database has no row for
    under ``None``, to ``None``, or without one of its arguments."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'breakers.db'}")
    try:
        clock = Clock(100.0)
        breaker = Breakers(
            BreakerStore(session_factory(engine)), threshold=1, open_s=30.0, cache_s=1.0, clock=clock
        )
        key = ("threads", 12)
        assert await breaker.record_failure(key) is None  # no table: counted here
        assert breaker.state(key) is BreakerState.OPEN and _state("threads", "12") == 1
        await migrate(engine)
        clock.now = 101.0
        assert (await breaker.admit(key)).allowed
        assert breaker.state(key) is BreakerState.CLOSED and _state("threads", "12") == 0
    finally:
        await engine.dispose()


async def test_a_worker_that_reads_that_the_probe_is_out_does_not_ask_for_it(db: Database) -> None:
    """Another worker has the probe and this worker's read shows it: the post is held and the
    database is not asked for the probe. Mutation: ``_remember`` dropping the probe's deadline from
    the view (every admission then sent a probe request that matches nothing)."""
    key = ("tiktok", 13)
    async with _breakers(db, 2, threshold=1) as (prober, reader):
        await prober.record_failure(key)
        assert not (await reader.admit(key)).allowed  # open (and the reader's connection made)
        await asyncio.sleep(OPEN_S + 0.05)
        assert (await prober.admit(key)).probe
        sent = _statements(reader)
        assert not (await reader.admit(key)).allowed
        assert [s.split()[0].upper() for s in sent] == ["SELECT"]  # the read, no UPDATE


async def test_a_failure_below_the_threshold_is_one_statement(db: Database) -> None:
    """A closed breaker's failure is counted by one upsert. Mutation: ``BreakerStore.failure``
    trying to reopen a closed breaker too (``0 <=`` for ``0 <``): a second statement, matching
    nothing, on every failure."""
    key = ("linkedin", 15)
    async with _breakers(db, 1, threshold=3) as (breaker,):
        await breaker.record_failure(key)  # the connection made
        sent = _statements(breaker)
        assert await breaker.record_failure(key) is None
        assert [s.split()[0].upper() for s in sent] == ["INSERT"]


async def test_a_deadline_on_this_workers_clock_zero_is_not_read_as_closed(tmp_path: Path) -> None:
    """0 is a closed breaker's deadline, so a deadline that lands on exactly 0.0 of this worker's
    clock is kept a hair past it: open at 0, half-open right after. Reached with an open period of
    0 and the clock at 0: SQLite reads its clock once per statement ("now" is the same within one
    sqlite3_step, https://www.sqlite.org/lang_datefunc.html), so the row's deadline is exactly its
    ``now``. Mutation: the stand-in ``1.000000001`` (open for another second) for ``1e-9``."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'breakers.db'}")
    try:
        await migrate(engine)
        clock = Clock(0.0)
        breaker = Breakers(
            BreakerStore(session_factory(engine)), threshold=1, open_s=0.0, cache_s=60.0, clock=clock
        )
        key = ("x", 16)
        assert await breaker.record_failure(key) is BreakerChange.OPENED
        assert breaker.state(key) is BreakerState.OPEN
        clock.now = 0.5
        assert breaker.state(key) is BreakerState.HALF_OPEN
    finally:
        await engine.dispose()
