"""What ``/health`` checks: the database answers, its schema is the one this code was written for,
videos can be stored, and some scheduler is alive. One failing check makes the answer a 503 that
names it, so a load balancer stops sending traffic and an operator reads why in the body.

Each check has its own time limit and they run together: a database that hangs shows as a failed
check within seconds instead of a health probe that never returns. Messages name the failure kind,
never a connection string, a bucket key or an SQL statement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.engine import schema_state
from core.media.storage import MediaStorage
from core.store.heartbeats import Heartbeats, WorkerSeen

log = logging.getLogger(__name__)

# Long enough for a loaded database to answer, short enough for a probe's own timeout (often 10 s).
CHECK_TIMEOUT_S = 5.0


@dataclass
class Check:
    ok: bool
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"ok": self.ok, **({"error": self.error} if self.error else {}), **self.details}


async def _bounded(name: str, work: Awaitable[Check], failure: str) -> Check:
    try:
        return await asyncio.wait_for(work, CHECK_TIMEOUT_S)
    except TimeoutError:
        return Check(False, f"{failure} within {CHECK_TIMEOUT_S:g} s")
    except Exception as exc:
        log.warning("health check failed", extra={"check": name, "error": type(exc).__name__})
        return Check(False, f"{failure} ({type(exc).__name__})")


async def _database(sessions: async_sessionmaker[AsyncSession]) -> Check:
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    return Check(True)


async def _schema(sessions: async_sessionmaker[AsyncSession]) -> Check:
    async with sessions() as session:
        state = await schema_state(await session.connection())
    details = {"current": list(state.current), "head": list(state.heads)}
    if state.at_head:
        return Check(True, details=details)
    at = ", ".join(state.current) or "no revision"
    return Check(
        False,
        f"the schema is at {at}, this code expects {', '.join(state.heads)} (run `postbot migrate`)",
        details,
    )


async def _media(storage: MediaStorage) -> Check:
    await storage.check()
    return Check(True, details={"backend": storage.name})


async def _workers(
    sessions: async_sessionmaker[AsyncSession], stale: timedelta, now: datetime
) -> tuple[Check, list[WorkerSeen]]:
    recent = await Heartbeats(sessions).seen(within=stale, now=now, include_stopped=True)
    seen = [w for w in recent if not w.stopped]
    if not seen:
        left = next((w for w in recent if w.stopped), None)
        if left is not None:
            # Not a crash: the operator stopped it (a deploy, a restart); nothing publishes meanwhile.
            ago = round((now - left.seen_at).total_seconds())
            return Check(False, f"no scheduler running: the last one stopped on purpose {ago} s ago"), seen
        return Check(False, f"no scheduler seen in the last {stale.total_seconds():g} s"), seen
    return Check(True, details={"alive": len(seen)}), seen


async def infrastructure(
    sessions: async_sessionmaker[AsyncSession], storage: MediaStorage
) -> tuple[Check, Check, Check]:
    """The database, its schema and the media store, checked together, each within its time limit
    (``/health`` and ``postbot doctor``)."""
    database, schema, media = await asyncio.gather(
        _bounded("database", _database(sessions), "the database did not answer"),
        _bounded("schema", _schema(sessions), "the schema version could not be read"),
        _bounded("media", _media(storage), f"the media store ({storage.name}) did not answer"),
    )
    return database, schema, media


async def report(
    sessions: async_sessionmaker[AsyncSession],
    storage: MediaStorage,
    *,
    stale: timedelta,
    now: datetime,
) -> dict[str, Any]:
    """The /health body: ``status`` "ok" or "unavailable", ``failed`` naming the checks that
    failed, each check's result, and the workers seen."""
    workers: list[WorkerSeen] = []

    async def workers_check() -> Check:
        nonlocal workers
        check, workers = await _workers(sessions, stale, now)
        return check

    (database, schema, media), alive = await asyncio.gather(
        infrastructure(sessions, storage),
        _bounded("workers", workers_check(), "the workers' heartbeats could not be read"),
    )
    checks = {"database": database, "schema": schema, "media": media, "workers": alive}
    failed = [name for name, check in checks.items() if not check.ok]
    body: dict[str, Any] = {
        "status": "unavailable" if failed else "ok",
        "failed": failed,
        "checks": {name: check.body() for name, check in checks.items()},
        "workers": [
            {
                "id": w.worker_id,
                # A beat written after this report took its time reads as now, not in the future.
                "seen_s_ago": round(max(0.0, (now - w.seen_at).total_seconds()), 1),
                "in_flight": w.in_flight,
                "completed": w.completed,
            }
            for w in workers
        ],
    }
    if failed:
        body["error"] = "; ".join(f"{name}: {checks[name].error}" for name in failed)
    return body
