"""Issue 11 point 5 with real `postbot worker` processes: a worker stopped (SIGSTOP) mid-upload past
its lease, whose post another worker took over, stops touching the post when it wakes (SIGCONT), and
the post is published exactly once, never failed for it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.accounts.store import save_tokens
from core.config import VaultSettings
from core.crypto import Vault
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import MediaAsset, ScheduledPost, SocialAccount, Team, User
from core.oauth.models import TokenSet
from tests.conftest import PG_URL
from tests.fakes.mp4 import write_mp4
from tests.fakes.youtube_api import CHUNK_UNIT, FakeYouTube
from tests.scheduler_support import rows

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "ya29.stalled-worker"
CHANNEL = "UCstalledworker0000000000"
SECRET = "stalled worker test secret"
ITERATIONS = 100_000
LEASE_S = 1.5
TAKER_LEASE_S = 10.0


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database separate processes can reach by URL alone (a PostgreSQL database of its own)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _seed(url: str, video: Path) -> int:
    engine = make_engine(url)
    await migrate(engine)
    sessions = session_factory(engine)
    vault = Vault.from_secrets(SECRET, salt=VaultSettings().salt, iterations=ITERATIONS)
    now = datetime.now(UTC)
    data = video.read_bytes()
    async with sessions.begin() as session:
        team = Team(chat="console", external_id="T-stall", name="Stall team")
        session.add(team)
        await session.flush()
        user = User(team_id=team.id, external_id="ana")
        media = MediaAsset(
            team_id=team.id,
            path=str(video),
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            mime="video/mp4",
            original_name=video.name,
        )
        account = SocialAccount(team_id=team.id, platform="youtube", remote_account_id=CHANNEL)
        session.add_all([user, media, account])
        await session.flush()
        save_tokens(account, TokenSet(access_token=TOKEN, expires_at=now + timedelta(days=1)), vault)
        post = ScheduledPost(
            team_id=team.id,
            author_id=user.id,
            account_id=account.id,
            media_id=media.id,
            batch_id=uuid.uuid4().hex,
            platform="youtube",
            caption="Stalled but once",
            title="Stalled but once",
            run_at=now,
            due_at=now,
            idempotency_key=uuid.uuid4().hex,
            upload_state={},
        )
        session.add(post)
        await session.flush()
        post_id = post.id
    await engine.dispose()
    return post_id


async def _start_worker(
    url: str, fake: FakeYouTube, tmp_path: Path, name: str, command: str = "worker", **settings: str
) -> asyncio.subprocess.Process:
    """A real `postbot worker` process (this tree's code), or another command with a scheduler;
    ``settings`` override POSTBOT_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    env.update(
        POSTBOT_DATABASE_URL=url,
        POSTBOT_DATA_DIR=str(tmp_path / "data"),
        POSTBOT_SECRET_KEY=SECRET,
        POSTBOT_VAULT__ITERATIONS=str(ITERATIONS),
        POSTBOT_PLATFORMS__YOUTUBE__BASE_URL=fake.base_url,
        POSTBOT_PLATFORMS__YOUTUBE__CHUNK_SIZE_BYTES=str(CHUNK_UNIT),
        POSTBOT_SCHEDULER__LEASE_S=str(LEASE_S),
        POSTBOT_SCHEDULER__POLL_INTERVAL_S="0.2",
        POSTBOT_SCHEDULER__WORKER_ID=name,
        POSTBOT_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.update(settings)
    log = (tmp_path / f"{name}.log").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", command, env=env, cwd=ROOT, stdout=log, stderr=log
        )
    finally:
        log.close()


def _chunks(fake: FakeYouTube) -> int:
    queries = (r for r in fake.requests if r.method == "PUT")
    return sum(1 for r in queries if not (r.content_range or "").startswith("bytes */"))


async def test_a_worker_woken_after_a_takeover_stops_and_the_post_is_published_once(
    database_url: str, tmp_path: Path
) -> None:
    video = write_mp4(tmp_path / "clip.mp4", size_bytes=8 * CHUNK_UNIT + 4321)
    post_id = await _seed(database_url, video)
    procs: list[asyncio.subprocess.Process] = []
    async with FakeYouTube(tokens={TOKEN: CHANNEL}) as fake:
        # The stalled worker is stopped while its third chunk is in flight (its body not yet read).
        stalled_chunk = fake.hold("body", after=2)
        try:
            stalled = await _start_worker(database_url, fake, tmp_path, "stalled")
            procs.append(stalled)
            async with asyncio.timeout(30):
                await stalled_chunk.arrived.wait()
            os.kill(stalled.pid, signal.SIGSTOP)

            # Past the lease another worker takes over: the session says 2 chunks, so it sends the
            # third; its body is kept unread until the stalled worker's chunk has landed.
            taker_chunk = fake.hold("body")
            # The taker's own lease is long: with the stalled worker's 1.5 s, a renewal held up on a
            # loaded machine lost it, the woken worker claimed the post again (rightly) and its
            # first chunk was counted as sent after waking.
            taker = await _start_worker(
                database_url, fake, tmp_path, "taker", POSTBOT_SCHEDULER__LEASE_S=str(TAKER_LEASE_S)
            )
            procs.append(taker)
            async with asyncio.timeout(30):
                await taker_chunk.arrived.wait()
            os.kill(stalled.pid, signal.SIGCONT)
            stalled_chunk.release.set()
            async with asyncio.timeout(10):
                while _chunks(fake) < 3:
                    await asyncio.sleep(0.01)
            before = _chunks(fake)
            # The woken worker got its 308 and checkpoints: fenced, that write stops it. Unfenced it
            # goes on (unless its lease keeper happens to notice first) and sends its fourth chunk.
            with_harm = asyncio.get_running_loop().time() + 1.0
            while _chunks(fake) == before and asyncio.get_running_loop().time() < with_harm:
                await asyncio.sleep(0.02)
            sent_after_waking = _chunks(fake) - before
            # The taker's chunk now starts where the session no longer stands: a 400 it must resume
            # from, not a reason to fail the post.
            taker_chunk.release.set()

            engine = make_engine(database_url)
            sessions = session_factory(engine)
            try:
                async with asyncio.timeout(30):
                    while True:
                        [row] = await rows(sessions)
                        if row.status in ("published", "failed"):
                            break
                        await asyncio.sleep(0.1)
                await asyncio.sleep(LEASE_S)  # time for a late, wrong write by either worker
                [row] = await rows(sessions)
            finally:
                await engine.dispose()
        finally:
            for proc in procs:
                if proc.returncode is None:
                    os.kill(proc.pid, signal.SIGCONT)
                    proc.terminate()
            for proc in procs:
                await proc.wait()

    logs = {p.name: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}
    assert sent_after_waking == 0, logs
    assert (row.id, row.status, row.last_error) == (post_id, "published", None), logs
    assert row.attempts == 2 and row.claimed_by is None
    assert list(fake.videos) == [row.remote_id]
    assert fake.videos[row.remote_id].sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
    assert len(fake.protocol_errors) == 1 and "query the session" in fake.protocol_errors[0]
