"""The posting schedule and several videos at once (issue 24, items 2 and 3) through the real
discord.py client against the fake Discord: `/postbot slots`, `/schedule` with `next` and several
attachment options, or `every` from a start time; across Berlin's spring change."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.wiring import App
from tests.clips import clip_file, distinct_clip
from tests.fakes.discord_api import Interaction
from tests.test_discord_adapter import MANAGE_GUILD, SEND_MESSAGES, World, _answer, running, world

__all__ = ["running", "world"]  # the fixtures, imported for pytest

BERLIN = ZoneInfo("Europe/Berlin")
# Sat 27 Mar 2027, 10:00 in Berlin; clocks go forward that night (Sun 28 Mar, 02:00 → 03:00).
NOW = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)


async def _slots(world: World, change: str, *, admin: bool = True) -> str:
    record = await world.run(
        world.fake.command_interaction(
            "postbot slots",
            {"change": change},
            user=world.admin if admin else world.alice,
            guild=world.guild,
            permissions=MANAGE_GUILD if admin else SEND_MESSAGES,
        )
    )
    return _said(world, record)


def _said(world: World, record: Interaction) -> str:
    """The answer: the deferred message edited, or (a refusal) the private follow-up."""
    errors = world.fake.followup_messages(record)
    return str(errors[0]["content"]) if errors else _answer(world.fake, record)


# Each attachment a different video (the same bytes twice are one video: nothing is posted twice).
_made = itertools.count()


def _attachments(world: World, tmp_path: Path, n: int, *, bad: int | None = None) -> dict[str, object]:
    values: dict[str, object] = {}
    for i in range(n):
        path = tmp_path / f"clip{i + 1}.mp4"
        if i == bad:
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        else:
            distinct_clip(path, next(_made))
        name = "video" if i == 0 else f"video{i + 1}"
        values[name] = world.fake.upload_attachment(world.channel_id, path.name, path.read_bytes())
    return values


async def _times(app: App, world: World) -> list[datetime]:
    return [p.run_at for p in await app.postbot.list_queue(world.ctx(world.alice))]


async def test_slots_then_several_attachments_fill_the_next_free_slots(
    world: World, running: App, tmp_path: Path
) -> None:
    running.postbot.clock = lambda: NOW
    refused = await _slots(world, "add mon,wed,fri 18:00 sandbox", admin=False)
    assert "Only an admin can change the posting schedule" in refused
    assert (await _slots(world, "add mon,wed,fri 18:00 sandbox")).startswith("Added 3 Sandbox slots.")
    said = await _slots(world, "add sun 02:30 sandbox")
    assert "• Sandbox: Sun 02:30; Mon, Wed, Fri 18:00 · next free: Sun 28 Mar 03:30" in said

    values = {
        "when": "next",
        "platforms": "sandbox",
        "caption": "Spring",
        **_attachments(world, tmp_path, 3, bad=1),
    }
    record = await world.run(
        world.fake.command_interaction(
            "schedule", values, user=world.alice, guild=world.guild, permissions=SEND_MESSAGES
        )
    )
    answer = _answer(world.fake, record)
    assert answer.startswith("Scheduled 2 of 3 videos:")
    assert "2. clip2.mp4: not queued. sandbox: " in answer
    assert "Note: Sandbox: 02:30 doesn't exist on Sun 28 Mar (clocks go forward): using 03:30" in answer
    assert await _times(running, world) == [
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 29, 16, 0, tzinfo=UTC),
    ]
    # Every attachment came from the CDN once.
    assert len(world.fake.cdn_requests) == 3

    listing = await world.run(
        world.fake.command_interaction("postbot queue", {}, user=world.alice, guild=world.guild)
    )
    assert "Next free slots (Europe/Berlin): Sandbox Wed 31 Mar 18:00" in _answer(world.fake, listing)


async def test_several_attachments_every_day_from_a_start_keep_the_wall_clock_time(
    world: World, running: App, tmp_path: Path
) -> None:
    running.postbot.clock = lambda: NOW
    values = {
        "when": "2027-03-27 18:00",
        "platforms": "sandbox",
        "every": "1d",
        **_attachments(world, tmp_path, 3),
    }
    record = await world.run(
        world.fake.command_interaction(
            "schedule", values, user=world.alice, guild=world.guild, permissions=SEND_MESSAGES
        )
    )
    assert _answer(world.fake, record).startswith("Scheduled 3 of 3 videos:")
    local = [t.astimezone(BERLIN).strftime("%a %H:%M %Z") for t in await _times(running, world)]
    assert local == ["Sat 18:00 CET", "Sun 18:00 CEST", "Mon 18:00 CEST"]

    # Several videos at a time without next or every: refused, nothing queued.
    again = {"when": "2027-04-02 18:00", "platforms": "sandbox", **_attachments(world, tmp_path, 2)}
    refused = await world.run(
        world.fake.command_interaction(
            "schedule", again, user=world.alice, guild=world.guild, permissions=SEND_MESSAGES
        )
    )
    assert "Several videos go either into the channel's schedule (next)" in _said(world, refused)
    assert len(await _times(running, world)) == 3


async def test_the_same_video_in_two_attachments_is_queued_once(
    world: World, running: App, tmp_path: Path
) -> None:
    """video and video2 the same file (attached twice by mistake): one post; the second line says
    it is already scheduled, with the post's id and time."""
    running.postbot.clock = lambda: NOW
    path = clip_file(tmp_path / "clip.mp4")
    twice = {
        "video": world.fake.upload_attachment(world.channel_id, "clip.mp4", path.read_bytes()),
        "video2": world.fake.upload_attachment(world.channel_id, "again.mp4", path.read_bytes()),
    }
    values = {"when": "2027-03-27 18:00", "platforms": "sandbox", "every": "1d", **twice}
    record = await world.run(
        world.fake.command_interaction(
            "schedule", values, user=world.alice, guild=world.guild, permissions=SEND_MESSAGES
        )
    )
    assert _answer(world.fake, record).splitlines()[:3] == [
        "Scheduled 1 of 2 videos:",
        "1. clip.mp4: #1 Sandbox Sat 27 Mar 2027, 18:00 Europe/Berlin",
        "2. again.mp4: already scheduled: #1 Sandbox Sat 27 Mar 2027, 18:00 Europe/Berlin",
    ]
    assert len(await _times(running, world)) == 1
