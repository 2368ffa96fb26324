"""API versions are data (core/platforms/versions.py): every default is supported for a while yet,
and the check the operations alerts and ``postbot doctor`` use tells supported, ending and sunset
versions apart and names the fix."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.config import PlatformSettings, PlatformsSettings
from core.domain import Platform
from core.platforms.registry import SPECS
from core.platforms.spec import PlatformSpec
from core.platforms.versions import DEFAULT_MARGIN_DAYS, VersionState, check_versions


def _today() -> date:
    return datetime.now(UTC).date()


@pytest.mark.parametrize("spec", [s for s in SPECS if s.api_versions], ids=lambda s: s.name)
def test_no_default_version_is_near_its_sunset(spec: PlatformSpec) -> None:
    """Fails by the calendar: bump the default (and its table, from the source page) before the
    outage, not after. LinkedIn's 202510 was the default a month after its sunset."""
    table = spec.api_versions
    assert table is not None
    row = table.find(table.default)
    assert row is not None
    if row.sunset is None:
        return
    left = (row.sunset - _today()).days
    assert left > DEFAULT_MARGIN_DAYS, (
        f"{spec.label}'s default API version {table.default} is sunset on {row.sunset} ({left} days): "
        f"move it to a newer version listed at {table.source}"
    )


def test_every_table_cites_its_source_and_lists_newest_first() -> None:
    for spec in SPECS:
        table = spec.api_versions
        if table is None:
            continue
        assert table.source.startswith("https://")
        dated = [v.sunset for v in table.versions if v.sunset is not None]
        assert dated == sorted(dated, reverse=True), spec.name


def test_the_check_tells_supported_ending_and_past_apart() -> None:
    platforms = PlatformsSettings(
        linkedin=PlatformSettings(api_version="202601"),
        instagram=PlatformSettings(client_id="ig"),
    )
    by_platform = {c.platform: c for c in check_versions(platforms, date(2026, 12, 1), warn_days=30)}
    assert set(by_platform) == {Platform.INSTAGRAM, Platform.LINKEDIN, Platform.FACEBOOK}

    instagram = by_platform[Platform.INSTAGRAM]
    assert instagram.state is VersionState.SUPPORTED and instagram.is_default and instagram.in_use

    linkedin = by_platform[Platform.LINKEDIN]
    assert linkedin.state is VersionState.SUPPORTED and not linkedin.is_default and linkedin.in_use

    ending = {c.platform: c for c in check_versions(platforms, date(2026, 12, 20), warn_days=30)}
    li = ending[Platform.LINKEDIN]
    assert li.state is VersionState.ENDING and li.days_left == 26
    assert 'platforms.linkedin.api_version = "202603"' in li.message()
    assert "15 Jan 2027" in li.message()

    past = {c.platform: c for c in check_versions(platforms, date(2027, 1, 15), warn_days=30)}
    assert past[Platform.LINKEDIN].state is VersionState.PAST
    assert "was sunset on 15 Jan 2027" in past[Platform.LINKEDIN].message()


def test_a_version_postbot_does_not_know_is_reported_not_guessed() -> None:
    platforms = PlatformsSettings(linkedin=PlatformSettings(api_version="202612"))
    (li,) = [c for c in check_versions(platforms, date(2026, 12, 6)) if c.platform is Platform.LINKEDIN]
    assert li.state is VersionState.UNKNOWN and "not in postbot's table" in li.message()


def test_instagram_reads_the_version_an_explicit_base_url_carries() -> None:
    platforms = PlatformsSettings(instagram=PlatformSettings(base_url="https://graph.instagram.com/v21.0"))
    (ig,) = [c for c in check_versions(platforms, date(2027, 1, 1)) if c.platform is Platform.INSTAGRAM]
    assert ig.version == "v21.0" and ig.state is VersionState.ENDING and ig.suggested == "v25.0"
