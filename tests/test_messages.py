"""The messages a newcomer met on a first run (issue 23, "smaller things"), typed at the console as a
person would, each checked for what it says."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from bot.wiring import App, build_app
from core.config import LinkSettings, Settings
from core.db.models import ScheduledPost
from core.domain import ChatKind
from tests.conftest import Database
from tests.fakes.web_host import WebHost


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[App]:
    built = await build_app(settings, schema=db.schema, worker_id="w")
    built.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(lambda _: None))
    yield built
    await built.close()


@pytest.fixture
def console(app: App) -> ConsoleAdapter:
    return ConsoleAdapter(app.postbot, user="ana")


async def _queued(app: App) -> int:
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ScheduledPost)) or 0)


async def test_a_youtube_title_over_100_characters_is_reported_before_queueing(
    app: App, console: ConsoleAdapter, clip: Path
) -> None:
    title = "T" * 101
    reply = await console.handle(f"/schedule tomorrow 6pm youtube,x {title}\nThe description --file {clip}")
    assert "the title is 101 characters; YouTube takes 100: cut 1." in reply, reply
    assert await _queued(app) == 0


async def test_the_example_for_a_time_in_the_past_is_itself_ahead(
    console: ConsoleAdapter, clip: Path
) -> None:
    reply = await console.handle(f"/schedule yesterday 6pm sandbox Hi --file {clip}")
    assert "in the past" in reply
    [shown] = re.findall(r"`(\d{4}-\d{2}-\d{2}) 18:00`", reply)
    assert date.fromisoformat(shown) > datetime.now(UTC).date(), reply


async def test_a_date_in_another_year_is_shown_with_its_year(console: ConsoleAdapter, clip: Path) -> None:
    last_year = datetime.now(UTC).year - 1
    reply = await console.handle(f"/schedule dec 1 {last_year} 6pm sandbox Hi --file {clip}")
    assert "is in the past (" in reply and f"1 Dec {last_year}, 18:00" in reply, reply


async def test_post_says_it_is_publishing_now_and_when_publishing_is_paused(
    console: ConsoleAdapter, clip: Path
) -> None:
    reply = await console.handle(f"/post sandbox Right now --file {clip}")
    assert reply.startswith("Publishing clip.mp4 to Sandbox now."), reply
    assert "in 0s" not in reply and "Scheduled" not in reply
    await console.handle("/pause sandbox")
    held = await console.handle(f"/post sandbox Held --file {clip}")
    assert held.startswith(
        "Queued clip.mp4 for Sandbox. Publishing is paused for Sandbox: it waits until /resume."
    ), held


@pytest.mark.parametrize(("typed", "zone"), [("PST", "America/Los_Angeles"), ("est", "America/New_York")])
async def test_timezone_takes_the_abbreviations_the_time_reader_knows(
    console: ConsoleAdapter, typed: str, zone: str
) -> None:
    assert await console.handle(f"/timezone {typed}") == f"Times are now read and shown in {zone}."


async def test_a_near_miss_platform_name_gets_a_did_you_mean(console: ConsoleAdapter, clip: Path) -> None:
    reply = await console.handle(f"/schedule tomorrow 6pm youtbe Launch --file {clip}")
    assert "Unknown platform 'youtbe'. Did you mean youtube?" in reply, reply
    assert "Did you mean youtube?" in await console.handle("/pause youtbe")
    assert "Did you mean" not in await console.handle(f"/schedule tomorrow 6pm myspace Hi --file {clip}")


async def test_grammar(console: ConsoleAdapter, clip: Path, tmp_path: Path) -> None:
    reply = await console.handle(f"/schedule tomorrow 6pm sandbox Hi --frob 1 --file {clip}")
    assert "Sandbox takes no options." in reply, reply
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video at all, just some words\n" * 20)
    reply = await console.handle(f"/schedule tomorrow 6pm sandbox Hi --file {notes}")
    assert "it is an unrecognised file" in reply, reply


async def test_the_console_takes_a_video_link_with_url(settings: Settings, db: Database, clip: Path) -> None:
    # A local https host plays the public internet; loopback is allowed for it alone, as in
    # tests/test_video_links.py.
    async with WebHost() as host:
        links = LinkSettings(allow_networks=["127.0.0.0/8"], ca_file=host.ca_pem)
        built = await build_app(settings.model_copy(update={"links": links}), schema=db.schema, worker_id="w")
        try:
            console = ConsoleAdapter(built.postbot, user="ana")
            typo = await console.handle(f"/schedule blorp 6pm sandbox Hi --url {host.add_file(clip)}")
            assert "blorp" in typo and host.requests == []  # a typo costs no download
            reply = await console.handle(
                f"/schedule tomorrow 6pm sandbox From a link --url {host.add_file(clip)}"
            )
            assert reply.startswith("Scheduled clip.mp4 for Sandbox at "), reply
            assert len(host.requests) == 1
            both = await console.handle(f"/post sandbox Hi --file {clip} --url {host.add_file(clip)}")
            assert both == "✗ Give the video as --file or as --url, not both."
        finally:
            await built.close()
