"""docs/deploy.md followed as written: its postbot.toml and postbot.env on three "machines" (separate
folders and environments), PostgreSQL and an S3 server shared, `postbot web` on machine A and
`postbot worker` on B and C, all real processes of this tree's code.

Only what cannot be the guide's own is replaced, through the environment (which wins over the file,
as the guide says): the database's address and password, the bucket's endpoint and keys, the web
port, and each machine's ``data_dir``. Then: posts queued on machine A are published by the workers;
/health answers as the guide shows; SIGTERM stops every process cleanly, and /health says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.db.engine import make_engine, script_heads, session_factory
from tests.s3_support import S3Server
from tests.scheduler_support import rows
from tests.test_scheduler_stalled_worker import database_url  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "deploy.md"


def _block(name: str) -> str:
    """The fenced block the guide marks ``<!-- deploy-test: name -->``."""
    text = GUIDE.read_text()
    found = re.search(rf"<!-- deploy-test: {re.escape(name)} -->\n```\w*\n(.*?)```", text, re.S)
    assert found, f"docs/deploy.md has no {name} block"
    return found.group(1)


def _json_examples() -> list[dict[str, Any]]:
    text = GUIDE.read_text()
    return [json.loads(m) for m in re.findall(r"```json\n(\{.*?\})\n```", text, re.S) if '"status"' in m]


def _env_file(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shape(value: Any) -> Any:
    """The keys of a /health body, all the way down (values differ from run to run)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


async def test_the_two_machine_guide_works_as_written(
    database_url: str,  # noqa: F811
    s3: S3Server,
    clip: Path,
    tmp_path: Path,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the guide's deployment is PostgreSQL")
    config = tmp_path / "etc" / "postbot.toml"
    config.parent.mkdir()
    config.write_text(_block("postbot.toml"))
    guide_env = _env_file(_block("postbot.env"))
    assert set(guide_env) == {
        "POSTBOT_CONFIG",
        "POSTBOT_DATABASE_URL",
        "POSTBOT_SECRET_KEY",
        "POSTBOT_MEDIA__S3__SECRET_ACCESS_KEY",
    }
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    base.update(guide_env)
    base.update(
        PYTHONPATH=str(ROOT),
        POSTBOT_CONFIG=str(config),
        POSTBOT_DATABASE_URL=database_url,
        POSTBOT_SECRET_KEY="a vault secret the test made, the same on every machine",
        POSTBOT_MEDIA__S3__SECRET_ACCESS_KEY=s3.env()["POSTBOT_MEDIA__S3__SECRET_ACCESS_KEY"],
        POSTBOT_MEDIA__S3__ENDPOINT_URL=s3.endpoint,
        POSTBOT_MEDIA__S3__BUCKET=s3.bucket,
        POSTBOT_MEDIA__S3__ACCESS_KEY_ID=s3.env()["POSTBOT_MEDIA__S3__ACCESS_KEY_ID"],
        POSTBOT_MEDIA__S3__REGION="us-east-1",
        POSTBOT_WEB__PORT=str(port),
        POSTBOT_LOG_LEVEL="INFO",
        # The test's pace, not the guide's: polls and heartbeats in fractions of a second.
        POSTBOT_SCHEDULER__POLL_INTERVAL_S="0.5",
        POSTBOT_SCHEDULER__HEARTBEAT_INTERVAL_S="0.5",
    )
    machines = {name: tmp_path / f"machine-{name}" for name in ("a", "b", "c")}

    def env(machine: str) -> dict[str, str]:
        return {**base, "POSTBOT_DATA_DIR": str(machines[machine] / "data")}

    # Step 5: migrate once, as the guide says, and read what it prints.
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "migrate"],
        env=env("a"),
        capture_output=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]
    assert migrated.stdout.decode().startswith("migrated the database from empty to ")

    procs: dict[str, asyncio.subprocess.Process] = {}

    async def start(name: str, machine: str, command: str) -> None:
        log = (tmp_path / f"{name}.log").open("wb")
        procs[name] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            command,
            env=env(machine),
            cwd=machines[machine],
            stdout=log,
            stderr=log,
        )
        log.close()

    for machine in machines.values():
        machine.mkdir()
    health_url = f"http://127.0.0.1:{port}/health"
    try:
        await start("web", "a", "web")
        await start("worker-b", "b", "worker")
        await start("worker-c", "c", "worker")
        async with httpx.AsyncClient(timeout=10) as http:
            async with asyncio.timeout(60):
                while True:
                    try:
                        up = await http.get(health_url)
                        if up.status_code == 200 and len(up.json()["workers"]) == 2:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
            healthy = up.json()

            # Machine A's chat side stores the video in the bucket and queues posts of it.
            for _ in range(3):
                queued = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-m", "tests.media_roles", "chat", "-", str(clip)],
                    env=env("a"),
                    cwd=ROOT,
                    capture_output=True,
                    timeout=120,
                )
                assert queued.returncode == 0, queued.stderr.decode()[-2000:]
            engine = make_engine(database_url)
            sessions = session_factory(engine)
            try:
                async with asyncio.timeout(90):
                    while {r.status for r in await rows(sessions)} != {"published"}:
                        await asyncio.sleep(0.2)
                published = await rows(sessions)
            finally:
                await engine.dispose()

            # Step 6: stop the workers; the web side says they left on purpose.
            for name in ("worker-b", "worker-c"):
                procs[name].send_signal(signal.SIGTERM)
            for name in ("worker-b", "worker-c"):
                async with asyncio.timeout(30):
                    assert await procs[name].wait() == 0
            down = await http.get(health_url)
        procs["web"].send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await procs["web"].wait() == 0
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    logs = {p.name: p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log")}

    assert len(published) == 3 and all(p.attempts == 1 for p in published), logs
    assert {p.claimed_by for p in published} == {None}
    # Each worker's folder: at most the one cached copy of the video (to probe it); no other file of
    # it, since publishing reads the bucket in ranges. The sandbox's records are where it published.
    for machine in ("b", "c"):
        media = machines[machine] / "data" / "media"
        kept = (
            [f for f in media.rglob("*") if f.is_file() and ".locks" not in f.parts] if media.exists() else []
        )
        assert all(f.parent.parent == media / "cache" for f in kept) and len(kept) <= 1, kept
    sandbox = [f for m in ("b", "c") for f in (machines[m] / "data" / "sandbox").rglob("*.json")]
    assert len(sandbox) == 3
    assert {w["id"] for w in healthy["workers"]} == {
        f"{socket.gethostname()}:{procs['worker-b'].pid}",
        f"{socket.gethostname()}:{procs['worker-c'].pid}",
    }
    assert down.status_code == 503
    stopped = down.json()
    assert stopped["failed"] == ["workers"]
    assert stopped["error"].startswith("workers: no scheduler running: the last one stopped on purpose ")

    # The guide's example answers are what the program answers today (their shape and wording).
    ok_example, stopped_example = _json_examples()
    assert _shape(ok_example) == _shape(healthy)
    assert ok_example["checks"]["media"] == healthy["checks"]["media"] == {"ok": True, "backend": "s3"}
    assert _shape(stopped_example) == _shape(stopped)
    assert re.sub(r"\d+ s ago", "N s ago", stopped_example["error"]) == re.sub(
        r"\d+ s ago", "N s ago", stopped["error"]
    )


def test_the_one_machine_caddyfile_is_valid(tmp_path: Path) -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed here (apt-get install caddy)")
    text = GUIDE.read_text()
    found = re.search(r"`/etc/caddy/Caddyfile`:\n\n   ```\n(.*?)   ```", text, re.S)
    assert found, "docs/deploy.md has no Caddyfile"
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text("\n".join(line.removeprefix("   ") for line in found.group(1).splitlines()) + "\n")
    home = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run(
        [caddy, "validate", "--config", str(caddyfile)],
        env={**os.environ, **home},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip().endswith("Valid configuration") or "Valid configuration" in (
        done.stderr.decode()
    )


def test_the_guides_health_examples_name_the_schema_this_code_expects() -> None:
    """An operator compares their /health with the guide's: an example naming an old head reads as a
    deployment one migration behind (the examples said 0008_stopped after 0009 landed)."""
    heads = list(script_heads())
    shown = re.findall(r'"(current|head)": (\[[^\]]*\])', (ROOT / "docs" / "deploy.md").read_text())
    assert shown, "deploy.md shows no /health schema example"
    for field, value in shown:
        assert json.loads(value) == heads, (
            f"deploy.md's /health example has {field} {value}, the code {heads}"
        )
