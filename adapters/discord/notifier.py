"""core.notify.Notifier for Discord: results to the origin channel, failures to the author's DMs."""

from __future__ import annotations

import io
import logging

import discord

from adapters.discord.embeds import CHART_NAME, result_embed, results_embed
from adapters.discord.replies import named
from core.domain import MessageRef, PostView, ResultsReport
from core.errors import ChannelUnreachable, ChatRateLimited, UserError
from core.render import failure_dm_text

log = logging.getLogger(__name__)

# "Cannot send messages to this user": the member closed DMs from server members or blocked the bot.
CANNOT_MESSAGE_USER = 50007
# https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes
# 10003 Unknown Channel (deleted), 50001 Missing Access (no View Channel), 50013 Missing Permissions
# (no Send Messages / Embed Links): the result can't be posted there, however often it is retried.
_UNREACHABLE = {10003, 50001, 50013}
# Each as the server's admins read it: what happened, and the permissions that bring the channel back.
# Discord does not say which permission a 50013 lacks; a digest needs all of these (docs/discord.md).
_DIGEST_NEEDS = "View Channel, Send Messages, Embed Links and Attach Files"
_WHY = {
    10003: ("the channel no longer exists (Unknown Channel)", ""),
    50001: (
        "postbot can't see the channel (Missing Access)",
        f"Give postbot's role {_DIGEST_NEEDS} in the channel's permissions",
    ),
    50013: (
        "postbot lacks a permission in the channel (Missing Permissions)",
        f"Give postbot's role {_DIGEST_NEEDS} in the channel's permissions",
    ),
}
_MENTION_AUTHOR_ONLY = discord.AllowedMentions(everyone=False, roles=False, users=True)


class DiscordNotifier:
    def __init__(self, client: discord.Client) -> None:
        self.client = client

    def _channel(self, channel_id: str) -> discord.PartialMessageable:
        # A partial channel needs no cache or GUILDS intent: only the id is used to post.
        return self.client.get_partial_messageable(int(channel_id))

    async def post_result(self, post: PostView) -> None:
        if not post.channel_id:
            log.warning("post has no origin channel", extra={"post_id": post.id})
            return
        try:
            await self._channel(post.channel_id).send(
                embed=result_embed(post), allowed_mentions=_MENTION_AUTHOR_ONLY
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            if exc.code in _UNREACHABLE:
                raise ChannelUnreachable(f"Discord: {exc.code} {exc.text}") from exc
            raise

    async def dm_failure(self, post: PostView) -> None:
        text = named(failure_dm_text(post))
        try:
            await self._send_dm(post.author_id, text)
        except discord.Forbidden as exc:
            if exc.code != CANNOT_MESSAGE_USER or not post.channel_id:
                raise
            log.info("author does not accept DMs, telling the channel", extra={"post_id": post.id})
            await self._channel(post.channel_id).send(
                f"<@{post.author_id}> I couldn't DM you about this:\n{text}"[:2000],
                allowed_mentions=_MENTION_AUTHOR_ONLY,
            )

    async def dm(self, team_id: str, user_id: str, text: str) -> None:
        # No channel fallback here: these DMs carry single-use account links meant for one person.
        # Core texts name commands as the console types them; named() says them as Discord has them.
        try:
            await self._send_dm(user_id, named(text))
        except discord.Forbidden as exc:
            if exc.code == CANNOT_MESSAGE_USER:
                raise UserError(
                    "I can't send you a direct message.",
                    hint="Allow direct messages from server members (Privacy Settings), then try again.",
                ) from exc
            raise

    async def say(self, team_id: str, channel_id: str, text: str) -> None:
        await self._channel(channel_id).send(
            named(text)[:2000], allowed_mentions=discord.AllowedMentions.none()
        )

    async def digest(self, team_id: str, channel_id: str, report: ResultsReport, chart: bytes | None) -> None:
        """The weekly digest: an embed with the numbers and the chart as its image, the PNG attached
        to the same message (multipart ``payload_json`` + ``files[0]``:
        https://discord.com/developers/docs/reference#uploading-files)."""
        embed = results_embed(report, digest=True)
        files: list[discord.File] = []
        if chart is not None:
            embed.set_image(url=f"attachment://{CHART_NAME}")
            files.append(discord.File(io.BytesIO(chart), filename=CHART_NAME))
        try:
            await self._channel(channel_id).send(
                embed=embed, files=files, allowed_mentions=discord.AllowedMentions.none()
            )
        except (discord.Forbidden, discord.NotFound) as exc:
            if exc.code in _UNREACHABLE:
                what, fix = _WHY[exc.code]
                raise ChannelUnreachable(f"Discord: {exc.code} {exc.text}", what=what, fix=fix) from exc
            raise

    async def progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        """Edit the post's progress message (PATCH /channels/{id}/messages/{id}, which only the
        author may do: https://discord.com/developers/docs/resources/message#edit-message), or send
        it as a reply to the scheduling answer. discord.py waits out what the rate-limit headers
        announce; a 429 it gives up on is the relay's to wait out (``ChatRateLimited``)."""
        try:
            return await self._progress(post, text, message, reply)
        except discord.RateLimited as exc:
            raise ChatRateLimited(exc.retry_after) from exc
        except discord.HTTPException as exc:
            if exc.status != 429:
                raise
            # https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit
            retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
            raise ChatRateLimited(float(retry_after or 1)) from exc

    async def _progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        content = text[:2000]
        if message is not None:
            partial = self._channel(message.channel_id).get_partial_message(int(message.message_id))
            await partial.edit(content=content, allowed_mentions=discord.AllowedMentions.none())
            return message
        channel = post.channel_id or (reply.channel_id if reply else None)
        if not channel:
            return None
        target = self._channel(channel)
        quiet = discord.AllowedMentions.none()
        if reply is not None and reply.channel_id == channel:
            # A deleted scheduling answer must not stop the progress message from being sent.
            reference = discord.MessageReference(
                message_id=int(reply.message_id), channel_id=int(channel), fail_if_not_exists=False
            )
            sent = await target.send(content, reference=reference, allowed_mentions=quiet)
        else:
            sent = await target.send(content, allowed_mentions=quiet)
        return MessageRef(channel, str(sent.id))

    async def _send_dm(self, user_id: str, text: str) -> None:
        channel = await self.client.create_dm(discord.Object(int(user_id)))
        await channel.send(text[:2000])
