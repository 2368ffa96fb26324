"""Circuit breakers kept in the database (``breaker_states``), so the whole fleet shares each one.

A breaker kept in a worker's memory lets every worker spend its own ``threshold`` failing calls on a
platform that is down, and probe it on its own schedule. Here a row per (platform, account) holds the
failure streak and, once open, until when (``open_until``, the *database's* clock in epoch seconds, so
workers whose clocks differ still agree) and whether a probe is out (``probe_until``). States:

- closed: ``open_until = 0``;
- open: ``open_until`` in the future: no worker sends;
- half-open: ``open_until`` has passed: exactly one worker may send a probe.

Every transition is a conditional UPDATE whose WHERE clause is the state it leaves, so when two
workers race for it one statement matches the row and the other matches nothing: one worker opens
the breaker, one takes the probe, one closes it, and that worker alone learns it made the change
(which is what lets the alert about it go out once). The policy around these statements (when to
read, what to admit) is core/scheduler/breaker.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.buckets import db_now


class BreakerChange(enum.Enum):
    """A fleet-wide transition, reported to the one worker whose statement made it."""

    OPENED = "opened"  # closed -> open: the start of an outage
    REOPENED = "reopened"  # half-open -> open: the probe failed, the same outage goes on
    CLOSED = "closed"  # open or half-open -> closed: it works again


@dataclass(frozen=True)
class BreakerRow:
    """One breaker as read at ``now`` (all three on the database's clock, epoch seconds)."""

    failures: int
    open_until: float
    probe_until: float
    now: float


@dataclass(frozen=True)
class Recorded:
    """A breaker after a write, and the transition the write made (None: none, or another's)."""

    row: BreakerRow
    change: BreakerChange | None = None


_COLUMNS = "failures, open_until, probe_until, {now}"

_READ = f"SELECT key, {_COLUMNS} FROM breaker_states"

_FAILURE = f"""
INSERT INTO breaker_states (key, failures, open_until, probe_until) VALUES (:key, 1, 0, 0)
ON CONFLICT (key) DO UPDATE SET failures = breaker_states.failures + 1
RETURNING {_COLUMNS}
"""

# The streak reached the threshold while closed: open it (one worker's statement matches).
_OPEN = f"""
UPDATE breaker_states SET open_until = {{now}} + :open_s, probe_until = 0
WHERE key = :key AND open_until = 0 AND failures >= :threshold
RETURNING {_COLUMNS}
"""

# A failure while half-open (the probe, or a post admitted before the open): open it again.
_REOPEN = f"""
UPDATE breaker_states SET open_until = {{now}} + :open_s, probe_until = 0
WHERE key = :key AND open_until > 0 AND open_until <= {{now}}
RETURNING {_COLUMNS}
"""

_CLOSE = f"""
UPDATE breaker_states SET failures = 0, open_until = 0, probe_until = 0
WHERE key = :key AND open_until > 0
RETURNING {_COLUMNS}
"""

_RESET = f"""
UPDATE breaker_states SET failures = 0 WHERE key = :key AND failures > 0 AND open_until = 0
RETURNING {_COLUMNS}
"""

_TAKE_PROBE = f"""
UPDATE breaker_states SET probe_until = {{now}} + :probe_s
WHERE key = :key AND open_until > 0 AND open_until <= {{now}} AND probe_until <= {{now}}
RETURNING {_COLUMNS}
"""

_RELEASE_PROBE = "UPDATE breaker_states SET probe_until = 0 WHERE key = :key AND probe_until = :mine"

_ONE = f"SELECT {_COLUMNS} FROM breaker_states WHERE key = :key"


class BreakerStore:
    """The shared breakers on one database (PostgreSQL, or SQLite's one file)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str | None = None) -> None:
        self.sessions = sessions
        now = db_now(dialect or sessions.kw["bind"].dialect.name)
        self._read = text(_READ.format(now=now))
        self._failure = text(_FAILURE.format(now=now))
        self._open = text(_OPEN.format(now=now))
        self._reopen = text(_REOPEN.format(now=now))
        self._close = text(_CLOSE.format(now=now))
        self._reset = text(_RESET.format(now=now))
        self._take_probe = text(_TAKE_PROBE.format(now=now))
        self._release_probe = text(_RELEASE_PROBE)
        self._one = text(_ONE.format(now=now))

    async def read(self) -> dict[str, BreakerRow]:
        """Every breaker: one small table, one statement."""
        async with self.sessions() as session:
            rows = (await session.execute(self._read)).all()
        return {key: _row(values) for key, *values in rows}

    async def failure(self, key: str, *, threshold: int, open_s: float) -> Recorded:
        """Count a transient failure; open the breaker if this one completes the streak."""
        params = {"key": key, "threshold": threshold, "open_s": open_s}
        async with self.sessions.begin() as session:
            # The upsert locks the row (PostgreSQL) or the file (SQLite) until commit: the
            # conditional updates below see every failure counted before this one.
            row = _row((await session.execute(self._failure, params)).one())
            if row.open_until == 0 and row.failures >= threshold:
                opened = (await session.execute(self._open, params)).first()
                if opened is not None:
                    return Recorded(_row(opened), BreakerChange.OPENED)
            # Equivalent mutants: ``1 <`` (a deadline is 0 or epoch seconds), and ``<`` for ``<=``:
            # it differs only for a failure whose statement reads the database's clock at exactly
            # ``open_until`` (to the microsecond on PostgreSQL), and there counting it as a failure
            # while open, as one a tick earlier is, is as right as reopening.
            elif 0 < row.open_until <= row.now:
                reopened = (await session.execute(self._reopen, params)).first()
                if reopened is not None:
                    return Recorded(_row(reopened), BreakerChange.REOPENED)
        return Recorded(row)

    async def success(self, key: str) -> Recorded | None:
        """The platform answered: close the breaker (or end the streak). None: no row yet."""
        async with self.sessions.begin() as session:
            closed = (await session.execute(self._close, {"key": key})).first()
            if closed is not None:
                return Recorded(_row(closed), BreakerChange.CLOSED)
            reset = (await session.execute(self._reset, {"key": key})).first()
            if reset is not None:
                return Recorded(_row(reset))
            current = (await session.execute(self._one, {"key": key})).first()
        return Recorded(_row(current)) if current is not None else None

    async def take_probe(self, key: str, *, probe_s: float) -> BreakerRow | None:
        """Take the half-open breaker's one probe for ``probe_s`` seconds; None: not ours to take."""
        async with self.sessions.begin() as session:
            taken = (await session.execute(self._take_probe, {"key": key, "probe_s": probe_s})).first()
        return _row(taken) if taken is not None else None

    async def release_probe(self, key: str, probe_until: float) -> None:
        """Give back the probe taken until ``probe_until`` (it ended without an answer)."""
        async with self.sessions.begin() as session:
            await session.execute(self._release_probe, {"key": key, "mine": probe_until})


def _row(values: Any) -> BreakerRow:
    failures, open_until, probe_until, now = values
    return BreakerRow(int(failures), float(open_until), float(probe_until), float(now))
