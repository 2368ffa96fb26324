"""The embedded default: videos in a folder on this machine (``data/media``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from core.errors import ConfigError
from core.media.chunks import stream_range
from core.media.storage.base import STREAM_PIECE
from core.media.storage.signing import UrlSigner


class LocalStorage:
    name = "local"

    def __init__(self, root: Path, *, signer: UrlSigner | None = None) -> None:
        self.root = root
        self.signer = signer

    def path(self, key: str) -> Path:
        # An absolute key (rows from before keys were relative) replaces the root: pathlib's join.
        return self.root / key

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    async def put_file(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._put, self.path(key), path)

    @staticmethod
    def _put(target: Path, source: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            # Content-addressed: the same bytes are already there.
            source.unlink(missing_ok=True)
            return
        try:
            os.replace(source, target)
        except OSError:
            # Another file system (the incoming folder mounted elsewhere): copy, then swap in.
            part = target.with_suffix(target.suffix + ".part")
            shutil.copyfile(source, part)
            os.replace(part, target)
            source.unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def size(self, key: str) -> int:
        return (await asyncio.to_thread(self.path(key).stat)).st_size

    def stream(self, key: str, start: int, end: int, *, piece: int = STREAM_PIECE) -> AsyncIterator[bytes]:
        return stream_range(self.path(key), start, end, piece=piece)

    async def url(self, key: str, *, expires: timedelta) -> str:
        if self.signer is None:
            raise ConfigError(
                "config error: a platform that fetches the video by URL needs web.public_url and "
                'POSTBOT_SECRET_KEY (postbot signs /media/ links with it), or media.backend = "s3"'
            )
        return self.signer.url(key, expires=expires)

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        # Writable, not merely present: a read-only remount or a full disk fails here, not in a post.
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".health-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            probe.write_bytes(b"ok")
        finally:
            probe.unlink(missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)
