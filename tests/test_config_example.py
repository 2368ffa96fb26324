"""config.example.toml says it documents every key: hold it to that, and to the code's defaults.

Every settings key must appear in the example, either set (``key = value``) or, for a key whose
default is unset, commented out (``# key = example``). A key that is set must show exactly the
default the code uses, so copying the example changes nothing until someone edits it. Secrets are
env-only (a secret in the file is refused) and are listed in the header comment instead.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from core.config import SECRET_PATHS, PlatformsSettings, Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
_TABLE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_COMMENTED_KEY = re.compile(r"^\s*#\s*([a-z_][a-z0-9_]*)\s*=")
# Keys of every [platforms.<name>] table are one list: a platform-wide key is documented once, in any
# platform's table (a default that differs per platform must then be shown where it differs).
_EACH_PLATFORM = "platforms.*"


def _default(model: type[BaseModel], name: str) -> Any:
    return model.model_fields[name].get_default(call_default_factory=True)


def _leaves(model: type[BaseModel], prefix: tuple[str, ...]) -> dict[tuple[str, ...], Any]:
    """Every settings key below ``model`` with the code's default; nested models are tables."""
    found: dict[tuple[str, ...], Any] = {}
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        kind = info.annotation
        if model is PlatformsSettings:
            path = (*prefix, "*")
            found.update(_leaves(type(_default(model, name)), path))
            continue
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found.update(_leaves(kind, path))
        else:
            found[path] = _default(model, name)
    return found


def _generic(path: tuple[str, ...]) -> tuple[str, ...]:
    return ("platforms", "*", *path[2:]) if path[:1] == ("platforms",) and len(path) > 2 else path


def _commented_keys() -> set[tuple[str, ...]]:
    """Keys written as ``# key = ...`` under the table they sit in."""
    table: tuple[str, ...] = ()
    found: set[tuple[str, ...]] = set()
    for line in EXAMPLE.read_text().splitlines():
        header = _TABLE.match(line)
        if header:
            table = tuple(header.group(1).strip().split("."))
            continue
        key = _COMMENTED_KEY.match(line)
        if key:
            found.add(_generic((*table, key.group(1))))
    return found


def _set_values(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            found.update(_set_values(value, (*prefix, key)))
        else:
            found[(*prefix, key)] = value
    return found


def _secret(path: tuple[str, ...]) -> bool:
    return path in SECRET_PATHS or path == ("platforms", "*", "client_secret")


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _platform_default(path: tuple[str, ...]) -> Any:
    """The default of ``platforms.<name>.key...`` for that very platform."""
    node: Any = PlatformsSettings().for_platform(path[1])
    for key in path[2:]:
        node = getattr(node, key)
    return node


def test_every_settings_key_is_in_the_example() -> None:
    keys = _leaves(Settings, ())
    documented = {_generic(p) for p in _set_values(tomllib.loads(EXAMPLE.read_text()))} | _commented_keys()
    missing = sorted(".".join(p) for p in keys if not _secret(p) and p not in documented)
    assert not missing, f"config.example.toml lacks: {', '.join(missing)}"


def test_the_example_sets_only_known_keys_and_shows_the_code_defaults() -> None:
    keys = _leaves(Settings, ())
    wrong = []
    for path, shown in _set_values(tomllib.loads(EXAMPLE.read_text())).items():
        generic = _generic(path)
        assert generic in keys, f"config.example.toml sets {'.'.join(path)}, which no setting reads"
        code = _platform_default(path) if path[0] == "platforms" else keys[generic]
        if _plain(code) != shown:
            wrong.append(f"{'.'.join(path)} = {shown!r} (the code's default is {_plain(code)!r})")
    assert not wrong, "config.example.toml shows other defaults than the code: " + "; ".join(wrong)


def test_a_key_left_commented_out_has_no_default_to_show() -> None:
    """``# key = value`` reads as "unset": fine for a key whose default is None, misleading for one
    whose default is a value (the example would show a value the code does not use)."""
    keys = _leaves(Settings, ())
    set_keys = {_generic(p) for p in _set_values(tomllib.loads(EXAMPLE.read_text()))}
    hidden = sorted(
        ".".join(p)
        for p in _commented_keys() - set_keys
        if p in keys and keys[p] not in (None, []) and p[:1] != ("platforms",)
    )
    assert not hidden, f"set these to their defaults instead of commenting them out: {', '.join(hidden)}"


@pytest.mark.parametrize("name", sorted(PlatformsSettings.model_fields))
def test_every_platform_has_its_table(name: str) -> None:
    assert name in tomllib.loads(EXAMPLE.read_text()).get("platforms", {}), (
        f"config.example.toml has no [platforms.{name}] table"
    )
