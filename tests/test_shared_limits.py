"""Token buckets in the database: workers with their own connections draw from one allowance."""

from __future__ import annotations

import asyncio
import time

from core.db.engine import make_engine, migrate, session_factory
from core.store.buckets import SharedBuckets
from tests.conftest import Database


async def test_two_workers_share_one_allowance(db: Database) -> None:
    engines = [make_engine(db.url, schema=db.schema) for _ in range(2)]
    try:
        for engine in engines:
            await migrate(engine)
        workers = [SharedBuckets(session_factory(e), e.dialect.name) for e in engines]

        async def take(worker: SharedBuckets) -> float:
            wait, kept = await worker.reserve("youtube:7", rate=5.0, burst=1, max_wait_s=10)
            assert kept
            return time.monotonic() + wait  # when this request may go out

        ready = sorted(await asyncio.gather(*(take(workers[i % 2]) for i in range(10))))

        # 10 requests at 5/s with a burst of 1 go out over 1.8 s whichever worker sends them (a slow
        # machine only spreads them more). Separate buckets would let each worker's 5 go in 0.8 s.
        assert ready[-1] - ready[0] > 1.7, ready
        # Another account has its own bucket.
        wait, kept = await workers[1].reserve("youtube:8", rate=5.0, burst=1, max_wait_s=10)
        assert kept and wait < 0.1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_wait_too_long_gives_the_token_back(db: Database) -> None:
    engine = make_engine(db.url, schema=db.schema)
    try:
        await migrate(engine)
        bucket = SharedBuckets(session_factory(engine), engine.dialect.name)
        assert (await bucket.reserve("x:1", rate=1.0, burst=1, max_wait_s=0.5))[1]
        wait, kept = await bucket.reserve("x:1", rate=1.0, burst=1, max_wait_s=0.5)
        assert not kept and 0.5 < wait <= 1.0
        # Not kept, so the next caller's wait is no longer than this one's was.
        again, _ = await bucket.reserve("x:1", rate=1.0, burst=1, max_wait_s=0.5)
        assert again <= wait
    finally:
        await engine.dispose()
