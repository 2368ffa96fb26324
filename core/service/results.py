"""Results: ``/results`` (views, likes and comments per platform against the period before, the best
posts) and its chart; ``/digest``, the channel's weekly results digest (sent by
core/scheduler/digests.py).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from core.domain import WEEKDAYS, ChatContext, DigestOutcome, ResultsReport
from core.errors import UserError
from core.results_report import build_report, parse_results_args, platform_word
from core.service.base import ServiceBase
from core.store import digests, posts, teams

_TIME = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", re.ASCII)
DIGEST_EXAMPLE = "/digest monday 09:00"


def parse_digest_when(text: str) -> tuple[int, int]:
    """``monday 09:00`` (or ``mon 9am``, ``fridays 17:30``): the weekday (0 Monday) and the minute
    of the day. A bare hour ("9") is refused: 9 in the morning or the evening is the admin's to say."""
    words = text.lower().split()
    if len(words) != 2:
        raise UserError("Which day and time?", hint=f"e.g. {DIGEST_EXAMPLE}, or /digest off")
    day_word, time_word = words
    stem = day_word.rstrip("s")
    days = [i for i, name in enumerate(WEEKDAYS) if len(stem) >= 3 and name.lower().startswith(stem)]
    if len(days) != 1:
        raise UserError(f"{day_word!r} is not a day of the week.", hint=f"e.g. {DIGEST_EXAMPLE}")
    found = _TIME.fullmatch(time_word)
    if found is None or (found.group(2) is None and found.group(3) is None):
        raise UserError(f"{time_word!r} is not a time of day.", hint=f"e.g. {DIGEST_EXAMPLE} or monday 9am")
    hour, minute, half = int(found.group(1)), int(found.group(2) or 0), found.group(3)
    if half is not None:
        hour = hour % 12 + (12 if half == "pm" else 0) if 1 <= hour <= 12 else 99
    if hour > 23 or minute > 59:
        raise UserError(f"{time_word!r} is not a time of day.", hint=f"e.g. {DIGEST_EXAMPLE} or monday 9am")
    return days[0], hour * 60 + minute


class Results(ServiceBase):
    async def results(self, ctx: ChatContext, text: str = "") -> ResultsReport:
        """`/results [platform] [7d|30d]`: per platform the period's views, likes and comments beside
        the period before, and the best posts with their links (numbers from core/scheduler/results.py).
        Only posts ``ctx``'s user may see: from channels they are in, and their own
        (``ChatContext.visible_channels``)."""
        days, words = parse_results_args(text)
        platform = platform_word(words)
        now = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            viewer = posts.Viewer(member.user_id, ctx.visible_channels)
            return await build_report(
                session,
                member.team_id,
                until=now,
                days=days,
                tz=member.zone,
                platform=platform,
                viewer=viewer,
            )

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

    async def digest(self, ctx: ChatContext, text: str = "") -> DigestOutcome:
        """`/digest <day> <HH:MM>` (admins): a weekly results digest in this channel at that time in
        the team's zone, with the chart; `/digest off` stops it; `/digest` alone says what is set.
        Off until an admin sets it."""
        if not ctx.channel_id:
            raise UserError("A digest goes to a channel: run this in the channel that should get it.")
        words = text.strip()
        if words:
            self._check_admin(ctx, "set the weekly results digest")
        when = parse_digest_when(words) if words and words.lower() != "off" else None
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            if words.lower() == "off":
                await digests.clear_digest(session, member.team_id, ctx.channel_id)
                return DigestOutcome(None, changed=True)
            if when is not None:
                day, minute = when
                await digests.set_digest(
                    session,
                    member.team_id,
                    ctx.channel_id,
                    weekday=day,
                    minute=minute,
                    by=ctx.user_id,
                    now=self.clock(),
                )
            here = [
                d
                for d in await digests.team_digests(session, member.team_id)
                if d.channel_id == ctx.channel_id
            ]
        return DigestOutcome(here[0] if here else None, changed=when is not None)
