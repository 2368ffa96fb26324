"""Waking schedulers in other processes when a post is queued or moved.

A bot process and the worker processes share the queue through PostgreSQL. Without a signal a
worker would find a post queued elsewhere only at its next poll, up to ``poll_interval_s`` late;
NOTIFY (sent in the queueing transaction, so delivered only if it commits) wakes it at once.
SQLite deployments are one process, whose scheduler the service wakes directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

CHANNEL = "postbot_due"


async def announce(session: AsyncSession, at: datetime) -> None:
    """Tell every listening scheduler that a post falls due at ``at`` (on commit)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(text("SELECT pg_notify(:channel, :at)"), {"channel": CHANNEL, "at": at.isoformat()})


class WakeListener:
    """LISTENs on PostgreSQL and forwards each announced due time to the local scheduler."""

    def __init__(self, database_url: str, wake: Callable[[datetime], None], *, retry_s: float = 5.0) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._wake = wake
        self._retry_s = retry_s
        self._conn: asyncpg.Connection | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(CHANNEL, self._on_notify)
        self._conn.add_termination_listener(self._on_lost)

    async def stop(self) -> None:
        self._stopped = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            at = datetime.fromisoformat(payload)
        except ValueError:
            log.warning("ignored a malformed wake-up", extra={"payload": payload[:64]})
            return
        self._wake(at)

    def _on_lost(self, _conn: Any) -> None:
        # The poll keeps posts firing meanwhile; only the instant wake-ups pause.
        if not self._stopped and self._reconnect is None:
            log.warning("wake-up connection lost; reconnecting")
            self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        try:
            while not self._stopped:
                try:
                    await self.start()
                    log.info("wake-up connection restored")
                    return
                except (OSError, asyncpg.PostgresError):
                    await asyncio.sleep(self._retry_s)
        finally:
            self._reconnect = None
