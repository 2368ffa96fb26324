"""The X publisher against the fake X API: chunked upload, processing, post, resume and failures."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.x.publisher import XPublisher
from core.publishers.base import AuthError, PermanentError, PublishJob, RateLimited, TransientError
from tests.clips import sized_clip
from tests.fakes.x_api import POSTS_PER_3H, FakeX
from tests.publishing_support import StaticTokens, video_job

USER = "1001"
TOKEN = "x-access-1"
SEGMENT = 64 * 1024


@pytest.fixture
async def fake() -> AsyncIterator[FakeX]:
    async with FakeX(tokens={TOKEN: USER}) as server:
        server.check_after_secs = 0
        yield server


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # 4 segments of 64 KiB and a short fifth one, random bytes so misplaced segments change digests.
    return sized_clip(
        tmp_path / "clip.mp4", duration_s=10, width=1080, height=1920, size_bytes=4 * SEGMENT + 999
    )


def publisher(fake: FakeX, http: httpx.AsyncClient, **kwargs: Any) -> XPublisher:
    return XPublisher(http, base_url=fake.base_url, chunk_size=SEGMENT, retry_base_s=0.01, **kwargs)


def make_job(video: Path, saved: list[dict[str, Any]], caption: str = "Launch day #launch") -> PublishJob:
    return video_job(
        video,
        saved,
        post_id=1,
        platform=Platform.X,
        caption=caption,
        title=None,
        tokens=StaticTokens(TOKEN, USER),
    )


def segment_digests(video: Path) -> dict[int, str]:
    data = video.read_bytes()
    return {
        i: hashlib.sha256(data[o : o + SEGMENT]).hexdigest()
        for i, o in enumerate(range(0, len(data), SEGMENT))
    }


def assert_received_intact(fake: FakeX, video: Path) -> None:
    (upload,) = fake.uploads.values()
    assert {i: digest for i, (_, digest) in upload.segments.items()} == segment_digests(video)


async def test_happy_path_uploads_segments_waits_for_processing_and_posts(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_polls = 3
    saved: list[dict[str, Any]] = []
    job = make_job(video, saved)

    result = await publisher(fake, http).publish(job)

    (tweet,) = fake.tweets.values()
    assert result.remote_id == tweet.id
    assert result.url == f"https://x.com/i/web/status/{tweet.id}"
    assert tweet.text == "Launch day #launch"
    assert tweet.author_id == USER
    (upload,) = fake.uploads.values()
    assert tweet.media_keys == [upload.media_key]
    assert fake.appended() == [0, 1, 2, 3, 4]
    assert_received_intact(fake, video)
    statuses = [r for r in fake.requests if r.method == "GET" and r.path == "/2/media/upload"]
    assert len(statuses) == 3
    assert fake.peak_segment_bytes == SEGMENT
    # The post id is stored before publish returns, so a crash right after cannot repost.
    assert saved[-1]["remote_id"] == tweet.id


async def test_5xx_mid_upload_is_retried_in_place(fake: FakeX, http: httpx.AsyncClient, video: Path) -> None:
    fake.fail("append", count=2, after=2)

    await publisher(fake, http).publish(make_job(video, []))

    assert fake.appended() == [0, 1, 2, 3, 4]
    assert [r.status for r in fake.requests if r.path.endswith("/append")].count(503) == 2
    assert_received_intact(fake, video)
    assert len(fake.tweets) == 1


async def test_outage_mid_upload_resumes_on_the_next_attempt_without_resending(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("append", count=3, after=2)
    saved: list[dict[str, Any]] = []
    job = make_job(video, saved)
    pub = publisher(fake, http, step_attempts=3)

    with pytest.raises(TransientError) as failed:
        await pub.publish(job)
    assert failed.value.status_code == 503
    assert saved[-1]["x_segments"] == [0, 1]
    assert not fake.tweets

    # The scheduler's retry builds a new job from the stored state.
    retry = make_job(video, saved)
    retry.upload_state = dict(saved[-1])
    result = await pub.publish(retry)

    assert len(fake.uploads) == 1, "the same media id was resumed"
    assert fake.appended() == [0, 1, 2, 3, 4], "segments 0 and 1 were not sent again"
    assert_received_intact(fake, video)
    assert list(fake.tweets) == [result.remote_id]


async def test_expired_media_id_starts_a_new_upload(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("append", count=3, after=1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))

    retry = make_job(video, saved)
    retry.upload_state = dict(saved[-1], x_expires_at=time.time() - 5)
    await pub.publish(retry)

    assert len(fake.uploads) == 2
    first, second = fake.uploads.values()
    assert not first.finalized and second.finalized
    assert len(fake.tweets) == 1


async def test_short_rate_limit_mid_upload_is_waited_out(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.rate_limit("append", reset_in=1, after=1)
    started = time.monotonic()

    await publisher(fake, http, max_inline_wait_s=5).publish(make_job(video, []))

    assert time.monotonic() - started >= 0.9, "waited until x-rate-limit-reset"
    assert fake.appended() == [0, 1, 2, 3, 4]
    assert len(fake.tweets) == 1


async def test_long_rate_limit_surfaces_retry_after_and_the_retry_posts_once(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.rate_limit("tweet", reset_in=900)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)

    with pytest.raises(RateLimited) as limited:
        await pub.publish(make_job(video, saved))
    assert limited.value.retry_after is not None and 890 <= limited.value.retry_after <= 902
    assert not fake.tweets

    retry = make_job(video, saved)
    retry.upload_state = dict(saved[-1])
    await pub.publish(retry)
    assert len(fake.uploads) == 1 and fake.appended() == [0, 1, 2, 3, 4], "no re-upload"
    assert len(fake.tweets) == 1


async def test_lost_answer_to_the_post_is_found_not_reposted(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))
    assert len(fake.tweets) == 1, "X created the post; only the answer was lost"

    retry = make_job(video, saved)
    retry.upload_state = dict(saved[-1])
    result = await pub.publish(retry)

    assert list(fake.tweets) == [result.remote_id]
    assert [r.path for r in fake.requests].count("/2/tweets") == 1


async def test_recorded_post_id_returns_without_calling_x(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(video, [])
    job.upload_state = {"x_tweet_id": "777"}
    result = await publisher(fake, http).publish(job)
    assert result.remote_id == "777"
    assert fake.requests == []


async def test_processing_failure_is_permanent_with_xs_reason(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail_processing(message="Unsupported video format")
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, []))
    assert "Unsupported video format" in failed.value.message
    assert not fake.tweets


async def test_validation_error_from_x_is_permanent_and_quotes_x(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, [], caption="x" * 300))
    assert failed.value.status_code == 400
    assert "280 characters" in failed.value.message
    assert not fake.tweets


# --- the fake enforces the protocol ------------------------------------------------------------


async def _init(http: httpx.AsyncClient, fake: FakeX, total: int = 10) -> str:
    response = await http.post(
        f"{fake.api_url}/media/upload/initialize",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"media_type": "video/mp4", "total_bytes": total, "media_category": "tweet_video"},
    )
    assert response.status_code == 200
    return str(response.json()["data"]["id"])


async def _append(
    http: httpx.AsyncClient, fake: FakeX, media_id: str, index: int, data: bytes
) -> httpx.Response:
    return await http.post(
        f"{fake.api_url}/media/upload/{media_id}/append",
        headers={"Authorization": f"Bearer {TOKEN}"},
        data={"segment_index": str(index)},
        files={"media": ("blob", data, "application/octet-stream")},
    )


async def test_fake_rejects_protocol_violations(fake: FakeX, http: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}

    unknown = await _append(http, fake, "123", 0, b"abc")
    assert unknown.status_code == 400 and unknown.json()["title"] == "Invalid Request"

    media_id = await _init(http, fake, total=10)
    out_of_range = await _append(http, fake, media_id, 1000, b"abc")
    assert out_of_range.status_code == 400
    assert "segment_index" in out_of_range.json()["errors"][0]["parameters"]

    assert (await _append(http, fake, media_id, 0, b"01234")).status_code == 200
    assert (await _append(http, fake, media_id, 2, b"789")).status_code == 200
    gap = await http.post(f"{fake.api_url}/media/upload/{media_id}/finalize", headers=auth)
    assert gap.status_code == 400 and "Segments missing: [1]" in gap.json()["errors"][0]["message"]

    too_much = await _append(http, fake, media_id, 1, b"56xxxxx")
    assert too_much.status_code == 400

    status_early = await http.get(
        f"{fake.api_url}/media/upload", params={"command": "STATUS", "media_id": media_id}, headers=auth
    )
    assert status_early.status_code == 400

    unprocessed = await http.post(
        f"{fake.api_url}/tweets", headers=auth, json={"text": "hi", "media": {"media_ids": [media_id]}}
    )
    assert unprocessed.status_code == 400

    assert (await _append(http, fake, media_id, 1, b"56")).status_code == 200
    done = await http.post(f"{fake.api_url}/media/upload/{media_id}/finalize", headers=auth)
    assert done.json()["data"]["processing_info"]["state"] == "pending"
    late = await _append(http, fake, media_id, 3, b"x")
    assert late.status_code == 400

    no_token = await http.post(f"{fake.api_url}/media/upload/{media_id}/finalize")
    assert no_token.status_code == 401
    assert no_token.headers["content-type"].startswith("application/problem+json")
    assert no_token.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }


async def test_fake_rate_limit_carries_xs_headers(fake: FakeX, http: httpx.AsyncClient) -> None:
    fake.rate_limit("initialize", reset_in=60)
    response = await http.post(
        f"{fake.api_url}/media/upload/initialize",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"media_type": "video/mp4", "total_bytes": 10, "media_category": "tweet_video"},
    )
    assert response.status_code == 429
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert 59 <= int(response.headers["x-rate-limit-reset"]) - time.time() <= 61


async def test_built_from_settings(fake: FakeX, http: httpx.AsyncClient, video: Path) -> None:
    # The configured 8 MiB chunk is capped at X's segment limit: this file goes up in one segment.
    pub = XPublisher.from_settings(PlatformSettings(base_url=fake.base_url), http)
    await pub.publish(make_job(video, []))
    assert fake.appended() == [0] and len(fake.tweets) == 1


async def test_lost_answer_is_found_even_after_the_media_id_expired(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))

    # The retry comes a day later: the media id is past its expiry, yet the post exists.
    retry = make_job(video, saved)
    retry.upload_state = dict(saved[-1], x_expires_at=time.time() - 5)
    result = await pub.publish(retry)

    assert list(fake.tweets) == [result.remote_id]
    assert len(fake.uploads) == 1, "no second upload for a post that went out"


async def test_segment_stored_but_answer_lost_is_appended_again_and_replaces_itself(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_append_answers(1)

    await publisher(fake, http).publish(make_job(video, []))

    appends = [(r.segment_index, r.status) for r in fake.requests if r.path.endswith("/append")]
    assert appends[:2] == [(0, 503), (0, 200)]
    assert_received_intact(fake, video)
    assert len(fake.tweets) == 1


async def test_duplicate_text_is_a_caption_problem_not_an_access_problem(
    fake: FakeX, http: httpx.AsyncClient, video: Path
) -> None:
    await publisher(fake, http).publish(make_job(video, []))
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, []))
    assert not isinstance(failed.value, AuthError)
    assert failed.value.status_code == 403
    assert "duplicate content" in failed.value.message
    assert failed.value.hint is not None and "change the caption" in failed.value.hint
    assert len(fake.tweets) == 1


@pytest.mark.parametrize("which", ["user", "app"])
async def test_spent_24_hour_cap_waits_for_its_reset_not_the_15_minute_window(
    fake: FakeX, http: httpx.AsyncClient, video: Path, which: str
) -> None:
    """A 429 from the daily post cap carries x-{user,app}-limit-24hour-reset; the 15-minute window's
    x-rate-limit-reset is minutes away and retrying then would only be refused again."""
    fake.spend_daily_cap(which, reset_in=5 * 3600)
    saved: list[dict[str, Any]] = []
    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(make_job(video, saved))
    assert limited.value.retry_after is not None
    assert 5 * 3600 - 5 <= limited.value.retry_after <= 5 * 3600 + 2
    assert not fake.tweets
    assert "24" in (limited.value.hint or "")


@pytest.mark.parametrize("whose", ["user", "app"])
async def test_the_documented_3_hour_post_cap_waits_until_the_oldest_post_leaves_the_window(
    fake: FakeX, http: httpx.AsyncClient, video: Path, whose: str
) -> None:
    """ "300 requests per 3-hour window per user, per app" on POST /2/tweets
    (https://docs.x.com/x-api/posts/manage-tweets/migrate/overview)."""
    now = time.time()
    oldest = now - 2 * 3600
    key = "app" if whose == "app" else f"user:{USER}"
    fake.posted[key] = [oldest + i for i in range(POSTS_PER_3H)]
    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(make_job(video, []))
    assert limited.value.retry_after is not None
    assert 3600 - 10 <= limited.value.retry_after <= 3600 + 5
    assert not fake.tweets
