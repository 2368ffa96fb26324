"""The Facebook publisher against the fake Graph API: real PyAV clips as reels (bytes to rupload in
resumable pieces, then the finish and the processing delay) or as Page videos (fetched by the fake
from postbot's own /media/ route), throttling, the reels cap, lost answers and dead Page tokens."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.domain import MediaInfo, Platform
from core.media.probe import probe_file
from core.media.sample import ClipSpec
from core.platforms.facebook import media
from core.platforms.facebook.publisher import PUBLISH_LIMIT_RETRY_S, FacebookPublisher
from core.publishers.base import AuthError, PermanentError, PublishJob, RateLimited, TransientError
from tests.clips import EVERYDAY, clip_file
from tests.fakes.facebook_api import REELS_PER_DAY, FakeFacebook, Video
from tests.publishing_support import StaticTokens, VideoHost

PAGE = "104000000000001"
CAPTION = "Launch day #launch"
PIECE = 128 * 1024
# Landscape and short: not a reel, so a Page video.
LANDSCAPE = ClipSpec(duration_s=4, width=320, height=180, fps=24, audio_bitrate=32_000)


@pytest.fixture
async def fake() -> AsyncIterator[FakeFacebook]:
    async with FakeFacebook(processing_polls=3) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def host() -> AsyncIterator[VideoHost]:
    async with VideoHost() as served:
        yield served


def probed(path: Path) -> MediaInfo:
    """What postbot stores about a clip: its real probe (PyAV), as the processor's job carries it."""
    facts = probe_file(path)
    return MediaInfo(
        path=str(path),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        size_bytes=path.stat().st_size,
        mime="video/mp4",
        duration_s=facts.duration_s,
        width=facts.width,
        height=facts.height,
    )


def publisher(fake: FakeFacebook, http: httpx.AsyncClient, **kwargs: Any) -> FacebookPublisher:
    options: dict[str, Any] = {
        "chunk_size": PIECE,
        "poll_interval_s": 0.01,
        "retry_base_s": 0.01,
    } | kwargs
    return FacebookPublisher(
        http, graph_base_url=fake.graph_base_url, upload_base_url=fake.base_url, **options
    )


def job(path: Path, saved: list[dict[str, Any]], tokens: Any, **options: Any) -> PublishJob:
    async def save(state: dict[str, Any]) -> None:
        saved.append(state)

    return PublishJob(
        post_id=11,
        platform=Platform.FACEBOOK,
        idempotency_key="post-11",
        caption=CAPTION,
        title=None,
        media=probed(path),
        tokens=tokens,
        save_state=save,
        options=dict(options),
    )


def retry_of(previous: PublishJob, saved: list[dict[str, Any]]) -> PublishJob:
    """The scheduler's next attempt: a new job over the stored upload state."""
    again = replace(previous, upload_state=dict(saved[-1]))
    return again


@pytest.fixture
def reel_clip(tmp_path: Path) -> Path:
    # 540x960, 12 s: the Reels spec's minimum size, inside its 3 to 90 s; several pieces long.
    return clip_file(tmp_path / "reel.mp4", EVERYDAY)


def offsets(path: Path) -> list[int]:
    """Where each piece of ``path`` starts: every one sent once, in order."""
    return list(range(0, path.stat().st_size, PIECE))


def tokens(fake: FakeFacebook) -> StaticTokens:
    page_token, _ = fake.mint(PAGE)
    return StaticTokens(page_token, PAGE)


def the_reel(fake: FakeFacebook) -> Video:
    (video,) = [v for v in fake.videos.values() if v.kind == "reel"]
    return video


async def test_a_reel_goes_up_in_pieces_is_finished_and_waited_for(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    assert media.is_reel(probed(reel_clip))
    saved: list[dict[str, Any]] = []

    result = await publisher(fake, http).publish(job(reel_clip, saved, tokens(fake)))

    reel = the_reel(fake)
    assert bytes(reel.received) == reel_clip.read_bytes()
    assert [offset for offset, _ in reel.pieces] == offsets(reel_clip)
    assert reel.description == CAPTION and reel.publishing == "complete"
    assert result.remote_id == reel.id and result.url == f"https://www.facebook.com/reel/{reel.id}/"
    assert result.note is None
    # The processing delay: polled until published, not taken as done at the finish.
    polls = [r for r in fake.requests if r.path == f"/v25.0/{reel.id}" and r.method == "GET"]
    assert len(polls) >= 1 + fake.processing_polls
    assert saved[-1]["fb_published"] is True and saved[-1]["remote_id"] == reel.id


async def test_a_video_that_cannot_be_a_reel_goes_as_a_page_video_with_its_title(
    fake: FakeFacebook, http: httpx.AsyncClient, host: VideoHost, tmp_path: Path
) -> None:
    clip = clip_file(tmp_path / "wide.mp4", LANDSCAPE)
    saved: list[dict[str, Any]] = []
    sent = host.attach(job(clip, saved, tokens(fake), title="Our launch"))

    result = await publisher(fake, http).publish(sent)

    (video,) = fake.videos.values()
    assert video.kind == "video" and bytes(video.received) == clip.read_bytes()
    assert video.params["title"] == "Our launch" and video.params["description"] == CAPTION
    assert (
        result.remote_id == video.id and result.url == f"https://www.facebook.com/{PAGE}/videos/{video.id}/"
    )
    assert result.note is not None and "not a reel" in result.note and "9:16" in result.note


async def test_an_upload_cut_off_resumes_where_facebook_says_it_stopped(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    fake.fail("upload", count=3, status=503, after=2)
    saved: list[dict[str, Any]] = []
    first = job(reel_clip, saved, tokens(fake))
    with pytest.raises(TransientError):
        await publisher(fake, http).publish(first)

    await publisher(fake, http).publish(retry_of(first, saved))

    reel = the_reel(fake)
    assert bytes(reel.received) == reel_clip.read_bytes()
    assert [offset for offset, _ in reel.pieces] == offsets(reel_clip), "every piece once"
    assert len([v for v in fake.videos.values()]) == 1, "the same upload session, not a new one"


async def test_a_lost_finish_answer_is_not_finished_twice(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    fake.lost_finish_answers = 1
    saved: list[dict[str, Any]] = []
    first = job(reel_clip, saved, tokens(fake))
    with pytest.raises(TransientError):
        await publisher(fake, http).publish(first)

    result = await publisher(fake, http).publish(retry_of(first, saved))

    finishes = [r for r in fake.requests if r.path.endswith("/video_reels") and r.status in (200, 500)]
    assert [r.status for r in finishes] == [200, 500], "start, then the one finish whose answer was lost"
    assert result.remote_id == the_reel(fake).id and fake.reels_published(PAGE) == 1


async def test_a_lost_page_video_answer_is_found_not_posted_again(
    fake: FakeFacebook, http: httpx.AsyncClient, host: VideoHost, tmp_path: Path
) -> None:
    clip = clip_file(tmp_path / "wide.mp4", LANDSCAPE)
    # An earlier post with the same text (a weekly series) must not be taken for this one.
    old = Video("120000000000001", PAGE, "video", description=CAPTION, created=time.time() - 7 * 86400)
    fake.videos[old.id] = old
    fake.lost_create_answers = 1
    saved: list[dict[str, Any]] = []
    first = host.attach(job(clip, saved, tokens(fake)))
    with pytest.raises(TransientError):
        await publisher(fake, http).publish(first)

    result = await publisher(fake, http).publish(host.attach(retry_of(first, saved)))

    (mine,) = [v for v in fake.videos.values() if v.id != old.id]
    assert result.remote_id == mine.id, "the video the lost answer created, found among the Page's"
    assert len(fake.videos) == 2, "not posted twice"


async def test_a_create_that_never_arrived_is_sent_again_not_mistaken_for_an_older_video(
    fake: FakeFacebook, http: httpx.AsyncClient, host: VideoHost, tmp_path: Path
) -> None:
    clip = clip_file(tmp_path / "wide.mp4", LANDSCAPE)
    old = Video("120000000000001", PAGE, "video", description=CAPTION, created=time.time() - 7 * 86400)
    fake.videos[old.id] = old
    fake.fail("create", status=503)
    saved: list[dict[str, Any]] = []
    first = host.attach(job(clip, saved, tokens(fake)))
    with pytest.raises(TransientError):
        await publisher(fake, http).publish(first)

    result = await publisher(fake, http).publish(host.attach(retry_of(first, saved)))

    (mine,) = [v for v in fake.videos.values() if v.id != old.id]
    assert result.remote_id == mine.id != old.id


async def test_the_thirty_reels_a_day_cap_waits_an_hour(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    for n in range(REELS_PER_DAY):
        done = Video(f"old{n}", PAGE, "reel", processing="complete", publishing="complete")
        done.published_at = done.created
        fake.videos[done.id] = done

    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(job(reel_clip, [], tokens(fake)))

    assert limited.value.retry_after == PUBLISH_LIMIT_RETRY_S
    assert "30 reels a day" in (limited.value.hint or "")
    assert fake.reels_published(PAGE) == REELS_PER_DAY


async def test_posting_too_fast_waits_instead_of_failing_the_post(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path, tmp_path: Path, host: VideoHost
) -> None:
    # Both publishing calls: a reel's finish and a Page video's create.
    fake.posting_too_fast("finish")
    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(job(reel_clip, [], tokens(fake)))
    assert limited.value.retry_after == PUBLISH_LIMIT_RETRY_S
    assert "We limit how often you can post" in limited.value.message, "Facebook's own words"
    assert "post more slowly" in (limited.value.hint or "")

    landscape = clip_file(tmp_path / "wide.mp4", LANDSCAPE)
    fake.posting_too_fast("create")
    with pytest.raises(RateLimited):
        await publisher(fake, http).publish(host.attach(job(landscape, [], tokens(fake))))


async def test_any_policy_block_waits_as_meta_says_not_only_posting_too_fast(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    # Handling Errors: 368 "Temporarily blocked for policies violations" → "Wait and retry the
    # operation", whatever the subcode, and on any call (here the upload's start).
    fake.policy_block("start")
    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(job(reel_clip, [], tokens(fake)))
    assert limited.value.retry_after == PUBLISH_LIMIT_RETRY_S
    assert "temporarily blocked" in (limited.value.hint or "")
    assert not fake.videos


@pytest.mark.parametrize("code", [4, 32, 613])
async def test_throttling_waits_as_long_as_meta_says(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path, code: int
) -> None:
    fake.throttle("start", code=code, regain_minutes=7)

    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(job(reel_clip, [], tokens(fake)))

    assert limited.value.retry_after == 7 * 60
    assert not fake.videos


async def test_a_passing_fault_while_polling_is_retried_in_place(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    fake.fail("status", count=2, status=500, after=1)

    result = await publisher(fake, http).publish(job(reel_clip, [], tokens(fake)))

    assert [r.status for r in fake.requests if r.status == 500] == [500, 500]
    assert result.remote_id == the_reel(fake).id


async def test_processing_error_fails_the_post_with_facebooks_reason(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    fake.processing_error = "The video's audio could not be decoded."

    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(job(reel_clip, [], tokens(fake)))

    assert "audio could not be decoded" in failed.value.message


async def test_a_dead_page_token_is_refreshed_once_and_the_reel_goes_out(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    stale = tokens(fake)
    fresh, _ = fake.mint(PAGE)
    fake.pages[PAGE].tokens.discard(stale.token)
    stale.refreshed = fresh

    await publisher(fake, http).publish(job(reel_clip, [], stale))

    assert stale.refreshes == 1 and stale.rejections == 0
    assert fake.requests[0].status == 400, "Graph answers a dead token with 400 and code 190"
    assert the_reel(fake).publishing == "complete"


async def test_a_token_dead_after_refresh_fails_as_an_auth_error(
    fake: FakeFacebook, http: httpx.AsyncClient, reel_clip: Path
) -> None:
    dead = StaticTokens("EAAPdead", PAGE)

    with pytest.raises(AuthError) as failed:
        await publisher(fake, http).publish(job(reel_clip, [], dead))

    assert dead.rejections == 1 and "/link facebook" in (failed.value.hint or "")
    assert not fake.videos


def test_the_title_option_is_read_for_facebook_and_a_page_can_be_named() -> None:
    from datetime import UTC, datetime

    from core.platforms import chosen
    from core.timeparse.command import parse_command, take_flags

    flags = take_flags('tomorrow 9am facebook@acmeshop Launch day --title "Our launch"')
    command = parse_command(flags.text, "UTC", datetime(2026, 12, 6, 12, tzinfo=UTC))
    found = chosen.resolve(command.platforms, command.picks, flags.pairs)

    assert found.options == {Platform.FACEBOOK: {"title": "Our launch"}}
    assert found.handles == {Platform.FACEBOOK: "acmeshop"} and found.problems == {}
    too_long = take_flags(f"tomorrow 9am fb Launch --title {'x' * 300}")
    parsed = parse_command(too_long.text, "UTC", datetime(2026, 12, 6, 12, tzinfo=UTC))
    refused = chosen.resolve(parsed.platforms, parsed.picks, too_long.pairs)
    assert "takes 255" in refused.problems["facebook"][0]
