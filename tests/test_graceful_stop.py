"""Stopping `postbot worker` with SIGTERM or SIGINT, as Procfile hosts, systemd, container runtimes
and a person at a terminal do (issue 30): real processes, real signals, a YouTube fake that holds a
chunk of the upload so the signal lands mid-upload.

- The upload finishes within ``scheduler.stop_grace_s``: the stopping worker publishes it.
- It does not: the worker hands it back as it exits, and another worker publishes it at once rather
  than after the lease (300 s here).
- Either way the heartbeat says the worker stopped on purpose, and /health names a planned stop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from datetime import timedelta
from pathlib import Path

from bot.wiring import build_app
from core.config import Settings
from core.db.engine import make_engine, session_factory
from core.store.heartbeats import Heartbeats, WorkerSeen
from tests.fakes.mp4 import write_mp4
from tests.fakes.youtube_api import CHUNK_UNIT, FakeYouTube
from tests.scheduler_support import rows
from tests.test_scheduler_stalled_worker import ROOT, _seed, _start_worker, database_url  # noqa: F401

LONG_LEASE = {"POSTBOT_SCHEDULER__LEASE_S": "300", "POSTBOT_LOG_LEVEL": "INFO"}


async def _exit(proc: asyncio.subprocess.Process, within: float) -> tuple[int, float]:
    started = time.monotonic()
    async with asyncio.timeout(within):
        code = await proc.wait()
    return code, time.monotonic() - started


async def _heartbeat(url: str, worker_id: str) -> WorkerSeen:
    engine = make_engine(url)
    try:
        seen = await Heartbeats(session_factory(engine)).seen(within=timedelta(hours=1), include_stopped=True)
    finally:
        await engine.dispose()
    [mine] = [w for w in seen if w.worker_id == worker_id]
    return mine


async def _health_error(url: str, tmp_path: Path) -> str:
    """What /health says about the workers, read by a web process of its own."""
    web = await build_app(Settings(database_url=url, data_dir=tmp_path / "web"))
    try:
        body = await web.postbot.health()
    finally:
        await web.close()
    assert body["failed"] == ["workers"], body
    return str(body["checks"]["workers"]["error"])


async def _post(url: str) -> tuple[str, int, str | None]:
    engine = make_engine(url)
    try:
        [row] = await rows(session_factory(engine))
    finally:
        await engine.dispose()
    return row.status, row.attempts, row.claimed_by


async def test_sigterm_mid_upload_lets_the_upload_finish_then_exits(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    video = write_mp4(tmp_path / "clip.mp4", size_bytes=8 * CHUNK_UNIT + 4321)
    await _seed(database_url, video)
    async with FakeYouTube(tokens={"ya29.stalled-worker": "UCstalledworker0000000000"}) as fake:
        held = fake.hold("body", after=2)
        worker = await _start_worker(database_url, fake, tmp_path, "leaving", **LONG_LEASE)
        try:
            async with asyncio.timeout(30):
                await held.arrived.wait()
            os.kill(worker.pid, signal.SIGTERM)
            # The grace: the process waits for its upload instead of dying with it.
            await asyncio.sleep(1.0)
            assert worker.returncode is None
            held.release.set()
            code, took = await _exit(worker, within=20)
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    log = (tmp_path / "leaving.log").read_text(errors="replace")
    # Well within the grace (20 s) once the upload was let through.
    assert code == 0 and took < 15, log
    assert "stopping: waiting for uploads in progress" in log
    assert await _post(database_url) == ("published", 1, None), log
    assert len(fake.videos) == 1
    beat = await _heartbeat(database_url, "leaving")
    assert beat.stopped and beat.in_flight == 0 and beat.completed == 1
    error = await _health_error(database_url, tmp_path)
    assert error.startswith("no scheduler running: the last one stopped on purpose "), error


async def test_sigint_past_the_grace_hands_the_upload_to_another_worker_at_once(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    video = write_mp4(tmp_path / "clip.mp4", size_bytes=8 * CHUNK_UNIT + 4321)
    await _seed(database_url, video)
    async with FakeYouTube(tokens={"ya29.stalled-worker": "UCstalledworker0000000000"}) as fake:
        held = fake.hold("body", after=2)
        leaving = await _start_worker(
            database_url, fake, tmp_path, "leaving", POSTBOT_SCHEDULER__STOP_GRACE_S="1", **LONG_LEASE
        )
        procs = [leaving]
        try:
            async with asyncio.timeout(30):
                await held.arrived.wait()
            os.kill(leaving.pid, signal.SIGINT)
            code, took = await _exit(leaving, within=20)
            # Handed back, not left to its 300 s lease, and the interrupted attempt not counted.
            assert await _post(database_url) == ("queued", 0, None)
            held.release.set()
            taker = await _start_worker(database_url, fake, tmp_path, "taker", **LONG_LEASE)
            procs.append(taker)
            async with asyncio.timeout(60):
                while (await _post(database_url))[0] != "published":
                    await asyncio.sleep(0.1)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
                await proc.wait()
    log = (tmp_path / "leaving.log").read_text(errors="replace")
    assert code == 0 and took < 15, log
    assert "released claims" in log
    assert await _post(database_url) == ("published", 1, None)
    assert len(fake.videos) == 1
    assert (await _heartbeat(database_url, "leaving")).stopped


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sigterm_to_postbot_slack_keeps_the_grace_although_it_serves_the_web_server(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`postbot slack` with the vault secret runs uvicorn beside its scheduler. uvicorn catches the
    signal too and raises it again once it stops serving: that echo must not count as a second
    signal, which would cut the upload's grace short (found following docs/setup/README.md)."""
    video = write_mp4(tmp_path / "clip.mp4", size_bytes=8 * CHUNK_UNIT + 4321)
    await _seed(database_url, video)
    async with FakeYouTube(tokens={"ya29.stalled-worker": "UCstalledworker0000000000"}) as fake:
        held = fake.hold("body", after=2)
        bot = await _start_worker(
            database_url,
            fake,
            tmp_path,
            "slackbot",
            command="slack",
            POSTBOT_SLACK__MODE="http",
            POSTBOT_SLACK__BOT_TOKEN="xoxb-1-2-graceful",
            POSTBOT_SLACK__SIGNING_SECRET="graceful-signing-secret",
            POSTBOT_WEB__PORT=str(_free_port()),
            **LONG_LEASE,
        )
        try:
            async with asyncio.timeout(30):
                await held.arrived.wait()
            os.kill(bot.pid, signal.SIGTERM)
            await asyncio.sleep(1.0)
            assert bot.returncode is None
            held.release.set()
            code, took = await _exit(bot, within=20)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
    log = (tmp_path / "slackbot.log").read_text(errors="replace")
    assert code == 0 and took < 15, log
    assert "second stop signal" not in log, log
    assert await _post(database_url) == ("published", 1, None), log
    assert len(fake.videos) == 1


async def test_a_signal_stops_postbot_slack_while_its_socket_cannot_connect(tmp_path: Path) -> None:
    """Slack's Socket Mode client retries a connection that fails for ever (a wrong address, no
    network), inside the chat's start: Ctrl-C or SIGTERM must still stop the process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        POSTBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}",
        POSTBOT_DATA_DIR=str(tmp_path / "data"),
        POSTBOT_SLACK__BOT_TOKEN="xoxb-1-2-unreachable",
        POSTBOT_SLACK__APP_TOKEN="xapp-1-A1-unreachable",
        # Nothing listens there: every connection is refused, and the socket client tries again.
        POSTBOT_SLACK__API_BASE_URL=f"http://127.0.0.1:{_free_port()}/api/",
        POSTBOT_LOG_LEVEL="INFO",
    )
    log_path = tmp_path / "slack.log"
    with log_path.open("wb") as log_file:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "slack", env=env, cwd=tmp_path, stdout=log_file, stderr=log_file
        )
    try:
        async with asyncio.timeout(60):
            while "Failed to connect" not in log_path.read_text(errors="replace"):
                assert bot.returncode is None, log_path.read_text(errors="replace")
                await asyncio.sleep(0.2)
        os.kill(bot.pid, signal.SIGINT)
        code, took = await _exit(bot, within=15)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    log = log_path.read_text(errors="replace")
    assert code == 0 and took < 10, log
