"""Hand-assembled MP4/WebM boxes, for the tests that need a malformed file (a truncated header, a box
size that lies); every other test uses real encoder output (tests/clips.py). Nothing in these files
decodes: the probe reports them as damaged.

``write_mp4`` builds an ISO-BMFF file (ftyp, moov with a video track and optionally an audio track,
then an mdat padded so the file has exactly ``size_bytes``). The header is what a probe or a platform
reads; the payload is filler, written in pieces so a multi-GiB file costs no memory (and, with
``fill="sparse"``, no disk either). ``fill="random"`` gives seeded bytes, so an upload that sends a
piece at the wrong offset changes the received checksum and a test notices.

``write_mov`` is the same with QuickTime's ``qt  `` brand; ``write_webm`` writes a Matroska/WebM
header (EBML, Segment, Info, Tracks) followed by a padded Cluster.

Run ``python -m tests.fakes.mp4 out.mp4 --duration 12 --width 1080 --height 1920 --size 5000000``.
"""

from __future__ import annotations

import argparse
import random
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

_MOVIE_TIMESCALE = 1000
_VIDEO_TIMESCALE = 90000
_AUDIO_TIMESCALE = 48000
_WRITE_PIECE = 1024 * 1024

_ROTATIONS: dict[int, tuple[int, int, int, int]] = {
    # (a, b, c, d) of the tkhd matrix in 16.16 fixed point.
    0: (1, 0, 0, 1),
    90: (0, 1, -1, 0),
    180: (-1, 0, 0, -1),
    270: (0, -1, 1, 0),
}


def _box(kind: bytes, *children: bytes) -> bytes:
    payload = b"".join(children)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full_box(kind: bytes, version: int, flags: int, *children: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *children)


def _matrix(rotation: int) -> bytes:
    a, b, c, d = _ROTATIONS[rotation]
    one = 0x10000
    return struct.pack(">9i", a * one, b * one, 0, c * one, d * one, 0, 0, 0, 0x40000000)


def _mvhd(duration_s: float, next_track: int) -> bytes:
    duration = round(duration_s * _MOVIE_TIMESCALE)
    body = struct.pack(">IIII", 0, 0, _MOVIE_TIMESCALE, duration)
    body += struct.pack(">iH", 0x00010000, 0x0100) + b"\0" * 10 + _matrix(0) + b"\0" * 24
    body += struct.pack(">I", next_track)
    return _full_box(b"mvhd", 0, 0, body)


def _tkhd(track_id: int, duration_s: float, width: int, height: int, rotation: int, audio: bool) -> bytes:
    duration = round(duration_s * _MOVIE_TIMESCALE)
    body = struct.pack(">IIIII", 0, 0, track_id, 0, duration) + b"\0" * 8
    body += struct.pack(">hhhH", 0, 0, 0x0100 if audio else 0, 0) + _matrix(rotation)
    body += struct.pack(">II", width << 16, height << 16)
    # flags 3 = track enabled + in movie
    return _full_box(b"tkhd", 0, 3, body)


def _mdhd(timescale: int, duration_s: float) -> bytes:
    # language 'und' packed as three 5-bit letters
    lang = ((ord("u") - 0x60) << 10) | ((ord("n") - 0x60) << 5) | (ord("d") - 0x60)
    return _full_box(
        b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, round(duration_s * timescale), lang, 0)
    )


def _hdlr(handler: bytes, name: bytes) -> bytes:
    return _full_box(b"hdlr", 0, 0, struct.pack(">I4s", 0, handler) + b"\0" * 12 + name + b"\0")


def _visual_entry(codec: str, width: int, height: int) -> bytes:
    body = b"\0" * 6 + struct.pack(">H", 1)  # reserved, data_reference_index
    body += b"\0" * 16 + struct.pack(">HHIIIH", width, height, 0x00480000, 0x00480000, 0, 1)
    body += b"\0" * 32 + struct.pack(">Hh", 0x18, -1)
    if codec in ("avc1", "avc3"):
        # A minimal AVCDecoderConfigurationRecord: version 1, High profile, level 4.0, no SPS/PPS.
        body += _box(b"avcC", bytes([1, 100, 0, 40, 0xFF, 0xE0, 0]))
    elif codec in ("hvc1", "hev1"):
        body += _box(b"hvcC", bytes([1]) + b"\0" * 22)
    elif codec == "vp09":
        body += _full_box(b"vpcC", 1, 0, bytes([0, 10, 0x80, 2, 2, 2, 0, 0]))
    elif codec == "av01":
        body += _box(b"av1C", bytes([0x81, 0x08, 0x0C, 0x00]))
    return _box(codec.encode("ascii"), body)


def _audio_entry() -> bytes:
    body = b"\0" * 6 + struct.pack(">H", 1) + b"\0" * 8
    body += struct.pack(">HHHHI", 2, 16, 0, 0, _AUDIO_TIMESCALE << 16)
    return _box(b"mp4a", body)


def _stbl(sample_entry: bytes, samples: int = 0, delta: int = 0) -> bytes:
    # One stts run of ``samples`` frames ``delta`` ticks apart: what a constant frame rate looks like.
    stts = struct.pack(">III", 1, samples, delta) if samples else struct.pack(">I", 0)
    return _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), sample_entry),
        _full_box(b"stts", 0, 0, stts),
        _full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
        # Constant sample size (1), so no size table is needed for the sample count to agree.
        _full_box(b"stsz", 0, 0, struct.pack(">II", 1 if samples else 0, samples)),
        _full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )


def _dinf() -> bytes:
    return _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))


def _video_trak(
    duration_s: float, width: int, height: int, codec: str, rotation: int, fps: float | None
) -> bytes:
    samples = round(duration_s * fps) if fps else 0
    delta = round(_VIDEO_TIMESCALE / fps) if fps else 0
    # The media duration is what the frames add up to, as a muxer writes it.
    media_s = samples * delta / _VIDEO_TIMESCALE if fps else duration_s
    return _box(
        b"trak",
        _tkhd(1, duration_s, width, height, rotation, audio=False),
        _box(
            b"mdia",
            _mdhd(_VIDEO_TIMESCALE, media_s),
            _hdlr(b"vide", b"VideoHandler"),
            _box(
                b"minf",
                _full_box(b"vmhd", 0, 1, b"\0" * 8),
                _dinf(),
                _stbl(_visual_entry(codec, width, height), samples, delta),
            ),
        ),
    )


def _audio_trak(duration_s: float) -> bytes:
    return _box(
        b"trak",
        _tkhd(2, duration_s, 0, 0, 0, audio=True),
        _box(
            b"mdia",
            _mdhd(_AUDIO_TIMESCALE, duration_s),
            _hdlr(b"soun", b"SoundHandler"),
            _box(b"minf", _full_box(b"smhd", 0, 0, b"\0" * 4), _dinf(), _stbl(_audio_entry())),
        ),
    )


def mp4_header(
    *,
    duration_s: float = 10.0,
    width: int = 1080,
    height: int = 1920,
    codec: str = "avc1",
    audio: bool = True,
    rotation: int = 0,
    brand: bytes = b"isom",
    fps: float | None = 30.0,
) -> tuple[bytes, bytes]:
    """``(ftyp, moov)`` boxes of a file with the given properties."""
    if rotation not in _ROTATIONS:
        raise ValueError("rotation must be 0, 90, 180 or 270")
    compatible = [brand] if brand == b"qt  " else [brand, b"iso2", b"avc1", b"mp41"]
    ftyp = _box(b"ftyp", brand, struct.pack(">I", 0x200), *compatible)
    traks = [_video_trak(duration_s, width, height, codec, rotation, fps)]
    if audio:
        traks.append(_audio_trak(duration_s))
    moov = _box(b"moov", _mvhd(duration_s, len(traks) + 1), *traks)
    return ftyp, moov


def _write_filler(fh: BinaryIO, count: int, fill: str, seed: int) -> None:
    if fill == "sparse":
        fh.seek(count, 1)
        return
    rng = random.Random(seed)
    left = count
    while left > 0:
        n = min(_WRITE_PIECE, left)
        fh.write(rng.randbytes(n) if fill == "random" else bytes(n))
        left -= n


def _mdat_header(payload: int) -> bytes:
    if payload + 8 <= 0xFFFFFFFF:
        return struct.pack(">I4s", payload + 8, b"mdat")
    # size 1 means a 64-bit size follows the type
    return struct.pack(">I4sQ", 1, b"mdat", payload + 16)


def _layout(size_bytes: int | None, fixed: int) -> int:
    """Payload bytes of the mdat box so the whole file is ``size_bytes`` long."""
    if size_bytes is None:
        return 4096
    payload = size_bytes - fixed - 8
    if payload + 8 > 0xFFFFFFFF:
        payload -= 8
    if payload < 0:
        raise ValueError(f"size_bytes={size_bytes} is smaller than the {fixed + 8}-byte header")
    return payload


def write_mp4(
    path: str | Path,
    *,
    duration_s: float = 10.0,
    width: int = 1080,
    height: int = 1920,
    size_bytes: int | None = None,
    codec: str = "avc1",
    audio: bool = True,
    rotation: int = 0,
    moov_at_end: bool = False,
    brand: bytes = b"isom",
    fill: str = "random",
    seed: int = 0,
    fps: float | None = 30.0,
) -> Path:
    """Write an MP4 of exactly ``size_bytes`` (default: header + 4 KiB) and return its path.

    ``fill`` is ``"random"`` (seeded bytes), ``"zeros"`` or ``"sparse"`` (a hole: instant, takes no
    disk, reads as zeros). ``moov_at_end`` puts the metadata after the media as many cameras do.
    """
    if fill not in ("random", "zeros", "sparse"):
        raise ValueError("fill must be random, zeros or sparse")
    ftyp, moov = mp4_header(
        duration_s=duration_s,
        width=width,
        height=height,
        codec=codec,
        audio=audio,
        rotation=rotation,
        brand=brand,
        fps=fps,
    )
    payload = _layout(size_bytes, len(ftyp) + len(moov))
    out = Path(path)
    with out.open("wb") as fh:
        fh.write(ftyp)
        if not moov_at_end:
            fh.write(moov)
        fh.write(_mdat_header(payload))
        _write_filler(fh, payload, fill, seed)
        if moov_at_end:
            fh.write(moov)
        fh.truncate()
    return out


def write_mov(
    path: str | Path,
    *,
    duration_s: float = 10.0,
    width: int = 1920,
    height: int = 1080,
    size_bytes: int | None = None,
    codec: str = "avc1",
    rotation: int = 0,
    fill: str = "random",
    fps: float | None = 30.0,
) -> Path:
    """A QuickTime ``.mov``: the same boxes under the ``qt  `` brand."""
    return write_mp4(
        path,
        duration_s=duration_s,
        width=width,
        height=height,
        size_bytes=size_bytes,
        codec=codec,
        rotation=rotation,
        brand=b"qt  ",
        fill=fill,
        fps=fps,
    )


def mp4_bytes(
    *,
    duration_s: float = 10.0,
    width: int = 1080,
    height: int = 1920,
    size_bytes: int | None = None,
    codec: str = "avc1",
    audio: bool = True,
    rotation: int = 0,
    brand: bytes = b"isom",
    seed: int = 0,
    fps: float | None = 30.0,
) -> bytes:
    """A small MP4 held in memory (header plus 4 KiB of seeded filler unless ``size_bytes`` says)."""
    ftyp, moov = mp4_header(
        duration_s=duration_s,
        width=width,
        height=height,
        codec=codec,
        audio=audio,
        rotation=rotation,
        brand=brand,
        fps=fps,
    )
    payload = _layout(size_bytes, len(ftyp) + len(moov))
    return ftyp + moov + _mdat_header(payload) + random.Random(seed).randbytes(payload)


# --- WebM (Matroska) -------------------------------------------------------------------------------


def _ebml_size(n: int) -> bytes:
    # 8-byte size: marker bit in the first byte, then 56 bits of length.
    return bytes([0x01]) + n.to_bytes(7, "big")


def _el(el_id: int, payload: bytes) -> bytes:
    id_bytes = el_id.to_bytes((el_id.bit_length() + 7) // 8, "big")
    return id_bytes + _ebml_size(len(payload)) + payload


def _uint(el_id: int, value: int) -> bytes:
    return _el(el_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _str(el_id: int, value: str) -> bytes:
    return _el(el_id, value.encode("ascii"))


def _concat(parts: Iterable[bytes]) -> bytes:
    return b"".join(parts)


def write_webm(
    path: str | Path,
    *,
    duration_s: float = 10.0,
    width: int = 1080,
    height: int = 1920,
    size_bytes: int | None = None,
    codec: str = "V_VP9",
    doc_type: str = "webm",
    fill: str = "random",
    seed: int = 0,
    fps: float | None = 30.0,
) -> Path:
    """A WebM (or, with ``doc_type="matroska"``, MKV) header followed by one padded Cluster."""
    header = _el(
        0x1A45DFA3,
        _concat(
            [
                _uint(0x4286, 1),  # EBMLVersion
                _uint(0x42F7, 1),  # EBMLReadVersion
                _uint(0x42F2, 4),  # EBMLMaxIDLength
                _uint(0x42F3, 8),  # EBMLMaxSizeLength
                _str(0x4282, doc_type),
                _uint(0x4287, 4),  # DocTypeVersion
                _uint(0x4285, 2),  # DocTypeReadVersion
            ]
        ),
    )
    info = _el(
        0x1549A966,
        _uint(0x2AD7B1, 1_000_000)  # TimecodeScale: 1 ms
        + _el(0x4489, struct.pack(">d", duration_s * 1000.0)),  # Duration in TimecodeScale units
    )
    video = _el(0xE0, _uint(0xB0, width) + _uint(0xBA, height))
    # DefaultDuration: nanoseconds per frame.
    frame = _uint(0x23E383, round(1e9 / fps)) if fps else b""
    track = _el(0xAE, _uint(0xD7, 1) + _uint(0x73C5, 1) + _uint(0x83, 1) + _str(0x86, codec) + frame + video)
    tracks = _el(0x1654AE6B, track)
    cluster_head = _uint(0xE7, 0)  # Timecode 0
    fixed = len(header) + 4 + 8 + len(info) + len(tracks) + 4 + 8 + len(cluster_head)
    payload = 4096 if size_bytes is None else size_bytes - fixed - 1 - 8  # Void element id + size
    if payload < 0:
        raise ValueError(f"size_bytes={size_bytes} is smaller than the WebM header")
    void_head = bytes([0xEC]) + _ebml_size(payload)
    cluster_len = len(cluster_head) + len(void_head) + payload
    segment_len = len(info) + len(tracks) + 4 + 8 + cluster_len
    out = Path(path)
    with out.open("wb") as fh:
        fh.write(header)
        fh.write(bytes.fromhex("18538067") + _ebml_size(segment_len))
        fh.write(info + tracks)
        fh.write(bytes.fromhex("1F43B675") + _ebml_size(cluster_len) + cluster_head + void_head)
        _write_filler(fh, payload, fill, seed)
        fh.truncate()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a small valid MP4/MOV/WebM for tests.")
    parser.add_argument("path")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=1080)
    parser.add_argument("--height", type=int, default=1920)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--codec", default="avc1")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--fill", default="random", choices=["random", "zeros", "sparse"])
    args = parser.parse_args(argv)
    suffix = Path(args.path).suffix.lower()
    dims = {"width": args.width, "height": args.height}
    if suffix == ".webm":
        write_webm(
            args.path, duration_s=args.duration, size_bytes=args.size, fill=args.fill, fps=args.fps, **dims
        )
    elif suffix == ".mov":
        write_mov(
            args.path,
            duration_s=args.duration,
            size_bytes=args.size,
            codec=args.codec,
            fill=args.fill,
            fps=args.fps,
            **dims,
        )
    else:
        write_mp4(
            args.path,
            duration_s=args.duration,
            size_bytes=args.size,
            codec=args.codec,
            fill=args.fill,
            fps=args.fps,
            **dims,
        )
    print(args.path)


if __name__ == "__main__":
    main()
