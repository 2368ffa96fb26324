"""Settings: TOML file, env overrides, env-only secrets, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.config import load_settings, require
from core.errors import ConfigError


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "postbot.toml"
    path.write_text(body)
    return path


def test_example_config_loads_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    monkeypatch.setenv("POSTBOT_CONFIG", str(example))
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///postbot.db"
    assert settings.scheduler.lease_s == 300.0
    assert settings.slack.mode == "socket"


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, 'default_timezone = "Europe/Berlin"\n[scheduler]\npoll_interval_s = 9\n')
    monkeypatch.setenv("POSTBOT_CONFIG", str(path))
    monkeypatch.setenv("POSTBOT_SCHEDULER__POLL_INTERVAL_S", "2.5")
    settings = load_settings()
    assert settings.default_timezone == "Europe/Berlin"
    assert settings.scheduler.poll_interval_s == 2.5


def test_secret_in_file_is_refused_with_the_variable_to_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, '[slack]\nbot_token = "xoxb-123"\n')
    monkeypatch.setenv("POSTBOT_CONFIG", str(path))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "POSTBOT_SLACK__BOT_TOKEN" in str(info.value)
    assert "xoxb-123" not in str(info.value)


def test_secrets_come_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTBOT_SLACK__BOT_TOKEN", "xoxb-from-env")
    settings = load_settings()
    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == "xoxb-from-env"
    assert "xoxb-from-env" not in repr(settings)


def test_invalid_value_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTBOT_DEFAULT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert "default_timezone" in message and "Mars/Olympus" in message


def test_missing_required_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"slack\.bot_token is required \(set POSTBOT_SLACK__BOT_TOKEN\)"):
        require(None, "slack.bot_token")


def test_cli_prints_config_errors_on_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "POSTBOT_CONFIG": str(tmp_path / "missing.toml")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "does not exist" in result.stderr
