"""Live upload progress in chat: "uploading 45 %", "processing", "published: <link>".

A publisher reports through the one callback its ``PublishJob`` carries (``job.uploaded`` and
``job.processing``): a plain function call that only records the latest state, so the upload never
waits for chat. The relay turns those reports into chat messages under the reply that answered the
command: the first report creates the post's progress message, later ones edit it, at most once per
``interval_s`` per message; the final state (published, failed, will retry) always goes out. Chat
calls run in background tasks under a timeout, and one that fails (the message was deleted, the chat
answered 429) is logged and dropped: progress must never slow or fail a publish.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from core.domain import MessageRef, PostView

log = logging.getLogger(__name__)


class Stage(enum.StrEnum):
    UPLOADING = "uploading"
    PROCESSING = "processing"
    PUBLISHED = "published"
    FAILED = "failed"
    RETRYING = "retrying"


_FINAL = {Stage.PUBLISHED, Stage.FAILED, Stage.RETRYING}


@dataclass(frozen=True)
class Progress:
    stage: Stage
    sent: int | None = None
    total: int | None = None
    url: str | None = None
    detail: str | None = None

    @property
    def final(self) -> bool:
        return self.stage in _FINAL

    @property
    def percent(self) -> int | None:
        if self.sent is None or not self.total:
            return None
        # Floored: "100 %" only once every byte is out.
        return max(0, min(100, self.sent * 100 // self.total))


ProgressCallback = Callable[[Progress], None]


def progress_text(post: PostView, progress: Progress) -> str:
    """The one line chat shows for ``post`` at ``progress``."""
    head = f"{post.platform.label} #{post.id}"
    stage = progress.stage
    if stage is Stage.UPLOADING:
        percent = progress.percent
        return f"{head}: uploading {percent} %" if percent is not None else f"{head}: uploading"
    if stage is Stage.PROCESSING:
        return f"{head}: processing" + (f" ({progress.detail})" if progress.detail else "")
    if stage is Stage.PUBLISHED:
        return f"{head}: published: {progress.url}" if progress.url else f"{head}: published"
    if stage is Stage.RETRYING:
        return f"{head}: interrupted, will retry" + (f": {progress.detail}" if progress.detail else "")
    return f"{head}: failed" + (f": {progress.detail}" if progress.detail else "")


class ProgressSink(Protocol):
    """Where progress messages go: core.notify.NotifierRouter in the bot."""

    async def progress(
        self, post: PostView, text: str, message: MessageRef | None, reply: MessageRef | None
    ) -> MessageRef | None: ...


ReplyLookup = Callable[[int], Awaitable[MessageRef | None]]


@dataclass
class _Message:
    post: PostView
    ref: MessageRef | None = None
    reply_known: bool = False
    reply: MessageRef | None = None
    last_sent_at: float | None = None
    last_text: str | None = None
    latest: Progress | None = None
    sending: asyncio.Task[None] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class ProgressRelay:
    def __init__(
        self,
        sink: ProgressSink,
        *,
        replies: ReplyLookup | None = None,
        interval_s: float = 5.0,
        timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        remembered: int = 1000,
    ) -> None:
        self.sink = sink
        self.replies = replies
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.monotonic = monotonic
        self._messages: dict[int, _Message] = {}
        # Progress messages of posts that will be retried, so the next attempt edits the same one.
        self._kept: OrderedDict[int, MessageRef] = OrderedDict()
        self._remembered = remembered
        self._tasks: set[asyncio.Task[None]] = set()

    def reporter(self, post: PostView) -> ProgressCallback:
        """The callback for ``post``'s publish job."""
        message = _Message(post, ref=self._kept.pop(post.id, None))
        self._messages[post.id] = message

        def report(progress: Progress) -> None:
            if self._messages.get(post.id) is not message or progress.final:
                return
            message.latest = progress
            try:
                self._pump(message)
            except Exception:
                # A bug here must not fail the upload that reported.
                log.exception("progress report failed", extra={"post_id": post.id})

        return report

    def _pump(self, message: _Message) -> None:
        if message.sending is not None and not message.sending.done():
            return  # one chat call per message at a time; the next report sends the latest state
        progress = message.latest
        if progress is None:
            return
        now = self.monotonic()
        if message.last_sent_at is not None and now - message.last_sent_at < self.interval_s:
            return
        text = progress_text(message.post, progress)
        if text == message.last_text:
            return
        message.last_sent_at = now
        message.latest = None
        message.sending = self._spawn(self._send(message, text))

    def finish(self, post_id: int, progress: Progress) -> None:
        """The publish ended: its final state goes out now, if the post showed any progress."""
        message = self._messages.pop(post_id, None)
        if message is None or (message.last_text is None and message.sending is None):
            return  # nothing was shown: the result message is all chat needs
        text = progress_text(message.post, progress)
        keep = post_id if progress.stage is Stage.RETRYING else None
        self._spawn(self._send_final(message, text, keep))

    def forget(self, post_id: int) -> None:
        """The publish stopped without an outcome (cancelled, lease lost): no final state to show."""
        self._messages.pop(post_id, None)

    async def _send_final(self, message: _Message, text: str, keep_for: int | None) -> None:
        if message.sending is not None:
            await asyncio.gather(message.sending, return_exceptions=True)
        if text != message.last_text:
            await self._send(message, text)
        if keep_for is not None and message.ref is not None:
            self._kept[keep_for] = message.ref
            while len(self._kept) > self._remembered:
                self._kept.popitem(last=False)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, message: _Message, text: str) -> None:
        post = message.post
        try:
            async with asyncio.timeout(self.timeout_s):
                if not message.reply_known and self.replies is not None:
                    message.reply = await self.replies(post.id)
                message.reply_known = True
                ref = await self.sink.progress(post, text, message.ref, message.reply)
        except LookupError:
            # No chat client in this process (core.notify.NoNotifier): nobody to show it to here.
            log.debug("no chat for progress in this process", extra={"post_id": post.id})
            return
        except Exception as exc:
            log.warning(
                "progress message dropped",
                extra={"post_id": post.id, "error": f"{type(exc).__name__}: {exc}"[:300]},
            )
            return
        message.last_text = text
        if ref is not None:
            message.ref = ref

    async def drain(self) -> None:
        """Wait for the chat calls under way (tests, and a graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
