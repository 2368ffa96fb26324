"""A channel's posting schedule (issue 24, item 2): `/slots` and `/schedule next`, through
the facade on SQLite and PostgreSQL; slot placement across DST changes; two commands at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.wiring import App, build_app
from core.config import Settings
from core.db.models import ScheduledPost, SocialAccount
from core.domain import ChatContext, ChatKind, MediaInfo, Platform
from core.errors import PermissionDenied, UserError
from core.render import schedule_text
from core.schedule import occurrences, store
from core.store import teams
from core.timeparse.weekly import parse_weekly
from tests.conftest import Database

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wed 25 Nov 2026, 10:00 in Berlin
ADMIN = ChatContext(
    chat=ChatKind.SLACK, team_id="T1", user_id="U_ADMIN", channel_id="C_VIDEOS", is_admin=True
)
MEMBER = replace(ADMIN, user_id="U_ANA", is_admin=False)


# -- reading `mon,wed,fri 18:00 youtube` ---------------------------------------------------------


def test_days_times_and_platforms_in_any_order() -> None:
    spec = parse_weekly("mon,wed,fri 18:00 youtube")
    assert (spec.days, spec.minutes, spec.platforms) == ((0, 2, 4), (18 * 60,), (Platform.YOUTUBE,))
    spec = parse_weekly("yt, ig weekdays 9am,6:30 pm")
    assert spec.days == (0, 1, 2, 3, 4)
    assert spec.minutes == (9 * 60, 18 * 60 + 30)
    assert spec.platforms == (Platform.YOUTUBE, Platform.INSTAGRAM)
    assert parse_weekly("fri-mon 12:00 tiktok").days == (0, 4, 5, 6)
    assert parse_weekly("sundays 12am sandbox").minutes == (0,)
    assert parse_weekly("daily 07.15 sandbox").days == tuple(range(7))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mon 18:00", "Which platforms?"),
        ("18:00 youtube", "Which days?"),
        ("mon youtube", "Which times?"),
        ("mon 18 youtube", "'18' is not a day"),
        ("mon 25:00 youtube", "'25:00' is not a time of day"),
        ("mon 13pm youtube", "'13pm' is not a time of day"),
        ("mon 18:00 youtub", "'youtub' is not a day, a time or a platform"),
    ],
)
def test_a_slot_that_is_not_one_is_refused_saying_which_word(text: str, says: str) -> None:
    with pytest.raises(UserError, match=says):
        parse_weekly(text)


# -- placing weekly slots on the calendar across DST -----------------------------------------------


def test_a_slot_keeps_its_wall_clock_time_across_the_spring_change_in_berlin() -> None:
    # Clocks go forward on Sun 28 Mar 2027 at 02:00 (to 03:00).
    after = datetime(2027, 3, 22, 0, 0, tzinfo=BERLIN)
    found = list(
        occurrences([(0, 18 * 60), (6, 2 * 60 + 30)], "Europe/Berlin", after, after + timedelta(days=8))
    )
    assert [o.at for o in found] == [
        datetime(2027, 3, 22, 17, 0, tzinfo=UTC),  # Mon 18:00 CET
        # Sun 02:30 does not exist that night: it moves on by the gap, to 03:30 CEST, and says so.
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 29, 16, 0, tzinfo=UTC),  # Mon 18:00 CEST: the same wall-clock time
    ]
    assert found[1].note == "02:30 doesn't exist on Sun 28 Mar (clocks go forward): using 03:30"
    assert found[0].note is None and found[2].note is None


def test_a_slot_in_the_repeated_hour_is_used_once_at_its_first_occurrence_in_new_york() -> None:
    # Clocks go back on Sun 7 Nov 2027 at 02:00 (to 01:00): 01:30 happens twice.
    after = datetime(2027, 11, 6, 0, 0, tzinfo=NEW_YORK)
    found = list(occurrences([(6, 90), (5, 18 * 60)], "America/New_York", after, after + timedelta(days=8)))
    assert [o.at for o in found] == [
        datetime(2027, 11, 6, 22, 0, tzinfo=UTC),  # Sat 18:00 EDT
        datetime(2027, 11, 7, 5, 30, tzinfo=UTC),  # Sun 01:30 EDT, the first one; not 06:30 (EST) too
        datetime(2027, 11, 13, 23, 0, tzinfo=UTC),  # Sat 18:00 EST
    ]
    assert found[1].note == "01:30 happens twice on Sun 7 Nov (clocks go back): using the first, EDT"


def test_a_slot_moved_by_the_gap_onto_another_slot_is_one_instant() -> None:
    after = datetime(2027, 3, 27, 12, 0, tzinfo=BERLIN)
    found = list(occurrences([(6, 150), (6, 210)], "Europe/Berlin", after, after + timedelta(days=1)))
    # 02:30 becomes 03:30, which is also a slot of its own: one post's place, not two.
    assert [o.at for o in found] == [datetime(2027, 3, 28, 1, 30, tzinfo=UTC)]


# -- through the facade ---------------------------------------------------------------------------


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[App]:
    built = await build_app(settings, schema=db.schema, worker_id="w1")
    built.postbot.clock = lambda: NOW
    yield built
    await built.close()


@pytest.fixture
async def media(app: App, clip: Path) -> MediaInfo:
    return await app.media.import_file(clip)


async def test_admins_add_show_and_clear_slots_in_the_teams_zone(app: App) -> None:
    view = await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    assert view.changed == "Added 3 Sandbox slots."
    assert view.tz == "Europe/Berlin"
    (row,) = view.platforms
    assert row.weekly == ((0, 1080), (2, 1080), (4, 1080))
    # Wed 25 Nov 10:00 now: today's 18:00 is the first free one.
    assert row.next_free == (
        datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN),
        datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN),
        datetime(2026, 11, 30, 18, 0, tzinfo=BERLIN),
    )
    assert "• Sandbox: Mon, Wed, Fri 18:00 · next free: Wed 25 Nov 18:00, Fri 27 Nov 18:00" in schedule_text(
        view
    )

    again = await app.postbot.slots(ADMIN, "add fri 18:00 sat 10:00 sandbox")
    assert again.changed == "Added 3 Sandbox slots."  # fri 10:00, sat 10:00, sat 18:00
    shown = await app.postbot.slots(MEMBER, "")
    assert shown.changed is None and len(shown.platforms[0].weekly) == 6

    with pytest.raises(PermissionDenied, match="Only an admin can change the posting schedule"):
        await app.postbot.slots(MEMBER, "add tue 09:00 sandbox")
    with pytest.raises(PermissionDenied):
        await app.postbot.slots(MEMBER, "clear")

    removed = await app.postbot.slots(ADMIN, "remove sat 10:00,18:00 sandbox")
    assert removed.changed == "Removed 2 slots. Posts already placed in them stay."
    cleared = await app.postbot.slots(ADMIN, "clear sandbox")
    assert cleared.changed == "Removed all 4 Sandbox slots. Posts already placed in them stay."
    assert cleared.platforms == []
    assert "This channel has no posting schedule" in schedule_text(cleared)

    # Another channel's schedule is its own.
    await app.postbot.slots(ADMIN, "add mon 18:00 sandbox")
    other = await app.postbot.slots(replace(ADMIN, channel_id="C_OTHER"), "")
    assert other.platforms == []


async def test_slots_follow_the_teams_zone_not_the_askers(app: App) -> None:
    await app.postbot.slots(ADMIN, "add mon 18:00 sandbox")
    await app.postbot.set_timezone(ADMIN, "America/New_York", team_wide=True)
    view = await app.postbot.slots(replace(MEMBER, user_tz="Asia/Tokyo"), "")
    assert view.tz == "America/New_York"
    assert view.platforms[0].next_free[0] == datetime(2026, 11, 30, 18, 0, tzinfo=NEW_YORK)


async def test_next_takes_the_next_free_slot_and_the_answer_says_which(app: App, media: MediaInfo) -> None:
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    first = await app.postbot.schedule(MEMBER, "next sandbox First", media)
    assert first.run_at == datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN)
    assert "Placed in the schedule's next free slot: Sandbox Wed 25 Nov 18:00 (Europe/Berlin)." in first.notes
    assert first.suggestions == {}
    second = await app.postbot.schedule(MEMBER, "next sandbox Second", media)
    assert second.run_at == datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)

    # A post given Monday's slot time by hand takes that slot too.
    await app.postbot.schedule(MEMBER, "2026-11-30 18:00 sandbox By hand", media)
    third = await app.postbot.schedule(MEMBER, "next sandbox Third", media)
    assert third.run_at == datetime(2026, 12, 2, 18, 0, tzinfo=BERLIN)

    # Cancelling frees its slot; moving a post away frees it as well.
    await app.postbot.cancel(MEMBER, first.posts[0].id)
    assert (await app.postbot.schedule(MEMBER, "next sandbox Fourth", media)).run_at == first.run_at
    await app.postbot.reschedule(MEMBER, second.posts[0].id, "2026-12-10 09:00")
    assert (await app.postbot.schedule(MEMBER, "next sandbox Fifth", media)).run_at == second.run_at

    free = await app.postbot.free_slots(MEMBER)
    assert free.platforms[0].next_free == (datetime(2026, 12, 4, 18, 0, tzinfo=BERLIN),)


async def test_next_puts_each_platform_in_its_own_next_slot(app: App, media: MediaInfo) -> None:
    async with app.sessions.begin() as session:
        member = await teams.member(session, ADMIN, "Europe/Berlin")
        session.add(
            SocialAccount(
                team_id=member.team_id, platform="youtube", remote_account_id="UC1", status="active"
            )
        )
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    await app.postbot.slots(ADMIN, "add tue,sat 12:00 youtube")
    outcome = await app.postbot.schedule(MEMBER, "next sandbox,youtube Launch", media)
    times = {p.platform: p.run_at for p in outcome.posts}
    assert times == {
        Platform.SANDBOX: datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN),
        Platform.YOUTUBE: datetime(2026, 11, 28, 12, 0, tzinfo=BERLIN),
    }
    assert (
        "Placed in the schedule's next free slots: Sandbox Wed 25 Nov 18:00, YouTube Sat 28 Nov 12:00 "
        "(Europe/Berlin)." in outcome.notes
    )


async def test_next_without_a_schedule_for_a_platform_says_how_to_add_one(app: App, media: MediaInfo) -> None:
    with pytest.raises(UserError, match="no posting schedule for Sandbox") as caught:
        await app.postbot.schedule(MEMBER, "next sandbox Hi", media)
    assert "/slots add mon,wed,fri 18:00 sandbox" in (caught.value.hint or "")
    assert await app.postbot.list_queue(MEMBER) == []


async def test_a_redelivered_next_queues_once_and_leaves_the_slot_after_free(
    app: App, media: MediaInfo
) -> None:
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    ctx = replace(MEMBER, request_id="slack:trigger-1")
    first = await app.postbot.schedule(ctx, "next sandbox Hi", media)
    again = await app.postbot.schedule(ctx, "next sandbox Hi", media)
    assert again.duplicate and [p.id for p in again.posts] == [p.id for p in first.posts]
    # The redelivery claimed Friday and gave it back: the next command gets it.
    other = await app.postbot.schedule(MEMBER, "next sandbox Other", media)
    assert other.run_at == datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)


async def test_two_next_commands_at_once_take_two_slots(app: App, media: MediaInfo) -> None:
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    outcomes = await asyncio.gather(
        *(
            app.postbot.schedule(replace(MEMBER, user_id=f"U{i}"), f"next sandbox Clip {i}", media)
            for i in range(4)
        )
    )
    assert sorted(o.run_at for o in outcomes) == [
        datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN),
        datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN),
        datetime(2026, 11, 30, 18, 0, tzinfo=BERLIN),
        datetime(2026, 12, 2, 18, 0, tzinfo=BERLIN),
    ]


async def test_a_slot_claimed_by_an_open_transaction_is_not_taken_twice(app: App, media: MediaInfo) -> None:
    """Both commands read Wednesday as free; the first holds its claim (and its post there)
    uncommitted while the second claims. The unique key makes the second wait for the first and then
    take Friday."""
    elsewhere = await app.postbot.schedule(MEMBER, "2026-12-20 09:00 sandbox Hi", media)
    async with app.sessions() as session:
        team_id = await teams.find(session, MEMBER)
    assert team_id is not None
    weekly = [(2, 1080), (4, 1080)]
    until = NOW + timedelta(days=30)
    wednesday = datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN)

    first = app.sessions()
    await first.begin()
    got = await store.claim_next(
        first, team_id, "C_VIDEOS", Platform.SANDBOX, weekly, "Europe/Berlin", after=NOW, until=until
    )
    assert [c.at for c in got] == [wednesday]
    # The first command's post goes into the slot it claimed, in the same transaction.
    post = await first.get_one(ScheduledPost, elsewhere.posts[0].id)
    post.run_at = post.due_at = wednesday
    await store.attach(first, {got[0].claim_id: post.id})

    async def second() -> list[store.Claimed]:
        async with app.sessions.begin() as session:
            # Read before the first commits: Wednesday looks free.
            assert wednesday not in await store.taken(
                session, team_id, "C_VIDEOS", Platform.SANDBOX, NOW, until
            )
            return await store.claim_next(
                session,
                team_id,
                "C_VIDEOS",
                Platform.SANDBOX,
                weekly,
                "Europe/Berlin",
                after=NOW,
                until=until,
            )

    racing = asyncio.create_task(second())
    await asyncio.sleep(0.3)
    assert not racing.done()
    await first.commit()
    await first.close()
    got_second = await asyncio.wait_for(racing, 40)
    assert [c.at for c in got_second] == [datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)]


async def test_a_huge_slot_list_is_refused_whole_with_the_limit(app: App) -> None:
    # Every 2 minutes of every day fits in one Slack command (5,040 slots): that took 42 s of
    # savepoints on PostgreSQL in one transaction and made /slots a 12,000-character answer.
    every_8_minutes = ",".join(f"{h}:{m:02d}" for h in range(24) for m in range(0, 60, 8))
    with pytest.raises(UserError, match=r"at most 168 weekly slots per platform"):
        await app.postbot.slots(ADMIN, f"add mon,tue {every_8_minutes} sandbox")
    assert (await app.postbot.slots(ADMIN, "")).platforms == []

    hourly = ",".join(f"{h}:00" for h in range(24))
    view = await app.postbot.slots(ADMIN, f"add mon,tue,wed,thu,fri,sat,sun {hourly} sandbox")
    assert view.changed == "Added 168 Sandbox slots."
    # What the channel has counts: one more is over, one it has already is not.
    with pytest.raises(UserError, match=r"This channel has 168 Sandbox slots"):
        await app.postbot.slots(ADMIN, "add mon 18:30 sandbox")
    same = await app.postbot.slots(ADMIN, "add mon 18:00 sandbox")
    assert same.changed == "This channel already has those Sandbox slots."
    assert len(same.platforms[0].weekly) == 168


async def test_moving_a_post_to_next_takes_its_channels_next_free_slot(app: App, media: MediaInfo) -> None:
    by_hand = await app.postbot.schedule(MEMBER, "2026-12-20 09:00 sandbox Hi", media)
    with pytest.raises(UserError, match="no posting schedule for Sandbox"):
        await app.postbot.reschedule(MEMBER, by_hand.posts[0].id, "next")
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    first = await app.postbot.schedule(MEMBER, "next sandbox First", media)
    moved = await app.postbot.reschedule(MEMBER, by_hand.posts[0].id, "next")
    # Wednesday is First's: the move takes Friday, and holds it against the next command.
    assert first.run_at == datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN)
    assert moved.run_at == datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
    after = await app.postbot.schedule(MEMBER, "next sandbox After", media)
    assert after.run_at == datetime(2026, 11, 30, 18, 0, tzinfo=BERLIN)


def test_next_alone_is_the_schedule_and_next_with_a_day_is_still_a_time() -> None:
    from core.service import Postbot
    from core.timeparse import parse_command, parse_when, preview

    assert parse_when("next", "Europe/Berlin", NOW).next_slot
    assert parse_when("next free slot", "Europe/Berlin", NOW).next_slot
    friday = parse_when("next fri 6pm", "Europe/Berlin", NOW)
    assert not friday.next_slot and friday.instant == datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
    command = parse_command("next youtube,ig Launch", "Europe/Berlin", NOW)
    assert command.when is not None and command.when.next_slot and command.caption == "Launch"
    assert preview("next", "Europe/Berlin", NOW) == "next → the next free slot of the channel's schedule"
    # Which commands take every video of the latest upload's message or thread (Slack's /schedule).
    assert Postbot.spreads("next youtube Clips") and Postbot.spreads("fri 6pm yt Clips --every 2d")
    assert not Postbot.spreads("next fri 6pm youtube Clips") and not Postbot.spreads("best yt Clips")
