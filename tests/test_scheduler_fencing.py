"""Lease fencing (issue 11 point 5): every write of a worker whose claim was superseded matches no row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import Settings
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import ScheduledPost
from core.db.types import as_utc
from core.scheduler.outcomes import OutcomeWriter
from core.store import queue
from core.store.queue import Failed, Lease, PostQueue, Published
from tests.conftest import Database
from tests.fakes.bench_platform import seed_posts
from tests.scheduler_support import rows


async def test_a_superseded_claim_can_neither_checkpoint_nor_renew_nor_record_an_outcome(
    db: Database, settings: Settings
) -> None:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    writer = OutcomeWriter(PostQueue(sessions, "w"))
    try:
        now = datetime.now(UTC)
        [post_id] = await seed_posts(sessions, count=1, run_at=now - timedelta(seconds=1))
        lease = timedelta(seconds=1)
        async with sessions.begin() as session:
            [first] = await queue.claim_batch(session, worker_id="w", now=now, lease=lease, limit=5)
        old = first.lease("w")
        async with sessions.begin() as session:
            await queue.save_checkpoint(session, old, {"offset": 1})
        # The same worker id claims it again after its lease lapsed (a renewal lost to a database
        # blip): claimed_by alone cannot tell the stale task from the new one, the version can.
        later = now + timedelta(seconds=2)
        async with sessions.begin() as session:
            [second] = await queue.claim_batch(session, worker_id="w", now=later, lease=lease, limit=5)
        new = second.lease("w")
        assert (second.id, new.version) == (post_id, old.version + 1)

        with pytest.raises(queue.LeaseLost):
            async with sessions.begin() as session:
                await queue.save_checkpoint(session, old, {"offset": 999})
        async with sessions.begin() as session:
            assert await queue.renew(session, [old], until=later + lease) == set()
            assert await queue.renew(session, [new], until=later + lease) == {post_id}
        assert await writer.write(Failed(post_id, "stale worker's error", None, old.version)) is False
        [row] = await rows(sessions)
        assert (row.status, row.upload_state, row.last_error) == ("running", {"offset": 1}, None)

        async with sessions.begin() as session:
            await queue.save_checkpoint(session, new, {"offset": 2})
        done = Published(post_id, "r-1", None, later, {"offset": 2, "remote_id": "r-1"}, new.version)
        assert await writer.write(done) is True
        [row] = await rows(sessions)
        assert (row.status, row.remote_id, row.claimed_by) == ("published", "r-1", None)
        # Finished: even the current lease writes nothing more.
        with pytest.raises(queue.LeaseLost):
            async with sessions.begin() as session:
                await queue.save_checkpoint(session, new, {"offset": 3})
    finally:
        await writer.close()
        await engine.dispose()


# -- Survivors of tools/mutation.py lease-fencing (issue 29): each condition of the fence stops a
# -- write on its own, and a renewal moves the lease to the time it was given.


async def _claimed(
    db: Database, count: int
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession], list[Lease]]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    await seed_posts(sessions, count=count, run_at=now - timedelta(seconds=1))
    async with sessions.begin() as session:
        claimed = await queue.claim_batch(
            session, worker_id="w", now=now, lease=timedelta(seconds=30), limit=count
        )
    return engine, sessions, [c.lease("w") for c in sorted(claimed, key=lambda c: c.id)]


async def test_each_condition_of_a_lease_fences_on_its_own(db: Database) -> None:
    """A checkpoint or a renewal writes only the leased post, only for the worker that holds it, only
    while it runs. Mutations: ``held`` or ``renew`` without the post id (the checkpoint wrote both of
    the worker's posts, which share a version), without the worker (another worker's lease with the
    same version wrote), or without the running status (a post finished by another path, its claim
    left behind, still took writes)."""
    engine, sessions, (first, second) = await _claimed(db, 2)
    try:
        assert first.version == second.version
        async with sessions.begin() as session:
            await queue.save_checkpoint(session, first, {"offset": 1})
        assert [r.upload_state for r in await rows(sessions)] == [{"offset": 1}, {}]

        stranger = Lease(first.post_id, "v", first.version)
        with pytest.raises(queue.LeaseLost) as lost:
            async with sessions.begin() as session:
                await queue.save_checkpoint(session, stranger, {"offset": 99})
        assert lost.value.post_id == first.post_id
        async with sessions.begin() as session:
            assert await queue.renew(session, [stranger], until=datetime.now(UTC)) == set()

        async with sessions.begin() as session:
            await session.execute(
                update(ScheduledPost).where(ScheduledPost.id == second.post_id).values(status="failed")
            )
        with pytest.raises(queue.LeaseLost):
            async with sessions.begin() as session:
                await queue.save_checkpoint(session, second, {"offset": 2})
        async with sessions.begin() as session:
            assert await queue.renew(session, [first, second], until=datetime.now(UTC)) == {first.post_id}
        assert [r.upload_state for r in await rows(sessions)] == [{"offset": 1}, {}]
    finally:
        await engine.dispose()


async def test_a_renewal_moves_the_lease_to_the_time_given(db: Database) -> None:
    """Mutation: ``renew`` writing ``lease_until = NULL`` passed, since every test read only the ids it
    returned; a NULL lease is one no claim ever finds expired."""
    engine, sessions, (lease,) = await _claimed(db, 1)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=7)
    try:
        async with sessions.begin() as session:
            assert await queue.renew(session, [lease], until=until) == {lease.post_id}
        [row] = await rows(sessions)
        assert row.lease_until is not None and as_utc(row.lease_until) == until
    finally:
        await engine.dispose()


async def test_renewing_two_workers_leases_at_once_is_refused(db: Database) -> None:
    """Mutations: the refusal's message dropped or altered."""
    engine, sessions, (lease,) = await _claimed(db, 1)
    try:
        with pytest.raises(ValueError, match=r"^renew one worker's leases at a time$"):
            async with sessions.begin() as session:
                await queue.renew(session, [lease, Lease(lease.post_id + 1, "v", 1)], until=datetime.now(UTC))
    finally:
        await engine.dispose()


async def test_a_notified_outcome_is_written_whoever_holds_the_post(db: Database) -> None:
    """That the result was announced is recorded after the post's claim is gone (the announcement
    follows the outcome), so it is not fenced. Mutation: its statement dropped."""
    engine, sessions, (lease,) = await _claimed(db, 1)
    at = datetime.now(UTC).replace(microsecond=0)
    try:
        async with sessions.begin() as session:
            applied = await queue.write_outcomes(
                session, [queue.Notified(lease.post_id, at)], worker_id="someone-else", stamp=at
            )
        assert applied == {lease.post_id}
        [row] = await rows(sessions)
        assert row.notified_at is not None and as_utc(row.notified_at) == at
    finally:
        await engine.dispose()


async def test_an_outcome_is_written_only_by_the_worker_holding_the_post(db: Database) -> None:
    """Mutation: the outcome's UPDATE without ``claimed_by = worker``, so another worker's outcome
    with the same lease version was written (the version alone fenced it)."""
    engine, sessions, (lease,) = await _claimed(db, 1)
    stamp = datetime.now(UTC)
    try:
        failed = Failed(lease.post_id, "not mine to say", None, lease.version)
        async with sessions.begin() as session:
            assert await queue.write_outcomes(session, [failed], worker_id="v", stamp=stamp) == set()
        [row] = await rows(sessions)
        assert (row.status, row.last_error, row.claimed_by) == ("running", None, "w")
    finally:
        await engine.dispose()


async def test_outcomes_written_with_the_same_stamp_are_told_apart(db: Database) -> None:
    """Two workers may stamp their writes with the same instant; each learns only which of its own
    outcomes it wrote. Mutation: the stamp alone read back (without ``id IN`` the write's posts), so
    the second writer also claimed the first one's post."""
    engine, sessions, (first, second) = await _claimed(db, 2)
    stamp = datetime.now(UTC)
    try:
        async with sessions.begin() as session:
            done = Failed(first.post_id, "gone", None, first.version)
            assert await queue.write_outcomes(session, [done], worker_id="w", stamp=stamp) == {first.post_id}
        async with sessions.begin() as session:
            stale = Failed(second.post_id, "stale", None, second.version + 1)
            assert await queue.write_outcomes(session, [stale], worker_id="w", stamp=stamp) == set()
    finally:
        await engine.dispose()
