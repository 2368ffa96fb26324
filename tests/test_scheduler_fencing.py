"""Lease fencing (issue 11 point 5): every write of a worker whose claim was superseded matches no row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.config import Settings
from core.db.engine import make_engine, migrate, session_factory
from core.scheduler.outcomes import OutcomeWriter
from core.store import queue
from core.store.queue import Failed, PostQueue, Published
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
