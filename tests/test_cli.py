"""The `postbot` command line as a newcomer meets it: --version, each command's --help, init, what
migrate prints, and web refusing before it touches the database (issue 23)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    environ.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"postbot {version}"


@pytest.mark.parametrize("command", [*COMMANDS, "doctor", "init", "sample-video", "media", "media gc"])
def test_each_command_says_what_it_does_needs_and_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    out = capsys.readouterr().out
    usage, _, rest = out.partition("\n\n")
    assert usage.startswith(f"usage: postbot {command}")
    description = rest.split("\n\n", 1)[0]
    assert len(description.split()) >= 3, out
    assert "\nneeds: " in out, out
    assert f"\nexample: postbot {command}" in out or f" postbot {command}" in out.split("example:", 1)[1], out


def test_migrate_prints_only_what_it_did(tmp_path: Path) -> None:
    first = _cli(["migrate"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    [line] = first.stdout.splitlines()
    assert line.startswith("migrated the database from empty to "), line
    again = _cli(["migrate"], tmp_path)
    assert again.stderr == ""
    [line] = again.stdout.splitlines()
    assert line.startswith("the database was already at the newest schema"), line


def test_web_refuses_a_missing_secret_before_touching_the_database(tmp_path: Path) -> None:
    done = _cli(["web"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "postbot: config error: secret_key is required (set POSTBOT_SECRET_KEY)"
    assert not (tmp_path / "postbot.db").exists()


def test_init_writes_a_config_and_a_fresh_secret_and_never_overwrites(tmp_path: Path) -> None:
    done = _cli(["init"], tmp_path)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "postbot.toml"
    assert config.read_text() == (ROOT / "config.example.toml").read_text()
    env = tmp_path / "postbot.env"
    [line] = env.read_text().splitlines()
    name, _, secret = line.partition("=")
    assert name == "POSTBOT_SECRET_KEY" and len(secret) >= 32
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "set -a; . ./postbot.env; set +a" in done.stdout
    # The files it wrote are what the processes read: doctor finds the key strong.
    checked = _cli(["doctor"], tmp_path, POSTBOT_SECRET_KEY=secret)
    assert "✓ secret key" in checked.stdout, checked.stdout + checked.stderr

    config.write_text("# mine\n")
    again = _cli(["init"], tmp_path)
    assert again.returncode == 0
    assert config.read_text() == "# mine\n"
    assert env.read_text() == line + "\n"
    assert "left as it is" in again.stdout
    other = _cli(["init"], tmp_path)
    assert other.stdout.count("left as it is") == 2


def test_init_works_from_an_installed_package_outside_the_clone(tmp_path: Path) -> None:
    """`pip install -c constraints.txt .` (docs/setup/README.md, docs/deploy.md) puts `bot` in
    site-packages, away from the clone's config.example.toml: init reads the copy the package ships
    (bot/config.example.toml, package data). A copy of the package stands in for the installed one."""
    installed = tmp_path / "site-packages"
    shutil.copytree(
        ROOT / "bot", installed / "bot", symlinks=False, ignore=shutil.ignore_patterns("__pycache__")
    )
    folder = tmp_path / "empty"
    folder.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(installed), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "init"],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (folder / "postbot.toml").read_text() == (ROOT / "config.example.toml").read_text()
    assert (folder / "postbot.env").read_text().startswith("POSTBOT_SECRET_KEY=")


def test_sample_video_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    done = _cli(["sample-video", str(tmp_path / "nowhere" / "clip.mp4")], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"postbot: no folder {tmp_path / 'nowhere'}/ to write clip.mp4 into"
    assert "Traceback" not in done.stderr


def test_sample_video_refuses_a_name_that_is_not_mp4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sample-video", str(tmp_path / "x.avi")]) == 2
    assert "name the file .mp4 (e.g. x.mp4)" in capsys.readouterr().err
    assert not (tmp_path / "x.avi").exists()
