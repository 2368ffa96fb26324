"""Two machines sharing a bucket: the chat side stores a video, a worker elsewhere publishes it.

Each side is its own process with its own local folder; the database and the S3 bucket (moto's
server on 127.0.0.1) are all they share, as with two dynos or two pods.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.config import Settings
from tests.conftest import Database
from tests.s3_support import S3Server

ROOT = Path(__file__).resolve().parent.parent


async def _run(role: str, db: Database, env: dict[str, str], arg: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.media_roles",
        role,
        db.schema or "-",
        arg,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()[-3000:]
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_a_worker_on_another_machine_publishes_the_video_the_chat_side_stored(
    db: Database, settings: Settings, s3: S3Server, clip: Path, tmp_path: Path
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    base.update(s3.env())
    base.update(
        POSTBOT_DATABASE_URL=settings.database_url,
        POSTBOT_LOG_LEVEL="WARNING",
        POSTBOT_SCHEDULER__POLL_INTERVAL_S="0.2",
        # Conversions are per machine for now: a worker that may convert downloads a cached copy to
        # probe (core/scheduler/processor.py _local_media). Publishing itself reads ranges, shown here.
        POSTBOT_MEDIA__CONVERT="false",
        PYTHONPATH=str(ROOT),
    )
    chat_dir, worker_dir = tmp_path / "chat-machine", tmp_path / "worker-machine"

    stored = await _run("chat", db, {**base, "POSTBOT_DATA_DIR": str(chat_dir)}, str(clip))
    assert s3.keys() == [f"postbot/{stored['key']}"]
    assert not worker_dir.exists()

    done = await _run("worker", db, {**base, "POSTBOT_DATA_DIR": str(worker_dir)}, str(stored["post"]))

    assert done["status"] == "published", done
    record = Path(urlsplit(done["url"]).path)
    assert record.is_relative_to(worker_dir / "sandbox")
    published = json.loads(record.read_text())
    assert (record.parent / published["video"]).read_bytes() == clip.read_bytes()
    # The worker read the video from the bucket: its media folder holds no copy of it.
    assert _files(worker_dir / "media") == []
