"""The results report shared by `/results` in every chat, the weekly digest and the Home tab: per
platform the period's totals beside the period before, and the best posts with their links."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import (
    Platform,
    PlatformResults,
    PostNumbers,
    ResultsReport,
    did_you_mean,
    platform_from_alias,
)
from core.errors import UserError
from core.platforms import registry
from core.render import example_platform
from core.store import results as result_store
from core.store.posts import Viewer

PERIODS = (7, 30)
BEST_PER_PLATFORM = 3
_SPAN = re.compile(r"(\d{1,3})\s*d(?:ays?)?")


def _example() -> str:
    return f"/results {example_platform(registry.infos())} 30d"


def parse_results_args(text: str, *, example: str | None = None) -> tuple[int, list[str]]:
    """``[platform] [7d|30d]``: the period in days, and the words left (the platform, if any)."""
    days = PERIODS[0]
    words = []
    for word in text.split():
        span = _SPAN.fullmatch(word.lower())
        if span:
            days = int(span.group(1))
            if days not in PERIODS:
                raise UserError(
                    f"Results cover 7 or 30 days, not {days}.", hint=f"e.g. {example or _example()}"
                )
        else:
            words.append(word)
    return days, words


def platform_word(words: list[str], *, example: str | None = None) -> Platform | None:
    word = " ".join(words).strip()
    if not word or word.lower() in ("all", "everything"):
        return None
    platform = platform_from_alias(word)
    if platform is None:
        raise UserError(
            f"I don't know the platform {word[:40]!r}.{did_you_mean(word)}",
            hint=f"e.g. {example or _example()}",
        )
    return platform


def summarize(
    current: list[PostNumbers], previous: list[PostNumbers], *, days: int, until: datetime, tz: str
) -> ResultsReport:
    rows = []
    for info in registry.infos():
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
                best=sorted(read, key=lambda p: (p.views or 0, p.likes or 0), reverse=True)[
                    :BEST_PER_PLATFORM
                ],
                without_numbers=len(now_posts) - len(read),
            )
        )
    return ResultsReport(days=days, until=until, tz=tz, platforms=rows, posts=current)


async def build_report(
    session: AsyncSession,
    team_id: int,
    *,
    until: datetime,
    days: int,
    tz: str,
    platform: Platform | None = None,
    viewer: Viewer | None = None,
) -> ResultsReport:
    """The ``days`` before ``until`` against the ``days`` before those, for what ``viewer`` may see."""
    span = timedelta(days=days)
    current = await result_store.team_numbers(
        session, team_id, since=until - span, until=until, platform=platform, viewer=viewer
    )
    previous = await result_store.team_numbers(
        session, team_id, since=until - 2 * span, until=until - span, platform=platform, viewer=viewer
    )
    return summarize(current, previous, days=days, until=until, tz=tz)
