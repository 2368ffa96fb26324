"""Live upload progress in chat: "uploading 45 %", "processing", "published: <link>".

A publisher reports through the one callback its ``PublishJob`` carries (``job.uploaded`` and
``job.processing``): a plain function call that only records the latest state, so the upload never
waits for chat. The relay turns those reports into chat messages under the reply that answered the
command: the first report creates the post's progress message, later ones edit it, at most once per
``interval_s`` per message; the final state (published, failed, will retry) always goes out.

Chat rate limits are per Slack workspace and per Discord channel, not per message: 40 uploads at once
in one workspace would ask chat.update for far more than its tier allows. So the calls that share a
limit go through one lane, one at a time and paced to the documented limit; a message waiting in its
lane holds only its newest state (intermediate ones are skipped, never queued up), final states go
first, and a 429 makes the lane wait what the chat asked and send again, so nothing is dropped for
rate limiting. Chat calls run in background tasks under a timeout, and one that fails otherwise (the
message was deleted) is logged and dropped: progress must never slow or fail a publish.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from core.domain import ChatKind, MessageRef, PostView
from core.errors import ChatRateLimited

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

# Slack limits chat.update per workspace (Tier 3, "50+ per minute", per method per workspace per app:
# https://docs.slack.dev/apis/web-api/rate-limits, https://docs.slack.dev/reference/methods/chat.update,
# read 6 December 2026); chat.postMessage, which creates the message, allows about one a second per
# channel. One call per 1.2 s per workspace stays within both.
SLACK_SECONDS_PER_CALL = 60 / 50
# Discord's limits are per route and per channel (the top-level resource), announced in each
# answer's X-RateLimit-* headers and "should not be hard coded"
# (https://discord.com/developers/docs/topics/rate-limits, read 6 December 2026): discord.py waits
# out what the headers announce, so a channel's calls only need to go one at a time.
DEFAULT_PACES: dict[ChatKind, float] = {ChatKind.SLACK: SLACK_SECONDS_PER_CALL, ChatKind.DISCORD: 0.0}


@dataclass
class _Message:
    post: PostView
    lane: tuple[str, str]
    ref: MessageRef | None = None
    reply_known: bool = False
    reply: MessageRef | None = None
    last_sent_at: float | None = None
    last_text: str | None = None
    latest: Progress | None = None
    # The newest text waiting for its lane (older ones it replaced are never sent).
    pending: str | None = None
    final: bool = False
    keep_for: int | None = None
    sending: bool = False


@dataclass
class _Lane:
    """The calls that share one chat rate limit (a Slack workspace, a Discord channel): one at a
    time, at most one per ``pace_s``, final states first, each message's newest state only."""

    pace_s: float
    finals: OrderedDict[int, _Message] = field(default_factory=OrderedDict)
    updates: OrderedDict[int, _Message] = field(default_factory=OrderedDict)
    ready_at: float = 0.0
    task: asyncio.Task[None] | None = None

    def queue(self, message: _Message) -> None:
        if message.final:
            self.updates.pop(message.post.id, None)
            self.finals[message.post.id] = message
        elif message.post.id not in self.finals:
            self.updates.setdefault(message.post.id, message)

    def take(self) -> _Message | None:
        for waiting in (self.finals, self.updates):
            if waiting:
                return waiting.popitem(last=False)[1]
        return None


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
        paces: Mapping[ChatKind, float] = DEFAULT_PACES,
    ) -> None:
        self.sink = sink
        self.replies = replies
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.monotonic = monotonic
        self.paces = dict(paces)
        self._messages: dict[int, _Message] = {}
        self._lanes: dict[tuple[str, str], _Lane] = {}
        # Progress messages of posts that will be retried, so the next attempt edits the same one.
        self._kept: OrderedDict[int, MessageRef] = OrderedDict()
        self._remembered = remembered
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _lane_of(post: PostView) -> tuple[str, str]:
        # Slack counts per workspace; Discord per channel (the message goes to the post's channel).
        if post.chat is ChatKind.DISCORD and post.channel_id:
            return (post.chat.value, f"channel:{post.channel_id}")
        return (post.chat.value, f"team:{post.team_id}")

    def reporter(self, post: PostView) -> ProgressCallback:
        """The callback for ``post``'s publish job."""
        message = _Message(post, self._lane_of(post), ref=self._kept.pop(post.id, None))
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
        progress = message.latest
        if progress is None:
            return
        now = self.monotonic()
        if message.last_sent_at is not None and now - message.last_sent_at < self.interval_s:
            return
        text = progress_text(message.post, progress)
        if text == (message.pending or message.last_text):
            return
        message.last_sent_at = now
        message.latest = None
        message.pending = text
        self._queue(message)

    def _queue(self, message: _Message) -> None:
        lane = self._lanes.get(message.lane)
        if lane is None:
            lane = self._lanes[message.lane] = _Lane(self.paces.get(message.post.chat, 0.0))
        lane.queue(message)
        if lane.task is None:
            lane.task = self._spawn(self._run_lane(message.lane, lane))

    def finish(self, post_id: int, progress: Progress) -> None:
        """The publish ended: its final state goes out (ahead of other posts' progress in its lane),
        if the post showed any progress."""
        message = self._messages.pop(post_id, None)
        if message is None or (message.last_text is None and message.pending is None and not message.sending):
            return  # nothing was shown: the result message is all chat needs
        message.pending = progress_text(message.post, progress)
        message.final = True
        message.keep_for = post_id if progress.stage is Stage.RETRYING else None
        self._queue(message)

    def forget(self, post_id: int) -> None:
        """The publish stopped without an outcome (cancelled, lease lost): no final state to show."""
        message = self._messages.pop(post_id, None)
        if message is not None and (lane := self._lanes.get(message.lane)) is not None:
            lane.updates.pop(post_id, None)

    async def _run_lane(self, key: tuple[str, str], lane: _Lane) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (message := lane.take()) is not None:
                text, message.pending = message.pending, None
                if text is None or text == message.last_text:
                    self._finished(message)
                    continue
                # Under way from here (a finish meanwhile must follow it up with the final state).
                message.sending = True
                try:
                    if (wait := lane.ready_at - loop.time()) > 0:
                        await asyncio.sleep(wait)
                    lane.ready_at = loop.time() + lane.pace_s
                    await self._send(message, text)
                except ChatRateLimited as limited:
                    # Not dropped: the lane waits as long as the chat asked, then sends the newest
                    # state of this message (a report may have replaced it meanwhile) first.
                    wait_s = limited.retry_after_s
                    log.info("progress rate limited", extra={"post_id": message.post.id, "wait_s": wait_s})
                    lane.ready_at = loop.time() + max(limited.retry_after_s, lane.pace_s)
                    message.pending = message.pending or text
                    waiting = lane.finals if message.final else lane.updates
                    waiting[message.post.id] = message
                    waiting.move_to_end(message.post.id, last=False)
                    continue
                finally:
                    message.sending = False
                self._finished(message)
        finally:
            lane.task = None
            # Anything still queued (the loop failed) starts a new run at the next report or finish.
            if not (lane.finals or lane.updates):
                self._lanes.pop(key, None)

    def _finished(self, message: _Message) -> None:
        if not message.final or message.pending is not None:
            return
        if message.keep_for is not None and message.ref is not None:
            self._kept[message.keep_for] = message.ref
            while len(self._kept) > self._remembered:
                self._kept.popitem(last=False)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, message: _Message, text: str) -> None:
        """One chat call; a failure other than a rate limit (the message was deleted, the chat is
        down) is logged and the state dropped: progress must never slow or fail a publish."""
        post = message.post
        try:
            async with asyncio.timeout(self.timeout_s):
                if not message.reply_known and self.replies is not None:
                    message.reply = await self.replies(post.id)
                message.reply_known = True
                ref = await self.sink.progress(post, text, message.ref, message.reply)
        except ChatRateLimited:
            raise
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

    async def drain(self, within_s: float | None = None) -> None:
        """Wait for the chat calls under way and queued (tests, and a graceful stop). A stop waits
        ``within_s`` at most: a paced lane with many final states queued would otherwise hold it
        for a minute; what is left is dropped, and said."""
        try:
            async with asyncio.timeout(within_s):
                while self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
        except TimeoutError:
            left = sum(len(lane.finals) + len(lane.updates) for lane in self._lanes.values())
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            log.warning("progress not shown before stopping", extra={"messages": left})
