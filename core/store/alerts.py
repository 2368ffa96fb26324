"""Alert gates kept in the database, so a platform outage is announced once by the whole fleet.

Every worker watches its own publishes (core/alerts.py) and may conclude at the same moment that a
platform is in trouble. Before speaking it flips the (chat, team, platform) gate with one conditional
statement: only the worker whose statement matched the row sends the alert, and the recovery message
goes out only if an alert did (``alerting`` was set) and only from the worker that cleared it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.buckets import db_now

# Open when no alert went out within ``repeat_s``: a new outage after a recovery, or (with every worker
# restarted mid-outage, so none remembers it) the reminder that it is still going on.
_OPEN = """
INSERT INTO alert_gates (key, alerting, last_alert) VALUES (:key, true, {now})
ON CONFLICT (key) DO UPDATE SET alerting = true, last_alert = {now}
WHERE alert_gates.last_alert <= {now} - :repeat_s
RETURNING key
"""

_CLOSE = "UPDATE alert_gates SET alerting = false WHERE key = :key AND alerting = true RETURNING key"


class AlertGates:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str | None = None) -> None:
        self.sessions = sessions
        self._open = text(_OPEN.format(now=db_now(dialect or sessions.kw["bind"].dialect.name)))
        self._close = text(_CLOSE)

    async def open(self, key: str, *, repeat_s: float) -> bool:
        """True: this worker is the one to send the alert."""
        async with self.sessions.begin() as session:
            row = (await session.execute(self._open, {"key": key, "repeat_s": repeat_s})).first()
        return row is not None

    async def close(self, key: str) -> bool:
        """True: an alert went out and this worker is the one to say it is over."""
        async with self.sessions.begin() as session:
            row = (await session.execute(self._close, {"key": key})).first()
        return row is not None
