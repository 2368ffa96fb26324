"""A machine's copies of bucket videos (core/media/cache.py): shared downloads, bounded, collected."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from core import metrics
from core.media.cache import MediaCache
from core.media.storage.s3 import S3Storage
from tests.s3_support import S3Server


def _downloads() -> float:
    return metrics.MEDIA_CACHE_DOWNLOADS._value.get()  # type: ignore[attr-defined]


def _put(s3: S3Server, key: str, data: bytes) -> None:
    s3.client.put_object(Bucket=s3.bucket, Key=f"postbot/{key}", Body=data)


async def test_two_processes_on_one_machine_share_one_download(s3: S3Server, tmp_path: Path) -> None:
    # Two caches on one folder stand for two processes: flock locks belong to each open file, so
    # they exclude each other exactly as two processes' would.
    data = os.urandom(3 * 1024 * 1024)
    _put(s3, "ab/video.mp4", data)
    storage = S3Storage(s3.settings())
    first, second = MediaCache(tmp_path / "cache"), MediaCache(tmp_path / "cache")
    before = _downloads()
    paths = await asyncio.gather(*(c.fetch(storage, "ab/video.mp4") for c in (first, second, first, second)))
    assert set(paths) == {tmp_path / "cache" / "ab" / "video.mp4"}
    assert paths[0].read_bytes() == data
    assert _downloads() - before == 1
    # No temporary file left: only the copy (and the lock files, kept apart).
    files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert [f for f in files if ".locks" not in f.parts] == [Path("cache/ab/video.mp4")]


async def test_past_its_limit_the_least_recently_used_copies_go(s3: S3Server, tmp_path: Path) -> None:
    storage = S3Storage(s3.settings())
    mib = 1024 * 1024
    for name in ("a", "b", "c"):
        _put(s3, f"{name}/v.mp4", os.urandom(mib))
    cache = MediaCache(tmp_path / "cache", max_bytes=int(2.5 * mib), busy_s=0)
    a = await cache.fetch(storage, "a/v.mp4")
    b = await cache.fetch(storage, "b/v.mp4")
    # "a" used again after "b": "b" is now the least recently used.
    old = time.time() - 10
    os.utime(b, (old, old))
    os.utime(a, (old + 5, old + 5))
    c = await cache.fetch(storage, "c/v.mp4")
    assert (a.exists(), b.exists(), c.exists()) == (True, False, True)
    assert await cache.size() == 2 * mib
    # Asked for again, it is downloaded again.
    before = _downloads()
    assert (await cache.fetch(storage, "b/v.mp4")).exists()
    assert _downloads() - before == 1


async def test_copies_in_use_stay_whatever_the_size(s3: S3Server, tmp_path: Path) -> None:
    storage = S3Storage(s3.settings())
    for name in ("a", "b"):
        _put(s3, f"{name}/v.mp4", os.urandom(1024 * 1024))
    cache = MediaCache(tmp_path / "cache", max_bytes=1, busy_s=60)
    a = await cache.fetch(storage, "a/v.mp4")
    b = await cache.fetch(storage, "b/v.mp4")
    # Both used within the minute: a converter may be about to open either.
    assert a.exists() and b.exists()


async def test_forgetting_a_key_removes_its_copy(s3: S3Server, tmp_path: Path) -> None:
    storage = S3Storage(s3.settings())
    _put(s3, "a/v.mp4", b"x" * 1000)
    cache = MediaCache(tmp_path / "cache")
    a = await cache.fetch(storage, "a/v.mp4")
    assert await cache.forget(["a/v.mp4", "never/cached.mp4"]) == 1
    assert not a.exists()
