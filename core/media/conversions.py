"""Conversions run in a small pool of low-priority processes, each output made once and shared.

An output lives at ``<media>/converted/<aa>/<source sha256>.<target key>.mp4``: the same source
converted to the same target is one file, whichever platform asked for it first and in whichever
process (the bot that queued the post, or the worker that publishes it; a lock file keeps two
processes from doing the work twice). A file at that name is always complete, since it is renamed
into place only when written, so a post can never be published from half a conversion.

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
    def __init__(self, root: Path, *, workers: int = 1, niceness: int = 10) -> None:
        self.root = root
        self._workers = max(1, workers)
        self._niceness = niceness
        self._pool: ProcessPoolExecutor | None = None
        self._running: dict[Path, asyncio.Future[str]] = {}
        self._background: set[asyncio.Task[MediaInfo]] = set()

    def output_path(self, media: MediaInfo, target: Target) -> Path:
        return self.root / media.sha256[:2] / f"{media.sha256}.{target.key}.mp4"

    def converted(self, media: MediaInfo, target: Target) -> MediaInfo:
        path = self.output_path(media, target)
        # A stable identity for the output (resumable uploads compare it): the source and the target.
        digest = hashlib.sha256(f"{media.sha256}:{target.key}".encode()).hexdigest()
        stem = Path(media.original_name).stem if media.original_name else media.sha256[:12]
        return MediaInfo(
            path=str(path),
            sha256=digest,
            size_bytes=path.stat().st_size,
            mime="video/mp4",
            original_name=f"{stem}.mp4",
            duration_s=media.duration_s,
            width=media.width,
            height=media.height,
        )

    def ready(self, media: MediaInfo, target: Target) -> bool:
        return self.output_path(media, target).exists()

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
        """The converted file, once it exists: converts now, or waits for the conversion running."""
        out = self.output_path(media, target)
        if out.exists():
            return self.converted(media, target)
        running = self._running.get(out)
        if running is None:
            loop = asyncio.get_running_loop()
            running = asyncio.ensure_future(
                loop.run_in_executor(self._executor(), _convert_once, media.path, str(out), target)
            )
            self._running[out] = running
            running.add_done_callback(self._forget)
        # Shielded: one caller giving up (a worker stopping) must not cancel the others' wait.
        await asyncio.shield(running)
        return self.converted(media, target)

    def _forget(self, done: asyncio.Future[str]) -> None:
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
