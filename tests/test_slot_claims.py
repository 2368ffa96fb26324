"""Slot claims (core/schedule/store.py, core/schedule/plan.py) on their own, on SQLite and
PostgreSQL: which posts hold a slot, the claim's unique key per team, channel, platform and instant,
claims made in one transaction keeping each other, and the answers when a channel's schedule cannot
place a post. tests/test_posting_schedule.py plays `/slots` and `/schedule next` through the facade
(racing commands included); these reach each condition directly, fast enough to run against every
mutant (tools/mutation.py slot-claims).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, SlotClaim, Team, User
from core.domain import Platform
from core.errors import UserError
from core.schedule import plan, store
from tests.conftest import Database

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wed 25 Nov 2026, 10:00 in Berlin
UNTIL = NOW + timedelta(days=30)
WED = datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN)
FRI = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
MON = datetime(2026, 11, 30, 18, 0, tzinfo=BERLIN)
WEEKLY = [(2, 1080), (4, 1080), (0, 1080)]  # Mon, Wed, Fri 18:00
CHANNEL = "C_VIDEOS"
SANDBOX, YOUTUBE = Platform.SANDBOX, Platform.YOUTUBE


@dataclass
class Schedule:
    sessions: async_sessionmaker[AsyncSession]
    team_id: int
    other_team_id: int
    author_id: int
    media_id: int

    async def post(self, at: datetime, **values: Any) -> int:
        """A queued sandbox post of CHANNEL at ``at``, unless ``values`` say otherwise."""
        row: dict[str, Any] = {
            "team_id": self.team_id,
            "author_id": self.author_id,
            "media_id": self.media_id,
            "batch_id": uuid.uuid4().hex,
            "platform": "sandbox",
            "run_at": at,
            "due_at": at,
            "status": "queued",
            "idempotency_key": uuid.uuid4().hex,
            "origin_channel": CHANNEL,
            **values,
        }
        async with self.sessions.begin() as session:
            return (
                await session.execute(insert(ScheduledPost).returning(ScheduledPost.id), [row])
            ).scalar_one()

    async def next(
        self, platform: Platform = SANDBOX, channel: str = CHANNEL, **kwargs: Any
    ) -> list[store.Claimed]:
        kwargs.setdefault("until", UNTIL)
        async with self.sessions.begin() as session:
            return await store.claim_next(
                session, self.team_id, channel, platform, WEEKLY, "Europe/Berlin", after=NOW, **kwargs
            )

    async def claims(self) -> list[tuple[str, str, datetime, int | None]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(SlotClaim).order_by(SlotClaim.slot_at, SlotClaim.platform, SlotClaim.channel_id)
            )
            return [(r.channel_id, r.platform, r.slot_at, r.post_id) for r in rows]


@pytest.fixture
async def schedule(db: Database) -> AsyncIterator[Schedule]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        team = Team(chat="slack", external_id="T1", name="one", timezone="Europe/Berlin")
        other = Team(chat="slack", external_id="T2", name="two")
        session.add_all([team, other])
        await session.flush()
        user = User(team_id=team.id, external_id="U_ANA", display_name="ana")
        media = MediaAsset(team_id=team.id, path="/dev/null", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        session.add_all([user, media])
        await session.flush()
        made = Schedule(sessions, team.id, other.id, user.id, media.id)
    try:
        yield made
    finally:
        await engine.dispose()


def _at(claimed: list[store.Claimed]) -> list[datetime]:
    return [c.at for c in claimed]


FAR = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


async def _move(session: AsyncSession, post_id: int, at: datetime) -> int:
    """The command's post placed where it claimed, in the claiming transaction (as queue_posts
    does): made beforehand at FAR, since on SQLite a second transaction would wait for this one."""
    post = await session.get_one(ScheduledPost, post_id)
    post.run_at = post.due_at = at
    return post_id


# -- which posts hold a slot ------------------------------------------------------------------------


async def test_a_slot_is_held_by_a_waiting_post_of_the_same_team_channel_and_platform(
    schedule: Schedule,
) -> None:
    """Queued, running and awaiting posts hold Wednesday; a failed, cancelled or published one, a
    YouTube post, another channel's or another team's do not. Mutants: each condition of ``taken``
    dropped."""
    for status in ("failed", "cancelled", "published"):
        await schedule.post(WED, status=status)
    await schedule.post(WED, platform="youtube")
    await schedule.post(WED, origin_channel="C_OTHER")
    await schedule.post(WED, origin_channel=None)
    await schedule.post(WED, team_id=schedule.other_team_id)
    assert _at(await schedule.next()) == [WED]

    for status in ("queued", "running", "awaiting"):
        # A fresh post at Friday in each status: the claims are released so only the post holds it.
        post = await schedule.post(FRI, status=status)
        async with schedule.sessions.begin() as session:
            await session.execute(delete(SlotClaim))
        assert _at(await schedule.next()) == [WED], status
        async with schedule.sessions.begin() as session:
            await session.execute(
                update(ScheduledPost).where(ScheduledPost.id == post).values(status="cancelled")
            )


async def test_the_console_has_one_schedule_of_its_own(schedule: Schedule) -> None:
    """The console's channel is "": its posts are those with no origin channel, and a channel's
    posts do not hold the console's slots. Mutants of ``_origin``."""
    await schedule.post(WED, origin_channel=None)
    await schedule.post(FRI, origin_channel=CHANNEL)
    assert _at(await schedule.next(channel="")) == [FRI]
    assert _at(await schedule.next(channel=CHANNEL)) == [WED]


async def test_a_slot_exactly_at_the_horizon_is_taken_by_a_post_there(schedule: Schedule) -> None:
    """The horizon's last instant is a slot (occurrences go up to ``until`` inclusive); a post there
    holds it. Mutant: ``run_at <= until`` made ``<``."""
    await schedule.post(WED)
    await schedule.post(FRI)
    assert await schedule.next(until=FRI) == []
    assert _at(await schedule.next(until=MON)) == [MON]


# -- claims ------------------------------------------------------------------------------------------


async def test_a_claim_takes_one_slot_unless_asked_for_more_and_each_is_kept(schedule: Schedule) -> None:
    """One slot by default (mutant: ``count=2``, a second slot held by nobody). Several claimed in
    one transaction keep each other: the next claim's clean-up of claims with no post does not
    reach another instant's (mutant: ``slot_at`` left out of the clean-up's key)."""
    [claimed] = await schedule.next()
    assert (claimed.platform, claimed.at, claimed.note) == (SANDBOX, WED, None)
    assert [c[2] for c in await schedule.claims()] == [WED]
    async with schedule.sessions.begin() as session:
        await session.execute(delete(SlotClaim))
    assert _at(await schedule.next(count=3)) == [WED, FRI, MON]
    assert [c[2] for c in await schedule.claims()] == [WED, FRI, MON]


async def test_a_claim_whose_post_was_cancelled_is_dropped_though_another_channel_posts_then(
    schedule: Schedule,
) -> None:
    """A claim holds its slot while its own post waits there: another channel's post at the same
    instant does not keep a dead claim alive. Mutant: ``_alive`` without the claim's post id."""
    post = await schedule.post(FAR)
    async with schedule.sessions.begin() as session:
        [claimed] = await store.claim_next(
            session, schedule.team_id, CHANNEL, SANDBOX, WEEKLY, "Europe/Berlin", after=NOW, until=UNTIL
        )
        await _move(session, post, WED)
        await store.attach(session, {claimed.claim_id: post})
    await schedule.post(WED, origin_channel="C_OTHER")
    assert _at(await schedule.next()) == [FRI]  # held by its post
    async with schedule.sessions.begin() as session:
        await session.execute(
            update(ScheduledPost).where(ScheduledPost.id == post).values(status="cancelled")
        )
    assert _at(await schedule.next()) == [WED]


async def test_a_claim_clears_only_its_own_slots_dead_claims(schedule: Schedule) -> None:
    """Another team's and another channel's claims at the same instant, their commands having
    queued nothing, stay until a claim of their own slot drops them. Mutants: the team or the
    channel left out of the clean-up's key."""
    async with schedule.sessions.begin() as session:
        for team_id, channel in ((schedule.other_team_id, CHANNEL), (schedule.team_id, "C_OTHER")):
            session.add(SlotClaim(team_id=team_id, channel_id=channel, platform="sandbox", slot_at=WED))
    assert _at(await schedule.next()) == [WED]
    assert len(await schedule.claims()) == 3


async def test_two_platforms_placed_at_the_same_instant_keep_both_claims(schedule: Schedule) -> None:
    """Sandbox and YouTube both at Wednesday 18:00 in one command: the YouTube claim's clean-up does
    not drop the Sandbox claim made a moment before in the same transaction (mutant: the platform
    left out of the key), and each is tied to its post."""
    async with schedule.sessions.begin() as session:
        for platform in (SANDBOX, YOUTUBE):
            await store.add(session, schedule.team_id, CHANNEL, platform, [(2, 1080)], by="U_ADMIN")
    sandbox, youtube = await schedule.post(FAR), await schedule.post(FAR, platform="youtube")
    async with schedule.sessions.begin() as session:
        placement = await plan.place_next(
            session,
            schedule.team_id,
            CHANNEL,
            (SANDBOX, YOUTUBE),
            "Europe/Berlin",
            now=NOW,
            horizon=UNTIL - NOW,
        )
        assert placement.at == {SANDBOX: WED, YOUTUBE: WED}
        await _move(session, sandbox, WED)
        await _move(session, youtube, WED)
        await plan.settle(session, placement, {SANDBOX: sandbox, YOUTUBE: youtube}, duplicate=False)
    assert await schedule.claims() == [(CHANNEL, "sandbox", WED, sandbox), (CHANNEL, "youtube", WED, youtube)]


async def test_a_duplicate_command_gives_its_claims_back_and_a_missing_post_leaves_its_claim_free(
    schedule: Schedule,
) -> None:
    """``settle`` with a duplicate releases every claim; otherwise it ties only the platforms that
    got a post (the others' claims hold nothing and the next claim drops them). Another channel's
    claim is not given back with them (mutant: the release's ``id IN`` left out)."""
    async with schedule.sessions.begin() as session:
        for platform in (SANDBOX, YOUTUBE):
            await store.add(session, schedule.team_id, CHANNEL, platform, WEEKLY, by="U_ADMIN")
    assert _at(await schedule.next(channel="C_OTHER")) == [WED]
    elsewhere = ("C_OTHER", "sandbox", WED, None)
    async with schedule.sessions.begin() as session:
        placement = await plan.place_next(
            session,
            schedule.team_id,
            CHANNEL,
            (SANDBOX, YOUTUBE),
            "Europe/Berlin",
            now=NOW,
            horizon=UNTIL - NOW,
        )
        await plan.settle(session, placement, {}, duplicate=True)
    assert await schedule.claims() == [elsewhere]
    sandbox = await schedule.post(FAR)
    async with schedule.sessions.begin() as session:
        placement = await plan.place_next(
            session,
            schedule.team_id,
            CHANNEL,
            (SANDBOX, YOUTUBE),
            "Europe/Berlin",
            now=NOW,
            horizon=UNTIL - NOW,
        )
        await _move(session, sandbox, WED)
        await plan.settle(session, placement, {SANDBOX: sandbox}, duplicate=False)
    assert await schedule.claims() == [
        elsewhere,
        (CHANNEL, "sandbox", WED, sandbox),
        (CHANNEL, "youtube", WED, None),
    ]
    # YouTube's claim has no post: the next YouTube command takes Wednesday.
    assert _at(await schedule.next(YOUTUBE)) == [WED]


# -- what place_next answers ---------------------------------------------------------------------------


async def test_a_schedule_with_every_slot_taken_says_so_and_claims_nothing(schedule: Schedule) -> None:
    async with schedule.sessions.begin() as session:
        await store.add(session, schedule.team_id, CHANNEL, SANDBOX, [(2, 1080)], by="U_ADMIN")
    await schedule.post(WED)
    with pytest.raises(UserError) as caught:
        async with schedule.sessions.begin() as session:
            await plan.place_next(
                session,
                schedule.team_id,
                CHANNEL,
                (SANDBOX,),
                "Europe/Berlin",
                now=NOW,
                horizon=timedelta(days=6),
            )
    assert caught.value.message == "Every Sandbox slot of this channel is taken for the next 6 days."
    assert caught.value.hint == "Add slots with /slots add, or give a time instead of next."
    assert await schedule.claims() == []


async def test_platforms_with_no_schedule_are_named_together_with_the_first_ones_example(
    schedule: Schedule,
) -> None:
    with pytest.raises(UserError) as caught:
        async with schedule.sessions.begin() as session:
            await plan.place_next(
                session,
                schedule.team_id,
                CHANNEL,
                (YOUTUBE, SANDBOX),
                "Europe/Berlin",
                now=NOW,
                horizon=UNTIL - NOW,
            )
    assert caught.value.message == "This channel has no posting schedule for YouTube and Sandbox."
    assert caught.value.hint == (
        "An admin can add one with /slots add mon,wed,fri 18:00 youtube; or give a time instead of next."
    )
    assert await schedule.claims() == []


async def test_a_slot_moved_by_the_spring_gap_is_placed_with_its_note(schedule: Schedule) -> None:
    """Sun 02:30 does not exist on 28 Mar 2027 in Berlin: the placement is at 03:30 and says why,
    naming the platform."""
    async with schedule.sessions.begin() as session:
        await store.add(session, schedule.team_id, CHANNEL, SANDBOX, [(6, 150)], by="U_ADMIN")
        placement = await plan.place_next(
            session,
            schedule.team_id,
            CHANNEL,
            (SANDBOX,),
            "Europe/Berlin",
            now=datetime(2027, 3, 27, 12, 0, tzinfo=UTC),
            horizon=timedelta(days=3),
        )
    assert placement.at == {SANDBOX: datetime(2027, 3, 28, 1, 30, tzinfo=UTC)}
    [note] = placement.notes
    assert note.startswith("Sandbox: ") and "02:30" in note, note
    assert list(placement.claims) == [SANDBOX]
