"""Publishing caps are data (core/platforms/caps.py): each one cited, slot suggestions and /status read
YouTube's from the spec, and what the docs link is what the code speaks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.domain import Platform
from core.platforms.caps import CapScope
from core.platforms.registry import SPECS, spec
from core.slots.occupancy import Occupancy

ROOT = Path(__file__).resolve().parent.parent


def test_every_cap_cites_its_source_and_reading_day() -> None:
    for s in SPECS:
        for cap in s.caps:
            assert cap.source.startswith("https://"), (s.name, cap)
            assert date(2026, 1, 1) <= cap.read_on <= datetime.now(UTC).date(), (s.name, cap)
            assert cap.limit is not None or cap.note, f"{s.name}: a cap without a number says why"


def test_youtube_uploads_have_their_own_bucket_of_100_a_pacific_day() -> None:
    """Google moved videos.insert out of the 10,000 units (1,600 each, six uploads) into its own bucket."""
    (project,) = [c for c in spec(Platform.YOUTUBE).caps if c.scope is CapScope.PROJECT]
    assert (project.limit, project.zone, project.counts) == (100, "America/Los_Angeles", "uploads")
    assert project.resets == "midnight Pacific time"


def test_a_spent_project_day_is_no_slot_for_any_team() -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    occupancy = Occupancy(Platform.YOUTUBE, pacific)
    day = date(2026, 12, 10)
    occupancy.project_days[day] = 99
    at = datetime(2026, 12, 10, 15, tzinfo=pacific)
    assert occupancy.conflict(at) is None
    occupancy.take(at)
    later = at + timedelta(hours=5)
    assert (
        occupancy.conflict(later)
        == "YouTube API quota for 10 Dec (Pacific time) already spent on 100 uploads"
    )
    assert occupancy.conflict(datetime(2026, 12, 11, 1, tzinfo=pacific)) is None


def test_platform_docs_link_the_endpoints_the_code_calls() -> None:
    """X's chunked quickstart shows the deprecated command=INIT/APPEND/FINALIZE form; postbot calls
    /2/media/upload/initialize, /{id}/append and /{id}/finalize."""
    publisher = (ROOT / "core/platforms/x/publisher.py").read_text()
    assert "/2/media/upload/initialize" in publisher
    docs = (ROOT / "docs/platforms.md").read_text()
    linked = [*re.findall(r"https://docs\.x\.com/\S+", docs), spec(Platform.X).docs]
    assert not [u for u in linked if "quickstart/media-upload-chunked" in u], linked
