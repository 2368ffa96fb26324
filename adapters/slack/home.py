"""postbot's Home tab in Slack: the team's week ahead by day, its linked accounts and their health, the
latest results. Published with ``views.publish`` when a member opens the tab (``app_home_opened``),
and again, at most once per ``slack.home_refresh_s`` per workspace, when a post of that workspace is
queued, moved, cancelled, published or fails while someone has the tab.

Slack keeps one Home view per member and app (https://api.slack.com/surfaces/app-home): there is no
"publish to everyone", so a change re-publishes it for each member who opened the tab lately
(``slack.home_recent_s``), one refresh at a time per workspace and within views.publish's rate
limit; anyone else gets a fresh one when they open it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import Blocks, escape, platform_results_text
from core.domain import ChatContext, HomeView, PostNumbers, PostStatus, PostView
from core.render import NAMESPACE, accounts_text, approved_note, local_time, namespaced

log = logging.getLogger(__name__)

# "An array of blocks ... Max of 100 blocks" and a section's text is at most 3000 characters
# (https://docs.slack.dev/reference/views/home-tab-views, https://api.slack.com/reference/block-kit/blocks#section).
MAX_HOME_BLOCKS = 100
_SECTION_TEXT = 3000
HOME_CALLBACK = "postbot_home"
# A section per platform in the results: with the week's 7 days, the accounts, the headers and the
# footer the tab stays well under its 100 blocks.
MAX_PLATFORM_SECTIONS = 12
# views.publish is a Tier 4 method, "100+ per minute" per workspace
# (https://docs.slack.dev/reference/methods/views.publish, https://docs.slack.dev/apis/web-api/rate-limits;
# read 2026-12-06): postbot keeps to the documented floor.
PUBLISH_PER_MINUTE = 100

# (team id, user id) → that member's context (zone, admin) for the facade.
ContextFor = Callable[[str, str], Awaitable[ChatContext]]


def _section(text: str) -> dict[str, Any]:
    if len(text) > _SECTION_TEXT:
        text = text[: _SECTION_TEXT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:_SECTION_TEXT]}]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _post_line(post: PostView) -> str:
    when = f"{post.run_at.astimezone(ZoneInfo(post.tz)):%H:%M}"
    caption = post.caption if len(post.caption) <= 60 else post.caption[:57] + "…"
    state = (
        " · *paused*" if post.paused else (" · publishing now" if post.status is PostStatus.RUNNING else "")
    )
    if post.status is PostStatus.AWAITING:
        state = " · *awaiting approval*"
    elif post.approved_by:
        # approved_note's mention is a control sequence; the rest of the line is escaped.
        state += f" · {approved_note(post)}"
    return f"• {when} · #{post.id} {post.platform.label} · {escape(caption)}{state}"


def _numbers(numbers: PostNumbers | None) -> str:
    """ " · 1,204 views · 87 likes" from the post's latest reading; "" before the first."""
    if numbers is None:
        return ""
    parts = [
        f"{value:,} {word}"
        for value, word in (
            (numbers.views, "views"),
            (numbers.likes, "likes"),
            (numbers.comments, "comments"),
        )
        if value is not None
    ]
    return "".join(f" · {p}" for p in parts)


def _result_line(post: PostView, numbers: PostNumbers | None = None) -> str:
    when = local_time(post.published_at or post.run_at, post.tz)
    if post.status is PostStatus.PUBLISHED:
        link = post.remote_url or post.remote_id or ""
        line = f"✅ #{post.id} {post.platform.label} · {when} · published {escape(link)}".rstrip()
        if post.approved_by:
            line += f" · {approved_note(post)}"
        return line + _numbers(numbers)
    return f"❌ #{post.id} {post.platform.label} · {when} · {escape(post.last_error or 'failed')}"


def home_view(view: HomeView, now: datetime) -> dict[str, Any]:
    """The Home tab view: ``type`` "home", at most 100 blocks whatever the queue holds."""
    blocks: Blocks = [_header("The week ahead")]
    if view.paused is None:
        blocks.append(_section(f"⏸ Publishing is paused for every platform (`/{NAMESPACE} resume`)."))
    elif view.paused:
        names = ", ".join(sorted(p.label for p in view.paused))
        blocks.append(_section(f"⏸ Paused: {names} (`/{NAMESPACE} resume`)."))
    for day in view.week:
        title = "Today" if day is view.week[0] else f"{day.day:%A}"
        lines = [_post_line(p) for p in day.posts] or ["_nothing scheduled_"]
        blocks.append(_section(f"*{title}, {day.day:%d %b}*\n" + "\n".join(lines)))
    if view.schedule:
        lines = [
            f"• <#{row.channel}> {row.platform.label}: "
            + (local_time(row.next_free[0], view.tz) if row.next_free else "no free slot ahead")
            for row in view.schedule
            if row.channel
        ]
        blocks += [{"type": "divider"}, _header("Next free slots"), _section("\n".join(lines))]
    blocks += [{"type": "divider"}, _header("Linked accounts")]
    if view.accounts is None:
        blocks.append(_section("Account linking is not set up on this bot."))
    else:
        blocks.append(_section(escape(namespaced(accounts_text(view.accounts, now=now)))))
    blocks += [{"type": "divider"}, _header("Latest results")]
    numbers: dict[int, PostNumbers] = {}
    if view.results is not None:
        numbers = {p.post_id: p for p in view.results.posts}
        # The week's totals per platform against the week before, with the best posts linked: the
        # numbers as of when the tab was drawn (it is drawn anew each time it is opened).
        for row in view.results.platforms[:MAX_PLATFORM_SECTIONS]:
            blocks.append(_section(platform_results_text(row)))
        if view.results.platforms:
            blocks.append(_context(f"Last {view.results.days} days against the {view.results.days} before"))
    lines = [_result_line(p, numbers.get(p.id)) for p in view.recent] or ["_nothing published or failed yet_"]
    blocks.append(_section("\n".join(lines)))
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Times in {view.tz} · updated {local_time(now, view.tz)} · "
                    f"`/schedule` to add a post, `/{NAMESPACE} help` for the rest",
                }
            ],
        }
    )
    return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks[:MAX_HOME_BLOCKS]}


class HomeTabs:
    """Publishes Home tabs: at once when a member opens it; on changes, one refresh at a time per
    workspace, at most once per ``min_interval_s``, for the members who opened the tab within
    ``recent_s`` only, and never faster than ``per_minute`` views.publish calls per workspace."""

    def __init__(
        self,
        client: AsyncWebClient,
        build: Callable[[ChatContext], Awaitable[HomeView]],
        context_for: ContextFor,
        *,
        min_interval_s: float,
        recent_s: float = 1800.0,
        per_minute: int = PUBLISH_PER_MINUTE,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self.build = build
        self.context_for = context_for
        self.min_interval_s = min_interval_s
        self.recent_s = recent_s
        self.per_minute = per_minute
        # Seconds on a monotonic scale; None: the event loop's (tests move their own).
        self.clock = clock
        # team → {user: when they last opened the tab (clock time)}, most recent last.
        self._viewers: dict[str, dict[str, float]] = {}
        self._last: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._runners: dict[str, asyncio.Task[None]] = {}
        # team → the clock times of its views.publish calls in the last minute.
        self._sent: dict[str, deque[float]] = {}

    def _now(self) -> float:
        return self.clock() if self.clock is not None else asyncio.get_running_loop().time()

    def recent_viewers(self, team_id: str) -> list[str]:
        """Who opened the tab lately, most recent first. Slack says when a tab is opened, never when
        it is left, so someone who opened it long ago is assumed gone: they get a fresh one when they
        open it again."""
        viewers = self._viewers.get(team_id, {})
        since = self._now() - self.recent_s
        for user in [u for u, at in viewers.items() if at < since]:
            del viewers[user]
        return list(reversed(viewers))

    async def opened(self, team_id: str, user_id: str) -> None:
        viewers = self._viewers.setdefault(team_id, {})
        viewers.pop(user_id, None)
        viewers[user_id] = self._now()
        await self._publish(team_id, user_id)

    def changed(self, team_id: str) -> None:
        """Something the tab shows changed for ``team_id``: refresh its recent viewers, at most once
        per ``min_interval_s``; changes in between, or during a refresh, share the next one."""
        if not self.recent_viewers(team_id):
            return
        self._dirty.add(team_id)
        if team_id not in self._runners:
            self._runners[team_id] = asyncio.create_task(self._refresh(team_id))

    async def _refresh(self, team_id: str) -> None:
        try:
            while team_id in self._dirty:
                wait = self._last.get(team_id, -1e9) + self.min_interval_s - self._now()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._dirty.discard(team_id)
                self._last[team_id] = self._now()
                for user_id in self.recent_viewers(team_id):
                    await self._publish(team_id, user_id)
        finally:
            self._runners.pop(team_id, None)

    async def _turn(self, team_id: str) -> None:
        """Wait until a views.publish call fits this workspace's minute (Slack's limits are per
        method, per workspace: https://docs.slack.dev/apis/web-api/rate-limits)."""
        sent = self._sent.setdefault(team_id, deque())
        while True:
            now = self._now()
            while sent and sent[0] <= now - 60:
                sent.popleft()
            if len(sent) < self.per_minute:
                sent.append(now)
                return
            await asyncio.sleep(sent[0] + 60 - now)

    async def _publish(self, team_id: str, user_id: str) -> None:
        try:
            ctx = await self.context_for(team_id, user_id)
            view = home_view(await self.build(ctx), datetime.now(UTC))
            await self._turn(team_id)
            await self.client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("publishing the Home tab failed", extra={"error": exc.response.get("error")})
        except Exception:
            log.exception("building the Home tab failed")

    async def close(self) -> None:
        for task in list(self._runners.values()):
            task.cancel()
        await asyncio.gather(*self._runners.values(), return_exceptions=True)
        self._runners.clear()
