"""/health through the real web server: each thing a process needs (the database, its schema at the
migrations' head, the media store, a live scheduler) failing for real makes it a 503 whose body names
the check. Workers: tests/test_health_heartbeats.py."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.web.run import start_web
from adapters.web.server import WebServer
from bot.wiring import App, build_app
from core.config import MediaSettings, SchedulerSettings, Settings, WebSettings
from core.db.engine import _alembic_config, make_engine, script_heads
from tests.conftest import PG_URL, Database
from tests.s3_support import S3Server


def _settings(base: Settings, **changes: object) -> Settings:
    return base.model_copy(
        update={
            "web": WebSettings(host="127.0.0.1", port=0),
            "scheduler": SchedulerSettings(heartbeat_stale_s=300),
            **changes,
        }
    )


@asynccontextmanager
async def _serving(settings: Settings, schema: str | None = None) -> AsyncIterator[tuple[App, WebServer]]:
    """A web process over ``settings``, with a worker that beat just now (so only the check a test
    breaks can fail)."""
    app = await build_app(settings, schema=schema)
    server = await start_web(app.postbot)
    await app.heartbeats.beat("worker-1", in_flight=0, completed=0)
    try:
        yield app, server
    finally:
        await server.stop()
        await app.close()


async def _health(server: WebServer) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(f"{server.url}/health")


async def _healthy(server: WebServer) -> dict[str, Any]:
    response = await _health(server)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "schema", "media", "workers"}
    return body


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_dropped_database_is_a_503_naming_the_database(settings: Settings) -> None:
    name = f"health_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        async with _serving(_settings(settings, database_url=url)) as (_, server):
            await _healthy(server)
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))

            response = await _health(server)

            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert "database" in body["failed"] and not body["checks"]["database"]["ok"]
            assert body["checks"]["database"]["error"].startswith("the database did not answer")
            assert body["checks"]["media"]["ok"]  # what does not need the database still answers
            assert name not in response.text and "postgresql" not in response.text.lower()
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_a_schema_behind_the_code_is_a_503_until_migrated(settings: Settings, db: Database) -> None:
    async with _serving(_settings(settings), db.schema) as (app, server):
        body = await _healthy(server)
        heads = list(script_heads())
        assert body["checks"]["schema"] == {"ok": True, "current": heads, "head": heads}

        engine = make_engine(db.url, schema=db.schema)

        def downgrade(conn: Connection) -> None:
            from alembic import command

            command.downgrade(_alembic_config(conn), "-1")

        async with engine.begin() as conn:
            await conn.run_sync(downgrade)

        response = await _health(server)

        assert response.status_code == 503
        body = response.json()
        schema = body["checks"]["schema"]
        assert "schema" in body["failed"] and schema["ok"] is False
        assert schema["head"] == list(script_heads()) and schema["current"] != schema["head"]
        assert schema["current"] and "run `postbot migrate`" in schema["error"]

        from core.db.engine import migrate

        await migrate(engine)
        await engine.dispose()
        # The heartbeat table went with the downgrade: healthy again once a scheduler beats.
        await app.heartbeats.beat("worker-1", in_flight=0, completed=0)
        await _healthy(server)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_missing_bucket_is_a_503_naming_the_media_store(settings: Settings, s3: S3Server) -> None:
    configured = _settings(settings, media=MediaSettings(backend="s3", s3=s3.settings()))
    async with _serving(configured) as (_, server):
        body = await _healthy(server)
        assert body["checks"]["media"] == {"ok": True, "backend": "s3"}
        s3.client.delete_bucket(Bucket=s3.bucket)

        response = await _health(server)

        assert response.status_code == 503
        body = response.json()
        assert body["failed"] == ["media"]
        assert body["checks"]["media"]["error"].startswith("the media store (s3) did not answer")
        assert s3.bucket not in response.text

        s3.client.create_bucket(Bucket=s3.bucket)
        await _healthy(server)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_media_folder_that_cannot_be_written_is_a_503(settings: Settings) -> None:
    async with _serving(_settings(settings)) as (app, server):
        await _healthy(server)
        folder: Path = app.settings.media_dir
        shutil.rmtree(folder)
        folder.write_bytes(b"not a folder")  # as root, a chmod would not stop the write; this does

        response = await _health(server)

        assert response.status_code == 503
        assert response.json()["failed"] == ["media"]
        folder.unlink()
        await _healthy(server)
