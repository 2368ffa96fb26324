"""Engine, sessions and schema upgrade for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import migrations


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, schema: str | None = None, **kwargs: Any) -> AsyncEngine:
    """Create the engine; ``schema`` pins PostgreSQL's search_path (tests use one schema each)."""
    if is_sqlite(url):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A busy worker holds the write lock briefly; wait for it rather than fail.
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, connect_args=connect_args, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; run at every start, a no-op when current."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting together must not both run the same migration.
            from sqlalchemy import text

            await conn.execute(text("SELECT pg_advisory_xact_lock(724501)"))
        await conn.run_sync(_upgrade)


@dataclass(frozen=True)
class SchemaState:
    """Where the database's schema is against the migrations this code ships (``/health``)."""

    current: tuple[str, ...]
    heads: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.heads)


@cache
def script_heads() -> tuple[str, ...]:
    """The newest revision(s) in migrations/versions: what this code expects to run against."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return tuple(sorted(ScriptDirectory.from_config(cfg).get_heads()))


async def schema_state(conn: AsyncConnection) -> SchemaState:
    """The revision(s) in the database's ``alembic_version`` table (none when it was never
    migrated) beside the script directory's head(s)."""
    from alembic.runtime.migration import MigrationContext

    def current(sync: Connection) -> tuple[str, ...]:
        return tuple(sorted(MigrationContext.configure(sync).get_current_heads()))

    return SchemaState(await conn.run_sync(current), script_heads())
