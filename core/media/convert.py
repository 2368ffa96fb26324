"""Make a video a platform accepts out of one it would refuse, with PyAV, streaming.

Two ways, cheapest first:

* **remux**: the codecs are fine, only the wrapping is not (a MOV or MKV where MP4 is wanted, an MP4
  whose index sits at the end or that is fragmented). Packets are copied into an MP4 with the index
  in front; nothing is decoded, so it runs at disk speed.
* **transcode**: the codec, bit depth, chroma, size or frame rate is wrong. Pictures are decoded,
  scaled to the target's size, retimed to a constant rate and encoded as H.264 High 8-bit 4:2:0 with
  AAC-LC stereo audio, which every platform postbot publishes to accepts.

Both stream packet by packet (memory stays flat whatever the file's size) and write to a temporary
name that is renamed into place only when the file is complete, so a reader never sees half a file.
These functions block for as long as the work takes: ``core.media.conversions`` runs them in a
process pool.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av

from core.errors import MediaError

# Codecs an MP4 can carry as they are (what remuxing keeps); anything else is transcoded.
MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4"})
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"})


@dataclass(frozen=True)
class Target:
    """What a converted file must be. Equal targets share one output file (see ``key``)."""

    # "remux": copy the packets into an MP4 with the index in front. "h264": transcode.
    method: str
    # Transcode only: the longest and shortest displayed side allowed (None: any).
    max_long_side: int | None = None
    min_short_side: int | None = None
    # Transcode only: the constant frame rate to write (None: the source's, rounded).
    fps: float | None = None

    @property
    def key(self) -> str:
        if self.method == "remux":
            return "remux"
        parts = ["h264"]
        if self.max_long_side:
            parts.append(f"max{self.max_long_side}")
        if self.min_short_side:
            parts.append(f"min{self.min_short_side}")
        if self.fps:
            parts.append(f"{self.fps:g}fps")
        return "-".join(parts)

    def describe(self) -> str:
        if self.method == "remux":
            return "rewrapped as MP4 (no re-encoding)"
        return "re-encoded as H.264/AAC MP4"


REMUX = Target("remux")

# x264: "veryfast" is within a few percent of "medium" in size at CRF 21 for camera footage and
# about 3x faster; maxrate keeps a 4K source from becoming a file no platform takes.
_X264_OPTIONS = {"preset": "veryfast", "crf": "21", "profile": "high", "maxrate": "12M", "bufsize": "24M"}
_AUDIO_RATE = 48_000


def _partial(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{os.getpid()}.part")


def convert(source: str | Path, dest: str | Path, target: Target) -> Path:
    """Write ``source`` converted to ``target`` at ``dest`` (atomically) and return ``dest``."""
    import av  # PyAV when a file is converted, not at import (issue 28)

    out = Path(dest)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial(out)
    try:
        if target.method == "remux":
            _remux(Path(source), tmp)
        else:
            _transcode(Path(source), tmp, target)
        os.replace(tmp, out)
    except av.FFmpegError as exc:
        raise MediaError(
            f"The video could not be converted: {(exc.strerror or type(exc).__name__).lower()}.",
            hint="The file may be damaged: export it again and re-send it.",
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _rotation_of(container: av.container.InputContainer, stream: av.VideoStream) -> int:
    """The display rotation, read off the first decoded picture (streams do not expose it)."""
    for frame in container.decode(stream):
        return round(frame.rotation) % 360
    return 0


def _remux(source: Path, tmp: Path) -> None:
    import av  # PyAV when a file is converted, not at import (issue 28)

    with av.open(str(source)) as probe:
        rotation = _rotation_of(probe, probe.streams.video[0]) if probe.streams.video else 0
    with (
        av.open(str(source)) as inp,
        av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        video_in = inp.streams.video[0]
        video_out = out.add_stream_from_template(video_in)
        if video_in.codec_context.name == "hevc":
            # Apple's players (and so Instagram's pipeline) want hvc1, FFmpeg's default is hev1.
            video_out.codec_tag = "hvc1"
        if rotation:
            video_out.set_display_rotation(rotation)
        mapping: dict[int, av.stream.Stream] = {video_in.index: video_out}
        audio_in = next(
            (a for a in inp.streams.audio if a.codec_context.name in MP4_AUDIO_CODECS),
            None,
        )
        if audio_in is not None:
            mapping[audio_in.index] = out.add_stream_from_template(audio_in)
        for packet in inp.demux(list(s for s in (video_in, audio_in) if s is not None)):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


def scaled_size(width: int, height: int, target: Target) -> tuple[int, int]:
    """The coded size to encode at: within the target's limits, aspect kept, both sides even."""
    scale = 1.0
    long_side, short_side = max(width, height), min(width, height)
    if target.max_long_side and long_side > target.max_long_side:
        scale = target.max_long_side / long_side
    if target.min_short_side and short_side * scale < target.min_short_side:
        scale = target.min_short_side / short_side
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


def output_rate(source_fps: float | None, target: Target) -> Fraction:
    fps = target.fps or source_fps or 30.0
    # NTSC rates stay exact (29.97 is 30000/1001), others round to a whole number.
    for ntsc in (24, 30, 60):
        if abs(fps - ntsc * 1000 / 1001) < 0.01:
            return Fraction(ntsc * 1000, 1001)
    return Fraction(max(1, round(fps)))


def _transcode(source: Path, tmp: Path, target: Target) -> None:
    import av  # PyAV when a file is converted, not at import (issue 28)

    with av.open(str(source)) as probe:
        rotation = _rotation_of(probe, probe.streams.video[0])
    with (
        av.open(str(source)) as inp,
        av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        video_in = inp.streams.video[0]
        video_in.thread_type = "AUTO"
        cc = video_in.codec_context
        source_fps = float(video_in.average_rate) if video_in.average_rate else None
        rate = output_rate(source_fps, target)
        # Limits are on the displayed picture; the encoder sees it unturned.
        turned = rotation % 180 == 90
        shown = scaled_size(*((cc.height, cc.width) if turned else (cc.width, cc.height)), target)
        width, height = (shown[1], shown[0]) if turned else shown
        video_out = out.add_stream("libx264", rate=rate, options=dict(_X264_OPTIONS))
        assert isinstance(video_out, av.VideoStream)
        video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
        audio_in = inp.streams.audio[0] if inp.streams.audio else None
        audio_out = None
        if audio_in is not None:
            sound = out.add_stream("aac", rate=_AUDIO_RATE, layout="stereo")
            assert isinstance(sound, av.AudioStream)
            audio_out = sound
        retime = _Retimer(rate, video_in.time_base, video_in.start_time or 0)
        frame_time = 1 / rate
        if rotation:
            video_out.set_display_rotation(rotation)
        for packet in inp.demux(list(s for s in (video_in, audio_in) if s is not None)):
            if packet.stream.type == "video":
                for frame in packet.decode():
                    assert isinstance(frame, av.VideoFrame)
                    picture = frame.reformat(width=width, height=height, format="yuv420p")
                    # Slots count output frames: the encoder's time base is one frame.
                    picture.time_base = frame_time
                    for slot in retime.slots(frame.pts):
                        picture.pts = slot
                        out.mux(video_out.encode(picture))
            elif audio_out is not None:
                for sound_frame in packet.decode():
                    assert isinstance(sound_frame, av.AudioFrame)
                    sound_frame.pts = None
                    out.mux(audio_out.encode(sound_frame))
        out.mux(video_out.encode(None))
        if audio_out is not None:
            out.mux(audio_out.encode(None))


class _Retimer:
    """Constant frame rate out of any timestamps: each source picture fills the output slots from
    its own time to the next picture's, so a faster source drops pictures, a slower or variable
    one repeats them, and audio stays in sync."""

    def __init__(self, rate: Fraction, time_base: Fraction | None, start: int) -> None:
        self._rate = rate
        self._time_base = time_base or Fraction(1, 90_000)
        self._start = start
        self._next = 0

    def slots(self, pts: int | None) -> Iterator[int]:
        if pts is None:
            # No timestamp: one slot, in order.
            yield self._next
            self._next += 1
            return
        seconds = (pts - self._start) * self._time_base
        last = math.floor(seconds * self._rate + Fraction(1, 2))
        # This picture covers every slot up to its own; the slots before it that no earlier picture
        # reached (a gap in a variable-rate file) show it early rather than leaving a hole.
        while self._next <= last:
            yield self._next
            self._next += 1
