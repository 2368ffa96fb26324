"""Slot suggestions against a real database (SQLite and PostgreSQL): priors, conflicts, quota, history."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, Team, User
from core.domain import Platform, PostStatus
from core.errors import ConfigError
from core.platforms.youtube.caps import QUOTA_ZONE as YOUTUBE_QUOTA_ZONE
from core.platforms.youtube.caps import UPLOADS_PER_DAY
from core.render import suggestions_text
from core.slots import Slot, best_common_slot, suggest
from core.slots.audience import parse_audience
from core.slots.priors import prior
from core.slots.rules import CADENCE
from tests.conftest import Database

BERLIN = ZoneInfo("Europe/Berlin")
PACIFIC = ZoneInfo(YOUTUBE_QUOTA_ZONE)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wed 25 Nov 2026, 10:00 in Berlin


@pytest.fixture
async def sessions(db: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


class Teams:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def team(self, name: str = "acme") -> tuple[int, int, int]:
        async with self.sessions.begin() as s:
            team = Team(chat="console", external_id=name, name=name, timezone="Europe/Berlin")
            s.add(team)
            await s.flush()
            user = User(team_id=team.id, external_id="u1")
            media = MediaAsset(
                team_id=team.id, path="/x.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4"
            )
            s.add_all([user, media])
            await s.flush()
            return team.id, user.id, media.id

    async def post(
        self,
        ids: tuple[int, int, int],
        platform: Platform,
        at: datetime,
        *,
        status: PostStatus = PostStatus.QUEUED,
        views: int | None = None,
        attempts: int = 0,
    ) -> None:
        team_id, user_id, media_id = ids
        published = status == PostStatus.PUBLISHED
        async with self.sessions.begin() as s:
            s.add(
                ScheduledPost(
                    team_id=team_id,
                    author_id=user_id,
                    media_id=media_id,
                    batch_id=uuid.uuid4().hex,
                    platform=platform.value,
                    run_at=at,
                    due_at=at,
                    status=status.value,
                    attempts=attempts,
                    idempotency_key=uuid.uuid4().hex,
                    published_at=at if published else None,
                    views=views,
                    likes=0 if views is not None else None,
                    comments=0 if views is not None else None,
                    metrics_fetched_at=at + timedelta(days=1) if views is not None else None,
                )
            )

    async def suggest(
        self, team_id: int, platforms: list[Platform], n: int = 3, **kw: object
    ) -> dict[Platform, list[Slot]]:
        async with self.sessions() as s:
            return await suggest(s, team_id, platforms, NOW, "Europe/Berlin", n, **kw)  # type: ignore[arg-type]


@pytest.fixture
def teams(sessions: async_sessionmaker[AsyncSession]) -> Teams:
    return Teams(sessions)


def berlin(day: int, hour: int, minute: int = 0, month: int = 11, weeks_back: int = 0) -> datetime:
    # Weeks are stepped on the wall clock, so a post "every Friday 09:30" stays at 09:30 across DST.
    local = datetime(2026, month, day, hour, minute, tzinfo=BERLIN) - timedelta(weeks=weeks_back)
    return local.astimezone(UTC)


async def test_empty_calendar_gets_documented_peaks_soonest_first(teams: Teams) -> None:
    ids = await teams.team()
    slots = await teams.suggest(ids[0], [Platform.INSTAGRAM, Platform.LINKEDIN])
    ig = slots[Platform.INSTAGRAM]
    assert len(ig) == 3
    # Wednesday 10:30 is inside Instagram's midweek late-morning peak and the first free half hour.
    assert ig[0].at == berlin(25, 10, 30)
    assert [s.score for s in ig] == sorted((s.score for s in ig), reverse=True)
    for slot in ig + slots[Platform.LINKEDIN]:
        assert slot.at >= NOW + timedelta(minutes=20)
        assert slot.at.tzinfo is not None
        assert "\n" not in slot.reason and slot.reason
    for platform, found in slots.items():
        for slot in found:
            weight, label = prior(platform, slot.at.astimezone(BERLIN))
            assert weight >= 0.85 and label is not None and label in slot.reason


async def test_suggestions_keep_clear_of_queued_posts(teams: Teams) -> None:
    ids = await teams.team()
    queued = [berlin(25, 10, 30), berlin(1, 10, 0, month=12), berlin(2, 11, 0, month=12)]
    for at in queued:
        await teams.post(ids, Platform.INSTAGRAM, at)
    ig = (await teams.suggest(ids[0], [Platform.INSTAGRAM], n=5))[Platform.INSTAGRAM]
    gap = CADENCE[Platform.INSTAGRAM].min_gap
    assert len(ig) == 5
    for slot in ig:
        assert all(abs(slot.at - q) >= gap for q in queued), slot
    # Suggestions are spaced from each other too.
    for a in ig:
        assert all(a is b or abs(a.at - b.at) >= gap for b in ig)


async def test_cancelled_and_other_platforms_posts_do_not_block(teams: Teams) -> None:
    ids = await teams.team()
    await teams.post(ids, Platform.INSTAGRAM, berlin(25, 10, 30), status=PostStatus.CANCELLED)
    await teams.post(ids, Platform.X, berlin(25, 10, 30))
    ig = (await teams.suggest(ids[0], [Platform.INSTAGRAM]))[Platform.INSTAGRAM]
    assert ig[0].at == berlin(25, 10, 30)


async def test_daily_cap_is_respected(teams: Teams) -> None:
    ids = await teams.team()
    # LinkedIn: two posts already on Tue 1 Dec (the cap); its peak that day must not be offered.
    await teams.post(ids, Platform.LINKEDIN, berlin(1, 7, 0, month=12))
    await teams.post(ids, Platform.LINKEDIN, berlin(1, 20, 0, month=12))
    li = (await teams.suggest(ids[0], [Platform.LINKEDIN], n=6))[Platform.LINKEDIN]
    assert li
    assert all(s.at.astimezone(BERLIN).date() != datetime(2026, 12, 1).date() for s in li)


def _pacific_days(slots: list[Slot]) -> list[object]:
    return [s.at.astimezone(PACIFIC).date() for s in slots]


async def test_youtube_quota_is_shared_by_the_deployment_and_never_exceeded(teams: Teams) -> None:
    ours = await teams.team("ours")
    other = await teams.team("other")
    cap = UPLOADS_PER_DAY
    # videos.insert has its own bucket: 100 calls a day, 1 each
    # (https://developers.google.com/youtube/v3/determine_quota_cost).
    assert cap == 100

    before = (await teams.suggest(ours[0], [Platform.YOUTUBE], n=3))[Platform.YOUTUBE]
    busy_day = before[0].at.astimezone(PACIFIC).date()
    # Another team of this bot fills that Pacific quota day with uploads.
    start = datetime.combine(busy_day, datetime.min.time(), PACIFIC) + timedelta(hours=1)
    for i in range(cap):
        await teams.post(other, Platform.YOUTUBE, (start + timedelta(minutes=12 * i)).astimezone(UTC))
    after = (await teams.suggest(ours[0], [Platform.YOUTUBE], n=8))[Platform.YOUTUBE]
    assert after
    assert busy_day not in _pacific_days(after)


async def test_youtube_suggestions_with_queued_uploads_stay_within_quota(teams: Teams) -> None:
    ours = await teams.team("ours")
    other = await teams.team("other")
    day = datetime(2026, 11, 26).date()  # Thursday, Pacific
    start = datetime.combine(day, datetime.min.time(), PACIFIC)
    # All but one of the day's uploads (failed ones that reached YouTube count: they spent quota too).
    for i in range(UPLOADS_PER_DAY - 3):
        await teams.post(other, Platform.YOUTUBE, (start + timedelta(minutes=60 + 12 * i)).astimezone(UTC))
    at = (start + timedelta(hours=22)).astimezone(UTC)
    await teams.post(other, Platform.YOUTUBE, at, status=PostStatus.PUBLISHED)
    await teams.post(other, Platform.YOUTUBE, at, status=PostStatus.FAILED, attempts=1)
    # A post that failed before reaching YouTube spent nothing.
    await teams.post(other, Platform.YOUTUBE, at, status=PostStatus.FAILED, attempts=0)
    many = (await teams.suggest(ours[0], [Platform.YOUTUBE], n=40))[Platform.YOUTUBE]
    per_day: dict[object, int] = {}
    for d in _pacific_days(many):
        per_day[d] = per_day.get(d, 0) + 1
    assert per_day.get(day, 0) == 1
    assert all(count <= UPLOADS_PER_DAY for count in per_day.values())


async def test_own_results_move_the_suggestions(teams: Teams) -> None:
    ids = await teams.team()
    # Friday 09:30 posts did three times the usual; Wednesday 11:00 posts did half.
    for week in range(1, 7):
        friday = berlin(20, 9, 30, weeks_back=week)
        await teams.post(ids, Platform.INSTAGRAM, friday, status=PostStatus.PUBLISHED, views=3000)
        wednesday = berlin(25, 11, 0, weeks_back=week)
        await teams.post(ids, Platform.INSTAGRAM, wednesday, status=PostStatus.PUBLISHED, views=500)
    for week in range(1, 4):
        monday = berlin(23, 15, 0, weeks_back=week)
        await teams.post(ids, Platform.INSTAGRAM, monday, status=PostStatus.PUBLISHED, views=1000)
    top = (await teams.suggest(ids[0], [Platform.INSTAGRAM]))[Platform.INSTAGRAM][0]
    assert top.at.astimezone(BERLIN).hour == 9
    # Six Friday 09:30 Reels, counted as such; the weekday neighbours only weigh in.
    assert "your 6 Instagram posts at this hour did 2.0x your median" in top.reason


async def test_audience_zones_decide_the_local_hour(teams: Teams) -> None:
    ids = await teams.team()
    ny = ZoneInfo("America/New_York")
    ig = (await teams.suggest(ids[0], [Platform.INSTAGRAM], audience_timezones=["America/New_York"]))[
        Platform.INSTAGRAM
    ]
    assert all(9 <= s.at.astimezone(ny).hour < 13 for s in ig)
    assert "(America/New_York)" in ig[0].reason
    # Times are still shown in the asking user's zone.
    shown = suggestions_text({Platform.INSTAGRAM: ig[:1]}, "Europe/Berlin")
    assert shown.startswith(f"Instagram: {ig[0].at.astimezone(BERLIN):%a %d %b %Y, %H:%M} Europe/Berlin · ")

    mixed = (
        await teams.suggest(
            ids[0], [Platform.INSTAGRAM], audience_timezones=["America/New_York=0.2", "Europe/Berlin=0.8"]
        )
    )[Platform.INSTAGRAM]
    assert "of your audience" in mixed[0].reason


def test_audience_setting_is_validated() -> None:
    zones = parse_audience(["Europe/Berlin=3", "Asia/Tokyo"], "UTC")
    assert [(z.zone, z.share) for z in zones] == [("Europe/Berlin", 0.75), ("Asia/Tokyo", 0.25)]
    assert parse_audience([], "Europe/Paris")[0].zone == "Europe/Paris"
    with pytest.raises(ConfigError):
        parse_audience(["Mars/Olympus"], "UTC")
    with pytest.raises(ConfigError):
        parse_audience(["Europe/Berlin=-1"], "UTC")


async def test_one_common_slot_for_a_batch_is_free_on_every_platform(teams: Teams) -> None:
    ids = await teams.team()
    queued = berlin(25, 10, 30)
    await teams.post(ids, Platform.INSTAGRAM, queued)
    async with teams.sessions() as s:
        slot = await best_common_slot(s, ids[0], [Platform.INSTAGRAM, Platform.X], NOW, "Europe/Berlin")
    assert slot is not None
    assert abs(slot.at - queued) >= CADENCE[Platform.INSTAGRAM].min_gap
    assert slot.reason.endswith("(free on all 2 platforms)")
    # Without the queued post the same batch would have taken the first peak half hour.
    async with teams.sessions() as s:
        alone = await best_common_slot(s, ids[0], [Platform.X], NOW, "Europe/Berlin")
    assert alone is not None and alone.at == queued


def test_bad_audience_zone_fails_at_config_load() -> None:
    from core.config import load_settings

    assert load_settings(audience_timezones=["America/New_York=2", "Europe/Berlin"]).audience_timezones
    with pytest.raises(ConfigError, match=r"audience_timezones: .*bad entry 'Mars/Base'"):
        load_settings(audience_timezones=["Mars/Base"])
