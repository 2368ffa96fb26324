"""Results: ``/results`` (views, likes and comments per platform against the period before, the best
posts) and its chart.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from core.domain import ChatContext
from core.errors import UserError
from core.service.base import ServiceBase, platform_infos
from core.store import teams

if TYPE_CHECKING:
    from core.domain import ResultsReport


class Results(ServiceBase):
    async def results(self, ctx: ChatContext, text: str = "") -> ResultsReport:
        """`/results [platform] [7d|30d]`: per platform the period's views, likes and comments beside
        the period before, and the best posts with their links (numbers from core/scheduler/results.py)."""
        from core.domain import PlatformResults, ResultsReport
        from core.store import results as result_store

        days = 7
        words = []
        for word in text.split():
            span = re.fullmatch(r"(\d{1,3})\s*d(?:ays?)?", word.lower())
            if span:
                days = int(span.group(1))
                if days not in (7, 30):
                    raise UserError(
                        f"Results cover 7 or 30 days, not {days}.", hint="e.g. /results youtube 30d"
                    )
            else:
                words.append(word)
        platform = self._platform_word(" ".join(words))
        now = self.clock()
        span_td = timedelta(days=days)
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            current = await result_store.team_numbers(
                session, member.team_id, since=now - span_td, until=now, platform=platform
            )
            previous = await result_store.team_numbers(
                session, member.team_id, since=now - 2 * span_td, until=now - span_td, platform=platform
            )
        rows = []
        for info in platform_infos():
            now_posts = [p for p in current if p.platform is info.platform]
            then_posts = [p for p in previous if p.platform is info.platform]
            if not now_posts and not then_posts:
                continue
            read = [p for p in now_posts if p.views is not None or p.likes is not None]
            rows.append(
                PlatformResults(
                    platform=info.platform,
                    posts=len(now_posts),
                    views=sum(p.views or 0 for p in now_posts),
                    likes=sum(p.likes or 0 for p in now_posts),
                    comments=sum(p.comments or 0 for p in now_posts),
                    previous_posts=len(then_posts),
                    previous_views=sum(p.views or 0 for p in then_posts),
                    previous_likes=sum(p.likes or 0 for p in then_posts),
                    previous_comments=sum(p.comments or 0 for p in then_posts),
                    best=sorted(read, key=lambda p: (p.views or 0, p.likes or 0), reverse=True)[:3],
                    without_numbers=len(now_posts) - len(read),
                )
            )
        return ResultsReport(days=days, until=now, tz=member.zone, platforms=rows, posts=current)

    async def save_results_chart(self, report: ResultsReport) -> Path:
        """Draw ``report``'s chart (views per post and platform) into the data folder; its path."""
        from core.charts import png, views_figure

        folder = self.settings.data_dir / "charts"
        path = folder / f"results-{report.until:%Y%m%d-%H%M}-{report.days}d.png"

        def draw() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png(views_figure(report.posts, days=report.days, tz=report.tz)))

        # Drawing takes tens of milliseconds of CPU: off the event loop.
        await asyncio.to_thread(draw)
        return path
