"""Where media lives once a chat side hands it over: the media storage, under content keys.

Bytes are streamed into a scratch file on this machine and hashed as they arrive, so a 1 GiB upload
never sits in memory; the file is probed there, then handed to the storage backend (moved into the
local folder, or sent to the bucket as a multipart upload). The same video shared twice is stored
once. With a bucket the scratch copy stays in this process's folder as a cache for the validation
that follows (``MediaInfo.path``); ``trim_cache`` removes old copies.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.domain import MediaInfo
from core.errors import MediaError
from core.media.cache import MediaCache
from core.media.names import CONVERTED, converted_prefix, safe_filename
from core.media.probe import probe_file
from core.media.retention import MediaBlobs
from core.media.storage import LocalStorage, MediaStorage
from core.media.validation import size_text


class MediaSink:
    """Receives the bytes of one file; ``info`` is set when the ``receive`` block exits cleanly."""

    def __init__(
        self, path: Path, max_bytes: int | None, *, declared_bytes: int | None = None, name: str | None = None
    ) -> None:
        self._path = path
        self._fh = path.open("wb")
        self._hash = hashlib.sha256()
        self._max = max_bytes
        # What the chat announced: a stream that runs past it is cut there, whatever the platforms allow.
        self._declared = declared_bytes
        self._name = name or "The file"
        self.size = 0
        self.info: MediaInfo | None = None

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._declared is not None and self.size > self._declared:
            raise MediaError(
                f"{self._name} is larger than the {size_text(self._declared)} it was announced as, "
                "so postbot stopped reading it.",
                hint="Upload the video again.",
            )
        if self._max is not None and self.size > self._max:
            raise MediaError(
                f"The file is larger than {size_text(self._max)}, the most the chosen platforms accept."
            )
        self._hash.update(chunk)
        await asyncio.to_thread(self._fh.write, chunk)

    def close(self) -> None:
        self._fh.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class MediaStore:
    def __init__(
        self,
        root: Path,
        storage: MediaStorage | None = None,
        blobs: MediaBlobs | None = None,
        *,
        cache: MediaCache | None = None,
    ) -> None:
        # This machine's folder: scratch files, and the videos themselves with the local backend.
        self.root = root
        self.storage: MediaStorage = storage if storage is not None else LocalStorage(root)
        self.blobs = blobs
        # With a bucket, this machine's copies of videos (core/media/cache.py), shared with the worker.
        self.cache = cache if cache is not None else MediaCache(root / "cache")

    @asynccontextmanager
    async def receive(
        self,
        original_name: str | None = None,
        *,
        max_bytes: int | None = None,
        declared_bytes: int | None = None,
    ) -> AsyncIterator[MediaSink]:
        tmp_dir = self.root / "incoming"
        await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        # Stored and shown, and a path component later (the sandbox's copy): never the raw chat name.
        original_name = safe_filename(original_name) if original_name else None
        sink = MediaSink(tmp, max_bytes, declared_bytes=declared_bytes, name=original_name)
        try:
            yield sink
            sink.close()
            sink.info = await self._finish(tmp, sink.sha256, sink.size, original_name)
        finally:
            sink.close()
            if tmp.exists():
                tmp.unlink()

    async def import_file(self, path: str | Path, *, max_bytes: int | None = None) -> MediaInfo:
        """Copy a local file into the store (the console's --file)."""
        try:
            source = Path(path).expanduser()
            found = await asyncio.to_thread(source.is_file)
            folder = not found and await asyncio.to_thread(source.is_dir)
        except (OSError, ValueError):  # a NUL in the name, a name too long for the file system
            found = folder = False
        if not found:
            shown = "".join(ch if ch.isprintable() else "?" for ch in str(path)[:80])
            if folder:
                raise MediaError(
                    f"{shown} is a folder, not a video file.", hint="Give the video's own path with --file."
                )
            raise MediaError(f"No file at {shown}.", hint="Check the path given with --file.")
        async with self.receive(source.name, max_bytes=max_bytes) as sink:
            with source.open("rb") as fh:
                while chunk := await asyncio.to_thread(fh.read, 1024 * 1024):
                    await sink.write(chunk)
        assert sink.info is not None
        return sink.info

    async def store_image(self, data: bytes, mime: str) -> str:
        """Keep a small image (a YouTube thumbnail, checked by the caller) in the media storage where
        every worker reads it; returns its key. Images are not media_blobs: retention never takes one
        (a thumbnail is at most 2 MB and may wait for a post scheduled months ahead)."""
        digest = hashlib.sha256(data).hexdigest()
        key = f"images/{digest[:2]}/{digest}.{'png' if mime == 'image/png' else 'jpg'}"
        tmp_dir = self.root / "incoming"
        await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            await asyncio.to_thread(tmp.write_bytes, data)
            if not await self.storage.exists(key):
                await self.storage.put_file(key, tmp)
        finally:
            if tmp.exists():
                tmp.unlink()
        return key

    async def _finish(self, tmp: Path, digest: str, size: int, original_name: str | None) -> MediaInfo:
        if size == 0:
            raise MediaError("The file is empty.")
        facts = await asyncio.to_thread(probe_file, tmp)
        if facts.container is None:
            raise MediaError(
                f"{original_name or 'The file'} is not a video postbot can publish (it is {facts.a_kind}).",
                hint="Use an MP4 (H.264/AAC) or MOV file.",
            )
        key = f"{digest[:2]}/{digest}.{facts.container}"
        if self.blobs is not None:
            # Before looking for the object: retention must see this key as wanted from here on.
            await self.blobs.reference(key, size)
        local = self.storage.local_path(key)
        if local is None:
            # A bucket: upload unless it already holds these bytes, and keep the scratch file as
            # this machine's cached copy (validation reads it next).
            if not await self.storage.exists(key):
                await self.storage.put_file(key, tmp)
            local = await asyncio.to_thread(self.cache.keep, key, tmp)
            await self.cache.evict(keep=local)
        else:
            await self.storage.put_file(key, tmp)
        return MediaInfo(
            path=str(local),
            key=key,
            sha256=digest,
            size_bytes=size,
            mime=facts.mime,
            original_name=original_name,
            duration_s=facts.duration_s,
            width=facts.width,
            height=facts.height,
        )

    async def trim_cache(self, older_than_s: float) -> int:
        """Remove cached copies of bucket objects not touched for ``older_than_s``; returns how many.

        With a bucket, the conversions this machine made (``converted/``) are copies too: the store
        holds each output."""
        before = time.time() - older_than_s
        removed = await asyncio.to_thread(_trim, self.cache.root, before)
        if self.storage.local_path(CONVERTED) is None:
            removed += await asyncio.to_thread(_trim, self.root / CONVERTED, before)
        return removed

    async def forget_copies(self, keys: list[str]) -> int:
        """Remove this machine's copies of videos retention deleted, their conversions included."""
        if not keys or self.storage.local_path(keys[0]) is not None:
            return 0  # a local store: retention deleted the files themselves
        removed = await self.cache.forget(keys)

        def outputs() -> int:
            count = 0
            for key in keys:
                prefix = self.root / converted_prefix(key)
                for path in prefix.parent.glob(f"{prefix.name}*"):
                    path.unlink(missing_ok=True)
                    count += 1
            return count

        return removed + await asyncio.to_thread(outputs)


def _trim(folder: Path, before: float) -> int:
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_mtime < before:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
