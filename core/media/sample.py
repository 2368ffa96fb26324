"""Short real videos encoded with PyAV: the newcomer's first clip (`postbot sample-video`), and the
encoder output the tests and the media benchmark run on.

The picture is a grey ramp with a bright bar sweeping across it and a tone on the audio track: cheap
to encode (a few frames are drawn once and reused), real to every decoder, and easy to see moving.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

# Encoder names inside the PyAV wheel, by the codec the file should carry.
_VIDEO_ENCODERS = {
    "h264": "libx264",
    "hevc": "libx265",
    "vp9": "libvpx-vp9",
    "vp8": "libvpx",
    "mpeg4": "mpeg4",
    "prores": "prores_ks",
}
_AUDIO_ENCODERS = {"aac": "aac", "opus": "libopus", "mp3": "libmp3lame", "pcm": "pcm_s16le"}
# Fast settings: a sample must be quick to make, not small.
_VIDEO_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {"preset": "ultrafast", "crf": "28"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8"},
}
_CONTAINER_FORMATS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska", "avi": "avi"}
_AUDIO_RATE = 48_000


@dataclass(frozen=True)
class ClipSpec:
    """What to encode. Defaults: a 5 s vertical 1080x1920 H.264/AAC MP4 with the index at the front,
    which every platform postbot knows accepts as it is."""

    duration_s: float = 5.0
    width: int = 1080
    height: int = 1920
    fps: int = 30
    video_codec: str = "h264"
    # None: the container the file name's suffix says (mp4 when it says nothing known).
    container: str | None = None
    # None: no audio track at all (a silent video). "none" video: an audio-only file.
    audio_codec: str | None = "aac"
    # Bits per second of the compressed audio.
    audio_bitrate: int = 128_000
    pix_fmt: str = "yuv420p"
    # Degrees, counter-clockwise, as a phone's display matrix records it.
    rotation: int = 0
    # MP4/MOV: where the index (moov) goes. ffmpeg's own default is the end, as phones write it.
    faststart: bool = True
    # MP4: a fragmented file (moof/mdat pairs), as screen recorders and live encoders write.
    fragmented: bool = False
    # Frames drawn at doubled spacing in the second half: a variable frame rate.
    variable_rate: bool = False


def encode_clip(path: str | Path, spec: ClipSpec | None = None) -> Path:
    """Write ``spec`` as a real encoded file at ``path`` and return the path."""
    spec = spec or ClipSpec()
    out = Path(path)
    container = spec.container or _CONTAINER_FORMATS.get(out.suffix.lower().lstrip("."), "mp4")
    container = "mkv" if container == "matroska" else container
    options: dict[str, str] = {}
    if container in ("mp4", "mov"):
        if spec.fragmented:
            options["movflags"] = "frag_keyframe+empty_moov+default_base_moof"
        elif spec.faststart:
            options["movflags"] = "+faststart"
    with av.open(str(out), "w", format=_CONTAINER_FORMATS[container], options=options) as output:
        video: av.VideoStream | None = None
        if spec.video_codec != "none":
            encoder = _VIDEO_ENCODERS.get(spec.video_codec, spec.video_codec)
            stream = output.add_stream(encoder, rate=spec.fps, options=dict(_VIDEO_OPTIONS.get(encoder, {})))
            assert isinstance(stream, av.VideoStream)
            video = stream
            video.width, video.height, video.pix_fmt = spec.width, spec.height, spec.pix_fmt
            if spec.rotation:
                video.set_display_rotation(spec.rotation)
        audio: av.AudioStream | None = None
        if spec.audio_codec is not None:
            encoder = _AUDIO_ENCODERS.get(spec.audio_codec, spec.audio_codec)
            sound = output.add_stream(encoder, rate=_AUDIO_RATE, layout="stereo")
            assert isinstance(sound, av.AudioStream)
            if encoder in ("aac", "libopus", "libmp3lame"):
                sound.bit_rate = spec.audio_bitrate
            audio = sound
        if video is not None:
            _write_video(output, video, spec)
        if audio is not None:
            _write_audio(output, audio, spec.duration_s)
    return out


def _ramp_frames(spec: ClipSpec, count: int) -> list[av.VideoFrame]:
    """``count`` distinct pictures (the bar at ``count`` positions), converted once to the stream's
    pixel format so the loop only hands them to the encoder."""
    w, h = spec.width, spec.height
    ramp = np.tile(np.linspace(40, 200, w, dtype=np.uint8), (h, 1))
    bar = max(8, w // 24)
    frames = []
    for i in range(count):
        rgb = np.repeat(ramp[:, :, None], 3, axis=2)
        x = (i * w // count) % max(1, w - bar)
        rgb[:, x : x + bar] = (250, 200, 40)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frames.append(frame.reformat(format=spec.pix_fmt))
    return frames


def _write_video(output: av.container.OutputContainer, video: av.VideoStream, spec: ClipSpec) -> None:
    total = max(1, round(spec.duration_s * spec.fps))
    pictures = _ramp_frames(spec, min(total, spec.fps))
    pts = 0
    for i in range(total):
        frame = pictures[i % len(pictures)]
        frame.pts = pts
        output.mux(video.encode(frame))
        # Ticks of 1/fps; a variable-rate clip skips every other tick in its second half.
        pts += 2 if spec.variable_rate and i >= total // 2 else 1
    output.mux(video.encode(None))


def _write_audio(output: av.container.OutputContainer, audio: av.AudioStream, duration_s: float) -> None:
    samples = round(duration_s * _AUDIO_RATE)
    per_frame = audio.codec_context.frame_size or 1024
    t = np.arange(per_frame) / _AUDIO_RATE
    done = 0
    while done < samples:
        n = min(per_frame, samples - done)
        tone = (0.2 * np.sin(2 * np.pi * 440 * (t[:n] + done / _AUDIO_RATE))).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = _AUDIO_RATE
        frame.pts = done
        output.mux(audio.encode(frame))
        done += n
    output.mux(audio.encode(None))
