"""How outcomes reach people. Each chat adapter implements ``Notifier``; the core only calls it."""

from __future__ import annotations

from typing import Protocol

from core.domain import ChatKind, MessageRef, PostView, ResultsReport


class ResultNotifier(Protocol):
    """What the scheduler needs: telling chat how a post ended."""

    async def post_result(self, post: PostView) -> None:
        """Tell the origin channel/thread that a post published (with its link) or failed for good."""

    async def dm_failure(self, post: PostView) -> None:
        """Tell the author privately that their post failed, why, and what to do."""


class Notifier(ResultNotifier, Protocol):
    """What a chat adapter implements."""

    async def dm(self, team_id: str, user_id: str, text: str) -> None:
        """A direct message to one user (OAuth links, 'linked as @name')."""

    async def say(self, team_id: str, channel_id: str, text: str) -> None:
        """A message in a channel (alerts to the ops channel)."""

    async def progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        """Show an upload's progress: edit ``message`` with ``text``, or with no message yet, post
        one under ``reply`` (the answer to the command that queued the post) or in the post's
        channel. Returns the message to edit next time (None: nothing to edit)."""

    async def digest(self, team_id: str, channel_id: str, report: ResultsReport, chart: bytes | None) -> None:
        """The weekly results digest in a channel, with the chart (a PNG) when there is one. Raises
        ``ChannelUnreachable`` when the chat refuses the channel for good."""


class NoNotifier(LookupError):
    pass


class NotifierRouter:
    """Sends each post's news to the chat it came from."""

    def __init__(self, notifiers: dict[ChatKind, Notifier] | None = None) -> None:
        self._by_chat: dict[ChatKind, Notifier] = dict(notifiers or {})

    def register(self, chat: ChatKind, notifier: Notifier) -> None:
        self._by_chat[chat] = notifier

    def reaches(self, chat: ChatKind) -> bool:
        """Whether this process can send to ``chat``."""
        return chat in self._by_chat

    def _for(self, chat: ChatKind) -> Notifier:
        notifier = self._by_chat.get(chat)
        if notifier is None:
            # Raising (not skipping) leaves the post un-notified, so the scheduler's renotify pass
            # delivers it once a process that can reach this chat runs, instead of dropping it.
            raise NoNotifier(f"this process has no {chat.value} notifier configured")
        return notifier

    async def post_result(self, post: PostView) -> None:
        await self._for(post.chat).post_result(post)

    async def dm_failure(self, post: PostView) -> None:
        await self._for(post.chat).dm_failure(post)

    async def dm(self, chat: ChatKind, team_id: str, user_id: str, text: str) -> None:
        await self._for(chat).dm(team_id, user_id, text)

    async def say(self, chat: ChatKind, team_id: str, channel_id: str, text: str) -> None:
        await self._for(chat).say(team_id, channel_id, text)

    async def progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None:
        return await self._for(post.chat).progress(post, text, message, reply)

    async def digest(
        self, chat: ChatKind, team_id: str, channel_id: str, report: ResultsReport, chart: bytes | None
    ) -> None:
        await self._for(chat).digest(team_id, channel_id, report, chart)
