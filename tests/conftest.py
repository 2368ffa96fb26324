"""Shared fixtures. Storage and scheduler tests run on SQLite and on PostgreSQL (a schema each)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.config import SchedulerSettings, Settings
from core.db.engine import migrate
from core.publishers.transport import make_client

# The S3 endpoint (moto's server) fixtures: moto_endpoint, s3.
pytest_plugins = ["tests.s3_support"]

PG_URL = os.environ.get("POSTBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    schema: str | None = None


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A developer's own POSTBOT_* variables must not leak into the tests.
    for key in list(os.environ):
        if key.startswith("POSTBOT_") and key != "POSTBOT_TEST_PG_URL":
            monkeypatch.delenv(key)
    yield


_sqlite_template: Path | None = None


async def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the migrations' head, made once per run: running every migration costs about
    half a second, and several hundred tests start from an empty database. The app still runs
    ``migrate`` on its copy, which finds it at head."""
    global _sqlite_template
    if _sqlite_template is None:
        path = tmp_path_factory.mktemp("schema") / "template.db"
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()
        _sqlite_template = path
    return _sqlite_template


@pytest.fixture(params=["sqlite", "postgres"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        shutil.copyfile(await _migrated_sqlite(tmp_path_factory), tmp_path / "postbot.db")
        yield Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}")
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OSError as exc:  # pragma: no cover - environment problem, said plainly
        await admin.dispose()
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}. Start it (see .ci/run).")
    try:
        yield Database("postgres", PG_URL, schema)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db.url,
        data_dir=tmp_path / "data",
        default_timezone="Europe/Berlin",
        scheduler=SchedulerSettings(poll_interval_s=0.5, lease_s=30, backoff_base_s=0.05, backoff_max_s=0.2),
    )


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A small real MP4 (H.264/AAC, vertical, 12 s, index in front) that every platform accepts,
    encoded with PyAV once per session (tests/clips.py)."""
    from tests.clips import clip_file

    return clip_file(tmp_path / "clip.mp4")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for talking to the fakes. The timeout is per operation, not total, and roomy:
    multi-MiB uploads share two cores with the rest of the suite."""
    async with make_client(timeout=30) as client:
        yield client
