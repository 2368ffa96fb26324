"""core.notify.Notifier for Slack: results in the thread the post was scheduled from, failures and
account news as direct messages (``conversations.open`` then ``chat.postMessage``)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import digest_comment, result_blocks
from adapters.slack.blocks import message as message_layout
from adapters.slack.blocks import notice as notice_layout
from adapters.slack.home import HomeTabs
from adapters.slack.upload import share_file
from core.domain import MessageRef, PostView, ResultsReport
from core.errors import ChannelUnreachable, ChatRateLimited
from core.render import failure_dm_text, namespaced

log = logging.getLogger(__name__)

# chat.postMessage errors that no retry fixes (https://api.slack.com/methods/chat.postMessage#errors):
# the bot is not a member (it was removed), the channel is gone or archived.
_UNREACHABLE = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
# Each of them as the admins who can mend it read it: what happened, and what brings the channel back.
_WHY = {
    "not_in_channel": (
        "postbot is no longer a member of the channel",
        "Invite @postbot back (/invite @postbot there)",
    ),
    "is_archived": ("the channel is archived", "Unarchive it and invite @postbot back"),
    "channel_not_found": (
        "postbot can't find the channel: it was deleted, or it is private and postbot was removed from it",
        "If it still exists, invite @postbot to it",
    ),
    "restricted_action": (
        "the channel's posting permissions keep postbot from posting there",
        "Let apps and integrations post in it (the channel's settings, Posting permissions)",
    ),
}


def _unreachable(error: str) -> ChannelUnreachable:
    what, fix = _WHY.get(error, ("", ""))
    return ChannelUnreachable(f"Slack: {error}", what=what, fix=fix)


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, homes: HomeTabs | None = None) -> None:
        self.client = client
        # The Home tabs this process publishes: a result changes the workspace's "latest results".
        self.homes = homes
        # Progress edits go through a client that does not wait out a 429: a dropped progress edit
        # costs nothing (the next one or the final state replaces it), a delayed one only piles up.
        self._progress_client = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            session=client.session,
            retry_handlers=[],
        )

    async def post_result(self, post: PostView) -> None:
        if self.homes is not None:
            self.homes.changed(post.team_id)
        if not post.channel_id:
            log.warning("post has no origin channel", extra={"post_id": post.id})
            return
        text, blocks = result_blocks(post)
        try:
            await self.client.chat_postMessage(
                channel=post.channel_id,
                thread_ts=post.thread_id,
                text=text,
                blocks=blocks,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in _UNREACHABLE:
                raise _unreachable(error) from exc
            raise

    async def dm_failure(self, post: PostView) -> None:
        # It quotes the platform's error and the caption: escaped in full, channel-like text too.
        await self._dm(post.author_id, *message_layout(namespaced(failure_dm_text(post))))

    async def dm(self, team_id: str, user_id: str, text: str) -> None:
        # Core texts (alerts, link hints, digest notices) name commands as the console types them;
        # here they live under /postbot.
        await self._dm(user_id, *notice_layout(namespaced(text)))

    async def _dm(self, user_id: str, text: str, layout: list[dict[str, Any]]) -> None:
        opened = await self.client.conversations_open(users=user_id)
        channel = opened["channel"]["id"]
        await self.client.chat_postMessage(channel=channel, text=text, blocks=layout)

    async def say(self, team_id: str, channel_id: str, text: str) -> None:
        text, layout = notice_layout(namespaced(text))
        await self.client.chat_postMessage(channel=channel_id, text=text, blocks=layout)

    async def digest(self, team_id: str, channel_id: str, report: ResultsReport, chart: bytes | None) -> None:
        """The weekly digest: the chart shared in the channel with the numbers as its comment
        (adapters/slack/upload.py), or the numbers alone when there is nothing to draw."""
        try:
            if chart is None:
                await self.client.chat_postMessage(
                    channel=channel_id, text=digest_comment(report), unfurl_links=False
                )
                return
            await share_file(
                self.client,
                channel_id=channel_id,
                filename=f"postbot-results-{report.until:%Y-%m-%d}.png",
                title=f"Views per post, last {report.days} days",
                data=chart,
                initial_comment=digest_comment(report),
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in _UNREACHABLE:
                raise _unreachable(error) from exc
            raise

    async def progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        """Edit the post's progress message (``chat.update`` names it by channel and ts,
        https://api.slack.com/methods/chat.update), or post it in the thread of the scheduling reply.
        A 429 is the relay's to wait out (``ChatRateLimited``), not this call's."""
        try:
            return await self._progress(post, text, message, reply)
        except SlackApiError as exc:
            if exc.response.status_code != 429:
                raise
            # https://docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with Retry-After in seconds.
            retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
            raise ChatRateLimited(float(retry_after or 1)) from exc

    async def _progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        text, layout = message_layout(text)
        if message is not None:
            await self._progress_client.chat_update(
                channel=message.channel_id, ts=message.message_id, text=text, blocks=layout
            )
            return message
        channel = post.channel_id or (reply.channel_id if reply else None)
        if not channel:
            return None
        # Threads are one level deep: a reply that is itself in a thread is answered in that thread.
        thread = post.thread_id or (reply.message_id if reply and reply.channel_id == channel else None)
        sent = await self._progress_client.chat_postMessage(
            channel=channel, thread_ts=thread, text=text, blocks=layout, unfurl_links=False
        )
        return MessageRef(str(sent["channel"]), str(sent["ts"]))
