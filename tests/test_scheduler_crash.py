"""A worker killed mid-publish: its post is taken over after the lease and published exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from core.config import SchedulerSettings, Settings
from core.db.models import ScheduledPost
from core.store.queue import claim_due
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.scheduler_support import rows, worker

LEASE = SchedulerSettings(lease_s=1.0, batch_size=10, max_in_flight=10)


async def test_worker_killed_mid_request_is_taken_over_after_the_lease_and_posts_once(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    # The platform receives the first request and sits on it: the worker dies while waiting.
    fake.script("youtube", Scripted(hold=True))
    try:
        # A long lease for the dead worker, so "not taken early" holds however loaded the machine is;
        # the survivor's clock is then moved past it instead of the test sleeping through it.
        long_lease = LEASE.model_copy(update={"lease_s": 30.0})
        async with worker(db, settings, url, worker_id="doomed", scheduler=long_lease) as doomed:
            [post_id] = await seed_posts(
                doomed.sessions, count=1, run_at=datetime.now(UTC), platforms=("youtube",)
            )
            run = asyncio.create_task(doomed.processor.run_due())
            async with asyncio.timeout(5):
                await fake.held.wait()
            run.cancel()  # the kill: no release, no outcome, the HTTP connection is dropped
            await asyncio.gather(run, return_exceptions=True)
        # The platform goes on and creates the post although nobody heard its answer.
        fake.release()
        async with asyncio.timeout(5):
            while fake.created == 0:
                await asyncio.sleep(0.01)

        async with worker(db, settings, url, worker_id="survivor", scheduler=LEASE) as survivor:
            [left] = await rows(survivor.sessions)
            assert (left.status, left.claimed_by, left.attempts) == ("running", "doomed", 1)
            assert await survivor.processor.run_due() == 0  # still leased: not taken early
            assert left.lease_until is not None
            expired = left.lease_until + timedelta(seconds=0.1)
            survivor.processor.clock = lambda: max(datetime.now(UTC), expired)
            assert await survivor.processor.run_due() == 1
            [final] = await rows(survivor.sessions)
            announced = survivor.notifier.results
    finally:
        await fake.stop()

    [remote] = fake.posts.values()
    assert final.id == post_id
    assert (final.status, final.attempts, final.claimed_by) == ("published", 2, None)
    # The re-sent request carried the same idempotency key: the platform answered with the post it
    # had made, so there is one post remotely and the row records exactly that one.
    assert fake.stats() == {"requests": 2, "created": 1, "replays": 1}
    assert final.remote_id == remote["id"]
    assert [(v.id, v.status, v.remote_id) for v in announced] == [(post_id, "published", remote["id"])]


async def test_remote_id_recorded_before_a_crash_finishes_the_post_without_calling_the_platform(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    try:
        async with worker(db, settings, url, worker_id="survivor", scheduler=LEASE) as survivor:
            [post_id] = await seed_posts(survivor.sessions, count=1, run_at=datetime.now(UTC))
            # A worker claimed it, published, checkpointed the remote id, and died.
            async with survivor.sessions.begin() as session:
                assert await claim_due(
                    session,
                    worker_id="doomed",
                    now=datetime.now(UTC),
                    lease=timedelta(seconds=0.5),
                    limit=5,
                ) == [post_id]
                await session.execute(
                    update(ScheduledPost)
                    .where(ScheduledPost.id == post_id)
                    .values(upload_state={"remote_id": "r-123", "remote_url": "https://x.test/r-123"})
                )
            await asyncio.sleep(0.6)
            assert await survivor.processor.run_due() == 1
            [final] = await rows(survivor.sessions)
            announced = survivor.notifier.results
    finally:
        await fake.stop()
    assert fake.stats()["requests"] == 0
    assert (final.status, final.remote_id, final.remote_url) == ("published", "r-123", "https://x.test/r-123")
    assert [v.remote_id for v in announced] == ["r-123"]


async def test_graceful_stop_hands_posts_back_without_spending_an_attempt(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("x", Scripted(hold=True))
    try:
        async with worker(db, settings, url, worker_id="a", scheduler=LEASE) as a:
            await seed_posts(a.sessions, count=1, run_at=datetime.now(UTC), platforms=("x",))
            run = asyncio.create_task(a.processor.run_due())
            async with asyncio.timeout(5):
                await fake.held.wait()
            await a.processor.stop()
            await asyncio.gather(run, return_exceptions=True)
            [left] = await rows(a.sessions)
    finally:
        await fake.stop()
    assert (left.status, left.claimed_by, left.lease_until, left.attempts) == ("queued", None, None, 0)


async def test_a_long_upload_keeps_its_lease_and_is_not_taken_over(db: Database, settings: Settings) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("linkedin", Scripted(hold=True))
    short = LEASE.model_copy(update={"lease_s": 0.6})
    try:
        async with (
            worker(db, settings, url, worker_id="slow", scheduler=short) as slow,
            worker(db, settings, url, worker_id="other", scheduler=short) as other,
        ):
            await seed_posts(slow.sessions, count=1, run_at=datetime.now(UTC), platforms=("linkedin",))
            run = asyncio.create_task(slow.processor.run_due())
            async with asyncio.timeout(5):
                await fake.held.wait()
            # Well past the lease: the renewals keep it, so the other worker finds nothing to take.
            await asyncio.sleep(1.5)
            assert await other.processor.run_due() == 0
            fake.release()
            assert await run == 1
            [final] = await rows(slow.sessions)
    finally:
        await fake.stop()
    assert (final.status, final.attempts) == ("published", 1)
    assert fake.stats() == {"requests": 1, "created": 1, "replays": 0}


async def test_an_upload_whose_lease_was_taken_over_stops_and_writes_nothing(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("x", Scripted(hold=True))
    short = LEASE.model_copy(update={"lease_s": 0.6})
    try:
        async with worker(db, settings, url, worker_id="stale", scheduler=short) as stale:
            [post_id] = await seed_posts(stale.sessions, count=1, run_at=datetime.now(UTC), platforms=("x",))
            run = asyncio.create_task(stale.processor.run_due())
            async with asyncio.timeout(5):
                await fake.held.wait()
            # Another worker owns the post now (as after a long stall of this one), with a lease of its
            # own: were the old 0.6 s lease left to lapse on a loaded machine, the stale worker could
            # lawfully claim the post again and the count below would say 2.
            async with stale.sessions.begin() as session:
                await session.execute(
                    update(ScheduledPost)
                    .where(ScheduledPost.id == post_id)
                    .values(claimed_by="new-owner", lease_until=datetime.now(UTC) + timedelta(minutes=5))
                )
            async with asyncio.timeout(5):
                assert await run == 1  # the renewal noticed and stopped the upload
            [left] = await rows(stale.sessions)
    finally:
        await fake.stop()
    assert (left.status, left.claimed_by, left.remote_id) == ("running", "new-owner", None)
    assert stale.notifier.results == []
