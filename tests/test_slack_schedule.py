"""The posting schedule and several videos at once (issue 24, items 2 and 3) through the real bolt app
against the fake Slack: `/postbot slots`, `/schedule next`, a message with several videos (mentioned,
or uploaded then scheduled with the slash command), a thread of them; across Berlin's spring change."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.db.models import RecentFile
from tests.clips import distinct_clip
from tests.fakes.slack_api import FakeFile
from tests.test_slack_adapter import ANA, BEN, CHANNEL, Harness, harness, sqlite_only
from tests.test_slack_home import _home_with, _opened, _text, home

__all__ = ["harness", "home"]  # the fixtures, imported for pytest

BERLIN = ZoneInfo("Europe/Berlin")
# Sat 27 Mar 2027, 10:00 in Berlin; clocks go forward that night (Sun 28 Mar, 02:00 → 03:00).
NOW = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)

# Each file a different video (the same bytes twice would be one video: nothing is posted twice).
_made = itertools.count()


def _files(
    h: Harness, tmp_path: Path, n: int, *, bad: int | None = None, prefix: str = "clip"
) -> list[FakeFile]:
    found = []
    for i in range(n):
        path = tmp_path / f"{prefix}{i + 1}.mp4"
        if i == bad:
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        else:
            distinct_clip(path, next(_made))
        file = h.slack.add_file(ANA, CHANNEL, path)
        # Uploaded at the test's "now", which the core's clock says too.
        file.created = int(NOW.timestamp())
        found.append(file)
    return found


async def _remembered(h: Harness, files: list[FakeFile]) -> None:
    """The message events are in (their file_shared twins are not sent: files uploaded at the test's
    clock, months from the real one, would meet the real-time ones' clean-up)."""
    ids = {f.id for f in files}
    async with asyncio.timeout(10):
        while True:
            async with h.app.sessions() as session:
                rows = (
                    await session.execute(select(RecentFile).where(RecentFile.file_id.in_(ids)))
                ).scalars()
                if len([r for r in rows if r.size_bytes is not None and r.message_ts]) == len(ids):
                    return
            await asyncio.sleep(0.02)


async def _post_times(h: Harness) -> list[datetime]:
    return [p.run_at for p in await h.posts()]


async def _slots(h: Harness) -> None:
    await h.sender.command("/postbot", "slots add mon,wed,fri 18:00 sandbox", user=ANA, channel=CHANNEL)
    await h.hook("Only an admin can change the posting schedule")
    await h.sender.command("/postbot", "slots add mon,wed,fri 18:00 sandbox", user=BEN, channel=CHANNEL)
    await h.hook("Added 3 Sandbox slots.")
    await h.sender.command("/postbot", "slots add sun 02:30 sandbox", user=BEN, channel=CHANNEL)
    shown = await h.hook("Added 1 Sandbox slot.")
    assert "• Sandbox: Sun 02:30; Mon, Wed, Fri 18:00 · next free: Sun 28 Mar 03:30" in shown["text"]


@sqlite_only
async def test_a_message_with_several_videos_fills_the_next_free_slots(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    h.app.postbot.clock = lambda: NOW
    await _slots(h)
    files = _files(h, tmp_path, 3, bad=1)
    message = await h.sender.mention(ANA, CHANNEL, "next sandbox Spring clips", files)
    reply = await h.reply(lambda m: "videos" in m["text"])
    # One answer, in the thread of the message with the videos.
    assert reply.get("thread_ts") == message["ts"]
    text = reply["text"]
    assert "Scheduled 2 of 3 videos:" in text
    assert "2. clip2.mp4: not queued. sandbox: " in text
    assert (
        "Note: Sandbox: 02:30 doesn&#39;t exist on Sun 28 Mar" in text
        or "02:30 doesn't exist on Sun 28 Mar" in text
    )
    assert await _post_times(h) == [
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),  # Sun 02:30 does not exist: 03:30 CEST
        datetime(2027, 3, 29, 16, 0, tzinfo=UTC),  # clip3: Mon 18:00 CEST (clip2 took no slot)
    ]
    assert [p.caption for p in await h.posts()] == ["Spring clips", "Spring clips"]
    # The /postbot queue answer shows the channel's next free slot.
    await h.sender.command("/postbot", "queue", user=ANA, channel=CHANNEL)
    listing = await h.hook("Upcoming")
    assert "Next free slots (Europe/Berlin): Sandbox Wed 31 Mar 18:00" in listing["text"]


@sqlite_only
async def test_schedule_next_takes_every_video_of_the_latest_upload_and_a_single_one_says_its_slot(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    h.app.postbot.clock = lambda: NOW
    await _slots(h)
    files = _files(h, tmp_path, 2)
    await h.sender.share_files(ANA, CHANNEL, files, file_shared=False)
    await _remembered(h, files)
    await h.sender.command("/schedule", "next sandbox Two at once", user=ANA, channel=CHANNEL)
    reply = await h.reply(lambda m: "videos" in m["text"])
    assert "Scheduled 2 of 2 videos:" in reply["text"]
    assert await _post_times(h) == [
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 29, 16, 0, tzinfo=UTC),
    ]

    # A thread of videos, one per reply, scheduled --every 2d from a start time.
    root = h.sender.user_message(ANA, CHANNEL, "This week's clips")
    thread = _files(h, tmp_path, 3, prefix="thread")
    for file in thread:
        await h.sender.share_files(ANA, CHANNEL, [file], thread_ts=root["ts"], file_shared=False)
    await _remembered(h, thread)
    await h.sender.command(
        "/schedule", "2027-04-05 12:00 sandbox Thread --every 2d", user=ANA, channel=CHANNEL
    )
    listed = await h.reply(lambda m: "Scheduled 3 of 3 videos" in m["text"])
    assert listed.get("thread_ts") == root["ts"]
    # Read in Ana's zone (her Slack profile's): New York.
    local = [
        t.astimezone(ZoneInfo("America/New_York")).strftime("%a %d %H:%M") for t in (await _post_times(h))[2:]
    ]
    assert local == ["Mon 05 12:00", "Wed 07 12:00", "Fri 09 12:00"]

    # One video with next: the usual answer, saying which slot it took.
    single = _files(h, tmp_path, 1, prefix="one")
    await h.sender.share_files(ANA, CHANNEL, single, file_shared=False)
    await _remembered(h, single)
    await h.sender.command("/schedule", "next sandbox Just one", user=ANA, channel=CHANNEL)
    answer = await h.reply(lambda m: "Just one" in str(m.get("blocks")))
    assert "Placed in the schedule" in str(answer["blocks"])
    assert (await _post_times(h))[-1] == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)


@sqlite_only
async def test_the_home_tab_shows_each_channels_next_free_slot(home: Harness) -> None:
    h = home
    h.app.postbot.clock = lambda: NOW
    await h.sender.command("/postbot", "slots add mon,wed,fri 18:00 sandbox", user=BEN, channel=CHANNEL)
    await h.hook("Added 3 Sandbox slots.")
    await h.sender.event(_opened(ANA))
    view = await h.slack.wait_for(lambda: _home_with(h.slack, ANA, "Next free slots"))
    # Monday 18:00 in Berlin, shown in Ana's zone like the rest of her Home tab.
    assert f"• <#{CHANNEL}> Sandbox: Mon 29 Mar 2027, 12:00 America/New_York" in _text(view)


@sqlite_only
async def test_a_thread_scheduled_again_after_a_new_video_queues_only_the_new_one(
    harness: Harness, tmp_path: Path
) -> None:
    """Scheduled from a thread, a video added to the thread within the recent-file window, the command
    typed again (a new trigger_id): the first video is not queued a second time."""
    h = harness
    h.app.postbot.clock = lambda: NOW
    await _slots(h)
    root = h.sender.user_message(ANA, CHANNEL, "This week's clips")
    (early,) = _files(h, tmp_path, 1, prefix="early")
    await h.sender.share_files(ANA, CHANNEL, [early], thread_ts=root["ts"], file_shared=False)
    await _remembered(h, [early])
    await h.sender.command("/schedule", "next sandbox Thread", user=ANA, channel=CHANNEL)
    await h.reply(lambda m: "Thread" in str(m.get("blocks")))
    (late,) = _files(h, tmp_path, 1, prefix="late")
    await h.sender.share_files(ANA, CHANNEL, [late], thread_ts=root["ts"], file_shared=False)
    await _remembered(h, [late])
    await h.sender.command("/schedule", "next sandbox Thread", user=ANA, channel=CHANNEL)
    listed = await h.reply(lambda m: "of 2 videos" in m["text"])
    assert listed.get("thread_ts") == root["ts"]
    # Times in Ana's zone (her Slack profile's): New York. Sun 28 Mar 03:30 CEST is Sat 21:30 EDT.
    assert listed["text"].splitlines()[:3] == [
        "Scheduled 1 of 2 videos:",
        "1. early1.mp4: already scheduled: #1 Sandbox Sat 27 Mar 2027, 21:30 America/New_York",
        "2. late1.mp4: #2 Sandbox Mon 29 Mar 2027, 12:00 America/New_York",
    ]
    assert await _post_times(h) == [
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 29, 16, 0, tzinfo=UTC),
    ]
