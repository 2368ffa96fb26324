"""Real encoded clips for the tests, made with PyAV (core.media.sample) once per session each.

Encoding costs a fraction of a second per clip; the suite asks for the same few clips hundreds of
times, so each spec is encoded once into a session folder and copied where a test wants it. A test
that needs a file of an exact size (upload chunking) gets the real clip followed by a ``free`` box:
every demuxer skips it, so the file stays a valid video of that size.
"""

from __future__ import annotations

import atexit
import random
import shutil
import struct
import tempfile
from pathlib import Path

from core.media.sample import ClipSpec, encode_clip

# The suite's everyday clip: vertical, 12 s, 24 fps, H.264/AAC, index in front: every platform
# takes it as it is. 540x960 keeps it cheap to encode while above every platform's minimum side.
EVERYDAY = ClipSpec(duration_s=12, width=540, height=960, fps=24)

_cache: dict[tuple[ClipSpec, str], Path] = {}
_folder: Path | None = None


def _session_folder() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="postbot-clips-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def encoded(spec: ClipSpec = EVERYDAY, suffix: str = ".mp4") -> Path:
    """The session's copy of ``spec`` (do not modify it: copy it with ``clip_file``)."""
    key = (spec, suffix)
    if key not in _cache:
        path = _session_folder() / f"clip{len(_cache)}{suffix}"
        _cache[key] = encode_clip(path, spec)
    return _cache[key]


def clip_file(
    path: str | Path,
    spec: ClipSpec = EVERYDAY,
    *,
    size_bytes: int | None = None,
    fill: str = "random",
    seed: int = 0,
) -> Path:
    """A real clip at ``path``, padded to exactly ``size_bytes`` when given. The padding is random
    bytes (so upload tests that compare pieces see distinct ones), zeros, or with ``fill="sparse"``
    a hole, for multi-GiB files that cost no disk."""
    out = Path(path)
    source = encoded(spec, out.suffix or ".mp4")
    shutil.copyfile(source, out)
    if size_bytes is None:
        return out
    have = out.stat().st_size
    pad = size_bytes - have
    if pad == 0:
        return out
    if pad < 16:
        raise ValueError(f"size_bytes must be 0 or at least 16 bytes above the clip's {have}")
    # A 64-bit "free" box header: valid at any size, and always 16 bytes.
    header = struct.pack(">I4sQ", 1, b"free", pad)
    with out.open("r+b") as fh:
        fh.seek(have)
        fh.write(header)
        if fill == "sparse":
            fh.truncate(size_bytes)
        else:
            rng = random.Random(seed)
            remaining = pad - len(header)
            while remaining > 0:
                n = min(1 << 20, remaining)
                fh.write(rng.randbytes(n) if fill == "random" else bytes(n))
                remaining -= n
    return out


def sized_clip(
    path: str | Path,
    *,
    size_bytes: int | None = None,
    duration_s: float = 10.0,
    width: int = 1080,
    height: int = 1920,
    fill: str = "random",
    seed: int = 0,
) -> Path:
    """A real H.264/AAC clip of ``duration_s`` padded to ``size_bytes``, for upload tests that need a
    file of an exact size. The picture is encoded small (its shorter side 180 px, the aspect of
    ``width`` x ``height`` kept): these tests move bytes, and a small picture keeps the suite fast."""
    scale = 180 / min(width, height)
    spec = ClipSpec(
        duration_s=duration_s,
        width=max(2, round(width * scale / 2) * 2),
        height=max(2, round(height * scale / 2) * 2),
        fps=24,
        # A thin sound track too: an 8 s clip must fit the 150 KB some upload tests ask for.
        audio_bitrate=32_000,
    )
    return clip_file(path, spec, size_bytes=size_bytes, fill=fill, seed=seed)


def distinct_clip(path: str | Path, n: int, spec: ClipSpec = EVERYDAY) -> Path:
    """The everyday clip, made a different video by ``n``: a free box of ``n``-seeded bytes at its
    end. Copies of one clip are the same video to postbot (it goes by the bytes' sha256: nothing is
    posted twice), so a test sending several videos at once needs distinct ones."""
    size = encoded(spec, Path(path).suffix or ".mp4").stat().st_size
    return clip_file(path, spec, size_bytes=size + 64, seed=n + 1)
