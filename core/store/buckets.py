"""Per-account token buckets kept in the database, so every worker draws from one allowance.

A bucket in a worker's memory lets N workers send N times what a platform allows. Here each
reservation is one statement on the shared row: refill by the time passed on the *database's*
clock (so workers whose clocks differ still agree), take a token, return the balance. A negative
balance queues callers in order, as the in-memory bucket does; a caller that would wait longer
than it may gives its token back and defers the post.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Seconds since the epoch on the database server, as a float.
_NOW = {
    "postgresql": "extract(epoch from clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}


def db_now(dialect: str) -> str:
    """SQL for the database server's clock, in epoch seconds (a float)."""
    return _NOW[dialect]


_RESERVE = """
INSERT INTO rate_buckets (key, tokens, updated) VALUES (:key, :burst - 1, {now})
ON CONFLICT (key) DO UPDATE SET
    tokens = MIN_OF(:burst, rate_buckets.tokens + ({now} - rate_buckets.updated) * :rate) - 1,
    updated = {now}
RETURNING tokens
"""

_GIVE_BACK = "UPDATE rate_buckets SET tokens = tokens + 1 WHERE key = :key"


class SharedBuckets:
    """Token buckets shared by every process on one database (PostgreSQL, or SQLite's one file)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self.sessions = sessions
        now = _NOW[dialect]
        # Equivalent mutants: either name in lower case (SQL function names ignore case).
        least = "LEAST" if dialect == "postgresql" else "MIN"
        self._reserve = text(_RESERVE.format(now=now).replace("MIN_OF", least))
        self._give_back = text(_GIVE_BACK)

    async def reserve(self, key: str, *, rate: float, burst: int, max_wait_s: float) -> tuple[float, bool]:
        """Take a token from ``key``'s bucket. Returns the seconds until it may be used and whether it
        was kept: a wait longer than ``max_wait_s`` gives the token back (the caller defers)."""
        params = {"key": key, "rate": rate, "burst": burst}
        async with self.sessions.begin() as session:
            balance = float((await session.execute(self._reserve, params)).scalar_one())
        wait = max(0.0, -balance / rate)
        if wait <= max_wait_s:
            return wait, True
        async with self.sessions.begin() as session:
            await session.execute(self._give_back, {"key": key})
        return wait, False
