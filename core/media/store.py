"""Where media lives once a chat side hands it over: content-addressed files under data/media.

Bytes are streamed in and hashed as they arrive, so a 1 GiB upload never sits in memory, and the
same video shared twice is stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.domain import MediaInfo
from core.errors import MediaError
from core.media.probe import probe_file


class MediaSink:
    """Receives the bytes of one file; ``info`` is set when the ``receive`` block exits cleanly."""

    def __init__(self, path: Path, max_bytes: int | None) -> None:
        self._path = path
        self._fh = path.open("wb")
        self._hash = hashlib.sha256()
        self._max = max_bytes
        self.size = 0
        self.info: MediaInfo | None = None

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max is not None and self.size > self._max:
            limit_mb = self._max // (1024 * 1024)
            raise MediaError(f"The file is larger than {limit_mb} MB, the most the chosen platforms accept.")
        self._hash.update(chunk)
        await asyncio.to_thread(self._fh.write, chunk)

    def close(self) -> None:
        self._fh.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @asynccontextmanager
    async def receive(
        self, original_name: str | None = None, *, max_bytes: int | None = None
    ) -> AsyncIterator[MediaSink]:
        tmp_dir = self.root / "incoming"
        await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        sink = MediaSink(tmp, max_bytes)
        try:
            yield sink
            sink.close()
            sink.info = await asyncio.to_thread(self._finish, tmp, sink.sha256, sink.size, original_name)
        finally:
            sink.close()
            if tmp.exists():
                tmp.unlink()

    async def import_file(self, path: str | Path, *, max_bytes: int | None = None) -> MediaInfo:
        """Copy a local file into the store (the console's --file)."""
        source = Path(path).expanduser()
        if not await asyncio.to_thread(source.is_file):
            raise MediaError(f"No file at {source}.", hint="Check the path given with --file.")
        async with self.receive(source.name, max_bytes=max_bytes) as sink:
            with source.open("rb") as fh:
                while chunk := await asyncio.to_thread(fh.read, 1024 * 1024):
                    await sink.write(chunk)
        assert sink.info is not None
        return sink.info

    def _finish(self, tmp: Path, digest: str, size: int, original_name: str | None) -> MediaInfo:
        if size == 0:
            raise MediaError("The file is empty.")
        facts = probe_file(tmp)
        if facts.container is None:
            raise MediaError(
                f"{original_name or 'The file'} is not a video postbot can publish (it is a {facts.kind}).",
                hint="Use an MP4 (H.264/AAC) or MOV file.",
            )
        target = self.root / digest[:2] / f"{digest}.{facts.container}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()
        else:
            os.replace(tmp, target)
        return MediaInfo(
            path=str(target),
            sha256=digest,
            size_bytes=size,
            mime=facts.mime,
            original_name=original_name,
            duration_s=facts.duration_s,
            width=facts.width,
            height=facts.height,
        )

    def copy_out(self, media: MediaInfo, dest: Path) -> None:
        shutil.copyfile(media.path, dest)
