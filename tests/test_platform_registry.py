"""Every platform is one package and one registry line: a platform missing any part fails here, and
every list of platforms the chat sides show comes from the registry."""

from __future__ import annotations

import ast
import importlib
import itertools
import re
from pathlib import Path

import httpx
import pytest

from core.config import PlatformSettings, PlatformsSettings, Settings
from core.domain import Platform, platform_from_alias
from core.platforms.media import Rules
from core.platforms.registry import ALIASES, NAMES, SPECS, spec
from core.platforms.slots import Cadence, Window
from core.service import platform_infos

ROOT = Path(__file__).resolve().parent.parent
# The parts every platform package holds; oauth.py only where an account is linked.
PARTS = ("spec", "settings", "publisher", "media", "slots")


def test_every_platform_has_exactly_one_spec() -> None:
    assert [s.platform for s in SPECS] == list(dict.fromkeys(s.platform for s in SPECS))
    # The enum is the registry's list of names, in its order.
    assert [s.platform for s in SPECS] == list(Platform)
    assert [p.value for p in Platform] == list(NAMES)
    assert all(Platform[name.upper()] is Platform(name) for name in NAMES)


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
    assert issubclass(s.settings, PlatformSettings)
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
    assert list(PlatformsSettings.model_fields) == [s.name for s in SPECS]
    defaults = PlatformsSettings()
    for s in SPECS:
        # The section is read with the model the spec names (core/platforms/<name>/settings.py).
        assert PlatformsSettings.model_fields[s.name].annotation is s.settings
        assert type(defaults.for_platform(s.name)) is s.settings
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


# Where a platform may be named in code: its own package and the registry's list of names.
SCANNED = ("core", "bot", "adapters")
# Every word that names a platform. Short ones ("x", "yt", "ig") are ordinary words and variable
# names too, so in strings they count only in command syntax (below) and in identifiers only as a
# module path (core.platforms.x).
_WORDS = {alias for s in SPECS for alias in s.aliases}
_LONG = "|".join(sorted(w for w in _WORDS if len(w) >= 3))
_SHORT = "|".join(sorted(w for w in _WORDS if len(w) < 3))
_LONG_IN_TEXT = re.compile(rf"(?i)(?<![a-z0-9])({_LONG})(?![a-z0-9])")
# ``/link x``, ``x@brand``, ``x:public``, ``yt,ig``; not ``:x:`` (an emoji), ``1.5x`` or ``"x"``.
_SHORT_IN_COMMAND = re.compile(
    rf"(?<![\w:])({_SHORT})(?=[@:,]\w)|(?<=\w,)({_SHORT})\b|/[a-z]+ ({_SHORT})\b", re.IGNORECASE
)


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _words(identifier: str) -> set[str]:
    """The words of an identifier and each two neighbours joined, lower case: ``YouTubePublisher``
    gives "youtube" (from "You" and "Tube"), ``youtube_quota`` gives "youtube" and "quota"."""
    parts = [p.lower() for p in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", identifier)]
    return {*parts, *(a + b for a, b in itertools.pairwise(parts)), *identifier.lower().split("_")}


def _identifiers(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.name, *([node.asname] if node.asname else [])]
    return []


def _modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


_LONG_WORDS = set(_LONG.split("|"))
# Strings where a platform's name is an ordinary word of something else, each with what it is. Keep
# it short: a platform named in a message, a hint or an example is built from the registry instead.
ORDINARY = {
    # Discord's permission (https://discord.com/developers/docs/topics/permissions), not the platform.
    "Send Messages in Threads": "adapters/discord/commands.py",
}
# Identifiers of other libraries where a platform's name is an ordinary word, each with its module:
# discord.py's Permissions.send_messages_in_threads (the permission above).
ORDINARY_IDENTIFIERS = {"send_messages_in_threads": "adapters/discord/commands.py"}
_VALUES = {p.value for p in Platform}


def _named_platforms(path: Path) -> list[str]:
    """Where a module names a platform in code: a string (not a docstring), an identifier
    (``Platform.YOUTUBE``, ``settings.platforms.tiktok``, ``youtube_help``) or an import of a
    platform's package (``core.platforms.x``). Comments and docstrings may name them: they explain,
    and nothing lists platforms from them."""
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    where = path.relative_to(ROOT)
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if text and id(node) not in docs and ORDINARY.get(node.value) != str(where):
            for match in [*_LONG_IN_TEXT.finditer(node.value), *_SHORT_IN_COMMAND.finditer(node.value)]:
                found.append(f"{where}:{line} {match[0]!r} in {node.value[:60]!r}")
        on_enum = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if on_enum and node.value.id == "Platform" and node.attr.lower() in _VALUES:
            found.append(f"{where}:{line} Platform.{node.attr}")
        found += [
            f"{where}:{line} {name}"
            for name in _identifiers(node)
            if _words(name) & _LONG_WORDS and ORDINARY_IDENTIFIERS.get(name) != str(where)
        ]
        found += [
            f"{where}:{line} import {module}"
            for module in _modules(node)
            if module.startswith("core.platforms.") and module.split(".")[2] in _VALUES
        ]
    return found


def _outside_platform_packages() -> list[Path]:
    own = {ROOT / "core" / "platforms" / p.value for p in Platform}
    return [
        path
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not own & set(path.parents) and path != ROOT / "core" / "platforms" / "registry.py"
    ]


def test_no_module_outside_a_platform_package_names_a_platform() -> None:
    """Adding a platform touches its package and the registry's names, no other module: a list of
    platforms, a help text's example or a setting elsewhere is derived from the registry."""
    found = [hit for path in _outside_platform_packages() for hit in _named_platforms(path)]
    assert found == [], "\n".join(found)


_SAMPLES = {
    "p = Platform.TIKTOK": True,
    "p = Platform.X": True,
    "conf = settings.platforms.linkedin": True,
    "from core.platforms.x import media": True,
    "from core.platforms import youtube": True,
    "import core.platforms.sandbox.publisher": True,
    "youtube_help = 1": True,
    "class YouTubeThing: pass": True,
    "hint = 'e.g. /pause youtube'": True,
    "hint = f'e.g. /link x or {other}'": True,
    "hint = 'yt@brand:private'": True,
    "hint = 'post to youtube,ig'": True,
    "hint = 'to tiktok,tt'": True,
    "label = 'YouTube'": True,
    'def f():\n    """Like youtube@brand."""\n    # or instagram\n    return 1': False,
    "body = f':x: {text}'": False,
    "size = f'{w}x{h}'": False,
    "mode = 'x'": False,
    "xs = [x for x in range(3)]": False,
    "why = f'{boost:.1f}x your median'": False,
    "html = '<li>item</li>'": False,
    "from core.platforms import registry": False,
}


@pytest.mark.parametrize(("source", "named"), list(_SAMPLES.items()))
def test_the_scan_sees_what_it_must(tmp_path: Path, source: str, named: bool) -> None:
    """The checker itself: each way of naming a platform is caught, the look-alikes are not."""
    sample = ROOT / "core" / f"_named_sample_{tmp_path.name}.py"
    try:
        sample.write_text(source + "\n")
        assert bool(_named_platforms(sample)) is named, _named_platforms(sample)
    finally:
        sample.unlink(missing_ok=True)


def test_slack_manifest_lists_no_platforms() -> None:
    """The manifest is static YAML Slack reads, which the registry cannot fill in, so none of its
    texts lists the platforms (a new one would have to be added there): an example may name two."""
    manifest = (ROOT / "adapters" / "slack" / "manifest.yml").read_text()
    for line in manifest.splitlines():
        if not line.lstrip().startswith("#"):
            named = {m[0].lower() for m in [*_LONG_IN_TEXT.finditer(line), *_SHORT_IN_COMMAND.finditer(line)]}
            assert len(named) <= 2, line


def test_an_ordinary_word_is_let_through_only_where_it_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = ROOT / "core" / f"_named_sample_{tmp_path.name}.py"
    monkeypatch.setitem(ORDINARY, "Watch it on YouTube", str(sample.relative_to(ROOT)))
    try:
        sample.write_text("a = 'Watch it on YouTube'\n")
        assert _named_platforms(sample) == []
        sample.write_text("a = 'Watch it on YouTube now'\n")
        assert _named_platforms(sample) != []
    finally:
        sample.unlink(missing_ok=True)
    elsewhere = ROOT / "core" / f"_named_elsewhere_{tmp_path.name}.py"
    try:
        elsewhere.write_text("a = 'Watch it on YouTube'\n")
        assert _named_platforms(elsewhere) != []
    finally:
        elsewhere.unlink(missing_ok=True)
