"""core.store.approvals on its own, on SQLite and PostgreSQL: each condition of a decision's
conditional UPDATE (team, awaiting, the revision shown, a time not yet passed), what a decision
writes, approvers racing in real tasks, a change that sends an approved post back, and review news
told once. tests/test_approval.py plays the same rules through the console and the scheduler; these
reach each one directly, fast enough to run against every mutant of the module
(tools/mutation.py approvals).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, Team, User
from core.store import approvals
from tests.conftest import Database

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=6)


@dataclass
class Store:
    sessions: async_sessionmaker[AsyncSession]
    team_id: int
    other_team_id: int
    author_id: int
    media_id: int

    async def post(self, **values: Any) -> int:
        """An awaiting post due at LATER, unless ``values`` say otherwise."""
        row: dict[str, Any] = {
            "team_id": self.team_id,
            "author_id": self.author_id,
            "media_id": self.media_id,
            "batch_id": uuid.uuid4().hex,
            "platform": "sandbox",
            "run_at": LATER,
            "due_at": LATER,
            "status": "awaiting",
            "idempotency_key": uuid.uuid4().hex,
            **values,
        }
        async with self.sessions.begin() as session:
            return (
                await session.execute(insert(ScheduledPost).returning(ScheduledPost.id), [row])
            ).scalar_one()

    async def row(self, post_id: int) -> ScheduledPost:
        async with self.sessions() as session:
            return (
                await session.execute(select(ScheduledPost).where(ScheduledPost.id == post_id))
            ).scalar_one()

    async def approve(self, post_ids: list[int], **kwargs: Any) -> list[int]:
        kwargs.setdefault("team_id", self.team_id)
        kwargs.setdefault("by", "bob")
        kwargs.setdefault("at", NOW)
        async with self.sessions.begin() as session:
            return await approvals.approve(session, post_ids=post_ids, **kwargs)

    async def reject(self, post_ids: list[int], **kwargs: Any) -> list[int]:
        kwargs.setdefault("team_id", self.team_id)
        kwargs.setdefault("by", "bob")
        kwargs.setdefault("reason", "not this week")
        async with self.sessions.begin() as session:
            return await approvals.reject(session, post_ids=post_ids, **kwargs)

    async def claim_news(self, now: datetime = NOW, **kwargs: Any) -> list[int]:
        async with self.sessions.begin() as session:
            return await approvals.claim_news(session, now=now, **kwargs)


@pytest.fixture
async def store(db: Database) -> AsyncIterator[Store]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        team = Team(chat="console", external_id="local", name="local")
        other = Team(chat="console", external_id="other", name="other")
        session.add_all([team, other])
        await session.flush()
        user = User(team_id=team.id, external_id="ana", display_name="ana")
        media = MediaAsset(team_id=team.id, path="/dev/null", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        session.add_all([user, media])
        await session.flush()
        made = Store(sessions, team.id, other.id, user.id, media.id)
    try:
        yield made
    finally:
        await engine.dispose()


# -- approve ---------------------------------------------------------------------------------------


async def test_an_approval_queues_the_post_at_its_time_and_writes_who_and_when(store: Store) -> None:
    """Mutants: another status, approved_by/approved_at not written, run_at or due_at moved (the
    CASE's branches swapped), the values dropped."""
    post = await store.post()
    assert await store.approve([post], by="bob", at=NOW) == [post]
    row = await store.row(post)
    assert (row.status, row.approved_by, row.approved_at) == ("queued", "bob", NOW)
    assert (row.run_at, row.due_at) == (LATER, LATER)


async def test_a_slash_post_awaiting_approval_goes_out_when_approved_whatever_its_time(store: Store) -> None:
    """A /post (on_approval) is due at the approval's instant, passed time or not. Mutants: the
    ``or on_approval`` dropped or made ``and``, the CASE's ``at`` replaced, due_at left."""
    past = await store.post(
        on_approval=True, run_at=NOW - timedelta(hours=1), due_at=NOW - timedelta(hours=1)
    )
    future = await store.post(on_approval=True)
    assert await store.approve([past, future], at=NOW) == [past, future]
    for post in (past, future):
        row = await store.row(post)
        assert (row.status, row.run_at, row.due_at) == ("queued", NOW, NOW)


async def test_a_post_whose_time_has_come_stays_awaiting_unless_given_a_time(store: Store) -> None:
    """Due exactly at the approval's instant counts as passed (``run_at > at``, not ``>=``); given
    ``run_at`` (publish now, or a new time) it is queued there."""
    due_now = await store.post(run_at=NOW, due_at=NOW)
    passed = await store.post(run_at=NOW - timedelta(minutes=1), due_at=NOW - timedelta(minutes=1))
    assert await store.approve([due_now, passed], at=NOW) == []
    assert (await store.row(due_now)).status == "awaiting"
    then = NOW + timedelta(minutes=5)
    assert await store.approve([due_now, passed], at=NOW, run_at=then) == [due_now, passed]
    for post in (due_now, passed):
        row = await store.row(post)
        assert (row.status, row.run_at, row.due_at, row.approved_at) == ("queued", then, then, NOW)


async def test_only_awaiting_posts_of_the_approvers_team_are_decided(store: Store) -> None:
    """Mutants: the team condition or the awaiting condition dropped, ``in_`` over other ids."""
    mine = await store.post()
    queued = await store.post(status="queued")
    theirs = await store.post(team_id=store.other_team_id)
    untouched = await store.post()
    assert await store.approve([mine, queued, theirs]) == [mine]
    assert await store.reject([queued, theirs]) == []
    assert (await store.row(queued)).approved_by is None
    assert (await store.row(theirs)).status == "awaiting"
    assert (await store.row(untouched)).status == "awaiting"
    assert await store.approve([]) == [] and await store.reject([]) == []


async def test_an_approval_after_the_author_was_told_it_missed_its_time_is_news_again(store: Store) -> None:
    """The author heard "not approved in time" (notified_at set); a later approval clears the mark
    so the publication is told. Mutant: ``notified_at`` left out of the values."""
    post = await store.post(run_at=NOW - timedelta(minutes=1), due_at=NOW - timedelta(minutes=1))
    assert await store.claim_news(NOW) == [post]
    assert (await store.row(post)).notified_at == NOW
    assert await store.approve([post], run_at=NOW) == [post]
    assert (await store.row(post)).notified_at is None


# -- the revision the request showed ----------------------------------------------------------------


async def test_each_post_is_decided_on_its_own_revision(store: Store) -> None:
    """Per row: the request showed #a at 0 and #b at 1; both are still there, so both are approved
    (a mutant joining the rows' conditions with ``and`` approves neither), and a post the request
    did not show is not approved at the revisions shown nor at 1 (mutants: the row's id left out,
    ``seen.get(i, -1)``'s default made ``+1``)."""
    a = await store.post()
    b = await store.post(revision=1)
    unseen = await store.post(revision=1)
    assert await store.approve([a, b, unseen], seen={a: 0, b: 1}) == [a, b]
    assert (await store.row(unseen)).status == "awaiting"
    c = await store.post(revision=2)
    d = await store.post()
    assert await store.reject([c, d], seen={c: 2}) == [c]


async def test_a_request_older_than_the_post_decides_nothing(store: Store) -> None:
    """Mutant: the revision compared with ``or`` (any row named would do)."""
    post = await store.post(revision=3)
    assert await store.approve([post], seen={post: 2}) == []
    assert await store.reject([post], seen={post: 2}) == []
    assert (await store.row(post)).status == "awaiting"
    assert await store.reject([post], seen={post: 3}) == [post]


# -- reject ----------------------------------------------------------------------------------------


async def test_a_rejection_writes_who_and_why_and_leaves_the_news_to_tell(store: Store) -> None:
    """Mutants: another status, rejected_by or review_note not written, notified_at not cleared."""
    post = await store.post(notified_at=NOW - timedelta(days=1))
    assert await store.reject([post], by="carol", reason="the logo is old") == [post]
    row = await store.row(post)
    assert (row.status, row.rejected_by, row.review_note, row.notified_at) == (
        "rejected",
        "carol",
        "the logo is old",
        None,
    )
    assert await store.claim_news(NOW) == [post]


# -- racing ----------------------------------------------------------------------------------------


async def test_approvers_racing_in_their_own_transactions_decide_once(store: Store) -> None:
    """Two approvers each double-clicking, one of them rejecting, each in its own transaction and
    task: one decision wins, every other call decided nothing."""
    post = await store.post()

    async def approve(who: str) -> list[int]:
        return await store.approve([post], by=who)

    async def reject(who: str) -> list[int]:
        return await store.reject([post], by=who)

    outcomes = await asyncio.gather(approve("bob"), approve("carol"), reject("bob"), approve("carol"))
    assert sorted(len(o) for o in outcomes) == [0, 0, 0, 1]
    row = await store.row(post)
    assert row.status in ("queued", "rejected")


# -- back to awaiting ------------------------------------------------------------------------------


async def test_a_change_sends_an_approved_post_back_at_the_next_revision(store: Store) -> None:
    """Mutants: the revision moved by another amount, approved_by/approved_at/notified_at kept,
    another status, a post that is not queued sent back, another queued post sent back too (the post
    id left out), the answer inverted."""
    post = await store.post(revision=4)
    other = await store.post(status="queued", approved_by="bob")
    assert await store.approve([post]) == [post]
    async with store.sessions.begin() as session:
        await session.execute(update(ScheduledPost).where(ScheduledPost.id == post).values(notified_at=NOW))
    async with store.sessions.begin() as session:
        assert await approvals.unapprove(session, post) is True
    row = await store.row(post)
    assert (row.status, row.revision, row.approved_by, row.approved_at, row.notified_at) == (
        "awaiting",
        5,
        None,
        None,
        None,
    )
    rejected = await store.post(status="rejected")
    async with store.sessions.begin() as session:
        assert await approvals.unapprove(session, post) is False  # awaiting already
        assert await approvals.unapprove(session, rejected) is False
    assert (await store.row(post)).revision == 5
    assert (await store.row(rejected)).status == "rejected"
    row = await store.row(other)
    assert (row.status, row.revision, row.approved_by) == ("queued", 0, "bob")


# -- review news -----------------------------------------------------------------------------------


async def test_news_is_a_rejection_or_a_post_awaiting_at_its_time_not_yet_told(store: Store) -> None:
    """Mutants of ``news``: ``<=`` made ``<`` (due exactly now is news), the on_approval exception
    dropped, a told post told again, queued or published posts taken."""
    due_now = await store.post(run_at=NOW, due_at=NOW)
    rejected = await store.post(status="rejected")
    await store.post()  # awaiting, not yet due
    await store.post(on_approval=True, run_at=NOW - timedelta(hours=1), due_at=NOW - timedelta(hours=1))
    await store.post(status="queued", run_at=NOW - timedelta(hours=1), due_at=NOW - timedelta(hours=1))
    await store.post(status="rejected", notified_at=NOW - timedelta(hours=1))
    assert await store.claim_news(NOW) == [due_now, rejected]
    assert await store.claim_news(NOW + timedelta(seconds=1)) == []


async def test_news_is_claimed_in_order_up_to_the_limit(store: Store) -> None:
    """Mutants: no LIMIT, the candidates' ``id IN`` left out of the UPDATE (it would mark past the
    limit), the default limit changed (51 untold: 50 the first time)."""
    ids = [await store.post(status="rejected") for _ in range(53)]
    assert await store.claim_news(NOW, limit=2) == ids[:2]
    rest = ids[2:]
    assert len(rest) == 51
    assert await store.claim_news(NOW) == rest[:50]
    assert await store.claim_news(NOW) == rest[50:]


async def test_the_oldest_news_is_told_first_whatever_order_the_database_reads_rows_in(store: Store) -> None:
    """Oldest post first, so a backlog over ``limit`` cannot keep one author waiting. The older
    rejection is due later (an index on status and due time would read it second) and was changed
    last (PostgreSQL's table then holds it after the other). Mutant: no ORDER BY."""
    older = await store.post(
        status="rejected", run_at=LATER + timedelta(hours=1), due_at=LATER + timedelta(hours=1)
    )
    newer = await store.post(status="rejected")
    async with store.sessions.begin() as session:
        await session.execute(
            update(ScheduledPost).where(ScheduledPost.id == older).values(caption="changed")
        )
    assert await store.claim_news(NOW, limit=1) == [older]
    assert await store.claim_news(NOW, limit=1) == [newer]


async def test_news_marked_by_another_worker_after_this_one_read_it_is_not_told_twice(
    store: Store,
) -> None:
    """The first worker has marked the news and not yet committed; the second reads the same rows
    as untold, and its UPDATE waits for the first. The UPDATE rechecks ``news`` on the row, so the
    second marks nothing once the first commits. Mutant: the recheck left out (the candidates' ids
    alone)."""
    ids = [await store.post(status="rejected") for _ in range(2)]
    first = store.sessions()
    await first.begin()
    try:
        assert await approvals.claim_news(first, now=NOW) == ids
        second = asyncio.create_task(store.claim_news(NOW))
        await asyncio.sleep(0.3)
        assert not second.done()
        await first.commit()
    finally:
        await first.close()
    assert await asyncio.wait_for(second, 40) == []


async def test_news_given_back_is_only_what_this_telling_marked(store: Store) -> None:
    """``release_news`` clears the mark it set (at its instant), not a later worker's, nor the mark
    of a post told at the same instant that it was not given (another worker's telling that went
    through). Mutants: the ``notified_at == at`` or the ``id IN`` condition left out."""
    mine = await store.post(status="rejected")
    theirs = await store.post(status="rejected")
    told = await store.post(status="rejected")
    assert await store.claim_news(NOW) == [mine, theirs, told]
    later = NOW + timedelta(minutes=1)
    async with store.sessions.begin() as session:
        await session.execute(
            update(ScheduledPost).where(ScheduledPost.id == theirs).values(notified_at=later)
        )
    async with store.sessions.begin() as session:
        await approvals.release_news(session, [mine, theirs], at=NOW)
        await approvals.release_news(session, [], at=later)
    assert (await store.row(mine)).notified_at is None
    assert (await store.row(theirs)).notified_at == later
    assert (await store.row(told)).notified_at == NOW
    assert await store.claim_news(later) == [mine]
