"""Per-platform rules: every problem at once, per platform, each saying what to change."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.domain import MediaInfo, Platform
from core.errors import ValidationFailed
from core.media.probe import MediaProbe, probe_file
from core.media.sample import ClipSpec
from core.media.validation import (
    ensure_valid,
    max_upload_bytes,
    oversize_message,
    validate,
    x_weighted_length,
)
from tests.clips import clip_file

ALL = (Platform.YOUTUBE, Platform.INSTAGRAM, Platform.X, Platform.LINKEDIN, Platform.TIKTOK)


def _info(path: Path) -> MediaInfo:
    return MediaInfo(path=str(path), sha256="0" * 64, size_bytes=path.stat().st_size, mime="video/mp4")


@pytest.fixture
def real(clip: Path) -> MediaProbe:
    """What the probe says of the suite's real clip (H.264/AAC MP4, 540x960, 12 s, 24 fps)."""
    return probe_file(clip)


def _as(facts: MediaProbe, **changes: object) -> MediaProbe:
    """The real clip's facts with some changed: the rules are arithmetic on these, and encoding a
    3-minute 3000x300 file to check a number would only slow the suite (the probe has its own tests)."""
    return replace(facts, **changes)  # type: ignore[arg-type]


def test_a_good_vertical_clip_passes_everywhere(clip: Path) -> None:
    assert validate(_info(clip), ALL, caption="Launch day #launch", title="Launch day") == {}
    ensure_valid(probe_file(clip), ALL, caption="Launch day #launch", title="Launch day")


def test_every_problem_for_every_platform_at_once(real: MediaProbe) -> None:
    # 3 minutes, 10:1 wide, HEVC, moov at the end, 600 MB.
    wide = _as(
        real,
        duration_s=180,
        width=3000,
        height=300,
        video_codec="hevc",
        size_bytes=600_000_000,
        moov_first=False,
    )
    caption = "x" * 2300 + " " + " ".join(f"#t{i}" for i in range(35))
    with pytest.raises(ValidationFailed) as caught:
        ensure_valid(wide, ALL, caption=caption, title=None)
    problems = caught.value.problems
    assert set(problems) == {"youtube", "instagram", "x", "linkedin", "tiktok"}
    yt = " ".join(problems["youtube"])
    assert "needs a title" in yt and "first line" in yt
    ig = problems["instagram"]
    assert any("600 MB" in p and "300 MB" in p for p in ig)
    assert any("caption" in p and "2,200" in p for p in ig)
    assert any("35 hashtags" in p and "remove 5" in p for p in ig)
    assert any("faststart" in p for p in ig)
    assert any("3000x300" in p and "1920" in p for p in ig)
    x = problems["x"]
    assert any("HEVC" in p and "H.264" in p for p in x)
    assert any("3 min" in p and "2 min 20 s" in p and "trim 40 s" in p for p in x)
    assert any("aspect ratio is 10:1" in p and "1:3 to 3:1" in p for p in x)
    assert any("post text" in p and "280" in p for p in x)
    li = problems["linkedin"]
    assert any("500 MB" in p for p in li)
    assert any("aspect ratio" in p and "1:2.4 to 2.4:1" in p for p in li)
    tt = problems["tiktok"]
    assert any("3000x300" in p and "360 px" in p for p in tt)
    assert not any("4.0 GB" in p for p in tt)
    # The message the user sees lists every line.
    message = str(caught.value)
    assert message.count("•") == sum(len(v) for v in problems.values())


def test_container_rules_by_signature(tmp_path: Path) -> None:
    spec = ClipSpec(duration_s=4, width=360, height=640, video_codec="vp9", audio_codec="opus")
    webm = clip_file(tmp_path / "clip.webm", spec)
    problems = validate(probe_file(webm), ALL, caption="hi", title="hi")
    assert "youtube" not in problems and "tiktok" not in problems
    assert any("WebM" in p and "MP4" in p for p in problems["linkedin"])
    assert any("WebM" in p for p in problems["instagram"])
    assert any("WebM" in p for p in problems["x"])


def test_not_a_video_is_named(tmp_path: Path) -> None:
    png = tmp_path / "cat.mp4"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    problems = validate(probe_file(png), [Platform.YOUTUBE, Platform.SANDBOX], caption="c", title="t")
    assert problems["youtube"] == [
        "the file is a PNG image, not a video: send a video file (MP4 works everywhere)."
    ]
    assert "PNG image" in problems["sandbox"][0]


def test_durations_and_sizes_at_the_edges(tmp_path: Path, real: MediaProbe) -> None:
    short = clip_file(
        tmp_path / "short.mp4", ClipSpec(duration_s=2, width=360, height=640), size_bytes=200_000
    )
    problems = validate(probe_file(short), ALL, caption="c", title="t")
    assert any("2.0 s" in p and "at least 3.0 s" in p for p in problems["instagram"])
    assert any("2.0 s" in p for p in problems["linkedin"])
    assert "x" not in problems
    tiny = _as(real, size_bytes=10_000)
    assert any("75 KB" in p for p in validate(tiny, [Platform.LINKEDIN], caption="c")["linkedin"])
    exact = _as(real, duration_s=140, width=720, height=1280, size_bytes=512_000_000)
    assert validate(exact, [Platform.X], caption="c") == {}


def test_youtube_text_rules(clip: Path) -> None:
    path = clip
    caption = "é" * 2600 + " <b>"  # 5204 UTF-8 bytes
    problems = validate(probe_file(path), [Platform.YOUTUBE], caption=caption, title="T" * 101)["youtube"]
    assert any("description is 5,204 bytes" in p and "cut 204" in p for p in problems)
    assert any("title is 101 characters" in p for p in problems)
    assert any("'<'" in p for p in problems) and any("'>'" in p for p in problems)
    many = " ".join(f"#tag{i}" for i in range(61))
    problems = validate(probe_file(path), [Platform.YOUTUBE], caption=many, title="ok")["youtube"]
    assert problems == ["the description has 61 hashtags; YouTube allows 60: remove 1."]


def test_tiktok_counts_utf16_and_x_weights_text() -> None:
    assert x_weighted_length("hello") == 5
    assert x_weighted_length("日本") == 4
    assert x_weighted_length("see https://example.com/a/very/long/path/that/is/long") == 4 + 23
    assert x_weighted_length("😀") == 2


def test_tiktok_caption_in_utf16_units(clip: Path) -> None:
    path = clip
    # 1100 emoji are 1100 code points but 2200 UTF-16 units: exactly at the limit.
    assert validate(probe_file(path), [Platform.TIKTOK], caption="😀" * 1100) == {}
    problems = validate(probe_file(path), [Platform.TIKTOK], caption="😀" * 1101)["tiktok"]
    assert problems == ["the caption is 2,202 characters; TikTok takes 2,200: cut 2."]


def test_instagram_mentions(clip: Path) -> None:
    path = clip
    caption = " ".join(f"@user{i}" for i in range(21)) + " mail me a@b.com"
    problems = validate(probe_file(path), [Platform.INSTAGRAM], caption=caption)["instagram"]
    assert problems == ["the caption tags 21 accounts; Instagram allows 20: remove 1 @mentions."]


def test_rotated_phone_video_is_judged_as_displayed(tmp_path: Path) -> None:
    # Stored 1920x1080 with a 90° turn: shown 1080x1920, fine for Instagram's 1920 px width limit
    # (and X's 1:3 to 3:1 aspect either way).
    spec = ClipSpec(duration_s=4, width=1920, height=1080, rotation=90)
    phone = probe_file(clip_file(tmp_path / "phone.mp4", spec))
    assert (phone.width, phone.height) == (1080, 1920)
    assert validate(phone, [Platform.INSTAGRAM, Platform.X], caption="c") == {}
    # Unturned, the same picture would be 1920 wide: still within Instagram's limit.
    wide = _as(phone, width=2160, height=1080, rotation=0)
    assert any("1920 px" in p for p in validate(wide, [Platform.INSTAGRAM], caption="c")["instagram"])


def test_damaged_header_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    whole = clip_file(tmp_path / "full.mp4")
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size - 5000])
    problems = validate(probe_file(path), [Platform.TIKTOK], caption="c")["tiktok"]
    assert any("cut off" in p and "re-send" in p for p in problems)


def test_max_upload_bytes_is_the_strictest_platform() -> None:
    assert max_upload_bytes([Platform.YOUTUBE, Platform.TIKTOK]) == 4 * 1024**3
    assert max_upload_bytes([Platform.YOUTUBE, Platform.INSTAGRAM, Platform.X]) == 300_000_000
    assert max_upload_bytes([Platform.SANDBOX]) is None
    assert oversize_message(100_000_000, [Platform.X, Platform.YOUTUBE]) is None
    message = oversize_message(600_000_000, [Platform.X, Platform.INSTAGRAM, Platform.YOUTUBE])
    assert message is not None
    assert "X takes at most 512 MB" in message and "Instagram takes at most 300 MB" in message
    assert "YouTube" not in message


def test_frame_rate_limits(tmp_path: Path, real: MediaProbe) -> None:
    slow = probe_file(clip_file(tmp_path / "slow.mp4", ClipSpec(duration_s=4, width=360, height=640, fps=15)))
    problems = validate(slow, ALL, caption="c", title="t")
    assert problems["tiktok"] == ["the video runs at 15 fps; TikTok takes 23-60 fps: re-export it at 30 fps."]
    assert any("23-60 fps" in p for p in problems["instagram"])
    assert "linkedin" not in problems and "youtube" not in problems and "x" not in problems
    fast = _as(real, frame_rate=120.0)
    assert validate(fast, [Platform.X], caption="c") == {
        "x": ["the video runs at 120 fps; X takes at most 60 fps: re-export it at 30 fps."]
    }
    film = _as(real, frame_rate=24000 / 1001)
    assert validate(film, ALL, caption="c", title="t") == {}
