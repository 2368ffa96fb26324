"""A request queued twice at once (a command run again while its first run still downloads) ends
as one set of posts: the second meets the first's idempotency keys at the insert and answers with
the first's posts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.wiring import build_app
from core.config import Settings
from core.domain import ChatContext, ChatKind, MediaInfo, Platform
from core.store import posts, teams
from tests.conftest import Database


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_the_second_of_two_concurrent_runs_answers_with_the_first_ones_posts(
    settings: Settings, db: Database
) -> None:
    app = await build_app(settings, schema=db.schema)
    ctx = ChatContext(
        ChatKind.DISCORD, "guild", "alice", channel_id="general", request_id="run:2", repeats=("run:1",)
    )
    media = MediaInfo(path="a.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4")
    new = [posts.NewPost(Platform.SANDBOX, "Launch", None, datetime.now(UTC) + timedelta(days=1))]

    async def queue(session: AsyncSession, repeats: tuple[str, ...]) -> tuple[list[int], bool]:
        member = await teams.member(session, ctx, "UTC")
        views, duplicate = await posts.queue_posts(
            session,
            member=member,
            media=media,
            posts=new,
            channel=ctx.channel_id,
            thread=None,
            request_id=ctx.request_id,
            tz="UTC",
            repeats=repeats,
        )
        return [v.id for v in views], duplicate

    async def again() -> tuple[list[int], bool]:
        async with app.sessions.begin() as session:
            return await queue(session, ctx.repeats)

    try:
        async with app.sessions.begin() as session:  # the team and user exist, as after any command
            await teams.member(session, ctx, "UTC")
        async with app.sessions.begin() as first:
            queued, _ = await queue(first, ())
            # The second run reads before the first commits, then waits on the unique key.
            second = asyncio.create_task(again())
            await asyncio.sleep(0.5)
            assert not second.done()
        ids, duplicate = await second
        assert duplicate and ids == queued
    finally:
        await app.close()
