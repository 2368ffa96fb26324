"""The header probe reads what the files say, by signature, without reading the payload."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import pytest

from core.errors import MediaError
from core.media.probe import probe, probe_file
from tests.fakes.mp4 import mp4_bytes, write_mov, write_mp4, write_webm


def test_mp4_duration_dimensions_codecs(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "clip.mp4", duration_s=12.5, width=1080, height=1920, size_bytes=300_000)
    info = probe_file(path)
    assert info.container == "mp4"
    assert info.mime == "video/mp4"
    assert info.size_bytes == 300_000
    assert info.duration_s == pytest.approx(12.5)
    assert (info.width, info.height) == (1080, 1920)
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac"
    assert info.aspect_ratio == pytest.approx(9 / 16)
    assert info.problem is None
    assert info.is_video
    assert info.moov_first is True


def test_rotation_matrix_swaps_the_displayed_sides(tmp_path: Path) -> None:
    # Phones record 1920x1080 and mark the track rotated: the viewer sees portrait.
    path = write_mp4(tmp_path / "phone.mp4", width=1920, height=1080, rotation=90)
    info = probe_file(path)
    assert info.rotation == 90
    assert (info.width, info.height) == (1080, 1920)
    upside_down = probe_file(write_mp4(tmp_path / "flip.mp4", width=1920, height=1080, rotation=180))
    assert (upside_down.width, upside_down.height) == (1920, 1080)


def test_moov_after_mdat_is_found_by_seeking(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "cam.mp4", duration_s=4, codec="hvc1", size_bytes=2_000_000, moov_at_end=True)
    info = probe_file(path)
    assert info.duration_s == pytest.approx(4)
    assert info.video_codec == "hevc"
    assert info.moov_first is False


def test_mov_by_brand_and_no_audio(tmp_path: Path) -> None:
    info = probe_file(write_mov(tmp_path / "x.mov", duration_s=61, width=1920, height=1080))
    assert info.container == "mov"
    assert info.mime == "video/quicktime"
    assert info.duration_s == pytest.approx(61)
    silent = probe_file(write_mp4(tmp_path / "silent.mp4", audio=False, codec="vp09"))
    assert silent.audio_codec is None
    assert silent.video_codec == "vp9"


def test_name_does_not_decide_the_container(tmp_path: Path) -> None:
    renamed = tmp_path / "really_a_webm.mp4"
    write_webm(renamed, duration_s=7.25, width=640, height=360)
    info = probe_file(renamed)
    assert info.container == "webm"
    assert info.duration_s == pytest.approx(7.25)
    assert (info.width, info.height, info.video_codec) == (640, 360, "vp9")


def test_matroska_doc_type(tmp_path: Path) -> None:
    info = probe_file(write_webm(tmp_path / "a.mkv", doc_type="matroska", codec="V_MPEG4/ISO/AVC"))
    assert info.container == "mkv"
    assert info.video_codec == "h264"


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


def test_truncated_before_moov_reports_a_problem(tmp_path: Path) -> None:
    data = mp4_bytes(size_bytes=50_000)
    # Keep only ftyp and part of what follows: the moov box is cut off.
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
    path = write_mp4(tmp_path / "big.mp4", size_bytes=6 * 1024**3, fill="sparse", moov_at_end=True)
    tracemalloc.start()
    try:
        info = await probe(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size_bytes == 6 * 1024**3
    assert info.duration_s == pytest.approx(10)
    assert peak < 1024 * 1024


def test_frame_rate_from_the_sample_table_and_webm_default_duration(tmp_path: Path) -> None:
    assert probe_file(write_mp4(tmp_path / "a.mp4", fps=29.97, duration_s=12)).frame_rate == pytest.approx(
        29.97, abs=0.01
    )
    assert probe_file(write_mp4(tmp_path / "b.mp4", fps=60, duration_s=7.5)).frame_rate == pytest.approx(60)
    assert probe_file(write_webm(tmp_path / "c.webm", fps=25)).frame_rate == pytest.approx(25)
    # No sample table (a fragmented file, say): unknown, not zero.
    assert probe_file(write_mp4(tmp_path / "d.mp4", fps=None)).frame_rate is None
