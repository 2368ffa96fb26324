"""What keeps the reads flat as the finished history grows (bench/scale.py measures it): the indexes
of migration 0009 exist on both databases, and the Home tab's latest results read the newest rows
per status instead of sorting the team's history, with the same answer as before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.engine import make_engine, migrate, session_factory
from core.db.models import Base, MediaAsset, ScheduledPost, Team, User
from core.store.posts import Viewer, recent_results
from tests.conftest import Database


@pytest.fixture
async def engine(db: Database) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    yield engine
    await engine.dispose()


def _indexes(conn: Connection, table: str) -> dict[str, list[str | None]]:
    return {i["name"]: list(i["column_names"]) for i in inspect(conn).get_indexes(table) if i["name"]}


async def test_the_migrations_create_every_index_the_models_declare(engine: AsyncEngine) -> None:
    declared = {
        table.name: {i.name: [c.name for c in i.columns] for i in table.indexes}
        for table in Base.metadata.sorted_tables
    }
    async with engine.connect() as conn:
        for table in ("scheduled_posts", "media_blobs"):
            found = await conn.run_sync(_indexes, table)
            for name, columns in declared[table].items():
                assert found.get(name) == columns, (table, name, found)
    assert declared["scheduled_posts"]["ix_posts_media"] == ["media_id"]
    assert declared["media_blobs"]["ix_media_blobs_referenced"] == ["referenced_at"]


async def test_retention_finds_a_video_s_posts_through_an_index(db: Database, engine: AsyncEngine) -> None:
    if db.kind != "postgres":
        pytest.skip("PostgreSQL's plan")
    async with engine.connect() as conn:
        # With sequential scans priced out, the plan names the index only if there is one.
        await conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in await conn.execute(text("EXPLAIN SELECT id FROM scheduled_posts WHERE media_id = 1"))
        )
    assert "ix_posts_media" in plan, plan


async def test_latest_results_are_the_newest_of_both_outcomes_the_viewer_may_see(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    async with sessions.begin() as session:
        team = Team(chat="slack", external_id="T1", name="t")
        session.add(team)
        await session.flush()
        ana, bo = User(team_id=team.id, external_id="U1"), User(team_id=team.id, external_id="U2")
        media = MediaAsset(team_id=team.id, path="ab/x.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4")
        session.add_all([ana, bo, media])
        await session.flush()
        # Newest first: published, failed, published (in a channel ana is not in), queued, failed...
        rows = [
            ("published", 1, bo.id, "C1"),
            ("failed", 2, bo.id, "C1"),
            ("published", 3, bo.id, "C-private"),
            ("queued", 4, ana.id, "C1"),
            ("failed", 5, ana.id, "C-private"),
            ("published", 6, bo.id, "C1"),
            ("cancelled", 7, bo.id, "C1"),
            ("published", 8, bo.id, "C1"),
        ]
        for status, hours_ago, author, channel in rows:
            at = now - timedelta(hours=hours_ago)
            session.add(
                ScheduledPost(
                    team_id=team.id,
                    author_id=author,
                    media_id=media.id,
                    batch_id=uuid.uuid4().hex,
                    platform="youtube",
                    caption=f"{status} {hours_ago}h ago",
                    run_at=at,
                    due_at=at,
                    status=status,
                    idempotency_key=uuid.uuid4().hex,
                    origin_channel=channel,
                    created_at=at,
                    updated_at=at,
                )
            )
    async with sessions() as session:
        seen = await recent_results(
            session, team.id, tz="UTC", limit=4, viewer=Viewer(ana.id, frozenset({"C1"}))
        )
        everything = await recent_results(session, team.id, tz="UTC", limit=3)
    assert [p.caption for p in seen] == [
        "published 1h ago",
        "failed 2h ago",
        "failed 5h ago",  # ana's own, from a channel she is not in
        "published 6h ago",
    ]
    assert [p.caption for p in everything] == ["published 1h ago", "failed 2h ago", "published 3h ago"]
