"""TikTok publisher against the fake Content Posting API: chunk rules, resume, limits, outcomes."""

from __future__ import annotations

import hashlib
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.domain import MediaInfo, Platform
from core.platforms.tiktok.publisher import MAX_CHUNKS, ChunkPlan, TikTokPublisher, plan_chunks
from core.publishers.base import AuthError, PermanentError, PublishJob, RateLimited, TransientError
from tests.clips import sized_clip
from tests.fakes.tiktok_api import FakeTikTok
from tests.publishing_support import StaticTokens

MiB = 1024 * 1024
TOKEN = "act.test-token"
OPEN_ID = "open-123"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTikTok]:
    async with FakeTikTok(tokens={TOKEN: OPEN_ID}) as server:
        yield server


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # Three chunks of 5 MiB; the last one carries the 2 MiB + 77 trailing bytes.
    return sized_clip(tmp_path / "clip.mp4", duration_s=20, size_bytes=17 * MiB + 77)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _job(
    path: Path, *, tokens: Any = None, state: dict[str, Any] | None = None, **options: Any
) -> PublishJob:
    return PublishJob(
        post_id=7,
        platform=Platform.TIKTOK,
        idempotency_key="post-7",
        caption="Launch day #launch",
        title=None,
        media=MediaInfo(
            path=str(path),
            sha256=_sha(path),
            size_bytes=path.stat().st_size,
            mime="video/mp4",
            duration_s=None,
        ),
        tokens=tokens if tokens is not None else StaticTokens(TOKEN, OPEN_ID),
        upload_state=dict(state or {}),
        # Every TikTok post carries the privacy its author chose (TikTok allows no default).
        options={"privacy": "public", **options},
    )


def _publisher(http: httpx.AsyncClient, fake: FakeTikTok, **kw: Any) -> TikTokPublisher:
    kw.setdefault("chunk_size", 5 * MiB)
    kw.setdefault("retry_backoff_s", 0)
    kw.setdefault("poll_interval_s", 0.01)
    return TikTokPublisher(http, base_url=fake.base_url, **kw)


def _puts(fake: FakeTikTok) -> list[tuple[str | None, int]]:
    return [(r.content_range, r.status) for r in fake.requests if r.method == "PUT"]


async def test_happy_path_follows_the_chunk_plan(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    job = _job(video)
    result = await _publisher(http, fake).publish(job)

    [upload] = fake.published
    assert upload.post_info["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert upload.post_info["title"] == "Launch day #launch"
    assert upload.post_info["disable_stitch"] is True  # the creator turned stitches off
    assert (upload.chunk_size, upload.total_chunk_count) == (5 * MiB, 3)
    assert fake.sha256_of(upload.publish_id) == _sha(video)
    size = video.stat().st_size
    assert _puts(fake) == [
        (f"bytes 0-{5 * MiB - 1}/{size}", 206),
        (f"bytes {5 * MiB}-{10 * MiB - 1}/{size}", 206),
        (f"bytes {10 * MiB}-{size - 1}/{size}", 201),
    ]
    assert result.remote_id == str(upload.post_id)
    assert result.url == f"https://www.tiktok.com/@postbot_team/video/{upload.post_id}"
    assert job.upload_state["remote_id"] == result.remote_id
    assert fake.protocol_errors == []


async def test_chunk_plans_satisfy_tiktoks_rules(fake: FakeTikTok, http: httpx.AsyncClient) -> None:
    fake.init_limit_per_min = 1000
    sizes = [1, 5 * MiB - 1, 5 * MiB, 40 * MiB, 64 * MiB, 64 * MiB + 1, 100 * MiB, 1024 * MiB, 4 * 1024 * MiB]
    for size in sizes:
        for preferred in (1 * MiB, 5 * MiB, 32 * MiB, 200 * MiB):
            plan = plan_chunks(size, preferred)
            covered = sum(e - s for s, e in (plan.bounds(i) for i in range(plan.total_chunk_count)))
            assert covered == size and 1 <= plan.total_chunk_count <= MAX_CHUNKS
            response = await http.post(
                f"{fake.base_url}/v2/post/publish/video/init/",
                json={
                    "post_info": {"title": "t", "privacy_level": "SELF_ONLY"},
                    "source_info": {
                        "source": "FILE_UPLOAD",
                        "video_size": plan.video_size,
                        "chunk_size": plan.chunk_size,
                        "total_chunk_count": plan.total_chunk_count,
                    },
                },
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert response.status_code == 200, (size, preferred, response.json())
    assert fake.protocol_errors == []


async def test_5xx_mid_upload_resends_after_asking_how_much_arrived(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail_chunks(1, status=503, skip=1)
    await _publisher(http, fake).publish(_job(video))
    [upload] = fake.published
    assert fake.sha256_of(upload.publish_id) == _sha(video)
    assert [s for _, s in _puts(fake)] == [206, 503, 206, 201]
    kinds = [(r.method, r.path.rsplit("/", 2)[-2], r.status) for r in fake.requests]
    # Between the 503 and the re-sent chunk the publisher asked status/fetch for uploaded_bytes.
    failed_at = kinds.index(("PUT", "upload", 503))
    assert kinds[failed_at + 1] == ("POST", "fetch", 200)


async def test_an_interrupted_post_resumes_on_the_next_attempt(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    publisher = _publisher(http, fake, max_chunk_attempts=2)
    first = _job(video)
    fake.drop_chunks(5, after_bytes=MiB, skip=1)
    with pytest.raises(TransientError):
        await publisher.publish(first)
    assert first.upload_state["chunks_sent"] == 1 and first.upload_state["uploaded"] is False

    fake.chunk_drops.clear()
    fake.requests.clear()
    result = await publisher.publish(_job(video, state=first.upload_state))
    paths = [r.path for r in fake.requests]
    assert "/v2/post/publish/video/init/" not in paths
    size = video.stat().st_size
    assert _puts(fake) == [
        (f"bytes {5 * MiB}-{10 * MiB - 1}/{size}", 206),
        (f"bytes {10 * MiB}-{size - 1}/{size}", 201),
    ]
    assert len(fake.uploads) == 1 and fake.published[0].post_id == int(result.remote_id)
    assert fake.sha256_of(fake.published[0].publish_id) == _sha(video)


async def test_after_the_upload_a_retry_only_polls(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_polls = 100
    publisher = _publisher(http, fake, poll_timeout_s=0.05)
    job = _job(video)
    with pytest.raises(TransientError, match="still processing"):
        await publisher.publish(job)
    assert job.upload_state["uploaded"] is True
    fake.processing_polls = 0
    fake.requests.clear()
    result = await publisher.publish(_job(video, state=job.upload_state))
    assert [r.path for r in fake.requests] == ["/v2/post/publish/status/fetch/"]
    assert result.remote_id == str(fake.published[0].post_id)
    fake.requests.clear()
    done = _job(video, state={"remote_id": result.remote_id, "url": result.url})
    assert (await publisher.publish(done)).remote_id == result.remote_id
    assert fake.requests == []


async def test_expired_upload_url_starts_over(fake: FakeTikTok, http: httpx.AsyncClient, video: Path) -> None:
    publisher = _publisher(http, fake, max_chunk_attempts=1)
    first = _job(video)
    fake.fail_chunks(1, status=500, skip=1)
    with pytest.raises(TransientError):
        await publisher.publish(first)
    fake.expire_upload_urls()
    result = await publisher.publish(_job(video, state=first.upload_state))
    assert len(fake.uploads) == 2
    assert fake.published[0].post_id == int(result.remote_id)


async def test_chunk_429_waits_for_retry_after(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    fake.rate_limit_chunks(1, retry_after=0.3)
    started = time.monotonic()
    await _publisher(http, fake).publish(_job(video))
    assert time.monotonic() - started >= 0.3
    assert 429 in [s for _, s in _puts(fake)]
    assert fake.sha256_of(fake.published[0].publish_id) == _sha(video)


async def test_init_rate_limit_surfaces_a_retry_after(
    fake: FakeTikTok, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    # TikTok allows 6 init requests per minute per token; the 7th post has to come back later.
    small = sized_clip(tmp_path / "small.mp4", duration_s=5, size_bytes=300_000)
    publisher = _publisher(http, fake)
    for _ in range(6):
        await publisher.publish(_job(small))
    with pytest.raises(RateLimited) as caught:
        await publisher.publish(_job(small))
    assert caught.value.retry_after == 60
    assert len(fake.published) == 6


async def test_processing_failure_is_permanent_with_advice(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path, tmp_path: Path
) -> None:
    fake.processing_failure = "frame_rate_check_failed"
    job = _job(video)
    with pytest.raises(PermanentError) as caught:
        await _publisher(http, fake).publish(job)
    assert "frame_rate_check_failed" in caught.value.message
    assert caught.value.hint is not None and "23-60" in caught.value.hint
    assert job.upload_state["publish_id"] is None

    fake.processing_failure = None
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 1000)
    with pytest.raises(PermanentError, match="file_format_check_failed"):
        await _publisher(http, fake).publish(_job(junk))


async def test_privacy_and_duration_rules_from_creator_info(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    publisher = _publisher(http, fake)
    fake.creator["max_video_post_duration_sec"] = 15
    with pytest.raises(PermanentError, match="up to 15 s; this one is 20 s"):
        await publisher.publish(_job(video))
    fake.creator["max_video_post_duration_sec"] = 600
    fake.creator["privacy_level_options"] = ["MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    with pytest.raises(PermanentError) as caught:
        await publisher.publish(_job(video))
    assert caught.value.hint == "Choose one of: friends, private."
    assert not any(r.path.endswith("/video/init/") for r in fake.requests)

    fake.creator["privacy_level_options"] = ["PUBLIC_TO_EVERYONE", "SELF_ONLY"]
    fake.audited = False
    with pytest.raises(PermanentError) as unaudited:
        await publisher.publish(_job(video))
    assert unaudited.value.hint is not None and "audit" in unaudited.value.hint
    result = await publisher.publish(_job(video, privacy="private"))
    # A private post gets no public post id: the publish id identifies it.
    assert result.remote_id.startswith("v_pub_file~") and result.url is None


async def test_a_spent_daily_cap_waits_a_day_instead_of_failing_the_post(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    """spam_risk_too_many_posts (the creator's daily cap) and reached_active_user_cap (an unaudited
    client's 5 creators a day) are caps that reopen: the post waits, it is not failed."""
    publisher = _publisher(http, fake)
    fake.creator_daily_cap = 1
    await publisher.publish(_job(video))
    with pytest.raises(RateLimited) as capped:
        await publisher.publish(_job(video))
    assert capped.value.retry_after == 24 * 3600
    assert capped.value.hint is not None and "daily post limit" in capped.value.hint

    fake.creator_daily_cap = None
    fake.audited = False
    fake.posted_at.clear()  # this creator has not posted today; five others have
    for n in range(5):
        fake.posted_at[f"creator-{n}"].append(time.time())
    with pytest.raises(RateLimited) as users:
        await publisher.publish(_job(video, privacy="private"))
    assert users.value.retry_after == 24 * 3600 and "5 accounts" in (users.value.hint or "")


async def test_commercial_content_disclosure_reaches_tiktok(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    await _publisher(http, fake).publish(_job(video, brand_content_toggle=True, brand_organic_toggle=True))
    [upload] = fake.uploads.values()
    assert upload.post_info["brand_content_toggle"] is True
    assert upload.post_info["brand_organic_toggle"] is True


async def test_a_post_without_a_chosen_privacy_is_not_posted_with_a_default(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    """A post queued before privacy became required: TikTok allows no default, so it fails saying
    which levels the account offers instead of going out public."""
    job = _job(video)
    del job.options["privacy"]
    fake.creator["privacy_level_options"] = ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]
    with pytest.raises(PermanentError) as failed:
        await _publisher(http, fake).publish(job)
    assert failed.value.hint is not None and "followers, private" in failed.value.hint
    assert fake.uploads == {}


async def test_rejected_tokens(fake: FakeTikTok, http: httpx.AsyncClient, video: Path) -> None:
    tokens = StaticTokens("act.revoked", OPEN_ID, refreshed="act.still-revoked")
    with pytest.raises(AuthError) as caught:
        await _publisher(http, fake).publish(_job(video, tokens=tokens))
    assert tokens.refreshes == 1
    assert "access token is invalid" in caught.value.message
    assert caught.value.hint is not None and "/link tiktok" in caught.value.hint
    assert "act.revoked" not in str(caught.value)

    fake.scopes_missing.add("video.publish")
    scoped = StaticTokens(TOKEN, OPEN_ID)
    with pytest.raises(AuthError, match="scope"):
        await _publisher(http, fake).publish(_job(video, tokens=scoped))
    assert scoped.refreshes == 0  # refreshing cannot grant a scope


async def test_the_fake_rejects_protocol_violations(fake: FakeTikTok, http: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    init_url = f"{fake.base_url}/v2/post/publish/video/init/"
    fake.init_limit_per_min = 100

    async def init(size: int, chunk: int, count: int) -> httpx.Response:
        source = {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": chunk,
            "total_chunk_count": count,
        }
        body = {"post_info": {"title": "t", "privacy_level": "SELF_ONLY"}, "source_info": source}
        return await http.post(init_url, json=body, headers=auth)

    assert (await init(3 * MiB, MiB, 3)).status_code == 400  # under 5 MB must go whole
    assert (await init(20 * MiB, 4 * MiB, 5)).status_code == 400  # chunk under 5 MB
    assert (await init(20 * MiB, 5 * MiB, 3)).status_code == 400  # count is not floor(size / chunk)
    assert (await init(100 * MiB, 64 * MiB, 1)).status_code == 400  # over 64 MB in one chunk
    unauthorized = await http.post(init_url, json={}, headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == "access_token_invalid"
    assert "log_id" in unauthorized.json()["error"]

    started = await init(12 * MiB, 5 * MiB, 2)
    url = started.json()["data"]["upload_url"]
    total = 12 * MiB

    async def put(first: int, last: int, content_type: str | None = "video/mp4") -> httpx.Response:
        headers = {"Content-Range": f"bytes {first}-{last}/{total}"}
        if content_type:
            headers["Content-Type"] = content_type
        return await http.put(url, content=b"\0" * (last - first + 1), headers=headers)

    assert (await put(0, 5 * MiB - 1, content_type=None)).status_code == 400
    assert (await put(5 * MiB, total - 1)).status_code == 416  # second chunk first
    assert (await put(0, 4 * MiB - 1)).status_code == 416  # not on the declared boundary
    assert (await put(0, 5 * MiB - 1)).status_code == 206
    assert (await put(0, 5 * MiB - 1)).status_code == 416  # the same chunk twice
    assert (await put(5 * MiB, total - 1)).status_code == 201
    assert fake.uploads[started.json()["data"]["publish_id"]].received == total


async def test_memory_does_not_grow_with_the_file(
    fake: FakeTikTok, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    big = sized_clip(tmp_path / "big.mp4", size_bytes=96 * MiB, fill="sparse")
    job = _job(big)
    tracemalloc.start()
    try:
        await _publisher(http, fake, chunk_size=32 * MiB).publish(job)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fake.published[0].received == 96 * MiB
    assert peak < 12 * MiB, peak


def test_plan_for_small_and_huge_files() -> None:
    assert plan_chunks(1000) == ChunkPlan(1000, 1000, 1)
    assert plan_chunks(100 * MiB, 64 * MiB) == ChunkPlan(100 * MiB, 50 * MiB, 2)
    huge = plan_chunks(10 * 1024 * MiB, 5 * MiB)
    assert huge.total_chunk_count <= MAX_CHUNKS and huge.chunk_size <= 64 * MiB


async def test_an_unknown_unfinished_publish_id_starts_a_new_upload(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    stale = {
        "publish_id": "v_pub_file~v2-1.123",
        "upload_url": f"{fake.base_url}/upload/?upload_id=gone&upload_token=x",
        "video_size": video.stat().st_size,
        "sha256": _sha(video),
        "chunk_size": 5 * MiB,
        "total_chunk_count": 3,
        "uploaded": False,
    }
    result = await _publisher(http, fake).publish(_job(video, state=stale))
    assert result.remote_id == str(fake.published[0].post_id)
    assert fake.sha256_of(fake.published[0].publish_id) == _sha(video)


async def test_post_id_that_comes_after_moderation_is_waited_for(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    """PUBLISH_COMPLETE can come before moderation gives the post id: keep looking, a bounded while."""
    fake.moderation_polls = 3
    result = await _publisher(http, fake).publish(_job(video))
    [upload] = fake.published
    assert result.remote_id == str(upload.post_id)
    assert result.url == f"https://www.tiktok.com/@postbot_team/video/{upload.post_id}"
    assert result.note is None


async def test_moderation_longer_than_the_wait_says_so_and_keeps_the_publish_id(
    fake: FakeTikTok, http: httpx.AsyncClient, video: Path
) -> None:
    fake.moderation_polls = 1_000
    publisher = _publisher(http, fake, post_id_wait_s=0.2)
    job = _job(video)
    result = await publisher.publish(job)
    [upload] = fake.published
    assert upload.post_id is None and result.remote_id == job.upload_state["publish_id"]
    assert result.url is None
    assert result.note is not None and "moderat" in result.note
    polls = [r for r in fake.requests if r.path.endswith("/status/fetch/")]
    assert len(polls) < 60, "bounded: TikTok allows 30 status calls a minute"
