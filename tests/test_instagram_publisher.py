"""The Instagram publisher against the fake Graph API + rupload: reels, resume, limits, failures."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.instagram.publisher import InstagramPublisher
from core.publishers.base import PermanentError, PublishJob, RateLimited, TransientError
from tests.clips import sized_clip
from tests.fakes.instagram_api import FakeInstagram
from tests.publishing_support import StaticTokens, video_job

IG_USER = "17841400000000001"
TOKEN = "ig-access-1"
PIECE = 64 * 1024
CAPTION = "Launch day #launch #reels"


@pytest.fixture
async def fake() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram(tokens={TOKEN: IG_USER}) as server:
        yield server


@pytest.fixture
def video(tmp_path: Path) -> Path:
    size = 4 * PIECE + 4321
    return sized_clip(tmp_path / "reel.mp4", duration_s=12, width=1080, height=1920, size_bytes=size)


def publisher(fake: FakeInstagram, http: httpx.AsyncClient, **kwargs: Any) -> InstagramPublisher:
    options: dict[str, Any] = {"chunk_size": PIECE, "poll_interval_s": 0.01, "retry_base_s": 0.01} | kwargs
    return InstagramPublisher(
        http, graph_base_url=fake.graph_base_url, upload_base_url=fake.upload_base_url, **options
    )


def make_job(video: Path, saved: list[dict[str, Any]], caption: str = CAPTION) -> PublishJob:
    return video_job(
        video,
        saved,
        post_id=7,
        platform=Platform.INSTAGRAM,
        caption=caption,
        title=None,
        tokens=StaticTokens(TOKEN, IG_USER),
    )


def retry_of(video: Path, saved: list[dict[str, Any]]) -> PublishJob:
    """What the scheduler builds for the next attempt: a new job over the stored state."""
    job = make_job(video, saved)
    job.upload_state = dict(saved[-1])
    return job


def assert_received_intact(fake: FakeInstagram, video: Path) -> None:
    (container,) = fake.containers.values()
    data = video.read_bytes()
    expected = {
        o: (len(data[o : o + PIECE]), hashlib.sha256(data[o : o + PIECE]).hexdigest())
        for o in range(0, len(data), PIECE)
    }
    assert container.pieces == expected
    assert container.file_size == len(data)


async def test_happy_path_creates_uploads_waits_and_publishes(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_polls = 3
    saved: list[dict[str, Any]] = []

    result = await publisher(fake, http).publish(make_job(video, saved))

    (container,) = fake.containers.values()
    assert container.params["media_type"] == "REELS"
    assert container.params["upload_type"] == "resumable"
    assert container.params["caption"] == CAPTION
    assert fake.uploaded_pieces() == [0, PIECE, 2 * PIECE, 3 * PIECE, 4 * PIECE]
    assert_received_intact(fake, video)
    (media,) = fake.media.values()
    assert result.remote_id == media.id
    assert result.url == media.permalink
    assert container.status_code == "PUBLISHED"
    assert saved[-1]["remote_id"] == media.id and saved[-1]["remote_url"] == media.permalink
    assert fake.peak_piece_bytes == PIECE
    paths = [r.path for r in fake.requests]
    assert paths[0].endswith("/content_publishing_limit"), "the daily limit is checked before uploading"
    assert paths.index(f"/{fake.version}/{IG_USER}/media_publish") > paths.index(
        f"/{fake.version}/{container.id}"
    )


async def test_5xx_mid_upload_is_retried_in_place(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("upload", count=2, status=503, after=2)

    await publisher(fake, http).publish(make_job(video, []))

    assert fake.uploaded_pieces() == [0, PIECE, 2 * PIECE, 3 * PIECE, 4 * PIECE]
    assert_received_intact(fake, video)
    assert len(fake.media) == 1


async def test_outage_mid_upload_resumes_from_the_acknowledged_offset(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("upload", count=3, status=503, after=2)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)

    with pytest.raises(TransientError) as failed:
        await pub.publish(make_job(video, saved))
    assert failed.value.status_code == 503
    assert saved[-1]["ig_uploaded"] == 2 * PIECE
    assert not fake.media

    await pub.publish(retry_of(video, saved))

    assert len(fake.containers) == 1, "the same container was resumed"
    assert fake.uploaded_pieces() == [0, PIECE, 2 * PIECE, 3 * PIECE, 4 * PIECE], "nothing sent twice"
    assert_received_intact(fake, video)
    assert len(fake.media) == 1


async def test_lost_publish_answer_finds_the_reel_instead_of_publishing_again(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_publish_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))
    assert fake.published_count(IG_USER) == 1, "Instagram published; only the answer was lost"

    result = await pub.publish(retry_of(video, saved))

    (media,) = fake.media.values()
    assert result.remote_id == media.id and result.url == media.permalink
    publishes = [r for r in fake.requests if r.path.endswith("/media_publish")]
    assert len(publishes) == 1


async def test_recorded_media_id_returns_without_calling_instagram(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(video, [])
    job.upload_state = {"ig_media_id": "999", "remote_url": "https://www.instagram.com/reel/999/"}
    result = await publisher(fake, http).publish(job)
    assert (result.remote_id, result.url) == ("999", "https://www.instagram.com/reel/999/")
    assert fake.requests == []


async def test_throttling_surfaces_metas_regain_time_and_the_retry_does_not_reupload(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.throttle("status", count=1, code=4, regain_minutes=2)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)

    with pytest.raises(RateLimited) as limited:
        await pub.publish(make_job(video, saved))
    assert limited.value.retry_after == 120.0
    assert "Application request limit reached" in limited.value.message

    await pub.publish(retry_of(video, saved))
    assert len(fake.uploaded_pieces()) == 5 and len(fake.media) == 1


async def test_content_publishing_limit_defers_before_uploading(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.quota_total = 0
    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(make_job(video, []))
    assert limited.value.retry_after == 3600.0
    assert not fake.containers and not fake.uploaded_pieces()


async def test_processing_error_is_permanent_with_instagrams_reason(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_error = "ERROR: The video codec is not supported"
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, []))
    assert "video codec is not supported" in failed.value.message
    assert not fake.media


async def test_validation_error_is_permanent_and_quotes_instagram(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    caption = " ".join(f"#tag{i}" for i in range(31))
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, [], caption=caption))
    assert "more than 30 hashtags" in failed.value.message
    assert not fake.containers


async def test_expired_container_is_replaced(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("upload", count=3, after=1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))
    (first,) = fake.containers
    fake.expire(first)

    # The next attempt learns the container expired and says it starts over; the one after publishes.
    with pytest.raises(TransientError, match="expired"):
        await pub.publish(retry_of(video, saved))
    await pub.publish(retry_of(video, saved))

    assert len(fake.containers) == 2
    assert fake.containers[first].status_code == "EXPIRED"
    assert len(fake.media) == 1


# --- the fake enforces the protocol ------------------------------------------------------------


async def test_fake_rejects_protocol_violations(fake: FakeInstagram, http: httpx.AsyncClient) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    created = await http.post(
        f"{fake.graph_base_url}/{IG_USER}/media",
        headers=bearer,
        data={"media_type": "REELS", "upload_type": "resumable", "caption": "hi"},
    )
    container = created.json()["id"]
    assert created.json()["uri"] == f"{fake.upload_base_url}/{container}"
    upload = f"{fake.upload_base_url}/{container}"
    oauth = {"Authorization": f"OAuth {TOKEN}"}

    no_headers = await http.post(upload, headers=oauth, content=b"abc")
    assert (
        no_headers.status_code == 400 and "offset and file_size" in no_headers.json()["debug_info"]["message"]
    )

    gap = await http.post(upload, headers=oauth | {"offset": "5", "file_size": "10"}, content=b"abc")
    assert gap.status_code == 400 and gap.json()["debug_info"]["type"] == "InvalidOffset"

    bearer_on_rupload = await http.post(
        upload, headers=bearer | {"offset": "0", "file_size": "10"}, content=b"a"
    )
    assert bearer_on_rupload.json()["debug_info"]["type"] == "NotAuthorizedError"

    assert (
        await http.post(upload, headers=oauth | {"offset": "0", "file_size": "10"}, content=b"01234")
    ).is_success
    resized = await http.post(upload, headers=oauth | {"offset": "5", "file_size": "11"}, content=b"56789")
    assert resized.status_code == 400

    early = await http.post(
        f"{fake.graph_base_url}/{IG_USER}/media_publish", headers=bearer, data={"creation_id": container}
    )
    assert early.status_code == 400
    assert early.json()["error"]["code"] == 9007 and early.json()["error"]["error_subcode"] == 2207027

    bad_token = await http.get(f"{fake.graph_base_url}/{container}", headers={"Authorization": "Bearer nope"})
    error = bad_token.json()["error"]
    assert bad_token.status_code == 400 and error["code"] == 190 and error["type"] == "OAuthException"
    assert "fbtrace_id" in error

    wrong_version = await http.get(f"{fake.base_url}/v1.0/{container}", headers=bearer)
    assert wrong_version.json()["error"]["code"] == 2635

    not_a_reel = await http.post(
        f"{fake.graph_base_url}/{IG_USER}/media", headers=bearer, data={"media_type": "IMAGE"}
    )
    assert not_a_reel.status_code == 400 and not_a_reel.json()["error"]["code"] == 100

    someone_else = await http.post(
        f"{fake.graph_base_url}/17840000000000000/media",
        headers=bearer,
        data={"media_type": "REELS", "upload_type": "resumable"},
    )
    assert someone_else.status_code == 400


async def test_built_from_settings(fake: FakeInstagram, http: httpx.AsyncClient, video: Path) -> None:
    conf = PlatformSettings(base_url=fake.graph_base_url, upload_base_url=fake.upload_base_url)
    await InstagramPublisher.from_settings(conf, http).publish(make_job(video, []))
    assert fake.uploaded_pieces() == [0] and len(fake.media) == 1


async def test_lost_publish_answer_is_found_even_when_the_container_is_old(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_publish_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))

    retry = make_job(video, saved)
    retry.upload_state = dict(saved[-1], ig_container_at=saved[-1]["ig_container_at"] - 23.5 * 3600)
    result = await pub.publish(retry)

    (media,) = fake.media.values()
    assert result.remote_id == media.id
    assert len(fake.containers) == 1, "no new container for a reel that was published"


async def test_piece_stored_but_answer_lost_is_sent_again_at_the_same_offset(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_piece_answers(1)

    await publisher(fake, http).publish(make_job(video, []))

    pieces = [(r.offset, r.status) for r in fake.requests if "/ig-api-upload/" in r.path]
    assert pieces[:2] == [(0, 503), (0, 200)], "the re-send replaced the stored piece; no offset error"
    assert_received_intact(fake, video)
    assert len(fake.media) == 1


async def test_container_status_is_polled_at_metas_rate(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    """Meta asks for one status query a minute, for at most five minutes; the publisher polled every
    5 s for 10 minutes. The fake records polls closer than its interval (scaled down here)."""
    assert InstagramPublisher.from_settings(PlatformSettings(), http).poll_interval_s == 60
    assert InstagramPublisher.from_settings(PlatformSettings(), http).max_processing_s == 300
    fake.status_interval_s = 0.05
    fake.processing_polls = 3
    pub = publisher(fake, http, poll_interval_s=0.05)
    await pub.publish(make_job(video, []))
    assert fake.too_fast_polls == []
