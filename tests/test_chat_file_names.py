"""Issue 11 point 11: a chat-supplied file name never escapes, breaks or overflows a path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.domain import MediaInfo, Platform
from core.media.names import MAX_NAME_BYTES, safe_filename
from core.media.store import MediaStore
from core.platforms.sandbox.publisher import SandboxPublisher
from core.publishers.base import PublishJob

NAMES = [
    "..",
    ".",
    "/",
    "",
    "a\x00b.mp4",
    "../../etc/passwd",
    "..\\..\\boot.ini",
    "x" * 5000 + ".mp4",
    "é" * 300,
]


@pytest.mark.parametrize("name", NAMES)
async def test_the_sandbox_publishes_whatever_the_video_was_called(
    tmp_path: Path, clip: Path, name: str
) -> None:
    root = tmp_path / "sandbox"
    job = PublishJob(
        post_id=7,
        platform=Platform.SANDBOX,
        idempotency_key="k-7",
        caption="c",
        title=None,
        media=MediaInfo(
            path=str(clip),
            sha256=hashlib.sha256(clip.read_bytes()).hexdigest(),
            size_bytes=clip.stat().st_size,
            mime="video/mp4",
            original_name=name,
        ),
        tokens=None,
    )
    result = await SandboxPublisher(root).publish(job)
    assert result.remote_id == "sandbox-7"
    [video] = [p for p in (root / "k-7").iterdir() if p.name != "post.json"]
    assert video.is_file() and video.read_bytes() == clip.read_bytes()
    assert video.parent == root / "k-7"  # nothing written outside the post's folder
    assert len(video.name.encode()) <= MAX_NAME_BYTES


def test_safe_filename() -> None:
    assert safe_filename("launch.mp4") == "launch.mp4"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..") == safe_filename("/") == safe_filename(None) == "video.mp4"
    assert safe_filename("a\x00b\u202e.mp4") == "ab.mp4"
    long = safe_filename("x" * 5000 + ".mov")
    assert long.endswith(".mov") and len(long.encode()) <= MAX_NAME_BYTES
    assert len(safe_filename("é" * 300).encode()) <= MAX_NAME_BYTES


async def test_the_stored_original_name_is_the_safe_one(tmp_path: Path, clip: Path) -> None:
    store = MediaStore(tmp_path / "media")
    async with store.receive("../" + "n" * 400 + ".mp4") as sink:
        await sink.write(clip.read_bytes())
    assert sink.info is not None
    name = sink.info.original_name
    assert name is not None and "/" not in name and name.endswith(".mp4") and len(name) <= MAX_NAME_BYTES
