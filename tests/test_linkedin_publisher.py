"""The LinkedIn publisher against the fake Videos + Posts API: parts, ETags, resume, limits, failures."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import PlatformSettings
from core.domain import Platform
from core.media.validation import oversize_message
from core.platforms.linkedin import versions
from core.platforms.linkedin.publisher import LinkedInPublisher, seconds_to_utc_midnight
from core.platforms.media import MB
from core.publishers.base import AuthError, PermanentError, PublishJob, RateLimited, TransientError
from tests.clips import sized_clip
from tests.fakes.linkedin_api import FakeLinkedIn, encoded
from tests.publishing_support import StaticTokens, video_job

MEMBER = "urn:li:person:782bbtaQ"
TOKEN = "li-access-1"
PART = 64 * 1024
CAPTION = "Launch (finally) for @team_x #launch"


@pytest.fixture
async def fake() -> AsyncIterator[FakeLinkedIn]:
    async with FakeLinkedIn(tokens={TOKEN: MEMBER}, part_size=PART) as server:
        yield server


@pytest.fixture
def video(tmp_path: Path) -> Path:
    size = 4 * PART + 777
    return sized_clip(tmp_path / "clip.mp4", duration_s=20, width=1920, height=1080, size_bytes=size)


def publisher(fake: FakeLinkedIn, http: httpx.AsyncClient, **kwargs: Any) -> LinkedInPublisher:
    options: dict[str, Any] = {
        "api_version": versions.DEFAULT,
        "chunk_size": 16 * 1024,
        "poll_interval_s": 0.01,
        "retry_base_s": 0.01,
    } | kwargs
    return LinkedInPublisher(http, base_url=fake.base_url, **options)


def make_job(video: Path, saved: list[dict[str, Any]], caption: str = CAPTION) -> PublishJob:
    return video_job(
        video,
        saved,
        post_id=3,
        platform=Platform.LINKEDIN,
        caption=caption,
        title="Launch",
        tokens=StaticTokens(TOKEN, MEMBER),
    )


def retry_of(video: Path, saved: list[dict[str, Any]]) -> PublishJob:
    job = make_job(video, saved)
    job.upload_state = dict(saved[-1])
    return job


def assert_received_intact(fake: FakeLinkedIn, video: Path) -> None:
    (uploaded,) = fake.videos.values()
    data = video.read_bytes()
    assert [p.sha256 for p in uploaded.parts] == [
        hashlib.sha256(data[o : o + PART]).hexdigest() for o in range(0, len(data), PART)
    ]


async def test_happy_path_uploads_parts_finalizes_and_posts(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_polls = 3
    saved: list[dict[str, Any]] = []

    result = await publisher(fake, http).publish(make_job(video, saved))

    (uploaded,) = fake.videos.values()
    assert uploaded.owner == MEMBER and uploaded.status == "AVAILABLE"
    assert fake.uploaded_parts() == [0, 1, 2, 3, 4]
    assert_received_intact(fake, video)
    (post,) = fake.posts.values()
    assert result.remote_id == post.urn
    assert result.url == f"https://www.linkedin.com/feed/update/{post.urn}/"
    assert post.body["content"]["media"] == {"title": "Launch", "id": uploaded.urn}
    assert post.body["author"] == MEMBER and post.body["visibility"] == "PUBLIC"
    assert post.shown_text == CAPTION, "reserved characters were escaped, so LinkedIn shows it all"
    rest = [r for r in fake.requests if r.path.startswith("/rest")]
    assert rest and all(r.version == versions.DEFAULT for r in rest)
    parts = [r for r in fake.requests if r.part is not None]
    assert all("Authorization" not in r.headers for r in parts), "no token sent to the upload host"
    assert saved[-1]["remote_id"] == post.urn


async def test_5xx_on_a_part_is_retried_in_place(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("part", count=2, status=503, after=1)

    await publisher(fake, http).publish(make_job(video, []))

    assert fake.uploaded_parts() == [0, 1, 2, 3, 4]
    assert_received_intact(fake, video)
    assert len(fake.posts) == 1


async def test_outage_mid_upload_resumes_with_the_same_urls(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("part", count=3, status=500, after=2)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)

    with pytest.raises(TransientError) as failed:
        await pub.publish(make_job(video, saved))
    assert failed.value.status_code == 500
    assert sorted(saved[-1]["li_etags"]) == ["0", "1"]

    await pub.publish(retry_of(video, saved))

    assert len(fake.videos) == 1, "the same upload was resumed"
    assert fake.uploaded_parts() == [0, 1, 2, 3, 4], "parts 0 and 1 were not sent again"
    assert_received_intact(fake, video)
    assert len(fake.posts) == 1


async def test_expired_upload_urls_start_a_new_upload(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("part", count=3, after=1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))
    (first,) = fake.videos
    fake.expire_upload_urls(first)

    with pytest.raises(TransientError, match="starting over"):
        await pub.publish(retry_of(video, saved))
    await pub.publish(retry_of(video, saved))

    assert len(fake.videos) == 2
    assert fake.videos[first].status == "WAITING_UPLOAD"
    (post,) = fake.posts.values()
    assert post.body["content"]["media"]["id"] != first


async def test_lost_answer_without_r_member_social_is_reported_uncertain_never_reposted(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    """Listing the author's posts needs r_member_social, which postbot does not get: the retry must
    neither post again (it may post twice) nor call the account revoked."""
    fake.lose_post_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))
    assert len(fake.posts) == 1

    with pytest.raises(PermanentError) as caught:
        await pub.publish(retry_of(video, saved))
    assert not isinstance(caught.value, AuthError)
    assert "may have published" in caught.value.message
    assert caught.value.hint is not None and "linkedin.com" in caught.value.hint
    assert len(fake.posts) == 1
    assert [r.path for r in fake.requests].count("/rest/posts") == 1
    assert not any("q=author" in r.path for r in fake.requests), "no lookup it has no permission for"


async def test_lost_answer_is_found_when_the_app_may_list_posts(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.grant_member_social(MEMBER)
    fake.lose_post_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http, can_list_posts=True)
    with pytest.raises(TransientError):
        await pub.publish(make_job(video, saved))
    assert len(fake.posts) == 1

    result = await pub.publish(retry_of(video, saved))

    assert list(fake.posts) == [result.remote_id]
    assert [r.path for r in fake.requests].count("/rest/posts") == 1
    assert fake.uploaded_parts() == [0, 1, 2, 3, 4]


async def test_fake_refuses_listing_posts_without_r_member_social(
    fake: FakeLinkedIn, http: httpx.AsyncClient
) -> None:
    response = await http.get(
        f"{fake.base_url}/rest/posts?q=author&author=urn%3Ali%3Aperson%3A782bbtaQ",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "LinkedIn-Version": versions.DEFAULT,
            "X-Restli-Protocol-Version": "2.0.0",
        },
    )
    assert response.status_code == 403


async def test_recorded_post_returns_without_calling_linkedin(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(video, [])
    job.upload_state = {"li_post_urn": "urn:li:ugcPost:1"}
    assert (await publisher(fake, http).publish(job)).remote_id == "urn:li:ugcPost:1"
    assert fake.requests == []


async def test_rate_limit_surfaces_the_daily_reset_and_the_retry_posts_once(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.rate_limit("post")
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)

    with pytest.raises(RateLimited) as limited:
        await pub.publish(make_job(video, saved))
    assert limited.value.retry_after is not None
    assert abs(limited.value.retry_after - seconds_to_utc_midnight()) < 5
    assert "APPLICATION DAY limit" in limited.value.message

    await pub.publish(retry_of(video, saved))
    assert len(fake.posts) == 1 and len(fake.videos) == 1


def test_seconds_to_midnight() -> None:
    assert seconds_to_utc_midnight(datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)) == 30


async def test_processing_failure_is_permanent(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_fails = True
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, []))
    assert "Video format is not supported" in failed.value.message
    assert not fake.posts


async def test_one_size_limit_in_every_message(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    """The hint once said "75 KB to 5 GB" while validation refused anything over 500 MB."""
    fake.processing_fails = True
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, []))
    assert failed.value.hint is not None and "75 KB to 500 MB" in failed.value.hint
    refused = oversize_message(600 * MB, [Platform.LINKEDIN])
    assert refused is not None and "LinkedIn takes at most 500 MB" in refused
    too_big = await http.post(
        f"{fake.api_url}/videos?action=initializeUpload",
        json={"initializeUploadRequest": {"owner": MEMBER, "fileSizeBytes": 501 * MB}},
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "LinkedIn-Version": versions.DEFAULT,
            "X-Restli-Protocol-Version": "2.0.0",
        },
    )
    assert too_big.status_code == 400 and "500 MB" in too_big.json()["message"]


async def test_retired_api_version_fails_with_a_hint(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http, api_version="202301").publish(make_job(video, []))
    assert failed.value.status_code == 426
    assert "not active" in failed.value.message
    assert failed.value.hint is not None and "api_version" in failed.value.hint


async def test_the_default_version_is_served_today(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    """202510 was the default after LinkedIn sunset it (15 Oct 2026): every call answered 426."""
    await LinkedInPublisher.from_settings(PlatformSettings(base_url=fake.base_url), http).publish(
        make_job(video, [])
    )
    assert len(fake.posts) == 1


async def test_a_version_past_its_sunset_is_refused_on_that_day_with_the_fix(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    fake.today = lambda: date(2027, 3, 15)
    await publisher(fake, http, api_version="202603").publish(make_job(video, []))
    fake.today = lambda: date(2027, 3, 16)
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http, api_version="202603").publish(make_job(video, []))
    assert failed.value.status_code == 426
    assert "Requested version 202603 is not active" in failed.value.message
    assert failed.value.hint is not None
    assert "platforms.linkedin.api_version" in failed.value.hint and versions.SOURCE in failed.value.hint


async def test_validation_error_is_permanent_and_quotes_linkedin(
    fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path
) -> None:
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(video, [], caption="x" * 3001))
    assert "3000 characters" in failed.value.message
    assert not fake.posts


# --- the fake enforces the protocol ------------------------------------------------------------


async def test_fake_rejects_protocol_violations(fake: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    good = {
        "Authorization": f"Bearer {TOKEN}",
        "LinkedIn-Version": versions.DEFAULT,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    init = {"initializeUploadRequest": {"owner": MEMBER, "fileSizeBytes": PART + 10}}

    no_version = await http.post(
        f"{fake.api_url}/videos?action=initializeUpload", json=init, headers=good | {"LinkedIn-Version": ""}
    )
    assert no_version.status_code == 400 and no_version.json()["code"] == "VERSION_MISSING"
    old = await http.post(
        f"{fake.api_url}/videos?action=initializeUpload",
        json=init,
        headers=good | {"LinkedIn-Version": "202201"},
    )
    assert old.status_code == 426 and old.json()["code"] == "NONEXISTENT_VERSION"
    no_restli = {k: v for k, v in good.items() if k != "X-Restli-Protocol-Version"}
    assert (
        await http.post(f"{fake.api_url}/videos?action=initializeUpload", json=init, headers=no_restli)
    ).status_code == 400
    bad_token = await http.post(
        f"{fake.api_url}/videos?action=initializeUpload",
        json=init,
        headers=good | {"Authorization": "Bearer x"},
    )
    assert bad_token.status_code == 401
    assert bad_token.json() == {
        "status": 401,
        "message": "Invalid access token",
        "code": "INVALID_ACCESS_TOKEN",
        "serviceErrorCode": 65600,
    }
    other_owner = {"initializeUploadRequest": {"owner": "urn:li:person:someone", "fileSizeBytes": 10}}
    assert (
        await http.post(f"{fake.api_url}/videos?action=initializeUpload", json=other_owner, headers=good)
    ).status_code == 403

    value = (
        await http.post(f"{fake.api_url}/videos?action=initializeUpload", json=init, headers=good)
    ).json()["value"]
    urn = value["video"]
    first, second = value["uploadInstructions"]
    assert (first["firstByte"], first["lastByte"], second["firstByte"], second["lastByte"]) == (
        0,
        PART - 1,
        PART,
        PART + 9,
    )

    short = await http.put(first["uploadUrl"], content=b"x" * 10)
    assert short.status_code == 400
    forged = await http.put(first["uploadUrl"].replace("sig=", "sig=0"), content=b"x" * PART)
    assert forged.status_code == 403
    etag = (await http.put(first["uploadUrl"], content=b"x" * PART)).headers["etag"]

    finalize = {
        "finalizeUploadRequest": {
            "video": urn,
            "uploadToken": value["uploadToken"],
            "uploadedPartIds": [etag],
        }
    }
    missing = await http.post(f"{fake.api_url}/videos?action=finalizeUpload", json=finalize, headers=good)
    assert missing.status_code == 400 and "Parts [1]" in missing.json()["message"]

    post = {
        "author": MEMBER,
        "commentary": "hi",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "content": {"media": {"id": urn}},
        "lifecycleState": "PUBLISHED",
    }
    early = await http.post(f"{fake.api_url}/posts", json=post, headers=good)
    assert early.status_code == 422 and "WAITING_UPLOAD" in early.json()["message"]

    etag2 = (await http.put(second["uploadUrl"], content=b"y" * 10)).headers["etag"]
    reordered = finalize | {
        "finalizeUploadRequest": finalize["finalizeUploadRequest"] | {"uploadedPartIds": [etag2, etag]}
    }
    assert (
        await http.post(f"{fake.api_url}/videos?action=finalizeUpload", json=reordered, headers=good)
    ).status_code == 400

    raw_urn = await http.get(f"{fake.api_url}/videos/{urn}", headers=good)
    assert raw_urn.status_code == 400
    assert (await http.get(f"{fake.api_url}/videos/{encoded(urn)}", headers=good)).json()[
        "status"
    ] == "WAITING_UPLOAD"


async def test_built_from_settings(fake: FakeLinkedIn, http: httpx.AsyncClient, video: Path) -> None:
    fake.today = lambda: date(2027, 1, 20)
    conf = PlatformSettings(base_url=fake.base_url, api_version="202602")
    await LinkedInPublisher.from_settings(conf, http).publish(make_job(video, []))
    assert {r.version for r in fake.requests if r.path.startswith("/rest")} == {"202602"}
    assert len(fake.posts) == 1
