"""Real encoded clips for the tests, made with PyAV (core.media.sample) once per session each.

Encoding costs a fraction of a second per clip; the suite asks for the same few clips hundreds of
times, so each spec is encoded once into a session folder and copied where a test wants it. A test
that needs a file of an exact size (upload chunking) gets the real clip followed by a ``free`` box:
every demuxer skips it, so the file stays a valid video of that size.
"""

from __future__ import annotations

import atexit
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
    fill: str = "zeros",
) -> Path:
    """A real clip at ``path``, padded to exactly ``size_bytes`` when given (``fill="sparse"``
    leaves the padding as a hole, for multi-GiB files that cost no disk)."""
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
            remaining = pad - len(header)
            block = b"\0" * (1 << 20)
            while remaining > 0:
                fh.write(block[: min(len(block), remaining)])
                remaining -= len(block)
    return out
