"""Where stored videos live, behind one interface: a local folder or an S3-compatible bucket.

A video is stored once under a content-addressed key (``ab/abcdef….mp4``) and read back in byte
ranges, so a publisher sends a 1 GiB video chunk by chunk without any full copy on its machine.
Platforms that pull the video themselves (Instagram's ``video_url``, TikTok's ``PULL_FROM_URL``) get
an expiring URL from the store: presigned for S3, postbot's own signed ``/media/…`` URL for a folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

# Upload bodies are read in 2 MiB pieces (see core/media/chunks.py for what was measured).
STREAM_PIECE = 2 * 1024 * 1024


class MediaStorage(Protocol):
    """One backend. Keys are relative, ``/``-separated; a legacy absolute path is accepted by the
    local backend (rows written before the storage interface)."""

    name: str

    async def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` (the file may be moved: callers drop it after)."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def size(self, key: str) -> int: ...

    def stream(self, key: str, start: int, end: int, *, piece: int = STREAM_PIECE) -> AsyncIterator[bytes]:
        """Bytes ``[start, end)`` as they arrive, at most ``piece`` (about) at a time."""
        ...

    async def url(self, key: str, *, expires: timedelta) -> str:
        """A URL anyone holding it can GET the video from until ``expires`` has passed."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file on this machine, when the backend is a local folder."""
        ...

    async def check(self) -> None:
        """Raise when videos could not be stored now (``/health``): one cheap call, no video moved."""
        ...


@dataclass(frozen=True)
class StoredMedia:
    """One stored video as a publisher reads it."""

    storage: MediaStorage
    key: str

    async def size(self) -> int:
        return await self.storage.size(self.key)

    def stream(self, start: int, end: int, *, piece: int = STREAM_PIECE) -> AsyncIterator[bytes]:
        return self.storage.stream(self.key, start, end, piece=piece)

    async def read(self, start: int, end: int) -> bytes:
        return b"".join([data async for data in self.stream(start, end)])

    async def url(self, *, expires: timedelta = timedelta(hours=1)) -> str:
        return await self.storage.url(self.key, expires=expires)

    def local_path(self) -> Path | None:
        return self.storage.local_path(self.key)

    async def copy_to(self, dest: Path, progress: Callable[[int, int], None] | None = None) -> None:
        """Write the whole video to ``dest`` (the sandbox's "publish"), telling ``progress`` the bytes
        written so far and the size after each piece."""
        import asyncio

        size = await self.size()
        written = 0
        with dest.open("wb") as fh:
            async for data in self.stream(0, size):
                await asyncio.to_thread(fh.write, data)
                written += len(data)
                if progress is not None:
                    progress(written, size)
