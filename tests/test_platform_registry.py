"""Every platform is one package and one registry line: a platform missing any part fails here, and
every list of platforms the chat sides show comes from the registry."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import httpx
import pytest

from core.config import PlatformSettings, PlatformsSettings, Settings
from core.domain import Platform, platform_from_alias
from core.platforms.media import Rules
from core.platforms.registry import ALIASES, SPECS, spec
from core.platforms.slots import Cadence, Window
from core.service import platform_infos

ROOT = Path(__file__).resolve().parent.parent
# The parts every platform package holds; oauth.py only where an account is linked.
PARTS = ("spec", "publisher", "media", "slots")


def test_every_platform_has_exactly_one_spec() -> None:
    assert [s.platform for s in SPECS] == list(dict.fromkeys(s.platform for s in SPECS))
    assert {s.platform for s in SPECS} == set(Platform)


@pytest.mark.parametrize("platform", list(Platform), ids=str)
def test_platform_package_has_every_part(platform: Platform) -> None:
    s = spec(platform)
    package = ROOT / "core" / "platforms" / platform.value
    wanted = PARTS + (("oauth",) if s.linkable else ())
    missing = [part for part in wanted if not (package / f"{part}.py").is_file()]
    assert not missing, f"core/platforms/{platform.value}/ lacks {missing}"
    assert s.label and s.aliases[0] == platform.value
    assert isinstance(s.media, Rules)
    assert s.windows and all(isinstance(w, Window) for w in s.windows)
    assert isinstance(s.cadence, Cadence)
    assert isinstance(s.settings(), PlatformSettings)
    assert s.docs
    if s.oauth is not None:
        assert s.oauth.platform is platform
        assert importlib.import_module(s.oauth.__module__).__name__.startswith(
            f"core.platforms.{platform.value}."
        )


async def test_every_publisher_builds_for_its_platform(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    async with httpx.AsyncClient() as http:
        for s in SPECS:
            publisher = s.publisher(settings, http)
            assert publisher.platform is s.platform
            # A platform whose posts need an account is one an admin can link.
            assert publisher.requires_account == s.linkable
            if s.results is not None:
                assert s.results(http, settings.platforms.for_platform(s.name)).platform is s.platform


def test_config_has_one_section_per_platform() -> None:
    assert set(PlatformsSettings.model_fields) == {s.name for s in SPECS}
    defaults = PlatformsSettings()
    for s in SPECS:
        assert defaults.for_platform(s.name) == s.settings()


def test_aliases_are_unique_and_resolve() -> None:
    seen = [alias for s in SPECS for alias in s.aliases]
    assert len(seen) == len(set(seen))
    for s in SPECS:
        for alias in s.aliases:
            assert ALIASES[alias] is s.platform
            assert platform_from_alias(alias.upper()) is s.platform
        assert s.platform.label == s.label


def test_infos_carry_the_registry() -> None:
    infos = platform_infos()
    assert [i.platform for i in infos] == [s.platform for s in SPECS]
    assert [i.linkable for i in infos] == [s.oauth is not None for s in SPECS]


def test_help_texts_and_choices_list_every_platform() -> None:
    from adapters.console.commands import HELP as CONSOLE_HELP
    from adapters.discord.commands import _LINKABLE
    from adapters.discord.commands import HELP as DISCORD_HELP
    from adapters.slack.handlers import HELP as SLACK_HELP
    from core.timeparse.command import PLATFORM_HELP

    for text in (CONSOLE_HELP, DISCORD_HELP, SLACK_HELP, PLATFORM_HELP):
        for s in SPECS:
            assert re.search(rf"\b{re.escape(s.name)}\b", text), f"{s.name} missing from {text!r}"
    assert [c.value for c in _LINKABLE] == [s.name for s in SPECS if s.linkable]


_NAMES = {p.name for p in Platform}


def _named_platforms(path: Path) -> list[str]:
    """``Platform.YOUTUBE``-style references in a module: a platform named in code, not data."""
    tree = ast.parse(path.read_text())
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} Platform.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Platform"
        and node.attr in _NAMES
    ]


def test_adapters_and_bot_name_no_platform() -> None:
    found = [
        hit
        for folder in ("adapters", "bot")
        for p in (ROOT / folder).rglob("*.py")
        for hit in _named_platforms(p)
    ]
    assert found == []


def test_slack_manifest_names_every_linkable_platform() -> None:
    """The manifest is static YAML Slack reads, so a test holds it to the registry."""
    manifest = (ROOT / "adapters" / "slack" / "manifest.yml").read_text()
    description = next(line for line in manifest.splitlines() if line.strip().startswith("description:"))
    for s in SPECS:
        if s.linkable:
            assert s.label in description, f"{s.label} missing from the Slack app description"
