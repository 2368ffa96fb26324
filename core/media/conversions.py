"""Conversions run in a small pool of low-priority processes, each output made once and shared.

An output is stored in the media storage under ``converted/<aa>/<source sha256>.<target key>.mp4``
(``converted_key``), beside its source: in the local folder that is ``<media>/converted/…``, with a
bucket it is an object every worker on every machine reads. The same source converted to the same
target is one output, whichever platform asked for it first and in whichever process (the chat side
that queued the post, or the worker that publishes it): a process that finds it in the store uses it,
one that does not converts on its machine (a lock file keeps two processes there from doing the work
twice) and puts the result in the store. A file at the output's name is always complete, since it is
renamed into place only when written, so a post can never be published from half a conversion.

Retention (core/media/retention.py) deletes a source's outputs together with the source.

``start`` begins a conversion right after a post is queued; ``ensure`` waits for it (starting it if
nothing did, after a restart say) when the post falls due.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.domain import MediaInfo
from core.media.convert import Target, convert
from core.media.names import converted_key
from core.media.retention import MediaBlobs
from core.media.storage import LocalStorage, MediaStorage

log = logging.getLogger(__name__)

# Seconds of work per second of 1080p30 video for one worker: bench/media.py measured 57 s for a 60 s
# clip (x264 veryfast, 10-bit in, 8-bit out) on this project's 2-core machine under a load average of
# 7; other sizes scale by pixels per second. A remux moves bytes at roughly disk speed (219 MiB/s in
# the same run). Estimates for the scheduling reply, not promises.
_TRANSCODE_S_PER_1080P_S = 1.0
_REMUX_BYTES_PER_S = 200e6
_PIXELS_1080P30 = 1920 * 1080 * 30


def estimate_seconds(
    target: Target, *, size_bytes: int, duration_s: float | None, pixel_rate: float
) -> float:
    """Roughly how long converting a file takes (``pixel_rate``: output width x height x fps)."""
    if target.method == "remux":
        return max(1.0, size_bytes / _REMUX_BYTES_PER_S)
    seconds = (duration_s or 60.0) * _TRANSCODE_S_PER_1080P_S * max(0.1, pixel_rate / _PIXELS_1080P30)
    return max(1.0, seconds)


def _lower_priority(niceness: int) -> None:
    # Conversions must never slow the bot's replies or the uploads: they get what CPU is left.
    os.nice(niceness)


def _convert_once(source: str, dest: str, target: Target) -> str:
    """In a pool process: convert unless another process already did (or is doing) it."""
    out = Path(dest)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.exists():
            convert(source, out, target)
    return dest


@dataclass(frozen=True)
class Conversion:
    """A conversion a scheduling command started: for which platforms (values), why, how long."""

    target: Target
    platforms: tuple[str, ...]
    estimate_s: float
    reasons: tuple[str, ...] = ()


class Converter:
    def __init__(
        self,
        root: Path,
        *,
        workers: int = 1,
        niceness: int = 10,
        storage: MediaStorage | None = None,
        blobs: MediaBlobs | None = None,
    ) -> None:
        # This machine's folder for outputs being made (and, with a bucket, the copies it made).
        self.root = root
        # Where outputs are shared; None: the folder ``root`` sits in (``root`` is ``<media>/converted``).
        self.storage: MediaStorage = storage if storage is not None else LocalStorage(root.parent)
        self.blobs = blobs
        self._workers = max(1, workers)
        self._niceness = niceness
        self._pool: ProcessPoolExecutor | None = None
        self._running: dict[Path, asyncio.Future[int]] = {}
        self._background: set[asyncio.Task[MediaInfo]] = set()

    def output_key(self, media: MediaInfo, target: Target) -> str:
        return converted_key(media.sha256, target.key)

    def output_path(self, media: MediaInfo, target: Target) -> Path:
        """Where this machine writes the output (with a local store: where it is stored)."""
        local = self.storage.local_path(self.output_key(media, target))
        return local if local is not None else self.root.parent / self.output_key(media, target)

    def converted(self, media: MediaInfo, target: Target, size: int) -> MediaInfo:
        # A stable identity for the output (resumable uploads compare it): the source and the target.
        digest = hashlib.sha256(f"{media.sha256}:{target.key}".encode()).hexdigest()
        stem = Path(media.original_name).stem if media.original_name else media.sha256[:12]
        return MediaInfo(
            path=str(self.output_path(media, target)),
            key=self.output_key(media, target),
            sha256=digest,
            size_bytes=size,
            mime="video/mp4",
            original_name=f"{stem}.mp4",
            duration_s=media.duration_s,
            width=media.width,
            height=media.height,
        )

    async def ready(self, media: MediaInfo, target: Target) -> bool:
        return await self.storage.exists(self.output_key(media, target))

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the bot has threads (the event loop's helpers, database drivers),
            # and a forked copy of a thread's lock can hang the child.
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority,
                initargs=(self._niceness,),
            )
        return self._pool

    async def ensure(self, media: MediaInfo, target: Target) -> MediaInfo:
        """The converted output, once it is in the store: found there (made by any process on any
        machine), or converted here now (or waited for, if already running here) and stored.

        ``media.path`` must be the source as a file on this machine when a conversion is needed."""
        key = self.output_key(media, target)
        out = self.output_path(media, target)
        if await self.storage.exists(key):
            return self.converted(media, target, await self.storage.size(key))
        running = self._running.get(out)
        if running is None:
            running = asyncio.ensure_future(self._convert_and_store(media, target, key, out))
            self._running[out] = running
            running.add_done_callback(self._forget)
        # Shielded: one caller giving up (a worker stopping) must not cancel the others' wait.
        size = await asyncio.shield(running)
        return self.converted(media, target, size)

    async def _convert_and_store(self, media: MediaInfo, target: Target, key: str, out: Path) -> int:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor(), _convert_once, media.path, str(out), target)
        size = (await asyncio.to_thread(out.stat)).st_size
        if self.blobs is not None:
            # Counted in the stored bytes from now on; collected with its source, never alone.
            await self.blobs.reference(key, size)
        if self.storage.local_path(key) != out and not await self.storage.exists(key):
            # A bucket: the output goes up for every machine (this one keeps its copy in ``root``,
            # which MediaStore.trim_cache clears like the other cached copies).
            await self.storage.put_file(key, out)
        return size

    def _forget(self, done: asyncio.Future[int]) -> None:
        for key, future in list(self._running.items()):
            if future is done:
                del self._running[key]

    def start(self, media: MediaInfo, target: Target) -> None:
        """Begin converting in the background (right after queueing); errors surface at publish."""
        task = asyncio.create_task(self.ensure(media, target), name=f"convert-{target.key}")
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[MediaInfo]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("conversion failed", exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
