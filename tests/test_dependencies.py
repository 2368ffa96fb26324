"""Dependency floors stay past the advisories issue 11 found, and constraints.txt (what deployments
install with) pins every direct dependency at a version its floor allows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
# Package: the first release without the advisory (see the comment in pyproject.toml).
ADVISORY_FLOORS = {
    "aiohttp": "3.12.14",
    "starlette": "0.47.2",
    "cryptography": "44.0.1",
    "h11": "0.16",
}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r.name): r for r in map(Requirement, project["dependencies"])}


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt pins exact versions: {line!r}"
            pins[_name(name)] = Version(version)
    return pins


@pytest.mark.parametrize(("package", "floor"), sorted(ADVISORY_FLOORS.items()))
def test_floors_exclude_releases_with_known_advisories(package: str, floor: str) -> None:
    requirement = _requirements()[package]
    below = Version(floor).release
    last_bad = Version(".".join(map(str, (*below[:-1], below[-1] - 1)))) if below[-1] else None
    assert Version(floor) in requirement.specifier
    if last_bad is not None:
        assert last_bad not in requirement.specifier, f"{package} {requirement.specifier} allows {last_bad}"


def test_constraints_pin_every_dependency_within_its_floor() -> None:
    pins = _pins()
    for name, requirement in _requirements().items():
        assert name in pins, f"constraints.txt does not pin {name} (regenerate it: README)"
        assert pins[name] in requirement.specifier, f"{name}=={pins[name]} is outside {requirement.specifier}"
    for package, floor in ADVISORY_FLOORS.items():
        assert pins[package] >= Version(floor)
