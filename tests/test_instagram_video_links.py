"""The wired app: the scheduler hands each post the link that postbot's own web server serves, and the
database's post status decides whether it still serves (issue 12, Instagram's video_url)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from adapters.web import WebServer, build_web_app
from bot.wiring import build_app
from core.config import Settings
from core.db.models import MediaAsset, ScheduledPost, Team, User
from tests.conftest import Database

KEY = "ab/reel.mp4"


@pytest.mark.parametrize("final", ["published", "failed", "cancelled"])
async def test_a_posts_link_serves_its_video_until_the_post_is_over(
    settings: Settings, db: Database, http: httpx.AsyncClient, final: str
) -> None:
    """Whichever way a post ends, its link stops answering. Mutation (issue 29): the link refused
    only for a published post (``status != "published"`` in core/store/posts.py is_unfinished), so a
    failed or cancelled post's video stayed reachable for as long as its signature lasted."""
    app = await build_app(settings.model_copy(update={"secret_key": SecretStr("s3cret")}), schema=db.schema)
    data = os.urandom(300_000)
    (settings.media_dir / "ab").mkdir(parents=True)
    (settings.media_dir / KEY).write_bytes(data)
    async with app.sessions.begin() as session:
        team = (await session.execute(select(Team))).scalars().first()
        if team is None:
            team = Team(chat="slack", external_id="T1", name="Acme")
            session.add(team)
            await session.flush()
        user = User(team_id=team.id, external_id="U1", display_name="Ada")
        media = MediaAsset(team_id=team.id, path=KEY, sha256="0" * 64, size_bytes=len(data), mime="video/mp4")
        session.add_all([user, media])
        await session.flush()
        now = datetime.now(UTC)
        post = ScheduledPost(
            team_id=team.id,
            author_id=user.id,
            media_id=media.id,
            batch_id=uuid.uuid4().hex,
            platform="instagram",
            caption="hi",
            run_at=now,
            due_at=now,
            idempotency_key=uuid.uuid4().hex,
        )
        session.add(post)
        await session.flush()
        post_id = post.id
    server = WebServer()
    await server.start(build_web_app(app.postbot))
    try:
        links = app.processor.media_links
        assert links is not None and links is app.postbot.post_links, "the scheduler gets the web's links"
        link = urlsplit(await links.for_post(post_id, KEY)(timedelta(minutes=5)))
        url = f"{server.url}{link.path}?{link.query}"

        whole = await http.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"] == "video/mp4"
        head = await http.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
        part = await http.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]

        # Being published (a worker holds it): the platform is fetching it now.
        async with app.sessions.begin() as session:
            await session.execute(
                update(ScheduledPost).where(ScheduledPost.id == post_id).values(status="running")
            )
        assert (await http.head(url)).status_code == 200

        async with app.sessions.begin() as session:
            await session.execute(
                update(ScheduledPost).where(ScheduledPost.id == post_id).values(status=final)
            )
        assert (await http.get(url)).status_code == 403, f"{final}: the link is useless"
        assert (await http.head(url)).status_code == 403
    finally:
        await server.stop()
        await app.close()
