"""Several videos with one command (issue 24, item 3) through the facade, on SQLite and PostgreSQL:
into the schedule's consecutive free slots, or ``--every`` from a start time, across DST changes;
a bad video refused with its reason while the good ones are queued."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.wiring import App, build_app
from core.config import Settings
from core.domain import ChatContext, ChatKind, MediaInfo
from core.errors import UserError
from core.render import batch_text
from core.service import BatchOutcome
from tests.clips import distinct_clip
from tests.conftest import Database

BERLIN = ZoneInfo("Europe/Berlin")
# Sat 20 Mar 2027, 10:00 in Berlin: clocks go forward on Sun 28 Mar at 02:00.
NOW = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
ADMIN = ChatContext(
    chat=ChatKind.SLACK, team_id="T1", user_id="U_ADMIN", channel_id="C_VIDEOS", is_admin=True
)
MEMBER = replace(ADMIN, user_id="U_ANA", is_admin=False, request_id="slack-message:C_VIDEOS:1.0")


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[App]:
    built = await build_app(settings, schema=db.schema, worker_id="w1")
    built.postbot.clock = lambda: NOW
    yield built
    await built.close()


# Each a different video (the same bytes twice are one video: nothing is posted twice).
_made = itertools.count()


async def _videos(app: App, tmp_path: Path, n: int, *, bad: int | None = None) -> list[tuple[str, MediaInfo]]:
    found = []
    for i in range(n):
        path = tmp_path / f"clip{i + 1}.mp4"
        if i == bad:
            # Named like a video, but not one: what a half-finished export looks like.
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        else:
            distinct_clip(path, next(_made))
        found.append((path.name, await app.media.import_file(path)))
    return found


def _times(outcome: BatchOutcome) -> list[datetime | None]:
    return [item.outcome.posts[0].run_at if item.outcome else None for item in outcome.items]


async def test_videos_fill_consecutive_free_slots_across_the_spring_change(app: App, tmp_path: Path) -> None:
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    await app.postbot.slots(ADMIN, "add sun 02:30 sandbox")
    # Monday's slot is taken already: the videos go around it.
    await app.postbot.schedule(
        ADMIN, "2027-03-22 18:00 sandbox By hand", (await _videos(app, tmp_path, 1))[0][1]
    )
    videos = await _videos(app, tmp_path, 4, bad=1)
    outcome = await app.postbot.schedule_many(MEMBER, "next sandbox Week of clips", videos)
    assert _times(outcome) == [
        datetime(2027, 3, 21, 1, 30, tzinfo=UTC),  # Sun 21 Mar 02:30 CET
        None,  # clip2 is refused …
        datetime(2027, 3, 24, 17, 0, tzinfo=UTC),  # … and takes no slot: Wed 24 Mar 18:00 CET
        datetime(2027, 3, 26, 17, 0, tzinfo=UTC),  # Fri 26 Mar 18:00 CET
    ]
    assert outcome.items[1].problem is not None and "sandbox" in outcome.items[1].problem
    more = await app.postbot.schedule_many(
        replace(MEMBER, request_id="slack-message:C_VIDEOS:2.0"),
        "next sandbox More",
        await _videos(app, tmp_path, 2),
    )
    assert _times(more) == [
        # Sun 28 Mar 02:30 does not exist: 03:30 CEST, and the answer says so.
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 29, 16, 0, tzinfo=UTC),  # Mon 29 Mar 18:00 CEST
    ]
    first = more.items[0].outcome
    assert first is not None
    assert "Sandbox: 02:30 doesn't exist on Sun 28 Mar (clocks go forward): using 03:30" in first.notes
    text = batch_text(
        [(i.name, i.outcome.posts if i.outcome else None, i.problem, []) for i in outcome.items], NOW
    )
    assert text.splitlines()[0] == "Scheduled 3 of 4 videos:"
    assert text.splitlines()[2].startswith("2. clip2.mp4: not queued. sandbox: ")


async def test_every_two_days_keeps_the_wall_clock_time_across_the_change(app: App, tmp_path: Path) -> None:
    videos = await _videos(app, tmp_path, 4)
    outcome = await app.postbot.schedule_many(MEMBER, "2027-03-24 18:00 sandbox Clips --every 2d", videos)
    assert [t.astimezone(BERLIN).strftime("%a %d %H:%M %Z") if t else None for t in _times(outcome)] == [
        "Wed 24 18:00 CET",
        "Fri 26 18:00 CET",
        "Sun 28 18:00 CEST",
        "Tue 30 18:00 CEST",
    ]


async def test_a_redelivered_batch_queues_nothing_twice(app: App, tmp_path: Path) -> None:
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    videos = await _videos(app, tmp_path, 3)
    first = await app.postbot.schedule_many(MEMBER, "next sandbox Clips", videos)
    again = await app.postbot.schedule_many(MEMBER, "next sandbox Clips", videos)
    assert again.duplicate and not first.duplicate
    assert _times(again) == _times(first)
    assert len(await app.postbot.list_queue(MEMBER)) == 3


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tomorrow 6pm sandbox Clips", "either into the channel's schedule"),
        ("best sandbox Clips", "either into the channel's schedule"),
        ("next sandbox Clips --every 2d", "either next or --every"),
        ("tomorrow 6pm sandbox Clips --every 0d", "is not a step between videos"),
        ("tomorrow 6pm sandbox Clips --every 200d", "would be 401 days ahead"),
    ],
)
async def test_a_batch_without_a_way_to_spread_it_is_refused_before_anything_is_queued(
    app: App, tmp_path: Path, text: str, says: str
) -> None:
    videos = await _videos(app, tmp_path, 3)
    with pytest.raises(UserError, match=says):
        await app.postbot.schedule_many(MEMBER, text, videos)
    assert await app.postbot.list_queue(MEMBER) == []


async def test_the_console_takes_several_files_and_refuses_a_missing_one_in_its_line(
    app: App, tmp_path: Path
) -> None:
    from adapters.console.commands import ConsoleAdapter

    console = ConsoleAdapter(app.postbot, user="ana", clock=lambda: NOW)
    assert (await console.handle("/slots add mon,wed,fri 18:00 sandbox")).startswith("Added 3 Sandbox slots.")
    first, second = distinct_clip(tmp_path / "a.mp4", 1), distinct_clip(tmp_path / "b.mp4", 2)
    said = await console.handle(
        f"/schedule next sandbox Clips --file {first} --file {tmp_path / 'gone.mp4'} --file {second}"
    )
    lines = said.splitlines()
    assert lines[:2] == [
        "Scheduled 2 of 3 videos:",
        "1. a.mp4: #1 Sandbox Mon 22 Mar 2027, 18:00 Europe/Berlin",
    ]
    # The reason names the path (cut at 80 characters).
    assert lines[2].startswith("2. gone.mp4: not queued. No file at /")
    assert lines[2].endswith(". Check the path given with --file.")
    assert lines[3:] == [
        "3. b.mp4: #2 Sandbox Wed 24 Mar 2027, 18:00 Europe/Berlin",
        "Cancel one with /cancel <id>.",
    ]
    listing = await console.handle("/queue")
    assert listing.endswith("Next free slots (Europe/Berlin): Sandbox Fri 26 Mar 18:00")


async def test_a_video_already_queued_from_the_channel_is_not_queued_again(app: App, tmp_path: Path) -> None:
    """A thread scheduled, a video added to it, the command run again: the earlier video keeps its
    post (the line says which), the new one takes the next free slot."""
    await app.postbot.slots(ADMIN, "add mon,wed,fri 18:00 sandbox")
    first, second = await _videos(app, tmp_path, 2)
    once = await app.postbot.schedule_many(
        replace(MEMBER, request_id="slack:trigger1"), "next sandbox A", [first]
    )
    again = await app.postbot.schedule_many(
        replace(MEMBER, request_id="slack:trigger2"), "next sandbox A", [first, second]
    )
    assert not again.duplicate
    assert again.items[0].outcome is None
    assert again.items[0].problem == "already scheduled: #1 Sandbox Mon 22 Mar 2027, 18:00 Europe/Berlin"
    assert _times(again)[1] == datetime(2027, 3, 24, 17, 0, tzinfo=UTC)  # Wed 18:00 CET: the next free slot
    assert [p.id for p in await app.postbot.list_queue(MEMBER)] == [1, 2]
    text = batch_text(
        [(i.name, i.outcome.posts if i.outcome else None, i.problem, []) for i in again.items], NOW
    )
    assert text.splitlines() == [
        "Scheduled 1 of 2 videos:",
        "1. clip1.mp4: already scheduled: #1 Sandbox Mon 22 Mar 2027, 18:00 Europe/Berlin",
        "2. clip2.mp4: #2 Sandbox Wed 24 Mar 2027, 18:00 Europe/Berlin",
        "Cancel one with /cancel <id>.",
    ]
    # A cancelled post does not hold the video back: it can be scheduled again on purpose.
    await app.postbot.cancel(MEMBER, once.queued[0].posts[0].id)
    third = await app.postbot.schedule_many(
        replace(MEMBER, request_id="slack:trigger3"), "next sandbox A", [first]
    )
    assert third.items[0].outcome is not None
    # The same bytes twice in one command are one video.
    twice = await app.postbot.schedule_many(
        replace(MEMBER, request_id="slack:trigger4"), "next sandbox A", [second, second]
    )
    assert [i.problem for i in twice.items] == [
        "already scheduled: #2 Sandbox Wed 24 Mar 2027, 18:00 Europe/Berlin",
        "already scheduled: #2 Sandbox Wed 24 Mar 2027, 18:00 Europe/Berlin",
    ]
    # Another channel is another audience: the same video goes there.
    elsewhere = replace(MEMBER, request_id="slack:trigger5", channel_id="C_OTHER")
    other = await app.postbot.schedule_many(elsewhere, "tomorrow 18:00 sandbox A --every 1d", [second])
    assert other.items[0].outcome is not None


async def test_two_racing_commands_queue_a_video_once(app: App, tmp_path: Path) -> None:
    """Two members send the same video at the same moment: both check before either has queued it,
    and the unique key (migration 0017) lets one in; the other answers that it is already scheduled."""
    ben = replace(MEMBER, user_id="U_BEN")
    warm, video = await _videos(app, tmp_path, 2)
    # Both members and the team exist already: nothing before the check takes a row lock that would
    # line the two commands up.
    for who in (MEMBER, ben):
        await app.postbot.schedule_many(
            replace(who, request_id=f"slack:warm{who.user_id}"), "tomorrow 18:00 sandbox W --every 1d", [warm]
        )
    runs = await asyncio.gather(
        *(
            app.postbot.schedule_many(
                replace(who, request_id=f"slack:race{who.user_id}"),
                "tomorrow 18:00 sandbox A --every 1d",
                [video],
            )
            for who in (MEMBER, ben)
        ),
        return_exceptions=True,
    )
    assert not [r for r in runs if isinstance(r, BaseException)], runs
    outcomes = [r for r in runs if isinstance(r, BatchOutcome)]
    lines = sorted(str(o.items[0].problem) for o in outcomes)
    assert len(await app.postbot.list_queue(MEMBER)) == 2  # the warm-up video and this one
    assert lines[0] == "None" and lines[1].startswith("already scheduled: #")


async def test_a_published_video_is_not_queued_again_but_a_failed_one_is(app: App, tmp_path: Path) -> None:
    from sqlalchemy import update

    from core.db.models import ScheduledPost

    published, failed = await _videos(app, tmp_path, 2)
    out = await app.postbot.schedule_many(
        replace(MEMBER, request_id="slack:t1"), "tomorrow 18:00 sandbox A --every 1d", [published, failed]
    )
    ids = [p.id for o in out.queued for p in o.posts]
    async with app.sessions.begin() as session:
        await session.execute(
            update(ScheduledPost).where(ScheduledPost.id == ids[0]).values(status="published")
        )
        await session.execute(update(ScheduledPost).where(ScheduledPost.id == ids[1]).values(status="failed"))
    again = await app.postbot.schedule_many(
        replace(MEMBER, request_id="slack:t2"), "tomorrow 18:00 sandbox A --every 1d", [published, failed]
    )
    assert str(again.items[0].problem).startswith(f"already scheduled: #{ids[0]} Sandbox")
    assert again.items[1].outcome is not None


async def test_the_console_given_the_same_file_twice_queues_it_once(app: App, tmp_path: Path) -> None:
    from adapters.console.commands import ConsoleAdapter

    console = ConsoleAdapter(app.postbot, user="ana", clock=lambda: NOW)
    clip = distinct_clip(tmp_path / "a.mp4", next(_made))
    said = await console.handle(
        f"/schedule 2027-03-22 18:00 sandbox Clip --every 1d --file {clip} --file {clip}"
    )
    assert said.splitlines() == [
        "Scheduled 1 of 2 videos:",
        "1. a.mp4: #1 Sandbox Mon 22 Mar 2027, 18:00 Europe/Berlin",
        "2. a.mp4: already scheduled: #1 Sandbox Mon 22 Mar 2027, 18:00 Europe/Berlin",
        "Cancel one with /cancel <id>.",
    ]


async def test_the_console_takes_every_with_one_file_as_a_batch_of_one(app: App, tmp_path: Path) -> None:
    # README: videos go "one --every 2d after the other"; with one --file that is one video at the
    # start time, not "There is no option --every" (what the single-video path said).
    from adapters.console.commands import ConsoleAdapter

    console = ConsoleAdapter(app.postbot, user="ana", clock=lambda: NOW)
    clip = distinct_clip(tmp_path / "a.mp4", next(_made))
    said = await console.handle(f"/schedule mon 18:00 sandbox Clip --every 2d --file {clip}")
    assert said.splitlines()[:2] == [
        "Scheduled 1 of 1 videos:",
        "1. a.mp4: #1 Sandbox Mon 22 Mar 2027, 18:00 Europe/Berlin",
    ], said
    assert "--file <path>" in await console.handle("/schedule mon 18:00 sandbox Clip --every 2d")
    with_link = await console.handle(
        "/schedule mon 18:00 sandbox Clip --every 2d --url https://example.com/a.mp4"
    )
    assert "--url brings one video" in with_link, with_link
