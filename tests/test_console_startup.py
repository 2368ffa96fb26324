"""`postbot console` starts without the libraries it does not use at start (issue 28: the prompt in
under a second). PyAV and numpy load when a file is first probed or converted, aiohttp when a
publisher or a link fetch first makes a request, obstore when S3 storage is configured, and a chat's
SDK only in that chat's processes. Run as `postbot console` runs, in its own interpreter, quitting
at the first prompt; `python -X importtime -m bot.cli console` shows what the rest costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# httpcore: httpx's own transports, which postbot's requests do not go through (unless a proxy is
# set in the environment, which the run below clears).
NOT_AT_START = (
    "av", "numpy", "obstore", "slack_sdk", "slack_bolt", "discord", "aiohttp", "matplotlib", "httpcore",
)  # fmt: skip

PROBE = """
import atexit, json, sys
atexit.register(lambda: print("LOADED " + json.dumps(sorted(sys.modules)), file=sys.stderr))
from bot.cli import main
sys.argv = ["postbot", "console"]
main()
"""


def test_the_console_starts_without_media_storage_or_chat_libraries(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_") and "proxy" not in k.lower()}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        input="/quit\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "postbot console" in done.stdout, done.stdout + done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("LOADED ")]
    loaded = set(json.loads(line.removeprefix("LOADED ")))
    assert "core.service" in loaded and "bot.runtime" in loaded  # the probe saw the real start-up
    assert sorted(m for m in NOT_AT_START if m in loaded) == []
