"""`best`/`auto` and `/suggest` through the core facade (Postbot), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.wiring import App, build_app
from core.config import Settings
from core.domain import ChatContext, ChatKind, MediaInfo, Platform
from core.errors import UserError
from core.slots.rules import CADENCE
from tests.conftest import Database

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wed 25 Nov 2026, 10:00 in Berlin
CTX = ChatContext(chat=ChatKind.CONSOLE, team_id="t1", user_id="ana", user_tz="Europe/Berlin")


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[App]:
    built = await build_app(settings, schema=db.schema, worker_id="w1")
    built.postbot.clock = lambda: NOW
    yield built
    await built.close()


@pytest.fixture
async def media(app: App, clip: Path) -> MediaInfo:
    return await app.media.import_file(clip)


async def test_best_picks_the_top_free_slot_and_says_why(app: App, media: MediaInfo) -> None:
    first = await app.postbot.schedule(CTX, "best sandbox First", media)
    # Sandbox prior: working hours; the first free half hour after now + lead is 10:30.
    assert first.run_at == datetime(2026, 11, 25, 10, 30, tzinfo=BERLIN)
    # The note says why; the reply's own line says when (in the user's zone).
    assert any(n.startswith("Picked the suggested slot: Sandbox working hours") for n in first.notes)

    # The three alternatives offered beside it are other slots, not the one it took.
    offered = first.suggestions[Platform.SANDBOX]
    assert len(offered) == 3 and first.run_at not in [s.at for s in offered]

    second = await app.postbot.schedule(CTX, "auto sandbox Second", media)
    assert abs(second.run_at - first.run_at) >= CADENCE[Platform.SANDBOX].min_gap


async def test_suggest_names_platforms_or_uses_linked_ones(app: App) -> None:
    outcome = await app.postbot.suggest(CTX, "sandbox,yt")
    assert outcome.tz == "Europe/Berlin"
    assert set(outcome.suggestions) == {Platform.SANDBOX, Platform.YOUTUBE}
    for slots in outcome.suggestions.values():
        assert len(slots) == 3
        assert all(s.at > NOW + timedelta(minutes=15) for s in slots)
    with pytest.raises(UserError, match="none linked"):
        await app.postbot.suggest(CTX, "")


async def test_moving_a_post_to_best_does_not_count_its_own_slot_as_taken(app: App, media: MediaInfo) -> None:
    first = await app.postbot.schedule(CTX, "best sandbox First", media)
    post = first.posts[0]
    # Its current time is still the best one for it: "best" keeps it there rather than dodging itself.
    moved = await app.postbot.reschedule(CTX, post.id, "best")
    assert moved.run_at == post.run_at
    # A second post does have to dodge it.
    second = await app.postbot.schedule(CTX, "2026-12-01 18:00 sandbox Second", media)
    moved_second = await app.postbot.reschedule(CTX, second.posts[0].id, "best")
    assert abs(moved_second.run_at - post.run_at) >= CADENCE[Platform.SANDBOX].min_gap


@pytest.fixture
async def ny_app(settings: Settings, db: Database) -> AsyncIterator[App]:
    audience = settings.model_copy(update={"audience_timezones": ["America/New_York"]})
    built = await build_app(audience, schema=db.schema, worker_id="w1")
    built.postbot.clock = lambda: NOW
    yield built
    await built.close()


async def test_a_day_without_a_time_takes_that_days_best_slot_and_says_so(ny_app: App, clip: Path) -> None:
    media = await ny_app.media.import_file(clip)
    outcome = await ny_app.postbot.schedule(CTX, "friday sandbox Hi", media)
    # Sandbox prior is working hours of the audience (New York): 09:00 there is 15:00 in Berlin.
    assert outcome.run_at == datetime(2026, 11, 27, 15, 0, tzinfo=BERLIN)
    assert outcome.notes == [
        "No time given: picked the day's suggested slot: Sandbox working hours (America/New_York)"
    ]
    # A time given is a time kept.
    timed = await ny_app.postbot.schedule(CTX, "friday 10am sandbox Hi", media)
    assert timed.run_at == datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN)
    assert timed.notes == []


async def test_moving_a_post_to_a_day_takes_that_days_best_slot(ny_app: App, clip: Path) -> None:
    media = await ny_app.media.import_file(clip)
    outcome = await ny_app.postbot.schedule(CTX, "2026-12-01 18:00 sandbox Hi", media)
    moved = await ny_app.postbot.reschedule(CTX, outcome.posts[0].id, "friday")
    assert moved.run_at == datetime(2026, 11, 27, 15, 0, tzinfo=BERLIN)
