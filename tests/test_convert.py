"""Remux and transcode on real encoder output, the per-platform plan that chooses between them, and
the cache that shares one output between platforms."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import av
import pytest

from core.domain import MediaInfo, Platform
from core.media.conversions import Converter
from core.media.convert import REMUX, Target, convert
from core.media.probe import MediaProbe, probe_file
from core.media.sample import ClipSpec
from core.media.validation import plan, target_for
from tests.clips import clip_file

ALL = (Platform.YOUTUBE, Platform.INSTAGRAM, Platform.X, Platform.LINKEDIN, Platform.TIKTOK)
# Long enough for every platform's minimum (3 s), big enough for LinkedIn's 75 KB, small to encode.
BASE = ClipSpec(duration_s=3.5, width=360, height=640, fps=30)


def _spec(**changes: object) -> ClipSpec:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def _targets(path: Path) -> dict[str, str]:
    checked = plan(probe_file(path), ALL, caption="c", title="t")
    assert checked.problems == {}, checked.problems
    return {p.value: t.key for p, t in checked.targets.items()}


def test_index_at_the_end_is_remuxed_for_instagram_only_and_no_packet_changes(tmp_path: Path) -> None:
    # Recorded landscape, turned to portrait by the display matrix, index written last: a phone.
    source = clip_file(tmp_path / "phone.mp4", _spec(width=640, height=360, faststart=False, rotation=90))
    assert _targets(source) == {"instagram": "remux"}
    out = convert(source, tmp_path / "out.mp4", REMUX)
    facts = probe_file(out)
    assert facts.moov_first is True
    assert (facts.width, facts.height, facts.rotation) == (360, 640, 90)
    assert _packets(out) == _packets(source), "a remux copies the coded pictures untouched"
    assert target_for(facts, Platform.INSTAGRAM) is None


def test_h264_mkv_and_hevc_mov_are_rewrapped_as_mp4(tmp_path: Path) -> None:
    mkv = clip_file(tmp_path / "screen.mkv", _spec())
    # Everyone but YouTube wants MP4/MOV (TikTok takes WebM, not MKV).
    assert _targets(mkv) == {"instagram": "remux", "x": "remux", "linkedin": "remux", "tiktok": "remux"}
    out = probe_file(convert(mkv, tmp_path / "mkv.mp4", REMUX))
    assert (out.container, out.video_codec, out.audio_codec) == ("mp4", "h264", "aac")
    hevc = clip_file(tmp_path / "IMG_0001.mov", _spec(video_codec="hevc", rotation=90))
    # X takes H.264 only; LinkedIn takes HEVC but in MP4; the rest take the file as it is.
    assert _targets(hevc) == {"x": "h264", "linkedin": "remux"}
    rewrapped = convert(hevc, tmp_path / "hevc.mp4", REMUX)
    facts = probe_file(rewrapped)
    assert (facts.container, facts.video_codec, facts.rotation) == ("mp4", "hevc", 90)
    with av.open(str(rewrapped)) as container:
        assert container.streams.video[0].codec_context.codec_tag == "hvc1"


def test_fragmented_mp4_is_rewrapped(tmp_path: Path) -> None:
    source = clip_file(tmp_path / "live.mp4", _spec(fragmented=True))
    assert set(_targets(source).values()) == {"remux"}
    assert "youtube" not in _targets(source)
    assert not probe_file(convert(source, tmp_path / "plain.mp4", REMUX)).fragmented


@pytest.mark.parametrize(
    ("name", "spec", "needs"),
    [
        # LinkedIn takes VP9 once it is in an MP4: a rewrap is enough there.
        ("screen.webm", _spec(video_codec="vp9", audio_codec="opus"), {"instagram", "x"}),
        ("old.avi", _spec(video_codec="mpeg4", audio_codec="mp3"), {"instagram", "x", "tiktok"}),
        ("hdr.mp4", _spec(pix_fmt="yuv420p10le"), {"x"}),
        (
            "edit.mov",
            _spec(duration_s=3.2, video_codec="prores", pix_fmt="yuv422p10le", audio_codec="pcm"),
            {"instagram", "x", "linkedin", "tiktok"},
        ),
    ],
)
def test_what_needs_h264_is_transcoded_once_for_everyone(
    tmp_path: Path, name: str, spec: ClipSpec, needs: set[str]
) -> None:
    source = clip_file(tmp_path / name, spec)
    targets = _targets(source)
    assert {p for p, key in targets.items() if key == "h264"} == needs
    out = probe_file(convert(source, tmp_path / "out.mp4", Target("h264")))
    assert (out.container, out.video_codec, out.pix_fmt, out.bit_depth) == ("mp4", "h264", "yuv420p", 8)
    assert out.audio_codec == "aac"
    assert out.moov_first is True
    assert out.duration_s == pytest.approx(spec.duration_s, abs=0.15)
    for platform in ALL:
        assert target_for(out, platform) is None, f"{platform} would still want the output converted"


def test_frame_rate_and_size_are_brought_within_limits(tmp_path: Path) -> None:
    fast = clip_file(tmp_path / "slowmo.mp4", _spec(fps=120, duration_s=3.2))
    targets = _targets(fast)
    assert targets["x"] == targets["instagram"] == targets["tiktok"] == "h264-60fps"
    out = probe_file(convert(fast, tmp_path / "60.mp4", Target("h264", fps=60)))
    assert out.frame_rate == pytest.approx(60)
    assert out.duration_s == pytest.approx(3.2, abs=0.1)
    vfr = clip_file(tmp_path / "vfr.mp4", _spec(variable_rate=True))
    steady = probe_file(convert(vfr, tmp_path / "cfr.mp4", Target("h264", fps=30)))
    assert not steady.variable_frame_rate and steady.frame_rate == pytest.approx(30)
    small = clip_file(tmp_path / "small.mp4", _spec(width=320, height=240, rotation=90))
    # Shown 240x320: TikTok needs 360 px a side, so it is scaled up with the turn kept.
    assert _targets(small)["tiktok"] == "h264-min360"
    up = probe_file(convert(small, tmp_path / "up.mp4", Target("h264", min_short_side=360)))
    assert (up.width, up.height, up.rotation) == (360, 480, 90)


def test_what_cannot_be_fixed_is_refused_with_a_reason(tmp_path: Path, clip: Path) -> None:
    voice = probe_file(clip_file(tmp_path / "voice.m4a", _spec(video_codec="none")))
    refused = plan(voice, ALL, caption="c", title="t")
    assert refused.targets == {}
    assert all(
        p == ["the file has no video track: send a video, not an audio file."]
        for p in refused.problems.values()
    )
    png = tmp_path / "still.png"
    with av.open(str(png), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "rgb24"  # type: ignore[union-attr]
        out.mux(stream.encode(av.VideoFrame(64, 64, "rgb24")))  # type: ignore[union-attr]
        out.mux(stream.encode(None))  # type: ignore[union-attr]
    image = plan(probe_file(png), ALL, caption="c", title="t")
    assert all("PNG image, not a video" in p[0] for p in image.problems.values())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    damaged = plan(probe_file(cut), ALL, caption="c", title="t")
    assert damaged.targets == {} and all("cut off" in p[0] for p in damaged.problems.values())
    # Too long for X is not something a conversion fixes (cutting the video is the author's call).
    long_hevc: MediaProbe = replace(probe_file(clip), video_codec="hevc", duration_s=200.0)
    x = plan(long_hevc, [Platform.X], caption="c")
    assert x.targets == {} and any("trim" in p for p in x.problems["x"])


def test_no_convert_refuses_as_before(tmp_path: Path) -> None:
    hevc = probe_file(clip_file(tmp_path / "IMG_0002.mov", _spec(video_codec="hevc")))
    refused = plan(hevc, [Platform.X, Platform.LINKEDIN], caption="c", convert=False)
    assert refused.targets == {}
    assert any("HEVC" in p and "re-export it with H.264" in p for p in refused.problems["x"])
    assert any("does not take QuickTime" in p for p in refused.problems["linkedin"])


async def test_one_output_per_source_and_target_shared_by_concurrent_callers(tmp_path: Path) -> None:
    source = clip_file(tmp_path / "screen.webm", _spec(video_codec="vp9", audio_codec="opus"))
    media = MediaInfo(path=str(source), sha256="ab" * 32, size_bytes=source.stat().st_size, mime="video/webm")
    converter = Converter(tmp_path / "converted", workers=1)
    try:
        target = Target("h264")
        converter.start(media, target)
        first, second = await asyncio.gather(converter.ensure(media, target), converter.ensure(media, target))
        assert first == second
        assert Path(first.path) == converter.output_path(media, target)
        assert probe_file(first.path).video_codec == "h264"
        made = Path(first.path).stat().st_mtime_ns
        again = await converter.ensure(media, target)
        assert Path(again.path).stat().st_mtime_ns == made, "the cached output is reused, not redone"
        assert first.sha256 != media.sha256 and first.mime == "video/mp4"
        assert [p.name for p in Path(first.path).parent.iterdir() if p.suffix == ".part"] == []
    finally:
        await converter.close()
