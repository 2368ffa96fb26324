"""Claiming is exclusive: concurrent workers never take the same post, and never wait on each other."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from core.config import SchedulerSettings, Settings
from core.db.engine import make_engine, migrate, session_factory
from core.store import queue
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, seed_posts
from tests.scheduler_support import rows, worker


async def test_workers_racing_over_1000_due_posts_publish_each_exactly_once(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform(latency_s=0.005)
    url = await fake.start()
    # Small batches and in-flight windows make the workers interleave many claims.
    sched = SchedulerSettings(lease_s=30, batch_size=10, max_in_flight=20)
    ids = ["worker-a", "worker-b"] if db.kind == "postgres" else ["worker-a"]
    try:
        async with worker(db, settings, url, worker_id=ids[0], scheduler=sched) as a:
            await seed_posts(a.sessions, count=1000, run_at=datetime.now(UTC) - timedelta(seconds=1))
            if len(ids) == 2:
                async with worker(db, settings, url, worker_id=ids[1], scheduler=sched) as b:
                    async with asyncio.timeout(45):
                        done = list(await asyncio.gather(a.processor.run_due(), b.processor.run_due()))
                    published_by = Counter(
                        v.id for w in (a, b) for v in w.notifier.results if v.status == "published"
                    )
                    # Both really took part, and between them every post was announced once.
                    assert min(len(a.notifier.results), len(b.notifier.results)) > 0
            else:
                async with asyncio.timeout(45):
                    done = [await a.processor.run_due()]
                published_by = Counter(v.id for v in a.notifier.results)
            final = await rows(a.sessions)
    finally:
        await fake.stop()

    assert sum(done) == 1000
    assert len(final) == 1000
    assert {p.status for p in final} == {"published"}
    assert {p.attempts for p in final} == {1}
    assert all(p.claimed_by is None and p.lease_until is None for p in final)
    assert len(published_by) == 1000 and set(published_by.values()) == {1}
    # The platform saw one request per post: no duplicate publish, not even a deduplicated one.
    assert fake.stats() == {"requests": 1000, "created": 1000, "replays": 0}
    assert len({p.remote_id for p in final}) == 1000


async def test_claim_skips_rows_another_transaction_holds_instead_of_waiting(
    db: Database, settings: Settings
) -> None:
    if db.kind != "postgres":
        pytest.skip("row locks and SKIP LOCKED are PostgreSQL's; SQLite has one writer")
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    try:
        now = datetime.now(UTC)
        await seed_posts(sessions, count=30, run_at=now - timedelta(seconds=5))
        lease = timedelta(seconds=30)
        async with sessions.begin() as holder:
            first = await queue.claim_due(holder, worker_id="a", now=now, lease=lease, limit=10)
            # The holder's transaction is open: its 10 rows are locked. A second claimer must get
            # the next 10 at once, not block on the locks nor take the same rows.
            async with asyncio.timeout(3), sessions.begin() as other:
                second = await queue.claim_due(other, worker_id="b", now=now, lease=lease, limit=10)
                statement = queue.claim_statement(worker_id="c", now=now, lease=lease, limit=10)
                sql = statement.compile(
                    dialect=(await other.connection()).dialect, compile_kwargs={"literal_binds": True}
                )
                plan = "\n".join((await other.execute(text(f"EXPLAIN {sql}"))).scalars())
        assert len(first) == len(second) == 10
        assert not set(first) & set(second)
        # The real claim statement: rows locked once, in the materialised CTE, and never rescanned.
        assert "LockRows" in plan and "CTE candidates" in plan and "CTE Scan on candidates" in plan
        async with sessions() as session:
            owners = Counter(
                (await session.execute(text("SELECT claimed_by FROM scheduled_posts"))).scalars().all()
            )
        assert owners == {"a": 10, "b": 10, None: 10}
    finally:
        await engine.dispose()


async def test_claim_takes_due_and_expired_leases_only(db: Database, settings: Settings) -> None:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    try:
        now = datetime.now(UTC)
        due = await seed_posts(sessions, count=3, run_at=now - timedelta(seconds=1))
        await seed_posts(sessions, count=2, run_at=now + timedelta(minutes=5))
        lease = timedelta(seconds=10)
        async with sessions.begin() as session:
            assert await queue.claim_due(session, worker_id="a", now=now, lease=lease, limit=100) == due
        async with sessions.begin() as session:
            # Leased and not yet expired: nobody else may take them.
            assert await queue.claim_due(session, worker_id="b", now=now, lease=lease, limit=100) == []
        later = now + timedelta(seconds=11)
        async with sessions.begin() as session:
            taken = await queue.claim_batch(session, worker_id="b", now=later, lease=lease, limit=100)
        assert [p.id for p in taken] == due
        assert {p.attempts for p in taken} == {2}
        async with sessions() as session:
            assert await queue.next_due_at(session) == later + lease
    finally:
        await engine.dispose()
