"""`postbot doctor`: green on a correct configuration, and each broken item named alone, against the
fake Slack and Discord and a real postbot web server (issue 23)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from adapters.web.run import start_web
from bot.doctor import diagnose
from bot.wiring import build_app
from core.config import (
    DiscordSettings,
    PlatformSettings,
    PlatformsSettings,
    SchedulerSettings,
    Settings,
    SlackSettings,
    VaultSettings,
    WebSettings,
)
from core.crypto.keys import MIN_ITERATIONS
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
SECRET = "k7Hq3-a-long-random-secret-of-43-characters"


@dataclass
class World:
    settings: Settings
    http: httpx.AsyncClient
    slack: FakeSlack
    discord: FakeDiscord


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    # SQLite only: the doctor opens the database from database_url as a process does, and the
    # PostgreSQL tests' per-test schema is not something a URL carries.
    slack = await FakeSlack().start()
    discord = await FakeDiscord().start()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}",
        data_dir=tmp_path / "data",
        scheduler=SchedulerSettings(poll_interval_s=0.5),
        **{
            "secret_key": SecretStr(SECRET),
            "vault": VaultSettings(iterations=MIN_ITERATIONS),
            "web": WebSettings(port=0),
            "slack": SlackSettings(
                bot_token=SecretStr(slack.bot_token),
                app_token=SecretStr(slack.app_token),
                api_base_url=slack.api_base_url,
            ),
            "discord": DiscordSettings(token=SecretStr(discord.token), api_base_url=discord.api_base_url),
            "platforms": PlatformsSettings(
                youtube=PlatformSettings(client_id="yt-client", client_secret=SecretStr("yt-secret")),
                x=PlatformSettings(client_id="x-client", client_secret=SecretStr("x-secret")),
            ),
        },
    )
    # The public /health is a real postbot's, with a scheduler alive (no worker: a 503).
    app = await build_app(settings)
    await app.start_scheduler()
    server = await start_web(app.postbot)
    settings = settings.model_copy(
        update={"web": WebSettings(port=server.port, public_url=server.url)}, deep=True
    )
    async with httpx.AsyncClient(timeout=10) as http:
        yield World(settings, http, slack, discord)
    await server.stop()
    await app.close()
    await slack.stop()
    await discord.stop()


def _failed(found: list[Any]) -> set[str]:
    return {f.name for f in found if f.ok is False}


async def test_green_on_a_correct_configuration(world: World) -> None:
    found = await diagnose(
        world.settings.model_copy(update={"platforms": _with_linkedin_version(world.settings, "202603")}),
        online=True,
        http=world.http,
        today=date(2026, 12, 6),
    )
    lines = "\n".join(f.line() for f in found)
    assert _failed(found) == set(), lines
    named = {f.name for f in found if f.ok}
    assert {
        "database",
        "schema",
        "media store",
        "secret key",
        "web.public_url",
        "slack",
        "discord",
        "YouTube",
        "X",
        "slack auth.test",
        "discord application",
        "public /health",
        "LinkedIn API version",
    } <= named, lines
    youtube = next(f for f in found if f.name == "YouTube")
    assert f"{world.settings.web.public_url}/oauth/youtube/callback" in youtube.text
    assert "https://www.googleapis.com/auth/youtube.upload" in youtube.text
    assert "Postbot HQ" in next(f for f in found if f.name == "slack auth.test").text


def _with_linkedin_version(settings: Settings, version: str) -> PlatformsSettings:
    linkedin = settings.platforms.linkedin.model_copy(update={"api_version": version})
    return settings.platforms.model_copy(update={"linkedin": linkedin})


def _set(**changes: Any) -> Callable[[Settings, Path], Settings]:
    def apply(settings: Settings, tmp: Path) -> Settings:
        return settings.model_copy(update=changes)

    return apply


def _nested(section: str, **changes: Any) -> Callable[[Settings, Path], Settings]:
    def apply(settings: Settings, tmp: Path) -> Settings:
        part = getattr(settings, section).model_copy(update=changes)
        return settings.model_copy(update={section: part})

    return apply


def _platform(name: str, **changes: Any) -> Callable[[Settings, Path], Settings]:
    def apply(settings: Settings, tmp: Path) -> Settings:
        conf = settings.platforms.for_platform(name).model_copy(update=changes)
        return settings.model_copy(update={"platforms": settings.platforms.model_copy(update={name: conf})})

    return apply


def _fresh_database(settings: Settings, tmp: Path) -> Settings:
    return settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp / 'never-migrated.db'}"})


def _media_on_a_file(settings: Settings, tmp: Path) -> Settings:
    blocker = tmp / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    return settings.model_copy(update={"data_dir": blocker})


def _dead_public_url(settings: Settings, tmp: Path) -> Settings:
    port = int(settings.web.public_url.rsplit(":", 1)[1])
    # Another loopback port nobody listens on (the redirect URIs stay loopback, as YouTube and X allow).
    return settings.model_copy(
        update={"web": settings.web.model_copy(update={"public_url": f"http://127.0.0.1:{port + 1}"})}
    )


BROKEN = [
    ("database", _set(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/test"), True),
    ("schema", _fresh_database, True),
    ("media store", _media_on_a_file, True),
    ("secret key", _set(secret_key=None), True),
    ("secret key", _set(secret_key=SecretStr("hunter2")), True),
    ("web.public_url", _nested("web", public_url="http://postbot.example.com"), False),
    ("slack", _nested("slack", app_token=None), True),
    ("slack auth.test", _nested("slack", bot_token=SecretStr("xoxb-revoked")), True),
    ("discord application", _nested("discord", token=SecretStr("an-old-token")), True),
    ("YouTube", _platform("youtube", client_secret=None), True),
    ("TikTok", _platform("tiktok", client_id="tt-key", client_secret=SecretStr("tt-secret")), True),
    ("public /health", _dead_public_url, True),
    # Sunset on 15 Oct 2026 (core/platforms/linkedin/versions.py): LinkedIn answers 426 to every call.
    ("LinkedIn API version", _platform("linkedin", api_version="202510"), True),
]


@pytest.mark.parametrize(
    ("broken", "change", "online"), BROKEN, ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)]
)
async def test_each_broken_item_is_named_alone(
    world: World, tmp_path: Path, broken: str, change: Callable[[Settings, Path], Settings], online: bool
) -> None:
    found = await diagnose(
        change(world.settings, tmp_path), online=online, http=world.http, today=date(2026, 12, 6)
    )
    lines = "\n".join(f.line() for f in found)
    assert _failed(found) == {broken}, lines
    [finding] = [f for f in found if f.name == broken]
    assert finding.fix, lines


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


def test_the_command_reads_settings_like_the_processes_and_exits_non_zero_when_broken(tmp_path: Path) -> None:
    (tmp_path / "postbot.toml").write_text(
        'data_dir = "stuff"\n[web]\npublic_url = "https://postbot.example.com"\n'
    )
    migrated = _cli(["migrate"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    broken = _cli(["doctor"], tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "✗ secret key: POSTBOT_SECRET_KEY is not set" in broken.stdout
    assert "local stuff/media is writable" in broken.stdout  # data_dir from postbot.toml
    assert "· online checks: skipped" in broken.stdout
    good = _cli(["doctor"], tmp_path, POSTBOT_SECRET_KEY=SECRET)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "✗" not in good.stdout and good.stdout.rstrip().endswith("all good")


def test_after_init_a_missing_key_points_at_the_file_init_wrote(tmp_path: Path) -> None:
    # The README's order: `postbot init`, then `postbot doctor`, forgetting to load postbot.env.
    # Running init again writes nothing (it never overwrites), so the fix names the file to load.
    assert _cli(["init"], tmp_path).returncode == 0
    assert _cli(["migrate"], tmp_path).returncode == 0
    doctor = _cli(["doctor"], tmp_path)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "set -a; . ./postbot.env; set +a" in doctor.stdout, doctor.stdout
    assert "prints a fresh one" not in doctor.stdout


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    # `postbot doctor | head -3`: head exits after three lines and the pipe breaks under the doctor.
    # The read end is closed before the doctor writes a line, so every write of its report hits the
    # broken pipe, as the tail of a long report does behind head.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    environ.update(PYTHONPATH=str(ROOT))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "doctor"],
            cwd=tmp_path,
            env=environ,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    # 141 is what a shell reports for a writer killed by SIGPIPE: the usual status of `cmd | head`.
    assert done.returncode == 141
