"""postbot's Home tab in Slack: the team's week ahead by day, its linked accounts and their health, the
latest results. Published with ``views.publish`` when a member opens the tab (``app_home_opened``),
and again, at most once per ``slack.home_refresh_s`` per workspace, when a post of that workspace is
queued, moved, cancelled, published or fails while someone has the tab.

Slack keeps one Home view per member and app (https://api.slack.com/surfaces/app-home): there is no
"publish to everyone", so a change re-publishes it for each member who opened the tab since this
process started; a member who opens it later gets a fresh one then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import Blocks, escape
from core.domain import ChatContext, HomeView, PostStatus, PostView
from core.render import NAMESPACE, accounts_text, local_time, namespaced

log = logging.getLogger(__name__)

# "An array of blocks ... Max of 100 blocks" and a section's text is at most 3000 characters
# (https://docs.slack.dev/reference/views/home-tab-views, https://api.slack.com/reference/block-kit/blocks#section).
MAX_HOME_BLOCKS = 100
_SECTION_TEXT = 3000
HOME_CALLBACK = "postbot_home"

# (team id, user id) → that member's context (zone, admin) for the facade.
ContextFor = Callable[[str, str], Awaitable[ChatContext]]


def _section(text: str) -> dict[str, Any]:
    if len(text) > _SECTION_TEXT:
        text = text[: _SECTION_TEXT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _post_line(post: PostView) -> str:
    when = f"{post.run_at.astimezone(ZoneInfo(post.tz)):%H:%M}"
    caption = post.caption if len(post.caption) <= 60 else post.caption[:57] + "…"
    state = (
        " · *paused*" if post.paused else (" · publishing now" if post.status is PostStatus.RUNNING else "")
    )
    return f"• {when} · #{post.id} {post.platform.label} · {escape(caption)}{state}"


def _result_line(post: PostView) -> str:
    when = local_time(post.published_at or post.run_at, post.tz)
    if post.status is PostStatus.PUBLISHED:
        link = post.remote_url or post.remote_id or ""
        return f"✅ #{post.id} {post.platform.label} · {when} · published {escape(link)}".rstrip()
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
    blocks += [{"type": "divider"}, _header("Linked accounts")]
    if view.accounts is None:
        blocks.append(_section("Account linking is not set up on this bot."))
    else:
        blocks.append(_section(escape(namespaced(accounts_text(view.accounts, now=now)))))
    blocks += [{"type": "divider"}, _header("Latest results")]
    lines = [_result_line(p) for p in view.recent] or ["_nothing published or failed yet_"]
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
    """Publishes Home tabs: at once when a member opens it, throttled per workspace on changes."""

    def __init__(
        self,
        client: AsyncWebClient,
        build: Callable[[ChatContext], Awaitable[HomeView]],
        context_for: ContextFor,
        *,
        min_interval_s: float,
    ) -> None:
        self.client = client
        self.build = build
        self.context_for = context_for
        self.min_interval_s = min_interval_s
        self._viewers: dict[str, set[str]] = {}
        self._last: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}

    async def opened(self, team_id: str, user_id: str) -> None:
        self._viewers.setdefault(team_id, set()).add(user_id)
        await self._publish(team_id, user_id)

    def changed(self, team_id: str) -> None:
        """Something the tab shows changed for ``team_id``: refresh its viewers, at most once per
        ``min_interval_s``; changes in between share the next refresh."""
        if not self._viewers.get(team_id) or team_id in self._pending:
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last.get(team_id, -1e9) + self.min_interval_s - loop.time())
        self._pending[team_id] = asyncio.create_task(self._refresh(team_id, wait))

    async def _refresh(self, team_id: str, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
        finally:
            self._pending.pop(team_id, None)
        self._last[team_id] = asyncio.get_running_loop().time()
        for user_id in sorted(self._viewers.get(team_id, ())):
            await self._publish(team_id, user_id)

    async def _publish(self, team_id: str, user_id: str) -> None:
        try:
            ctx = await self.context_for(team_id, user_id)
            view = home_view(await self.build(ctx), datetime.now(UTC))
            await self.client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("publishing the Home tab failed", extra={"error": exc.response.get("error")})
        except Exception:
            log.exception("building the Home tab failed")

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        await asyncio.gather(*self._pending.values(), return_exceptions=True)
        self._pending.clear()
