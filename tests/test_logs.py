"""The bot's logging as it runs: JSON lines with each post's context, text for a terminal, a rotating
file, and no secret in any of them."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.config import LogFileSettings, SchedulerSettings, Settings
from core.logs import LogFile, log_file, setup_logging
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.scheduler_support import rows, worker

FAST = SchedulerSettings(lease_s=5, batch_size=10, max_in_flight=10, backoff_base_s=0.05, backoff_max_s=0.2)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    names = ("httpx", "httpcore", "apscheduler")
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in names})
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_every_record_about_a_post_carries_post_platform_team_attempt_and_duration(
    db: Database, settings: Settings, restore_logging: None
) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", json_output=True, stream=out)
    fake = FakePlatform()
    url = await fake.start()
    fake.script("youtube", Scripted(503, "backend_error", "Backend Error"))
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=FAST) as w:
            [post_id] = await seed_posts(
                w.sessions, count=1, run_at=datetime.now(UTC), platforms=("youtube",)
            )
            async with asyncio.timeout(5):
                while (await rows(w.sessions))[0].status != "published":
                    await w.processor.run_due()
                    await asyncio.sleep(0.02)
            [row] = await rows(w.sessions)
    finally:
        await fake.stop()
    records = [r for r in _lines(out.getvalue()) if r.get("post_id") == post_id]
    messages = [r["msg"] for r in records]
    assert "publish failed" in messages and "published" in messages
    team = (await _team_of(w.sessions, row.team_id)) if records else None
    for record in records:
        assert record["platform"] == "youtube"
        assert record["team"] == team
        assert isinstance(record["duration_s"], float) and record["duration_s"] >= 0
        assert record["level"] in ("debug", "info", "warning", "error")
        assert record["ts"].endswith("+00:00")
    attempts = {r["msg"]: r["attempt"] for r in records}
    assert attempts["publish failed"] == 1 and attempts["published"] == 2


async def _team_of(sessions: Any, team_row_id: int) -> str:
    from core.db.models import Team

    async with sessions() as session:
        team = await session.get(Team, team_row_id)
        return str(team.external_id)


SECRETS = {
    "bearer": "ya29.a0AfH6SMBx3-secret-access",
    "slack bot token": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "slack app token": "xapp-1-A0123-456789-abcdefabcdef",
    "oauth code": "4/0AbCdEf-oauth-code",
    "oauth state": "st8-9f8e7d6c5b4a",
    "refresh token": "1//0refresh-secret",
    "client secret": "GOCSPX-client-secret",
    "signed url": "a1b2c3d4e5f6signature",
    "slack response url": "T0TEAM/1234567890/AbCdEfGhIjKlMnOpQrStUvWx",
    "escaped link state": "st8-escaped-0123",
}


def _log_secrets() -> None:
    log = logging.getLogger("postbot.test")
    log.info("calling with Authorization: Bearer %s", SECRETS["bearer"])
    log.warning(
        "slack said no", extra={"token": SECRETS["slack bot token"], "app_token": SECRETS["slack app token"]}
    )
    log.info(
        "callback https://postbot.example/oauth/youtube/callback?code=%s&state=%s",
        SECRETS["oauth code"],
        SECRETS["oauth state"],
    )
    log.info(
        "token response",
        extra={"body": f'{{"refresh_token": "{SECRETS["refresh token"]}", "expires_in": 3599}}'},
    )
    log.info("form", extra={"sent": f"grant_type=refresh_token&client_secret={SECRETS['client secret']}"})
    log.debug(
        "POST https://hooks.slack.com/commands/%s body=<https://bot/oauth/youtube/start?x=1&amp;state=%s>",
        SECRETS["slack response url"],
        SECRETS["escaped link state"],
    )
    try:
        raise RuntimeError(f"upload to https://s3.example/v?X-Amz-Signature={SECRETS['signed url']} failed")
    except RuntimeError:
        log.exception("upload failed")


@pytest.mark.parametrize("json_output", [True, False])
def test_no_token_or_secret_reaches_stderr_or_the_file(
    tmp_path: Path, restore_logging: None, json_output: bool
) -> None:
    out = io.StringIO()
    path = tmp_path / "logs" / "postbot.log"
    setup_logging("DEBUG", json_output=json_output, stream=out, file=LogFile(path))
    _log_secrets()
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = {"stderr": out.getvalue(), "file": path.read_text()}
    assert "upload failed" in written["stderr"] and "upload failed" in written["file"]
    assert "[redacted]" in written["stderr"]
    for where, text in written.items():
        for what, value in SECRETS.items():
            assert value not in text, f"{what} appears in {where}"
    # What is not a secret stays readable.
    assert "expires_in" in written["file"] and "grant_type=refresh_token" in written["file"]


def test_a_terminal_reads_text_and_a_pipe_reads_json(restore_logging: None) -> None:
    terminal = Terminal()
    setup_logging("INFO", stream=terminal)
    logging.getLogger("postbot.test").warning("publish failed", extra={"post_id": 7})
    line = terminal.getvalue().strip()
    assert "WARNING postbot.test publish failed [post_id=7]" in line
    with pytest.raises(ValueError):
        json.loads(line)

    pipe = io.StringIO()
    setup_logging("INFO", stream=pipe)
    logging.getLogger("postbot.test").warning("publish failed", extra={"post_id": 7})
    [record] = _lines(pipe.getvalue())
    assert (record["level"], record["logger"], record["msg"], record["post_id"]) == (
        "warning",
        "postbot.test",
        "publish failed",
        7,
    )


def test_the_log_file_rotates_by_size_and_keeps_backup_count(tmp_path: Path, restore_logging: None) -> None:
    settings = LogFileSettings(path=tmp_path / "postbot.log", max_bytes=2_000, backup_count=2)
    file = log_file(settings)
    assert file is not None and log_file(LogFileSettings()) is None
    setup_logging("INFO", json_output=False, stream=io.StringIO(), file=file)
    for i in range(200):
        logging.getLogger("postbot.test").info("line %d", i, extra={"post_id": i})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["postbot.log", "postbot.log.1", "postbot.log.2"]
    for name in names:
        text = (tmp_path / name).read_text()
        assert len(text.encode()) <= 2_000
        # The file is JSON lines whatever stderr shows.
        assert all("post_id" in r for r in _lines(text))
    assert _lines((tmp_path / "postbot.log").read_text())[-1]["msg"] == "line 199"
