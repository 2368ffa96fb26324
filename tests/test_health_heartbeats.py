"""Worker heartbeats in the database, and /health reporting them: 503 when no scheduler is alive.
(The other checks of /health: tests/test_health_checks.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from adapters.web.run import start_web
from adapters.web.server import WebServer
from bot.wiring import App, build_app
from core.config import SchedulerSettings, Settings, VaultSettings, WebSettings
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import script_heads
from tests.conftest import Database


@pytest.fixture
def wired(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": SecretStr("a vault secret"),
            "vault": VaultSettings(iterations=MIN_ITERATIONS),
            "web": WebSettings(host="127.0.0.1", port=0, metrics_token=SecretStr("scrape")),
            "scheduler": SchedulerSettings(
                poll_interval_s=0.5, heartbeat_interval_s=0.2, heartbeat_stale_s=5
            ),
        }
    )


@pytest.fixture
async def web(wired: Settings, db: Database) -> AsyncIterator[tuple[App, WebServer]]:
    """The web process: no scheduler of its own, only what the database says about the others."""
    app = await build_app(wired, schema=db.schema)
    server = await start_web(app.postbot)
    yield app, server
    await server.stop()
    await app.close()


async def _health(server: WebServer) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(f"{server.url}/health")


async def test_health_is_503_until_a_worker_beats_and_again_after_it_stops(
    web: tuple[App, WebServer], wired: Settings, db: Database
) -> None:
    _, server = web
    down = await _health(server)
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable" and body["failed"] == ["workers"]
    assert body["workers"] == [] and body["error"] == "workers: no scheduler seen in the last 5 s"
    assert body["checks"]["workers"] == {"ok": False, "error": "no scheduler seen in the last 5 s"}
    # The rest of the process is well: the body says so, check by check.
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["media"] == {"ok": True, "backend": "local"}
    assert body["checks"]["schema"]["ok"] and body["checks"]["schema"]["current"] == [script_heads()[0]]

    worker = await build_app(wired, schema=db.schema, worker_id="worker-7")
    await worker.start_scheduler()
    try:
        up = await _health(server)
        for _ in range(50):
            if up.status_code == 200:
                break
            up = await _health(server)
        assert up.status_code == 200
        [seen] = up.json()["workers"]
        assert seen["id"] == "worker-7" and 0 <= seen["seen_s_ago"] < 5 and seen["in_flight"] == 0
        async with httpx.AsyncClient(timeout=10, headers={"Authorization": "Bearer scrape"}) as http:
            assert "postbot_workers_alive 1.0" in (await http.get(f"{server.url}/metrics")).text
    finally:
        await worker.close()

    # A worker that stops on purpose leaves at once; there is no other.
    assert (await _health(server)).status_code == 503


async def test_a_worker_that_went_silent_goes_stale(web: tuple[App, WebServer]) -> None:
    app, server = web
    now = datetime.now(UTC)
    await app.heartbeats.beat("crashed", in_flight=3, completed=10, now=now - timedelta(seconds=6))
    assert (await _health(server)).status_code == 503
    await app.heartbeats.beat("alive", in_flight=1, completed=2, now=now - timedelta(seconds=1))

    response = await _health(server)

    assert response.status_code == 200
    assert [w["id"] for w in response.json()["workers"]] == ["alive"]
