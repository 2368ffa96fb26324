"""The PyAV probe on real encoder output (encoded in the tests with PyAV), and on the malformed files
that only hand-built boxes can make."""

from __future__ import annotations

import shutil
import struct
import tracemalloc
from dataclasses import replace
from pathlib import Path

import av
import pytest

from core.errors import MediaError
from core.media.probe import probe, probe_file
from core.media.sample import ClipSpec
from tests.clips import clip_file, encoded
from tests.fakes.mp4 import mp4_bytes

SMALL = ClipSpec(duration_s=2, width=320, height=240, fps=30)


def _small(**changes: object) -> ClipSpec:
    return replace(SMALL, **changes)  # type: ignore[arg-type]


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


def test_h264_mp4_with_everything_a_platform_asks(tmp_path: Path) -> None:
    info = probe_file(clip_file(tmp_path / "clip.mp4"))
    assert info.container == "mp4"
    assert info.kind == "MP4 video"
    assert info.mime == "video/mp4"
    assert info.duration_s == pytest.approx(12, abs=0.05)
    assert (info.width, info.height) == (540, 960)
    assert info.aspect_ratio == pytest.approx(9 / 16)
    assert info.video_codec == "h264"
    assert info.bit_depth == 8
    assert info.pix_fmt == "yuv420p"
    assert info.profile is not None
    assert info.frame_rate == pytest.approx(24)
    assert not info.variable_frame_rate
    assert info.bitrate is not None and info.bitrate > 0
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 2)
    assert info.moov_first is True
    assert not info.fragmented
    assert info.problem is None
    assert info.is_video


def test_index_at_the_end_as_phones_write_it(tmp_path: Path) -> None:
    spec = _small(duration_s=2, faststart=False)
    info = probe_file(clip_file(tmp_path / "cam.mp4", spec))
    assert info.moov_first is False
    assert info.duration_s == pytest.approx(2, abs=0.05)
    assert info.problem is None


def test_rotation_matrix_swaps_the_displayed_sides(tmp_path: Path) -> None:
    # Phones record landscape and mark the track rotated: the viewer sees portrait.
    info = probe_file(clip_file(tmp_path / "phone.mp4", _small(duration_s=1, rotation=90)))
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (240, 320)
    flipped = _small(duration_s=1, rotation=180)
    upside_down = probe_file(clip_file(tmp_path / "flip.mp4", flipped))
    assert upside_down.rotation == 180
    assert (upside_down.width, upside_down.height) == (320, 240)


@pytest.mark.skipif(not _has_encoder("libx265"), reason="this PyAV wheel has no HEVC encoder")
def test_iphone_style_hevc_mov(tmp_path: Path) -> None:
    spec = _small(duration_s=1, video_codec="hevc", rotation=90)
    info = probe_file(clip_file(tmp_path / "IMG_0001.mov", spec))
    assert info.container == "mov"
    assert info.mime == "video/quicktime"
    assert info.video_codec == "hevc"
    assert (info.width, info.height) == (240, 320)
    assert info.is_video


def test_ten_bit_h264_reports_its_depth_and_profile(tmp_path: Path) -> None:
    spec = _small(duration_s=1, pix_fmt="yuv420p10le")
    info = probe_file(clip_file(tmp_path / "hdr.mp4", spec))
    assert info.video_codec == "h264"
    assert info.bit_depth == 10
    assert info.profile == "High 10"


def test_prores_mov_from_an_editor(tmp_path: Path) -> None:
    spec = ClipSpec(
        duration_s=0.5, width=320, height=240, video_codec="prores", pix_fmt="yuv422p10le", audio_codec="pcm"
    )
    info = probe_file(clip_file(tmp_path / "edit.mov", spec))
    assert (info.container, info.video_codec, info.bit_depth) == ("mov", "prores", 10)
    assert info.audio_codec == "pcm_s16le"


def test_vp9_opus_webm_screen_recording(tmp_path: Path) -> None:
    spec = _small(duration_s=2, video_codec="vp9", audio_codec="opus")
    info = probe_file(clip_file(tmp_path / "screen.webm", spec))
    assert (info.container, info.video_codec, info.audio_codec) == ("webm", "vp9", "opus")
    assert info.duration_s == pytest.approx(2, abs=0.05)
    assert info.moov_first is None


def test_h264_mkv_and_mpeg4_avi(tmp_path: Path) -> None:
    mkv = probe_file(clip_file(tmp_path / "a.mkv", SMALL))
    assert (mkv.container, mkv.kind, mkv.video_codec) == ("mkv", "Matroska (MKV) video", "h264")
    avi_spec = _small(duration_s=1, video_codec="mpeg4", audio_codec="mp3")
    avi = probe_file(clip_file(tmp_path / "b.avi", avi_spec))
    assert (avi.container, avi.kind, avi.video_codec, avi.audio_codec) == ("avi", "AVI video", "mpeg4", "mp3")


def test_name_does_not_decide_the_container(tmp_path: Path) -> None:
    webm = encoded(_small(duration_s=1, video_codec="vp9", audio_codec="opus"), ".webm")
    renamed = tmp_path / "really_a_webm.mp4"
    shutil.copyfile(webm, renamed)
    assert probe_file(renamed).container == "webm"


def test_fragmented_mp4(tmp_path: Path) -> None:
    info = probe_file(clip_file(tmp_path / "live.mp4", _small(duration_s=2, fragmented=True)))
    assert info.fragmented
    assert info.video_codec == "h264"
    assert info.duration_s == pytest.approx(2, abs=0.1)


def test_variable_frame_rate(tmp_path: Path) -> None:
    info = probe_file(clip_file(tmp_path / "vfr.mp4", _small(duration_s=2, variable_rate=True)))
    assert info.variable_frame_rate
    assert info.frame_rate is not None and 15 < info.frame_rate < 29


def test_silent_video_and_audio_only(tmp_path: Path) -> None:
    silent = probe_file(clip_file(tmp_path / "silent.mp4", _small(duration_s=1, audio_codec=None)))
    assert silent.is_video and silent.audio_codec is None
    audio = probe_file(
        clip_file(tmp_path / "voice.m4a", ClipSpec(duration_s=1, video_codec="none"), size_bytes=None)
    )
    assert audio.container == "mp4"
    assert audio.kind == "MP4 audio"
    assert audio.video_codec is None and audio.audio_codec == "aac"
    assert not audio.is_video


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "PNG image"),
        (b"GIF89a" + b"\0" * 100, "GIF image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "JPEG image"),
        (b"RIFF\0\0\0\0AVI LIST" + b"\0" * 100, "AVI video"),
        (b"%PDF-1.7" + b"\0" * 100, "PDF document"),
        (struct.pack(">I4s4s", 20, b"ftyp", b"heic") + b"\0" * 100, "HEIC image"),
        (b"hello, this is text", "unrecognised file"),
    ],
)
def test_other_files_are_named_not_guessed(tmp_path: Path, head: bytes, kind: str) -> None:
    path = tmp_path / "upload.mp4"
    path.write_bytes(head)
    info = probe_file(path)
    assert info.container is None
    assert info.kind == kind
    assert not info.is_video


def test_a_real_png_is_an_image(tmp_path: Path) -> None:
    frame = av.VideoFrame(64, 64, "rgb24")
    path = tmp_path / "still.png"
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "rgb24"
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    info = probe_file(path)
    assert (info.container, info.kind) == (None, "PNG image")


def test_cut_off_upload_is_a_problem(tmp_path: Path) -> None:
    # Index in front, then the media: the header reads fine, but the file ends early.
    whole = clip_file(tmp_path / "whole.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    info = probe_file(cut)
    assert info.problem is not None and "cut off" in info.problem


def test_index_at_the_end_cut_off_is_a_problem(tmp_path: Path) -> None:
    whole = clip_file(tmp_path / "whole.mp4", _small(duration_s=2, faststart=False))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    info = probe_file(cut)
    assert info.container == "mp4"
    assert info.problem is not None
    assert info.duration_s is None


def test_corrupt_frames_are_found_by_decoding(tmp_path: Path) -> None:
    whole = clip_file(tmp_path / "whole.mp4", _small(duration_s=1, audio_codec=None))
    data = bytearray(whole.read_bytes())
    mdat = data.index(b"mdat")
    # The header stays intact; the first pictures are noise.
    data[mdat + 4 : mdat + 4 + 6000] = bytes((i * 97 + 13) % 251 for i in range(6000))
    (tmp_path / "noise.mp4").write_bytes(bytes(data))
    info = probe_file(tmp_path / "noise.mp4")
    assert info.problem is not None and "damaged" in info.problem


def test_hand_built_truncated_header_reports_a_problem(tmp_path: Path) -> None:
    data = mp4_bytes(size_bytes=50_000)
    (tmp_path / "cut.mp4").write_bytes(data[:60])
    info = probe_file(tmp_path / "cut.mp4")
    assert info.container == "mp4"
    assert info.problem is not None
    assert info.duration_s is None


def test_garbage_box_size_is_damage_not_a_crash(tmp_path: Path) -> None:
    data = bytearray(mp4_bytes())
    # The box after ftyp claims a size smaller than its own header.
    ftyp_len = struct.unpack(">I", data[:4])[0]
    data[ftyp_len : ftyp_len + 4] = struct.pack(">I", 3)
    (tmp_path / "bad.mp4").write_bytes(bytes(data))
    info = probe_file(tmp_path / "bad.mp4")
    assert info.problem is not None and "damaged" in info.problem


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert probe_file(tmp_path / "empty.mp4").kind == "empty file"
    with pytest.raises(MediaError):
        probe_file(tmp_path / "missing.mp4")


async def test_huge_sparse_file_is_probed_in_constant_memory(tmp_path: Path) -> None:
    path = clip_file(tmp_path / "big.mp4", size_bytes=6 * 1024**3, fill="sparse")
    tracemalloc.start()
    try:
        info = await probe(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size_bytes == 6 * 1024**3
    assert info.duration_s == pytest.approx(12, abs=0.05)
    assert info.problem is None
    assert peak < 1024 * 1024
