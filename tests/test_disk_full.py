"""Issue 11 point 13: a full disk (a real one: a few-MB tmpfs) makes the console and the worker say
"postbot's disk is full" and keep running, instead of crashing or reporting "internal error (OSError)"."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from bot.wiring import build_app
from core.config import SchedulerSettings, Settings
from core.db.engine import make_engine
from core.db.models import ScheduledPost
from core.domain import ChatKind
from core.errors import is_disk_full


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs: writes on it end in a real ENOSPC once it is full."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Write until the disk refuses; returns the filler so a test can free the space again."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 65536)
    finally:
        os.close(fd)
    return filler


async def test_console_and_worker_say_the_disk_is_full_and_keep_running(
    small_disk: Path, clip: Path, tmp_path: Path
) -> None:
    # The media store and the sandbox on the full disk; the database beside it (PostgreSQL, or a
    # SQLite file elsewhere): the worker can claim, and must report the full disk to the author.
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}",
        data_dir=small_disk / "data",
        scheduler=SchedulerSettings(
            poll_interval_s=0.2, lease_s=30, backoff_base_s=0.05, backoff_max_s=0.1, max_attempts=2
        ),
    )
    out: list[str] = []
    app = await build_app(settings, worker_id="full-disk")
    app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
    console = ConsoleAdapter(app.postbot, user="ana")
    try:
        queued = await console.handle(f"/schedule in 1 second sandbox Queued before --file {clip}")
        assert queued.startswith("Scheduled"), queued
        filler = _fill(small_disk)

        # /post: the video cannot be stored. A reply, not a crash of the console.
        reply = await console.handle(f"/post sandbox While full --file {clip}")
        assert reply.startswith("✗ postbot's disk is full"), reply
        assert (await console.handle("/help")).startswith("Commands")

        # The worker: the sandbox copy of the queued post hits ENOSPC. The author is told the disk is
        # full (not "internal error (OSError)") and the worker goes on.
        await app.start_scheduler()
        async with asyncio.timeout(20):
            while not any("disk is full" in line for line in out):
                await asyncio.sleep(0.1)
        async with app.sessions() as session:
            row = (await session.execute(select(ScheduledPost))).scalar_one()
        assert row.last_error is not None and row.last_error.startswith("postbot's disk is full"), (
            row.last_error
        )
        assert not any("internal error" in line for line in out), out

        # Space freed: the same running process publishes again.
        filler.unlink()
        again = await console.handle(f"/post sandbox After freeing --file {clip}")
        assert again.startswith("Publishing") or "#" in again, again
        async with asyncio.timeout(20):
            while not any(line.startswith("Published #") for line in out):
                await asyncio.sleep(0.1)
    finally:
        await app.close()


async def test_sqlite_full_is_recognised_as_a_full_disk(tmp_path: Path) -> None:
    # SQLITE_FULL for real: a page limit stands in for the disk (https://sqlite.org/rescode.html#full).
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'tiny.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
        with pytest.raises(OperationalError) as info:
            async with engine.begin() as conn:
                await conn.execute(text("PRAGMA max_page_count = 3"))
                for _ in range(50):
                    await conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "y" * 4000})
    finally:
        await engine.dispose()
    assert "full" in str(info.value)
    assert is_disk_full(info.value)
    assert not is_disk_full(OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: t")))


async def test_a_worker_whose_database_disk_is_full_logs_it_and_recovers(
    small_disk: Path, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{small_disk / 'postbot.db'}",
        data_dir=small_disk / "data",
        scheduler=SchedulerSettings(poll_interval_s=0.2, lease_s=30, backoff_base_s=0.05, backoff_max_s=0.1),
    )
    out: list[str] = []
    app = await build_app(settings, worker_id="full-db")
    app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
    console = ConsoleAdapter(app.postbot, user="ana")
    try:
        queued = await console.handle(f"/schedule in 1 second sandbox Queued before --file {clip}")
        assert queued.startswith("Scheduled"), queued
        filler = _fill(small_disk)
        # Whatever the console is asked now, it answers (SQLite may still have room in its WAL).
        reply = await console.handle("/timezone Europe/Paris")
        assert reply.startswith("Times are now") or reply.startswith("✗ postbot's disk is full"), reply
        await app.start_scheduler()
        await asyncio.sleep(2)
        assert "postbot's disk is full" in caplog.text or any("disk is full" in line for line in out)
        filler.unlink()
        async with asyncio.timeout(20):
            while not any(line.startswith("Published #") for line in out):
                await asyncio.sleep(0.1)
    finally:
        await app.close()
