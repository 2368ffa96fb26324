"""`/results` in the console: per platform the period's totals against the period before and the best
posts with their links, from the readings the collector keeps (post_results)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from adapters.console.commands import ConsoleAdapter
from bot.wiring import build_app
from core.config import Settings
from core.db.models import MediaAsset, PostResult, ScheduledPost, Team, User
from core.domain import PostStatus
from tests.conftest import Database


async def test_results_table_compares_periods_and_links_the_best_posts(
    settings: Settings, db: Database
) -> None:
    app = await build_app(settings, schema=db.schema, worker_id="w1")
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        assert (await console.handle("/results")).endswith("nothing published in either period.")
        now = datetime.now(UTC)
        async with app.sessions.begin() as s:
            team = (await s.execute(select(Team).where(Team.external_id == "local"))).scalar_one()
            user = (await s.execute(select(User).where(User.team_id == team.id))).scalars().first()
            assert user is not None
            media = MediaAsset(
                team_id=team.id, path="/v.mp4", sha256="0" * 64, size_bytes=1, mime="video/mp4"
            )
            s.add(media)
            await s.flush()

            async def post(
                platform: str, age: timedelta, url: str, *readings: tuple[int, int, int, int]
            ) -> None:
                row = ScheduledPost(
                    team_id=team.id,
                    author_id=user.id,
                    media_id=media.id,
                    batch_id=uuid.uuid4().hex,
                    platform=platform,
                    run_at=now - age,
                    due_at=now - age,
                    status=PostStatus.PUBLISHED.value,
                    idempotency_key=uuid.uuid4().hex,
                    remote_id=uuid.uuid4().hex[:10],
                    remote_url=url,
                    published_at=now - age,
                )
                s.add(row)
                await s.flush()
                for checkpoint, views, likes, comments in readings:
                    s.add(
                        PostResult(
                            post_id=row.id,
                            checkpoint_s=checkpoint,
                            state="read",
                            due_at=now,
                            attempts=0,
                            views=views,
                            likes=likes,
                            comments=comments,
                        )
                    )

            await post(
                "youtube", timedelta(days=2), "https://youtu.be/aaa", (3600, 90, 5, 1), (86400, 1204, 87, 12)
            )
            await post("youtube", timedelta(days=3), "https://youtu.be/bbb", (86400, 300, 10, 2))
            await post("youtube", timedelta(days=10), "https://youtu.be/old", (86400, 751, 40, 7))
            await post(
                "x",
                timedelta(days=1),
                "https://x.com/i/web/status/1",
            )

        text = await console.handle("/results")
        lines = text.splitlines()
        assert lines[0] == "Results, last 7 days (against the 7 days before):"
        youtube = lines.index(
            "YouTube: 2 posts (+100%) · 1,504 views (+100%) · 97 likes (+142%) · 14 comments (+100%)"
        )
        # The latest reading counts (24 h over 1 h), best first, each with its link.
        assert lines[youtube + 1].endswith("1,204 views · 87 likes · 12 comments https://youtu.be/aaa")
        assert lines[youtube + 2].endswith("300 views · 10 likes · 2 comments https://youtu.be/bbb")
        assert "X: 1 post (new) · 0 views (=) · 0 likes (=) · 0 comments (=)" in lines
        assert "  1 without numbers yet (or not available from X)" in lines
        # The chart goes to the data folder, a real PNG.
        chart = Path(lines[-1].removeprefix("Chart: "))
        assert chart.parent == settings.data_dir / "charts" and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        month = await console.handle("/results youtube 30d")
        assert "YouTube: 3 posts (new) · 2,255 views (new)" in month and "X:" not in month
        assert (await console.handle("/results 14d")).startswith("✗ Results cover 7 or 30 days, not 14.")
        assert (await console.handle("/results myspace")).startswith("✗ I don't know the platform 'myspace'.")
    finally:
        await app.close()
