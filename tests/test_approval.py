"""Approval before publishing, through the console adapter and the real scheduler, on SQLite and
PostgreSQL: a member's post waits and is never claimed, an approver's yes publishes it once, a no or
a missed time tells the author, a change after approval sends it back, and racing approvals (two
approvers, a double click, a restart between) approve and publish once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from bot.wiring import App, build_app
from core.config import Settings
from core.db.models import ScheduledPost
from core.domain import ChatContext, ChatKind, PostStatus
from core.errors import NotFound, PermissionDenied
from core.render import review_text
from core.store import approvals
from core.store.queue import claim_batch
from tests.conftest import Database


async def _app(settings: Settings, db: Database, out: list[str], worker: str = "w1") -> App:
    app = await build_app(settings, schema=db.schema, worker_id=worker)
    app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
    return app


async def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def _post(app: App, post_id: int = 1) -> ScheduledPost:
    async with app.sessions() as session:
        return (await session.execute(select(ScheduledPost).where(ScheduledPost.id == post_id))).scalar_one()


async def test_a_members_post_waits_until_an_approver_approves_then_publishes_once(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        await app.start_scheduler()
        ana = ConsoleAdapter(app.postbot, user="ana")
        bob = ConsoleAdapter(app.postbot, user="bob")
        said = await ana.handle("/approval on bob")
        assert "Approval is on in this channel" in said and "wait for bob to approve" in said, said

        reply = await ana.handle(f"/schedule in 2 seconds sandbox Launch --file {clip}")
        assert reply.startswith("Awaiting approval: clip.mp4 for Sandbox"), reply
        assert "Awaiting approval from bob: nothing goes out before" in reply
        assert "awaiting approval" in await ana.handle("/queue")
        assert "1 awaiting approval" in await ana.handle("/status")

        # The scheduler runs past its time: nothing is claimed or published, and ana hears it was
        # not approved in time.
        await _wait_for(lambda: any("was not approved by its time" in line for line in out))
        assert (await _post(app)).status == "awaiting"
        assert not any(line.startswith("Published") for line in out)
        told = [line for line in out if "was not approved by its time" in line]
        await asyncio.sleep(1.2)  # more scheduler rounds: still told once
        assert [line for line in out if "was not approved by its time" in line] == told

        # ana approves nothing (bob is this channel's approver), bob's yes comes late: asked.
        assert "Only an approver of this channel" in await ana.handle("/approve 1")
        late = await bob.handle("/approve 1")
        assert "which has passed: publish it now" in late, late
        assert (await _post(app)).status == "awaiting"

        now = await bob.handle("/approve 1 now")
        assert now.startswith("Approved #1 Sandbox"), now
        await _wait_for(lambda: any(line.startswith("Published #1") for line in out))
        post = await _post(app)
        assert post.status == "published" and post.approved_by == "bob" and post.approved_at is not None
        published = [line for line in out if line.startswith("Published #1")]
        assert len(published) == 1 and "approved by bob" in published[0], published
        # A second click after it went out changes nothing.
        assert "is not awaiting approval (it is published)" in await bob.handle("/approve 1")
    finally:
        await app.close()


async def test_a_rejection_tells_the_author_with_the_reason_and_never_publishes(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        await app.start_scheduler()
        ana = ConsoleAdapter(app.postbot, user="ana")
        bob = ConsoleAdapter(app.postbot, user="bob")
        await ana.handle("/approval on bob")
        await ana.handle(f"/schedule in 3 seconds sandbox Launch --file {clip}")
        said = await bob.handle("/reject 1 the logo is the old one")
        assert said.startswith("Rejected #1 Sandbox; the author is told."), said
        assert said.endswith("Reason: the logo is the old one"), said
        await _wait_for(lambda: any("was rejected by bob" in line for line in out))
        assert any("Reason: the logo is the old one" in line for line in out)
        await asyncio.sleep(3.5)
        assert (await _post(app)).status == "rejected"
        assert not any(line.startswith("Published") for line in out)
        assert "is not awaiting approval (it is rejected by bob)" in await bob.handle("/approve 1")
    finally:
        await app.close()


async def test_an_approved_post_changed_by_its_author_waits_again(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        ana = ConsoleAdapter(app.postbot, user="ana")
        bob = ConsoleAdapter(app.postbot, user="bob")
        await ana.handle("/approval on bob")
        await ana.handle(f"/schedule tomorrow 6pm sandbox Launch --file {clip}")
        assert (await bob.handle("/approve 1")).startswith("Approved #1")
        assert "approved by bob" in await ana.handle("/queue")
        await ana.handle("/reschedule 1 tomorrow 7pm")
        post = await _post(app)
        assert post.status == "awaiting" and post.approved_by is None
        # An approver's own change keeps the approval.
        assert (await bob.handle("/approve 1")).startswith("Approved #1")
        bob_admin = ConsoleAdapter(app.postbot, user="bob")
        await bob_admin.handle("/reschedule 1 tomorrow 8pm")
        assert (await _post(app)).status == "queued"
        # Approval off: posts go out at their time again.
        assert "Approval is off" in await ana.handle("/approval off")
        await ana.handle(f"/schedule tomorrow 6pm sandbox Again --file {clip}")
        assert (await _post(app, 2)).status == "queued"
    finally:
        await app.close()


async def test_a_request_older_than_the_post_approves_and_rejects_nothing(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        ana = ConsoleAdapter(app.postbot, user="ana")
        await ana.handle("/approval on bob carol")
        await ana.handle(f"/schedule tomorrow 6pm sandbox Launch --file {clip}")
        bob = ChatContext(ChatKind.CONSOLE, "local", "bob", channel_id="console")
        # The request showed revision 0 (6pm); ana moves it to 7pm before bob presses.
        assert (await _post(app)).revision == 0
        await ana.handle("/reschedule 1 tomorrow 7pm")
        assert (await _post(app)).revision == 1
        for decide in (
            app.postbot.approve(bob, [1], seen={1: 0}),
            app.postbot.approve(bob, [1], now=True, seen={1: 0}),
            app.postbot.reject(bob, [1], "no", seen={1: 0}),
        ):
            outcome = await decide
            assert outcome.done == [] and [p.id for p in outcome.stale] == [1]
            assert "This request is out of date: #1 Sandbox changed since (new time" in review_text(outcome)
        post = await _post(app)
        assert post.status == "awaiting" and post.approved_by is None and post.rejected_by is None
        # The store's UPDATE itself refuses it (not a read before it): the row is awaiting.
        async with app.sessions.begin() as session:
            team_id = post.team_id
            assert (
                await approvals.approve(session, team_id, [1], by="bob", at=app.postbot.clock(), seen={1: 0})
                == []
            )
            assert await approvals.reject(session, team_id, [1], by="bob", reason=None, seen={1: 0}) == []
        # Approved, then moved by its author: back to awaiting at a new revision; the old request
        # (revision 1) is out of date again.
        assert (await app.postbot.approve(bob, [1], seen={1: 1})).done
        await ana.handle("/reschedule 1 tomorrow 8pm")
        post = await _post(app)
        assert post.status == "awaiting" and post.revision > 2
        assert (await app.postbot.approve(bob, [1], seen={1: 1})).stale
        done = await app.postbot.approve(bob, [1], seen={1: post.revision})
        assert [p.id for p in done.done] == [1] and done.done[0].run_at.hour == post.run_at.hour
        # By id (/approve 12) names the post itself: no revision to compare.
        await ana.handle("/reschedule 1 tomorrow 9pm")
        assert (await app.postbot.approve(bob, [1])).done
    finally:
        await app.close()


async def test_approvals_racing_approve_once_and_the_scheduler_skips_awaiting_posts(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        ana = ConsoleAdapter(app.postbot, user="ana")
        await ana.handle("/approval on bob carol")
        await ana.handle(f"/schedule tomorrow 6pm sandbox Launch --file {clip}")
        # Due now, still awaiting: a claim does not take it.
        past = app.postbot.clock() - timedelta(hours=1)
        async with app.sessions.begin() as session:
            await session.execute(update(ScheduledPost).values(run_at=past, due_at=past))
        async with app.sessions.begin() as session:
            lease, now = timedelta(seconds=30), app.postbot.clock()
            assert await claim_batch(session, worker_id="w", now=now, lease=lease, limit=10) == []

        def ctx(user: str) -> ChatContext:
            return ChatContext(ChatKind.CONSOLE, "local", user, channel_id="console", is_admin=True)

        # Two approvers at once, each double-clicking, all saying "publish now".
        results = await asyncio.gather(
            *(app.postbot.approve(ctx(u), [1], now=True) for u in ("bob", "carol", "bob", "carol"))
        )
        assert sorted(len(r.done) for r in results) == [0, 0, 0, 1]
        assert all(len(r.already) == 1 for r in results if not r.done)
        post = await _post(app)
        assert post.status == "queued" and post.approved_by in ("bob", "carol")

        # A restart in between: a new process replays the click; still approved once.
        again = await _app(settings, db, out, worker="w2")
        try:
            replay = await again.postbot.approve(ctx("bob"), [1], now=True)
            assert replay.done == [] and replay.already[0].status is PostStatus.QUEUED
            await again.start_scheduler()
            await app.start_scheduler()
            await _wait_for(lambda: any(line.startswith("Published #1") for line in out))
            await asyncio.sleep(1.0)
            assert len([line for line in out if line.startswith("Published #1")]) == 1
        finally:
            await again.close()
    finally:
        await app.close()


async def test_approvals_are_refused_to_non_approvers_and_across_teams(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        ana = ConsoleAdapter(app.postbot, user="ana")
        await ana.handle("/approval on bob")
        await ana.handle(f"/schedule tomorrow 6pm sandbox Launch --file {clip}")
        member = ChatContext(ChatKind.CONSOLE, "local", "dave", channel_id="console")
        with pytest.raises(PermissionDenied):
            await app.postbot.approve(member, [1])
        with pytest.raises(PermissionDenied):
            await app.postbot.reject(member, [1], "no")
        # bob of another workspace: the post is not there.
        elsewhere = ChatContext(ChatKind.CONSOLE, "other", "bob", channel_id="console", is_admin=True)
        with pytest.raises(NotFound):
            await app.postbot.approve(elsewhere, [1])
        with pytest.raises(PermissionDenied):
            await app.postbot.set_approval(member, "off")
        assert (await _post(app)).status == "awaiting"
    finally:
        await app.close()


async def test_news_a_worker_cannot_deliver_is_left_for_one_that_can_and_told_once(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    # A worker process with no console notifier (a `postbot worker` beside the chat process).
    deaf = await build_app(settings, schema=db.schema, worker_id="w2")
    try:
        ana = ConsoleAdapter(app.postbot, user="ana")
        bob = ConsoleAdapter(app.postbot, user="bob")
        await ana.handle("/approval on bob")
        await ana.handle(f"/schedule tomorrow 6pm sandbox Launch --file {clip}")
        await bob.handle("/reject 1 not this week")
        assert await deaf.processor.tell_reviews() == 1
        assert (await _post(app)).notified_at is None  # given back, not lost
        assert await app.processor.tell_reviews() == 1
        assert await app.processor.tell_reviews() == 0
        assert await deaf.processor.tell_reviews() == 0
        assert [line for line in out if "was rejected by bob" in line] == [out[-1]]
    finally:
        await deaf.close()
        await app.close()


async def test_the_console_names_its_own_commands_and_ways_in_approval_answers(
    settings: Settings, db: Database, clip: Path
) -> None:
    # A newcomer at the console types what the answers show: no Slack spelling, no thread or ✅ the
    # console has not got, and each refusal's example is the command that was typed.
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        ana = ConsoleAdapter(app.postbot, user="ana")
        wrong = await ana.handle("/approval maybe")
        assert "/postbot" not in wrong and "/approval on" in wrong, wrong
        assert "e.g. /reject 12" in await ana.handle("/reject"), "the example names /reject"
        assert "e.g. /approve 12" in await ana.handle("/approve")

        said = await ana.handle("/approval on bob")
        assert "wait for bob to approve them" in said and "/approve <id>" in said, said
        assert "thread" not in said and "✅" not in said, said
        reply = await ana.handle(f"/schedule tomorrow 6pm sandbox Launch --file {clip}")
        assert "Awaiting approval from bob" in reply and "✅" not in reply, reply
        # Turning approval off holds on to what already waits: the answer says so, not "posts go out".
        off = await ana.handle("/approval off")
        assert "already awaiting approval still wait for /approve" in off, off
        assert (await _post(app)).status == "awaiting"
    finally:
        await app.close()
