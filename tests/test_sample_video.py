"""`postbot sample-video`: a newcomer's first clip is a real video every platform takes as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from core.domain import Platform
from core.media.probe import probe_file
from core.media.validation import plan


def test_sample_video_is_taken_everywhere_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clip.mp4"
    assert main(["sample-video", str(path), "--seconds", "3.5", "--size", "360x640"]) == 0
    assert "wrote" in capsys.readouterr().out
    facts = probe_file(path)
    assert (facts.video_codec, facts.audio_codec, facts.width, facts.height) == ("h264", "aac", 360, 640)
    checked = plan(facts, list(Platform), caption="Hello world", title="Hello world")
    assert checked.problems == {} and checked.targets == {}


def test_sample_video_says_what_is_wrong_with_a_bad_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sample-video", str(tmp_path / "x.mp4"), "--size", "big"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
