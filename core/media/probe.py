"""What a video file is, read from its header: container, duration, display size and codecs.

The container comes from the file's signature, never from its name or the MIME type a chat sent.
MP4/MOV are walked as ISO-BMFF boxes and WebM/MKV as EBML elements, seeking over the media payload so
that a multi-GiB file costs a few reads and a few KiB of memory. Nothing here shells out to ffmpeg.

``probe_file`` never raises for a file that is merely not a video or is damaged: it describes what it
found (``kind``, ``problem``) so validation can tell the user every problem at once. It raises
``MediaError`` only when the file cannot be read at all.
"""

from __future__ import annotations

import asyncio
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import MediaError

# Boxes and elements that carry metadata are small; a larger one is damage, not data.
_MAX_LEAF = 1 << 20
_MAX_BOXES = 20_000


@dataclass(frozen=True)
class MediaProbe:
    """The facts a platform's rules are checked against. Sizes are as displayed (rotation applied)."""

    # "mp4", "mov", "webm" or "mkv" when the file is a video container we read; None otherwise.
    container: str | None
    # What the file is, in words a person understands ("MP4 video", "PNG image", "AVI video").
    kind: str
    mime: str
    size_bytes: int
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    rotation: int = 0
    # Frames per second of the video track, where the header says (constant or average rate).
    frame_rate: float | None = None
    # MP4/MOV only: whether the metadata (moov) comes before the media (mdat), the "fast start"
    # layout that streaming readers such as Instagram's require. None when it does not apply.
    moov_first: bool | None = None
    # Why a field is missing when the header was damaged or cut off.
    problem: str | None = None

    @property
    def is_video(self) -> bool:
        return self.container is not None and self.video_codec is not None

    @property
    def aspect_ratio(self) -> float | None:
        if not self.width or not self.height:
            return None
        return self.width / self.height


_CONTAINER_MIME = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
}

_CONTAINER_KIND = {
    "mp4": "MP4 video",
    "mov": "QuickTime (MOV) video",
    "webm": "WebM video",
    "mkv": "Matroska (MKV) video",
}

_ISO_CODECS = {
    "avc1": "h264",
    "avc3": "h264",
    "hvc1": "hevc",
    "hev1": "hevc",
    "vp08": "vp8",
    "vp09": "vp9",
    "av01": "av1",
    "mp4v": "mpeg4",
    "apch": "prores",
    "apcn": "prores",
    "apcs": "prores",
    "apco": "prores",
    "ap4h": "prores",
    "ap4x": "prores",
    "jpeg": "mjpeg",
    "mjpa": "mjpeg",
    "encv": "encrypted",
    "mp4a": "aac",
    "Opus": "opus",
    "ac-3": "ac3",
    "ec-3": "eac3",
    "fLaC": "flac",
    "alac": "alac",
    "lpcm": "pcm",
    "sowt": "pcm",
    "twos": "pcm",
    ".mp3": "mp3",
    "enca": "encrypted",
}

_MATROSKA_CODECS = {
    "V_VP8": "vp8",
    "V_VP9": "vp9",
    "V_AV1": "av1",
    "V_MPEG4/ISO/AVC": "h264",
    "V_MPEGH/ISO/HEVC": "hevc",
    "V_MPEG4/ISO/ASP": "mpeg4",
    "A_OPUS": "opus",
    "A_VORBIS": "vorbis",
    "A_AAC": "aac",
    "A_MPEG/L3": "mp3",
    "A_FLAC": "flac",
    "A_AC3": "ac3",
    "A_EAC3": "eac3",
}

# Brands under an ISO-BMFF ftyp that are not videos.
_ISO_NON_VIDEO = {
    b"M4A ": ("AAC audio (M4A)", "audio/mp4"),
    b"M4B ": ("audiobook (M4B)", "audio/mp4"),
    b"heic": ("HEIC image", "image/heic"),
    b"heix": ("HEIC image", "image/heic"),
    b"mif1": ("HEIF image", "image/heif"),
    b"avif": ("AVIF image", "image/avif"),
    b"crx ": ("Canon raw photo", "image/x-canon-cr3"),
}

# Top-level boxes that old QuickTime files start with, before ftyp existed.
_QT_FIRST_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _other_signature(head: bytes) -> tuple[str, str] | None:
    """Recognise common non-(MP4/MOV/WebM) files so the user hears what they actually sent."""
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI video", "video/x-msvideo"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV audio", "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP image", "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF image", "image/gif"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG image", "image/png"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG image", "image/jpeg"
    if head[:5] == b"%PDF-":
        return "PDF document", "application/pdf"
    if head[:4] == b"PK\x03\x04":
        return "ZIP archive", "application/zip"
    if head[:3] == b"FLV":
        return "Flash (FLV) video", "video/x-flv"
    if head[:4] == b"OggS":
        return "Ogg file", "application/ogg"
    if head[:4] == b"\x00\x00\x01\xba":
        return "MPEG-PS video", "video/mpeg"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "MPEG-TS video", "video/mp2t"
    if head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "MP3 audio", "audio/mpeg"
    return None


def probe_file(path: str | Path) -> MediaProbe:
    """Read the header of ``path`` and describe the file. Blocking: call ``probe`` from async code."""
    p = Path(path)
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise MediaError(f"The media file could not be read ({exc.strerror or type(exc).__name__}).") from exc
    with fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(512)
        if not head:
            return MediaProbe(None, "empty file", "application/octet-stream", 0, problem="the file is empty")
        if head[4:8] == b"ftyp":
            brand = head[8:12]
            if brand in _ISO_NON_VIDEO:
                kind, mime = _ISO_NON_VIDEO[brand]
                return MediaProbe(None, kind, mime, size)
            return _probe_iso(fh, size, "mov" if brand == b"qt  " else "mp4")
        if head[4:8] in _QT_FIRST_BOXES:
            return _probe_iso(fh, size, "mov")
        if head[:4] == b"\x1a\x45\xdf\xa3":
            return _probe_ebml(fh, size)
        other = _other_signature(head)
        if other is not None:
            return MediaProbe(None, other[0], other[1], size)
        return MediaProbe(None, "unrecognised file", "application/octet-stream", size)


async def probe(path: str | Path) -> MediaProbe:
    """``probe_file`` in a worker thread so the event loop keeps serving while the disk seeks."""
    return await asyncio.to_thread(probe_file, path)


# --- ISO base media file format (MP4, MOV) ----------------------------------------------------------


class _Damaged(Exception):
    pass


@dataclass
class _Track:
    handler: bytes = b""
    width: float = 0.0
    height: float = 0.0
    rotation: int = 0
    timescale: int = 0
    duration: int = 0
    fourcc: str | None = None
    entry_width: int = 0
    entry_height: int = 0
    samples: int = 0


@dataclass
class _IsoState:
    movie_timescale: int = 0
    movie_duration: int = 0
    fragment_duration: int = 0
    saw_moov: bool = False
    saw_mdat: bool = False
    moov_first: bool | None = None
    truncated: bool = False
    boxes: int = 0


def _iter_boxes(fh: BinaryIO, start: int, end: int, state: _IsoState) -> list[tuple[bytes, int, int]]:
    """``(type, payload_start, payload_end)`` of the boxes in ``[start, end)``, without reading payloads."""
    out: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        state.boxes += 1
        if state.boxes > _MAX_BOXES:
            raise _Damaged("too many boxes")
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            raise _Damaged("the file ends inside a box header")
        size, kind = struct.unpack(">I4s", header)
        header_len = 8
        if size == 1:
            large = fh.read(8)
            if len(large) < 8:
                raise _Damaged("the file ends inside a box header")
            (size,) = struct.unpack(">Q", large)
            header_len = 16
        elif size == 0:
            size = end - pos
        if size < header_len:
            raise _Damaged(f"a {kind!r} box has an impossible size")
        box_end = pos + size
        if box_end > end:
            # The last box is cut short: keep what can be read (a truncated mdat still has a moov before
            # it), but the file is not whole and a platform would reject it.
            state.truncated = True
            out.append((kind, pos + header_len, end))
            return out
        out.append((kind, pos + header_len, box_end))
        pos = box_end
    return out


def _read_leaf(fh: BinaryIO, start: int, end: int) -> bytes:
    if end - start > _MAX_LEAF:
        raise _Damaged("a metadata box is implausibly large")
    fh.seek(start)
    return fh.read(end - start)


def _rotation_from_matrix(a: int, b: int) -> int:
    degrees = round(math.degrees(math.atan2(b, a))) % 360
    # Only quarter turns change which side is the width.
    return min((0, 90, 180, 270, 360), key=lambda q: abs(q - degrees)) % 360


def _parse_tkhd(data: bytes, track: _Track) -> None:
    version = data[0]
    # Fields after the version-dependent times/duration: reserved(8) layer volume ... matrix(36) w h
    base = 4 + (32 if version == 1 else 20) + 8 + 8
    if len(data) < base + 36 + 8:
        raise _Damaged("a track header is cut short")
    a, b = struct.unpack_from(">ii", data, base)
    track.rotation = _rotation_from_matrix(a, b)
    w, h = struct.unpack_from(">II", data, base + 36)
    track.width, track.height = w / 65536, h / 65536


def _parse_mdhd(data: bytes, track: _Track) -> None:
    if data[0] == 1:
        if len(data) < 36:
            raise _Damaged("a media header is cut short")
        track.timescale, track.duration = struct.unpack_from(">IQ", data, 20)
    else:
        if len(data) < 24:
            raise _Damaged("a media header is cut short")
        track.timescale, track.duration = struct.unpack_from(">II", data, 12)


def _parse_stsd(data: bytes, track: _Track) -> None:
    if len(data) < 16:
        return
    (count,) = struct.unpack_from(">I", data, 4)
    if count < 1:
        return
    track.fourcc = data[12:16].decode("latin-1")
    # VisualSampleEntry: 8-byte box header, 6 reserved, 2 dref index, 16 pre-defined, then w/h.
    if track.handler == b"vide" and len(data) >= 8 + 8 + 16 + 4 + 4:
        track.entry_width, track.entry_height = struct.unpack_from(">HH", data, 8 + 8 + 8 + 16)


def _stts_samples(data: bytes) -> int:
    if len(data) < 8:
        return 0
    (count,) = struct.unpack_from(">I", data, 4)
    count = min(count, (len(data) - 8) // 8)
    return sum(struct.unpack_from(">I", data, 8 + 8 * i)[0] for i in range(count))


def _walk_iso(fh: BinaryIO, start: int, end: int, state: _IsoState, tracks: list[_Track]) -> None:
    for kind, ps, pe in _iter_boxes(fh, start, end, state):
        if kind == b"mdat":
            state.saw_mdat = True
        elif kind == b"moov":
            if state.moov_first is None:
                state.moov_first = not state.saw_mdat
            state.saw_moov = True
            _walk_iso(fh, ps, pe, state, tracks)
        elif kind == b"trak":
            tracks.append(_Track())
            _walk_iso(fh, ps, pe, state, tracks)
        elif kind in (b"mdia", b"minf", b"stbl", b"mvex"):
            _walk_iso(fh, ps, pe, state, tracks)
        elif kind == b"mvhd":
            data = _read_leaf(fh, ps, pe)
            if data[:1] == b"\x01" and len(data) >= 32:
                state.movie_timescale, state.movie_duration = struct.unpack_from(">IQ", data, 20)
            elif len(data) >= 20:
                state.movie_timescale, state.movie_duration = struct.unpack_from(">II", data, 12)
            if state.movie_duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                state.movie_duration = 0
        elif kind == b"mehd":
            data = _read_leaf(fh, ps, pe)
            fmt = ">Q" if data[:1] == b"\x01" else ">I"
            if len(data) >= 4 + struct.calcsize(fmt):
                (state.fragment_duration,) = struct.unpack_from(fmt, data, 4)
        elif tracks and kind == b"tkhd":
            _parse_tkhd(_read_leaf(fh, ps, pe), tracks[-1])
        elif tracks and kind == b"mdhd":
            _parse_mdhd(_read_leaf(fh, ps, pe), tracks[-1])
        elif tracks and kind == b"hdlr":
            data = _read_leaf(fh, ps, pe)
            tracks[-1].handler = data[8:12]
        elif tracks and kind == b"stsd":
            _parse_stsd(_read_leaf(fh, ps, pe), tracks[-1])
        elif tracks and kind == b"stts" and pe - ps <= _MAX_LEAF:
            # Time-to-sample runs (count, delta): the counts add up to the track's frames. A table
            # too large to read cheaply only costs us the frame rate, not the probe.
            tracks[-1].samples = _stts_samples(_read_leaf(fh, ps, pe))


def _probe_iso(fh: BinaryIO, size: int, container: str) -> MediaProbe:
    state = _IsoState()
    tracks: list[_Track] = []
    problem: str | None = None
    try:
        _walk_iso(fh, 0, size, state, tracks)
    except _Damaged as exc:
        problem = f"the video's header is damaged ({exc})"
    if state.truncated and problem is None:
        problem = "the file is cut off (it ends before its last part does): send the complete video"
    if not state.saw_moov and problem is None:
        problem = "the video has no metadata (moov) box: it may be cut off or still being written"

    video = next((t for t in tracks if t.handler == b"vide"), None)
    audio = next((t for t in tracks if t.handler == b"soun"), None)

    duration: float | None = None
    if state.movie_timescale and state.movie_duration:
        duration = state.movie_duration / state.movie_timescale
    elif state.movie_timescale and state.fragment_duration:
        duration = state.fragment_duration / state.movie_timescale
    else:
        spans = [t.duration / t.timescale for t in tracks if t.timescale and t.duration]
        duration = max(spans) if spans else None

    width = height = None
    rotation = 0
    frame_rate = None
    if video is not None and video.samples and video.duration and video.timescale:
        frame_rate = round(video.samples * video.timescale / video.duration, 3)
    if video is not None:
        w = round(video.width) or video.entry_width
        h = round(video.height) or video.entry_height
        rotation = video.rotation
        if w and h:
            width, height = (h, w) if rotation in (90, 270) else (w, h)
    return MediaProbe(
        container=container,
        kind=_CONTAINER_KIND[container],
        mime=_CONTAINER_MIME[container],
        size_bytes=size,
        duration_s=duration,
        width=width,
        height=height,
        video_codec=_codec_name(video.fourcc) if video else None,
        audio_codec=_codec_name(audio.fourcc) if audio else None,
        rotation=rotation,
        frame_rate=frame_rate,
        moov_first=state.moov_first,
        problem=problem,
    )


def _codec_name(fourcc: str | None) -> str | None:
    if fourcc is None:
        return None
    return _ISO_CODECS.get(fourcc, fourcc.strip().lower() or None)


# --- EBML (WebM, Matroska) ----------------------------------------------------------------------------

_EBML_HEADER = 0x1A45DFA3
_DOC_TYPE = 0x4282
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TRACKS = 0x1654AE6B
_CLUSTER = 0x1F43B675
_TIMECODE_SCALE = 0x2AD7B1
_DURATION = 0x4489
_TRACK_ENTRY = 0xAE
_TRACK_TYPE = 0x83
_CODEC_ID = 0x86
_VIDEO = 0xE0
_PIXEL_WIDTH = 0xB0
_PIXEL_HEIGHT = 0xBA
_DISPLAY_WIDTH = 0x54B0
_DISPLAY_HEIGHT = 0x54BA
_DEFAULT_DURATION = 0x23E383
_UNKNOWN = -1


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    """A variable-length integer at ``pos``: ``(value, next_pos)``; sizes of all ones mean unknown."""
    if pos >= len(data):
        raise _Damaged("the file ends inside an element header")
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise _Damaged("an element header is invalid")
    if pos + length > len(data):
        raise _Damaged("the file ends inside an element header")
    raw = int.from_bytes(data[pos : pos + length], "big")
    if keep_marker:
        return raw, pos + length
    value = raw & ((1 << (7 * length)) - 1)
    if value == (1 << (7 * length)) - 1:
        return _UNKNOWN, pos + length
    return value, pos + length


def _ebml_children(data: bytes) -> list[tuple[int, bytes]]:
    """Children of an element whose payload is already in memory (small metadata elements)."""
    out = []
    pos = 0
    while pos < len(data):
        el_id, pos = _vint(data, pos, keep_marker=True)
        size, pos = _vint(data, pos, keep_marker=False)
        if size == _UNKNOWN or pos + size > len(data):
            raise _Damaged("an element overruns its parent")
        out.append((el_id, data[pos : pos + size]))
        pos += size
    return out


def _read_element_header(fh: BinaryIO, pos: int) -> tuple[int, int, int]:
    """``(id, size, payload_start)`` of the element at ``pos``."""
    fh.seek(pos)
    head = fh.read(12)
    el_id, p = _vint(head, 0, keep_marker=True)
    size, p = _vint(head, p, keep_marker=False)
    return el_id, size, pos + p


def _uint_of(data: bytes) -> int:
    return int.from_bytes(data, "big") if data else 0


def _float_of(data: bytes) -> float | None:
    if len(data) == 4:
        return float(struct.unpack(">f", data)[0])
    if len(data) == 8:
        return float(struct.unpack(">d", data)[0])
    return None


def _probe_ebml(fh: BinaryIO, size: int) -> MediaProbe:
    container = "mkv"
    problem: str | None = None
    timecode_scale = 1_000_000
    duration_ticks: float | None = None
    video_codec = audio_codec = None
    width = height = None
    frame_rate = None
    try:
        el_id, el_size, start = _read_element_header(fh, 0)
        header = _ebml_children(_read_leaf(fh, start, start + el_size))
        doc_type = (
            next((d for i, d in header if i == _DOC_TYPE), b"").rstrip(b"\0").decode("ascii", "replace")
        )
        container = "webm" if doc_type == "webm" else "mkv"
        pos = start + el_size
        el_id, seg_size, seg_start = _read_element_header(fh, pos)
        if el_id != _SEGMENT:
            raise _Damaged("no Segment after the EBML header")
        seg_end = size if seg_size == _UNKNOWN else min(size, seg_start + seg_size)
        pos = seg_start
        seen_info = seen_tracks = False
        count = 0
        while pos < seg_end and not (seen_info and seen_tracks):
            count += 1
            if count > _MAX_BOXES:
                raise _Damaged("too many elements")
            el_id, el_size, start = _read_element_header(fh, pos)
            if el_size == _UNKNOWN:
                # Only a live-streamed Cluster has an unknown size; metadata should have come first.
                break
            if el_id == _INFO:
                seen_info = True
                for cid, cdata in _ebml_children(_read_leaf(fh, start, start + el_size)):
                    if cid == _TIMECODE_SCALE:
                        timecode_scale = _uint_of(cdata) or timecode_scale
                    elif cid == _DURATION:
                        duration_ticks = _float_of(cdata)
            elif el_id == _TRACKS:
                seen_tracks = True
                for cid, entry in _ebml_children(_read_leaf(fh, start, start + el_size)):
                    if cid != _TRACK_ENTRY:
                        continue
                    fields = dict(_ebml_children(entry))
                    kind = _uint_of(fields.get(_TRACK_TYPE, b""))
                    codec_id = fields.get(_CODEC_ID, b"").rstrip(b"\0").decode("ascii", "replace")
                    codec = _MATROSKA_CODECS.get(codec_id, codec_id.lower() or None)
                    if kind == 1 and video_codec is None:
                        video_codec = codec
                        frame_ns = _uint_of(fields.get(_DEFAULT_DURATION, b""))
                        frame_rate = round(1e9 / frame_ns, 3) if frame_ns else None
                        dims = dict(_ebml_children(fields.get(_VIDEO, b"")))
                        width = _uint_of(dims.get(_DISPLAY_WIDTH, dims.get(_PIXEL_WIDTH, b""))) or None
                        height = _uint_of(dims.get(_DISPLAY_HEIGHT, dims.get(_PIXEL_HEIGHT, b""))) or None
                    elif kind == 2 and audio_codec is None:
                        audio_codec = codec
            pos = start + el_size
        if not seen_tracks and problem is None:
            problem = "the video has no track list: it may be cut off"
    except _Damaged as exc:
        problem = f"the video's header is damaged ({exc})"
    duration = duration_ticks * timecode_scale / 1e9 if duration_ticks else None
    return MediaProbe(
        container=container,
        kind=_CONTAINER_KIND[container],
        mime=_CONTAINER_MIME[container],
        size_bytes=size,
        duration_s=duration,
        width=width,
        height=height,
        video_codec=video_codec,
        audio_codec=audio_codec,
        frame_rate=frame_rate,
        problem=problem,
    )
