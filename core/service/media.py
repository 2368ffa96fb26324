"""Media the chats hand over: size limits checked before a download, streaming a video into the media
store, links and local files, videos shared earlier in a channel, postbot's signed ``/media/``
links, and the reply under which an upload shows its progress.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from core.domain import AttachedImage, ChatContext, MediaInfo, MessageRef, Platform, SharedFile
from core.errors import MediaError
from core.media import links, recent, validation
from core.media.storage import StoredMedia
from core.media.store import MediaSink
from core.platforms import registry
from core.platforms.options import Kind
from core.service.base import ServiceBase
from core.store import replies, teams


def split_url_flag(text: str) -> tuple[str, str | None]:
    """A command's ``--url <link>`` taken out: (the rest of the command, the link or None)."""
    return links.split_url_flag(text)


def first_link(text: str) -> str | None:
    """The first http(s) link in a chat message, where a video may be shared instead of attached."""
    return links.first_link(text)


# Read a little past the largest image any platform takes, so a bigger one is measured, not loaded.
_IMAGE_READ_CAP = max(
    (o.maximum or 0 for s in registry.SPECS for o in s.options if o.kind is Kind.IMAGE), default=0
)


def image_read_cap() -> int:
    """Bytes a chat needs to read of an attached image: one more than any platform takes, so an
    oversized one is measured (and refused saying its size) without loading all of it."""
    return _IMAGE_READ_CAP + 1


async def read_image(path: str) -> AttachedImage:
    """An image file on this machine (the console's ``--thumbnail``), read up to a byte past the
    largest size a platform takes, so an oversized one is refused without loading all of it."""
    source = Path(path).expanduser()

    def read() -> bytes:
        with source.open("rb") as fh:
            return fh.read(_IMAGE_READ_CAP + 1)

    try:
        data = await asyncio.to_thread(read)
    except (OSError, ValueError):
        shown = "".join(ch if ch.isprintable() else "?" for ch in path[:80])
        raise MediaError(f"No image at {shown}.", hint="Check the path given with --thumbnail.") from None
    return AttachedImage(name=source.name, data=data)


class Media(ServiceBase):
    async def fetch_link(self, link: str, platforms: tuple[Platform, ...]) -> MediaInfo:
        """The video behind a share link or https URL, streamed into the media store and capped by
        ``platforms``' size limits; a ``MediaError`` says why not (private address, sign-in, …)."""
        return await self.links.fetch(self.media, link, platforms)

    @staticmethod
    def check_size(size_bytes: int, platforms: tuple[Platform, ...]) -> None:
        """Refuse a file too big for one of ``platforms`` before fetching it."""
        problem = validation.oversize_message(size_bytes, platforms)
        if problem is not None:
            raise MediaError(problem)

    @staticmethod
    def upload_limit(platforms: tuple[Platform, ...]) -> int | None:
        """The most bytes every one of ``platforms`` accepts (None: no limit known)."""
        return validation.max_upload_bytes(platforms)

    @asynccontextmanager
    async def receive(
        self, name: str, *, max_bytes: int | None, declared_bytes: int | None = None
    ) -> AsyncIterator[MediaSink]:
        """Stream a video into the media store; ``sink.info`` describes it once the block ends. A
        stream longer than the chat's ``declared_bytes`` is cut there, whatever ``max_bytes`` allows."""
        async with self.media.receive(name, max_bytes=max_bytes, declared_bytes=declared_bytes) as sink:
            yield sink

    async def import_file(self, path: str | Path) -> MediaInfo:
        """A local file into the media store (the console's ``--file``)."""
        return await self.media.import_file(path)

    async def remember_video(self, ctx: ChatContext, file: SharedFile) -> bool:
        """Record a file shared in chat for a later command that carries none; False if not a video."""
        return await recent.remember(
            self.sessions,
            ctx,
            default_tz=self.settings.default_timezone,
            file_id=file.file_id,
            name=file.name,
            mimetype=file.mimetype,
            size_bytes=file.size_bytes,
            download_url=file.download_url,
            message_ts=file.message_ts,
            shared_at=file.shared_at,
        )

    async def latest_video(self, ctx: ChatContext, *, window: timedelta) -> SharedFile:
        """The newest video ``ctx``'s user shared in ``ctx``'s channel within ``window``."""
        return await recent.latest(self.sessions, ctx, window=window, now=self.clock())

    async def latest_videos(self, ctx: ChatContext, *, window: timedelta) -> list[SharedFile]:
        """The newest video ``ctx``'s user shared here and those shared with it (the same message or
        thread), oldest first: what ``/schedule next`` or ``--every`` schedules together."""
        return await recent.latest_group(self.sessions, ctx, window=window, now=self.clock())

    async def open_video(
        self, key: str, expires: str | None, sig: str | None, post: str | None = None
    ) -> StoredMedia | None:
        """The stored video behind one of postbot's signed ``/media/<key>`` links (handed to platforms
        that fetch the video by URL); None when the link is forged, altered or expired, or when it
        belongs to a post that is over."""
        if post is not None:
            return await self.post_links.open(key, expires, sig, post) if self.post_links else None
        if self._signer is None or not self._signer.check(key, expires, sig):
            return None
        return StoredMedia(self.media.storage, key)

    async def remember_reply(self, ctx: ChatContext, post_ids: list[int], reply: MessageRef) -> None:
        """Record the message that answered the command which queued ``post_ids``: their uploads
        show live progress under it."""
        if not post_ids:
            return
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            await replies.remember(session, member.team_id, post_ids, reply)

    async def reply_to(self, post_id: int) -> MessageRef | None:
        """The message that answered the command which queued ``post_id`` (see remember_reply)."""
        async with self.sessions() as session:
            return await replies.reply_to(session, post_id)
