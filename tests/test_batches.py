"""Several videos with one command (issue 24, item 3) through the facade, on SQLite and PostgreSQL:
into the schedule's consecutive free slots, or ``--every`` from a start time, across DST changes;
a bad video refused with its reason while the good ones are queued."""

from __future__ import annotations

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
from tests.clips import clip_file
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


async def _videos(app: App, tmp_path: Path, n: int, *, bad: int | None = None) -> list[tuple[str, MediaInfo]]:
    found = []
    for i in range(n):
        path = tmp_path / f"clip{i + 1}.mp4"
        if i == bad:
            # Named like a video, but not one: what a half-finished export looks like.
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        else:
            clip_file(path)
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
    first, second = clip_file(tmp_path / "a.mp4"), clip_file(tmp_path / "b.mp4")
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
