"""The Procfile's processes can all run on one machine (issue 30 item 5): `postbot web` already serves
Slack in either mode, so a second Slack process beside it would fight it for the port; `postbot slack`
(or `web`) started where the port is taken refuses before building anything, so it never migrates or
starts a scheduler only to die."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from bot.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def test_the_procfile_runs_one_process_per_role_that_cannot_collide() -> None:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    roles = dict(line.split(":", 1) for line in lines)
    assert all(command.strip().startswith("postbot ") for command in roles.values())
    assert all(command.split()[1] in COMMANDS for command in roles.values())
    # Both would serve the web port (and Slack's side): only one of them.
    assert not {"web", "slack"} <= set(roles)
    assert roles["web"].strip() == "postbot web" and roles["worker"].strip() == "postbot worker"


def test_a_second_web_side_on_a_taken_port_refuses_before_touching_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
        env.update(
            PYTHONPATH=str(ROOT),
            POSTBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}",
            POSTBOT_DATA_DIR=str(tmp_path / "data"),
            POSTBOT_SLACK__MODE="http",
            POSTBOT_SLACK__BOT_TOKEN="xoxb-1-2-procfile",
            POSTBOT_SLACK__SIGNING_SECRET="procfile-signing-secret",
            POSTBOT_WEB__HOST="127.0.0.1",
            POSTBOT_WEB__PORT=str(port),
        )
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "slack"], env=env, cwd=tmp_path, capture_output=True, timeout=60
        )
    assert done.returncode == 2, done.stderr.decode()
    assert done.stderr.decode().strip() == (
        f"postbot: config error: web.port {port} on 127.0.0.1 is already in use: is `postbot web` or "
        "`postbot slack` running on this machine? Only one of them may run per machine: `postbot web` "
        "already serves Slack (either slack.mode); run `postbot worker` beside it. A `postbot console` "
        "still open may hold it too: quit it first."
    )
    # Refused before the database was opened or migrated, so before any scheduler could start.
    assert not (tmp_path / "postbot.db").exists()
