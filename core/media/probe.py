"""What a video file is, read with PyAV (FFmpeg's demuxers and decoders, inside the ``av`` wheel).

The container comes from the file's contents, never from its name or the MIME type a chat sent.
FFmpeg reads the header (for an MP4 whose index sits at the end it seeks there). A few 8-16 byte
reads of the top-level boxes tell where an MP4's index sits, whether it is fragmented and whether the
file was cut short, and its track header gives the rotation (display matrix). By default the first
pictures are decoded too: a file whose first frames do not decode is damaged whatever its header
says (and outside MP4/MOV the rotation only shows there). Nothing reads the media payload beyond
that, so a multi-GiB file costs milliseconds and a few KiB of Python memory.

``probe_file`` never raises for a file that is merely not a video or is damaged: it describes what it
found (``kind``, ``problem``) so validation can tell the user every problem at once. It raises
``MediaError`` only when the file cannot be read at all.
"""

from __future__ import annotations

import asyncio
import math
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import av

from core.errors import MediaError


def with_article(phrase: str) -> str:
    first = phrase.split(" ", 1)[0]
    if len(first) > 1 and first.isupper():
        # An acronym is spelled out: "an MP4", "an HEVC", but "a PNG".
        vowel = first[0] in "AEFHILMNORSX"
    else:
        vowel = first[:1].lower() in ("a", "e", "i", "o", "u")
    return f"{'an' if vowel else 'a'} {phrase}"


@dataclass(frozen=True)
class MediaProbe:
    """The facts a platform's rules are checked against. Sizes are as displayed (rotation applied)."""

    @property
    def a_kind(self) -> str:
        """``kind`` with its article, as said aloud: "an unrecognised file", "an MP4 video", "a PNG image"."""
        return with_article(self.kind)

    # "mp4", "mov", "webm", "mkv", "avi", ... when FFmpeg reads the file as a container; None otherwise.
    container: str | None
    # What the file is, in words a person understands ("MP4 video", "PNG image", "AVI video").
    kind: str
    mime: str
    size_bytes: int
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    # FFmpeg codec names: "h264", "hevc", "vp9", "prores", "mpeg4", ...; "aac", "opus", ...
    video_codec: str | None = None
    audio_codec: str | None = None
    rotation: int = 0
    # Frames per second: the average over the file (what a platform's fps limit is about).
    frame_rate: float | None = None
    # True when frame durations vary (phones, screen recorders): the average and the base rate differ.
    variable_frame_rate: bool = False
    # Codec profile as FFmpeg names it ("High", "Main 10", "HQ"), and bits per colour sample.
    profile: str | None = None
    bit_depth: int | None = None
    pix_fmt: str | None = None
    # Bits per second over the whole file.
    bitrate: int | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    # MP4/MOV only: whether the metadata (moov) comes before the media (mdat), the "fast start"
    # layout that streaming readers such as Instagram's require. None when it does not apply.
    moov_first: bool | None = None
    # MP4 only: moof/mdat fragments after an (almost) empty moov, as live encoders write.
    fragmented: bool = False
    # Why a field is missing, or why the file cannot be used, when it is damaged or cut off.
    problem: str | None = None

    @property
    def is_video(self) -> bool:
        return self.container is not None and self.video_codec is not None

    @property
    def is_iso(self) -> bool:
        return self.container in ("mp4", "mov")

    @property
    def aspect_ratio(self) -> float | None:
        if not self.width or not self.height:
            return None
        return self.width / self.height


# FFmpeg demuxer name -> (our container name, what to call it, MIME type).
_DEMUXERS: dict[str, tuple[str, str, str]] = {
    "avi": ("avi", "AVI video", "video/x-msvideo"),
    "mpegts": ("ts", "MPEG-TS video", "video/mp2t"),
    "mpeg": ("mpg", "MPEG-PS video", "video/mpeg"),
    "flv": ("flv", "Flash (FLV) video", "video/x-flv"),
    "asf": ("wmv", "Windows Media video", "video/x-ms-asf"),
    "ogg": ("ogg", "Ogg file", "application/ogg"),
    "mp3": ("mp3", "MP3 audio", "audio/mpeg"),
    "wav": ("wav", "WAV audio", "audio/wav"),
    "aac": ("aac", "AAC audio", "audio/aac"),
    "flac": ("flac", "FLAC audio", "audio/flac"),
}
_ISO_KINDS = {
    "mp4": ("MP4 video", "video/mp4"),
    "mov": ("QuickTime (MOV) video", "video/quicktime"),
    "webm": ("WebM video", "video/webm"),
    "mkv": ("Matroska (MKV) video", "video/x-matroska"),
}

# Brands under an ISO-BMFF ftyp that are not videos (FFmpeg would read some of them as one).
_ISO_NON_VIDEO = {
    b"heic": ("HEIC image", "image/heic"),
    b"heix": ("HEIC image", "image/heic"),
    b"mif1": ("HEIF image", "image/heif"),
    b"avif": ("AVIF image", "image/avif"),
    b"crx ": ("Canon raw photo", "image/x-canon-cr3"),
}

# Top-level boxes that old QuickTime files start with, before ftyp existed.
_QT_FIRST_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
# Past this many top-level boxes the layout is known well enough (a fragmented file has thousands).
_MAX_TOP_BOXES = 64


def _still_signature(head: bytes) -> tuple[str, str] | None:
    """Pictures, documents and archives: FFmpeg would open some of them (an image is a one-frame
    "video" to it), so they are named before it is asked."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP image", "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF image", "image/gif"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG image", "image/png"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG image", "image/jpeg"
    if head[:2] == b"BM" and len(head) > 14:
        return "BMP image", "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF image", "image/tiff"
    if head[:5] == b"%PDF-":
        return "PDF document", "application/pdf"
    if head[:4] == b"PK\x03\x04":
        return "ZIP archive", "application/zip"
    if head[4:8] == b"ftyp" and head[8:12] in _ISO_NON_VIDEO:
        return _ISO_NON_VIDEO[head[8:12]]
    return None


@dataclass(frozen=True)
class _IsoLayout:
    moov_first: bool | None
    fragmented: bool
    # Where the last top-level box claims to end, when that is past the end of the file.
    cut_at: int | None
    # The video track's display rotation (tkhd matrix), None when no track header was read.
    rotation: int | None = None


# The movie box (moov) is read whole for the track headers; past this size it is not worth it.
_MAX_MOOV = 64 << 20
_CONTAINER_BOXES = {b"trak", b"mdia", b"minf", b"edts"}


def _rotation_from_matrix(a: int, b: int) -> int:
    # tkhd stores [a b; c d] in 16.16 fixed point; FFmpeg's display rotation turns the other way.
    degrees = round(math.degrees(math.atan2(-b, a))) % 360
    # Only quarter turns change which side is the width.
    return min((0, 90, 180, 270, 360), key=lambda q: abs(q - degrees)) % 360


def _video_rotation(moov: bytes) -> int | None:
    """The rotation of the first track header with a picture size (audio tracks have none)."""
    stack = [(0, len(moov))]
    while stack:
        pos, end = stack.pop(0)
        while pos + 8 <= end:
            size, kind = struct.unpack_from(">I4s", moov, pos)
            if size < 8 or pos + size > end:
                return None
            if kind == b"trak":
                stack.append((pos + 8, pos + size))
            elif kind == b"tkhd" and size >= 92:
                body = pos + 8
                version = moov[body]
                base = body + 4 + (32 if version == 1 else 20) + 8 + 8
                if base + 44 <= pos + size:
                    a, b = struct.unpack_from(">ii", moov, base)
                    width, height = struct.unpack_from(">II", moov, base + 36)
                    if width and height:
                        return _rotation_from_matrix(a, b)
            pos += size
    return None


def _iso_layout(fh: BinaryIO, size: int) -> _IsoLayout:
    """Walk the top-level boxes by their headers alone (seeking over each payload). An ordinary file
    has four or five; a fragmented one thousands, of which the first few tell enough."""
    pos = 0
    moov_at = mdat_at = None
    fragmented = False
    rotation: int | None = None
    for _ in range(_MAX_TOP_BOXES):
        if pos + 8 > size:
            break
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            break
        box_size, kind = struct.unpack(">I4s", header[:8])
        if box_size == 1 and len(header) == 16:
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            box_size = size - pos
        if box_size < 8:
            break
        if kind == b"moov" and moov_at is None:
            moov_at = pos
            header_len = 16 if struct.unpack(">I", header[:4])[0] == 1 else 8
            if box_size <= _MAX_MOOV and pos + box_size <= size:
                fh.seek(pos + header_len)
                rotation = _video_rotation(fh.read(box_size - header_len))
        elif kind == b"mdat" and mdat_at is None:
            mdat_at = pos
        elif kind == b"moof":
            fragmented = True
        if pos + box_size > size:
            return _IsoLayout(_first(moov_at, mdat_at), fragmented, pos + box_size, rotation)
        pos += box_size
    return _IsoLayout(_first(moov_at, mdat_at), fragmented, None, rotation)


def _first(moov_at: int | None, mdat_at: int | None) -> bool | None:
    if moov_at is None or mdat_at is None:
        return None
    return moov_at < mdat_at


def _damaged_signature(head: bytes) -> tuple[str | None, str, str] | None:
    """What a file FFmpeg could not open says it is, so the user hears what they actually sent."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ("webm", *_ISO_KINDS["webm"]) if b"webm" in head[:64] else ("mkv", *_ISO_KINDS["mkv"])
    signatures = {
        b"RIFF": "avi" if head[8:12] == b"AVI " else "wav" if head[8:12] == b"WAVE" else None,
        b"OggS": "ogg",
        b"\x00\x00\x01\xba": "mpeg",
        b"ID3\x03": "mp3",
        b"ID3\x04": "mp3",
        b"FLV\x01": "flv",
    }
    demuxer = signatures.get(head[:4])
    if demuxer is None:
        return None
    _, kind, mime = _DEMUXERS[demuxer]
    return None, kind, mime


def _container_name(format_name: str, head: bytes) -> tuple[str, str, str]:
    if "mp4" in format_name.split(","):
        container = "mov" if head[8:12] == b"qt  " or head[4:8] in _QT_FIRST_BOXES else "mp4"
        return (container, *_ISO_KINDS[container])
    if format_name.startswith("matroska"):
        # EBML DocType is in the first few dozen bytes: "webm" or "matroska".
        container = "webm" if b"webm" in head[:64] else "mkv"
        return (container, *_ISO_KINDS[container])
    first = format_name.split(",")[0]
    if first in _DEMUXERS:
        return _DEMUXERS[first]
    return first, f"{first.upper()} file", "application/octet-stream"


def probe_file(path: str | Path, *, decode: bool = True) -> MediaProbe:
    """Describe ``path``. Blocking: call ``probe`` from async code.

    ``decode`` (the default, for a file just received) also decodes the first pictures: a damaged
    file fails there whatever its header says. ``decode=False`` reads headers only, for a file
    already checked (the scheduler working out a queued post's conversion)."""
    import av  # PyAV when a file is probed, not at import (issue 28)

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
        still = _still_signature(head)
        if still is not None:
            return MediaProbe(None, still[0], still[1], size)
        iso = head[4:8] == b"ftyp" or head[4:8] in _QT_FIRST_BOXES
        layout = _iso_layout(fh, size) if iso else None
        fh.seek(0)
        try:
            # FFmpeg reads through our handle: one open file, and the path never goes through a
            # URL parser (a name with ':' or '?' is just a name).
            with av.open(fh, "r") as container:
                known = layout.rotation if layout is not None else None
                facts = _read(container, head, size, rotation=known, decode=decode)
        except av.FFmpegError as exc:
            if iso:
                kind, mime = _ISO_KINDS["mov" if head[8:12] == b"qt  " else "mp4"]
                why = "cut off" if layout and layout.cut_at else "damaged"
                return MediaProbe(
                    "mov" if head[8:12] == b"qt  " else "mp4",
                    kind,
                    mime,
                    size,
                    problem=f"the file is {why}: its header cannot be read ({_reason(exc)})",
                )
            named = _damaged_signature(head)
            if named is None:
                return MediaProbe(None, "unrecognised file", "application/octet-stream", size)
            return MediaProbe(
                named[0], named[1], named[2], size, problem=f"the file is damaged ({_reason(exc)})"
            )
    if layout is not None and facts.container in ("mp4", "mov"):
        problem = facts.problem
        if layout.cut_at is not None and problem is None:
            missing = layout.cut_at - size
            problem = f"the file is cut off: {missing:,} bytes of it are missing (an upload that stopped?)"
        return replace(facts, moov_first=layout.moov_first, fragmented=layout.fragmented, problem=problem)
    return facts


def _reason(exc: av.FFmpegError) -> str:
    return (exc.strerror or type(exc).__name__).rstrip(".").lower()


# Decoders whose name is not the codec's.
_AUDIO_DECODER_CODEC = {"mp3float": "mp3", "mp2float": "mp2"}


@dataclass(frozen=True)
class _Sound:
    codec: str | None
    rate: int | None
    channels: int | None


def _read(
    container: av.container.InputContainer,
    head: bytes,
    size: int,
    *,
    rotation: int | None,
    decode: bool,
) -> MediaProbe:
    import av  # PyAV when a file is probed, not at import (issue 28)

    name, kind, mime = _container_name(container.format.name, head)
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    audios = list(container.streams.audio)
    duration = container.duration / av.time_base if container.duration else None
    audio = audios[0].codec_context if audios else None
    sound = _Sound(
        codec=_AUDIO_DECODER_CODEC.get(audio.name, audio.name) if audio else None,
        rate=(audio.sample_rate or None) if audio else None,
        channels=(audio.channels or None) if audio else None,
    )
    bitrate = container.bit_rate or (round(size * 8 / duration) if duration else None)
    if not videos:
        return MediaProbe(
            name,
            kind.replace("video", "audio") if sound.codec else kind,
            mime,
            size,
            duration_s=duration,
            bitrate=bitrate,
            audio_codec=sound.codec,
            audio_sample_rate=sound.rate,
            audio_channels=sound.channels,
        )
    video = videos[0]
    cc = video.codec_context
    problem = None
    if decode or rotation is None:
        # Outside MP4/MOV the rotation is only on the decoded picture.
        seen, problem = _first_frame(container, video)
        rotation = seen if rotation is None else rotation
    width, height = cc.width or None, cc.height or None
    if rotation % 180 == 90 and width and height:
        width, height = height, width
    average = float(video.average_rate) if video.average_rate else None
    base = float(video.base_rate) if video.base_rate else None
    fmt = cc.format
    bit_depth = max((c.bits for c in fmt.components), default=None) if fmt is not None else None
    return MediaProbe(
        name,
        kind,
        mime,
        size,
        duration_s=duration,
        width=width,
        height=height,
        video_codec=cc.name,
        rotation=rotation,
        frame_rate=average or base,
        # Timestamps that wander by a few percent are ordinary jitter; a real variable rate moves more.
        variable_frame_rate=bool(average and base and abs(average - base) / base > 0.02),
        profile=video.profile,
        bit_depth=bit_depth,
        pix_fmt=fmt.name if fmt is not None else None,
        bitrate=bitrate,
        problem=problem,
        audio_codec=sound.codec,
        audio_sample_rate=sound.rate,
        audio_channels=sound.channels,
    )


# A damaged stream may hold many packets that yield no picture; give up after this many.
_MAX_PACKETS_FOR_FIRST_FRAME = 48


def _first_frame(container: av.container.InputContainer, video: av.VideoStream) -> tuple[int, str | None]:
    """Decode the first picture: its display matrix is the rotation, and its absence is damage."""
    import av  # PyAV when a file is probed, not at import (issue 28)

    try:
        for count, packet in enumerate(container.demux(video)):
            for frame in packet.decode():
                return round(frame.rotation) % 360, None
            if count >= _MAX_PACKETS_FOR_FIRST_FRAME:
                break
        # End of file: a decoder holding frames back for reordering gives them up now.
        for frame in video.codec_context.decode(None):
            return round(frame.rotation) % 360, None
    except av.FFmpegError as exc:
        return 0, f"the video is damaged: its first frames do not decode ({_reason(exc)})"
    return 0, "the video is damaged: none of its first frames decode"


async def probe(path: str | Path, *, decode: bool = True) -> MediaProbe:
    """``probe_file`` in a worker thread so the event loop keeps serving while the disk seeks."""
    return await asyncio.to_thread(probe_file, path, decode=decode)
