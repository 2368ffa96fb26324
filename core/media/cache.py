"""This machine's copies of videos kept in a bucket: one download per video, a bounded folder.

With a bucket, publishing reads byte ranges and never needs a file; a file is needed only where a
local reader wants one: the probe and the converter of a video a platform takes only converted, and
the chat side's validation right after a video arrives. Those copies live here, under the video's
key (``<media>/cache/<aa>/<sha256>.<ext>``), and are shared by every process on the machine:

- **One download per video.** Posts of one video (one per platform, ten due together) wait for one
  download: in a process by sharing the in-flight download, between processes on the machine by a
  lock file beside the copy. Each download writes under a name of its own and is renamed into place
  only when complete, so nobody reads half a file and two downloads never pull a file from under
  each other. A failed download fails every waiter with the same error.
- **Bounded.** Past ``max_bytes`` the least recently used copies go (a copy is "used" when it is
  asked for: its modification time is bumped). Copies used in the last ``busy_s`` stay, whatever
  the size: a converter in another process may be about to open one.
- **Cleared with its source.** Retention forgets a video's copy when it deletes the video.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from core import metrics
from core.media.storage import MediaStorage, StoredMedia

log = logging.getLogger(__name__)

_LOCKS = ".locks"
# How often a process waiting for another process's download looks again.
_LOCK_POLL_S = 0.05


class MediaCache:
    def __init__(self, root: Path, *, max_bytes: int | None = None, busy_s: float = 60.0) -> None:
        self.root = root
        # None: no limit (the age-based trim still applies).
        self.max_bytes = max_bytes
        self.busy_s = busy_s
        self._inflight: dict[str, asyncio.Future[Path]] = {}

    def path_for(self, key: str) -> Path:
        return self.root / key

    def _lock_path(self, key: str) -> Path:
        return self.root / _LOCKS / key.replace("/", "_")

    async def fetch(self, storage: MediaStorage, key: str) -> Path:
        """The video at ``key`` as a file on this machine, downloaded once however many ask."""
        running = self._inflight.get(key)
        if running is None:
            # Registered before anything is awaited, so every post asking meanwhile shares it.
            running = asyncio.ensure_future(self._download(storage, key, self.path_for(key)))
            self._inflight[key] = running
            running.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: one waiter cancelled (its lease lost) must not abort the others' download.
        return await asyncio.shield(running)

    def _settled(self, key: str, done: asyncio.Future[Path]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            # Retrieved here so a failure every waiter gave up on is not reported as unhandled.
            done.exception()

    async def _download(self, storage: MediaStorage, key: str, local: Path) -> Path:
        if await asyncio.to_thread(_touch, local):
            return local
        async with self._machine_lock(key):
            # Another process on this machine may have fetched it while we waited for the lock.
            if not await asyncio.to_thread(_touch, local):
                await asyncio.to_thread(local.parent.mkdir, parents=True, exist_ok=True)
                part = local.with_name(f".{local.name}.{uuid.uuid4().hex}.part")
                try:
                    await StoredMedia(storage, key).copy_to(part)
                    metrics.MEDIA_CACHE_DOWNLOADS.inc()
                    await asyncio.to_thread(os.replace, part, local)
                finally:
                    await asyncio.to_thread(part.unlink, missing_ok=True)
                log.info("video cached", extra={"key": key})
        await self.evict(keep=local)
        return local

    @contextlib.asynccontextmanager
    async def _machine_lock(self, key: str) -> AsyncIterator[None]:
        lock_path = self._lock_path(key)
        await asyncio.to_thread(lock_path.parent.mkdir, parents=True, exist_ok=True)
        fd = await asyncio.to_thread(os.open, lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            # Polled without blocking: a thread stuck in flock could not be cancelled with the task.
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                await asyncio.sleep(_LOCK_POLL_S)
            yield
        finally:
            os.close(fd)  # releases the lock

    def keep(self, key: str, file: Path) -> Path:
        """Move a complete ``file`` (a video just received) in as the copy of ``key``. Blocking."""
        local = self.path_for(key)
        local.parent.mkdir(parents=True, exist_ok=True)
        file.replace(local)
        return local

    async def evict(self, *, keep: Path | None = None) -> int:
        """Remove least recently used copies until the folder is within ``max_bytes``."""
        if self.max_bytes is None:
            return 0
        limit = self.max_bytes
        busy = {self.path_for(k) for k in self._inflight}
        if keep is not None:
            busy.add(keep)
        return await asyncio.to_thread(_evict, self.root, limit, busy, time.time() - self.busy_s)

    async def forget(self, keys: list[str]) -> int:
        """Remove the copies of ``keys`` (retention deleted the videos); returns how many were here."""

        def remove() -> int:
            removed = 0
            for key in keys:
                path = self.path_for(key)
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed += 1
                self._lock_path(key).unlink(missing_ok=True)
            return removed

        return await asyncio.to_thread(remove)

    async def size(self) -> int:
        return sum(size for _, size, _ in await asyncio.to_thread(_copies, self.root))


def _touch(path: Path) -> bool:
    """Mark a copy as used now; False when there is none."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def _copies(root: Path) -> list[tuple[float, int, Path]]:
    """(last use, size, path) of every complete copy under ``root``."""
    found = []
    if not root.is_dir():
        return []
    for path in root.rglob("*"):
        if path.name.startswith(".") or _LOCKS in path.parts:
            continue  # a download in progress, or the lock files
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if path.is_file():
            found.append((stat.st_mtime, stat.st_size, path))
    return found


def _evict(root: Path, limit: int, busy: set[Path], recent: float) -> int:
    copies = sorted(_copies(root))
    total = sum(size for _, size, _ in copies)
    removed = 0
    for used, size, path in copies:
        if total <= limit:
            break
        if path in busy or used >= recent:
            continue
        path.unlink(missing_ok=True)
        total -= size
        removed += 1
    if removed:
        log.info("cached videos evicted", extra={"count": removed, "cache_bytes": total})
    return removed
