"""YouTube publisher against the fake Data API: resumable upload, resume, limits, thumbnails."""

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
from core.platforms.youtube.caps import UPLOADS_PER_DAY
from core.platforms.youtube.publisher import YouTubePublisher
from core.publishers.base import AuthError, PermanentError, PublishJob, RateLimited, TransientError
from tests.clips import sized_clip
from tests.fakes.youtube_api import CHUNK_UNIT, PACIFIC, FakeYouTube
from tests.publishing_support import StaticTokens

TOKEN = "ya29.test-token"
CHANNEL = "UCtestchannel000000000000"


@pytest.fixture
async def fake() -> AsyncIterator[FakeYouTube]:
    async with FakeYouTube(tokens={TOKEN: CHANNEL}) as server:
        yield server


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _media(path: Path) -> MediaInfo:
    return MediaInfo(
        path=str(path), sha256=_sha(path), size_bytes=path.stat().st_size, mime="video/mp4", duration_s=12
    )


def _job(
    path: Path, *, tokens: Any = None, state: dict[str, Any] | None = None, **options: Any
) -> PublishJob:
    saved: list[dict[str, Any]] = []

    async def save(snapshot: dict[str, Any]) -> None:
        saved.append(snapshot)

    job = PublishJob(
        post_id=1,
        platform=Platform.YOUTUBE,
        idempotency_key="post-1",
        caption="Launch day #launch",
        title="Launch day",
        media=_media(path),
        tokens=tokens if tokens is not None else StaticTokens(TOKEN, CHANNEL),
        upload_state=dict(state or {}),
        save_state=save,
        options=options,
    )
    job.saved = saved  # type: ignore[attr-defined]
    return job


def _publisher(http: httpx.AsyncClient, fake: FakeYouTube, **kw: Any) -> YouTubePublisher:
    kw.setdefault("chunk_size", 2 * CHUNK_UNIT)
    kw.setdefault("retry_backoff_s", 0)
    return YouTubePublisher(http, base_url=fake.base_url, **kw)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # 5 chunks of 512 KiB and a short last one.
    return sized_clip(tmp_path / "clip.mp4", size_bytes=5 * 2 * CHUNK_UNIT + 12_345)


async def test_happy_path_uploads_every_byte_in_order(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    job = _job(video, privacy="unlisted")
    result = await _publisher(http, fake).publish(job)

    assert list(fake.videos) == [result.remote_id]
    stored = fake.videos[result.remote_id]
    assert stored.sha256 == _sha(video) and stored.size == video.stat().st_size
    assert stored.resource["snippet"]["title"] == "Launch day"
    assert stored.resource["snippet"]["description"] == "Launch day #launch"
    assert stored.resource["status"]["privacyStatus"] == "unlisted"
    assert result.url == f"https://www.youtube.com/watch?v={result.remote_id}"
    ranges = [r.content_range for r in fake.requests if r.method == "PUT"]
    size = video.stat().st_size
    step = 2 * CHUNK_UNIT
    assert ranges == [f"bytes {a}-{min(a + step, size) - 1}/{size}" for a in range(0, size, step)]
    assert [r.status for r in fake.requests] == [200, 308, 308, 308, 308, 308, 201]
    assert fake.protocol_errors == []
    # The session was saved before the upload, the video id once known.
    assert job.saved[0]["session_uri"].startswith(fake.base_url)  # type: ignore[attr-defined]
    assert job.upload_state["video_id"] == result.remote_id


async def test_5xx_mid_upload_resumes_from_the_servers_range(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    # First a plain 503; then a 500 after the server kept 256 KiB of the re-sent chunk.
    publisher = _publisher(http, fake)
    job = _job(video)
    fake.fail_chunks(1, status=503, commit_bytes=0)
    fake.fail_chunks(1, status=500, commit_bytes=CHUNK_UNIT)
    result = await publisher.publish(job)

    assert fake.videos[result.remote_id].sha256 == _sha(video)
    puts = [(r.content_range, r.status) for r in fake.requests if r.method == "PUT"]
    size = video.stat().st_size
    assert puts[0] == (f"bytes 0-{2 * CHUNK_UNIT - 1}/{size}", 503)
    assert puts[1] == (f"bytes */{size}", 308)  # asked the session instead of guessing
    assert puts[2] == (f"bytes 0-{2 * CHUNK_UNIT - 1}/{size}", 500)
    assert puts[3] == (f"bytes */{size}", 308)
    # Resumed at the 256 KiB the server kept, not at the chunk boundary the client had in mind.
    assert puts[4][0] == f"bytes {CHUNK_UNIT}-{3 * CHUNK_UNIT - 1}/{size}"
    assert fake.protocol_errors == []
    assert len(fake.videos) == 1


async def test_a_crashed_attempt_is_resumed_by_the_next_one(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    publisher = _publisher(http, fake, max_chunk_attempts=2)
    first = _job(video)
    # Two chunks go through, then the connection keeps dropping mid-chunk and the attempt gives up.
    fake.drop_chunks(5, after_bytes=CHUNK_UNIT, skip=2)
    with pytest.raises(TransientError):
        await publisher.publish(first)
    state = first.upload_state
    assert state["session_uri"] and state["offset"] == 4 * CHUNK_UNIT and "video_id" not in state

    # The next attempt (after a restart, say) asks the same session and sends only what is missing.
    fake.chunk_drops.clear()
    fake.requests.clear()
    result = await publisher.publish(_job(video, state=dict(state)))
    size = video.stat().st_size
    assert fake.requests[0].content_range == f"bytes */{size}"
    assert not any(r.method == "POST" for r in fake.requests)
    assert sum(r.length for r in fake.requests) == size - 4 * CHUNK_UNIT
    assert fake.videos[result.remote_id].sha256 == _sha(video)
    assert len(fake.videos) == 1


async def test_a_finished_session_is_not_uploaded_twice(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    publisher = _publisher(http, fake)
    first = _job(video)
    result = await publisher.publish(first)
    # A crash after YouTube answered but before the video id was written: only the session is known.
    lost = dict(first.saved[0])  # type: ignore[attr-defined]
    assert "video_id" not in lost
    fake.requests.clear()
    again = await publisher.publish(_job(video, state=lost))
    assert again.remote_id == result.remote_id
    assert [(r.method, r.status) for r in fake.requests] == [("PUT", 200)]
    assert len(fake.videos) == 1
    # With the id saved, a retry sends nothing at all.
    fake.requests.clear()
    assert (await publisher.publish(_job(video, state=first.upload_state))).remote_id == result.remote_id
    assert fake.requests == []


async def test_expired_session_starts_a_new_one(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    publisher = _publisher(http, fake, max_chunk_attempts=1)
    job = _job(video)
    fake.fail_chunks(1, status=503, commit_bytes=0)
    fake.fail_chunks(5, status=503)
    with pytest.raises(TransientError):
        await publisher.publish(job)
    fake.sessions.clear()  # sessions expire after a week
    fake.chunk_failures.clear()
    result = await publisher.publish(_job(video, state=job.upload_state))
    assert fake.videos[result.remote_id].sha256 == _sha(video)
    assert sum(1 for r in fake.requests if r.method == "POST") == 2


async def test_chunk_429_waits_for_retry_after(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    fake.rate_limit_chunks(1, retry_after=0.3)
    started = time.monotonic()
    result = await _publisher(http, fake).publish(_job(video))
    assert time.monotonic() - started >= 0.3
    assert fake.videos[result.remote_id].sha256 == _sha(video)
    assert 429 in [r.status for r in fake.requests]


async def test_chunk_429_longer_than_the_bound_is_surfaced(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    fake.rate_limit_chunks(1, retry_after=600)
    job = _job(video)
    with pytest.raises(RateLimited) as caught:
        await _publisher(http, fake, max_wait_s=5).publish(job)
    assert caught.value.retry_after == 600
    assert job.upload_state["session_uri"]


async def test_insert_429_and_quota(fake: FakeYouTube, http: httpx.AsyncClient, video: Path) -> None:
    publisher = _publisher(http, fake)
    fake.rate_limit_inserts(1, retry_after=30)
    with pytest.raises(RateLimited) as limited:
        await publisher.publish(_job(video))
    assert limited.value.retry_after == 30
    fake.quota_exceeded(1)
    with pytest.raises(RateLimited) as quota:
        await publisher.publish(_job(video))
    assert quota.value.retry_after is not None and 0 < quota.value.retry_after <= 25 * 3600
    assert quota.value.hint is not None and "quota" in quota.value.hint
    assert fake.videos == {}


async def test_the_hundred_and_first_upload_of_a_pacific_day_waits_for_midnight_pacific(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    """videos.insert's own bucket: 100 calls a day per project, 1 each
    (https://developers.google.com/youtube/v3/determine_quota_cost)."""
    publisher = _publisher(http, fake)
    day = fake.now().astimezone(PACIFIC).date()
    fake.inserts[day] = UPLOADS_PER_DAY - 1
    await publisher.publish(_job(video))
    assert fake.inserts[day] == UPLOADS_PER_DAY and len(fake.videos) == 1
    with pytest.raises(RateLimited) as quota:
        await publisher.publish(_job(video))
    assert "exceeded your quota" in quota.value.message
    assert quota.value.retry_after is not None and 0 < quota.value.retry_after <= 25 * 3600
    assert len(fake.videos) == 1


async def test_upload_limit_defers_the_post_a_day_instead_of_failing_it(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    """uploadLimitExceeded is the channel's daily upload cap: the post waits 24 hours, it is not lost."""
    fake.upload_limit_reached = True
    with pytest.raises(RateLimited) as caught:
        await _publisher(http, fake).publish(_job(video))
    assert "exceeded the number of videos" in caught.value.message
    assert caught.value.retry_after == 24 * 3600
    assert caught.value.hint is not None and "24 hours" in caught.value.hint
    assert fake.videos == {}


async def test_a_308_with_location_moves_the_session(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    """Google may answer a chunk with a new session URI; the old one is gone from then on."""
    fake.move_session(skip=1)
    job = _job(video)
    result = await _publisher(http, fake).publish(job)
    assert list(fake.videos) == [result.remote_id]
    assert fake.videos[result.remote_id].sha256 == _sha(video)
    # One session, never a second upload of the same file, and the new URI was saved for a resume.
    assert [r.method for r in fake.requests].count("POST") == 1
    assert all(r.status != 404 for r in fake.requests)
    sessions = [s["session_uri"] for s in job.saved if s.get("session_uri")]  # type: ignore[attr-defined]
    assert len(set(sessions)) == 2


async def test_unverified_project_lock_to_private_is_said_in_the_result(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    fake.unverified_project = True
    result = await _publisher(http, fake).publish(_job(video, privacy="public"))
    assert fake.videos[result.remote_id].resource["status"]["privacyStatus"] == "private"
    assert result.note is not None and "private" in result.note and "audit" in result.note
    # Asked for private, private is no news.
    fake.videos.clear()
    quiet = await _publisher(http, fake).publish(_job(video, privacy="private"))
    assert quiet.note is None


async def test_rejected_token_fails_as_auth_error(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    tokens = StaticTokens("revoked", CHANNEL, refreshed="still-revoked")
    with pytest.raises(AuthError) as caught:
        await _publisher(http, fake).publish(_job(video, tokens=tokens))
    assert tokens.refreshes == 1
    assert "invalid authentication credentials" in caught.value.message
    assert caught.value.hint is not None and "/link youtube" in caught.value.hint
    assert "revoked" not in str(caught.value)


async def test_metadata_rejected_by_youtube_is_permanent(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    job = _job(video)
    job.title = "a <b> title"
    with pytest.raises(PermanentError) as caught:
        await _publisher(http, fake).publish(job)
    assert "invalid video title" in caught.value.message
    job.title = None
    with pytest.raises(PermanentError, match="title"):
        await _publisher(http, fake).publish(job)
    bad = _job(video, privacy="friends")
    with pytest.raises(PermanentError, match="privacy"):
        await _publisher(http, fake).publish(bad)


async def test_thumbnail_is_set_and_a_refusal_does_not_fail_the_post(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path, tmp_path: Path
) -> None:
    thumb = tmp_path / "thumb.png"
    thumb.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\1" * 1000)
    job = _job(video, thumbnail_path=str(thumb))
    result = await _publisher(http, fake).publish(job)
    assert fake.videos[result.remote_id].thumbnail == _sha(thumb)
    assert job.upload_state["thumbnail_done"] is True

    fake.thumbnails_forbidden = True
    refused = _job(video, thumbnail_path=str(thumb))
    result = await _publisher(http, fake).publish(refused)
    assert result.remote_id in fake.videos
    assert "permissions" in refused.upload_state["thumbnail_error"]


async def test_the_fake_rejects_protocol_violations(fake: FakeYouTube, http: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{fake.base_url}/upload/youtube/v3/videos"
    meta = {"snippet": {"title": "t"}, "status": {"privacyStatus": "public"}}
    params = {"uploadType": "resumable", "part": "snippet,status"}
    missing = await http.post(url, params=params, json=meta, headers=auth)
    assert missing.status_code == 400
    assert missing.json()["error"]["errors"][0]["reason"] == "required"
    head = {**auth, "X-Upload-Content-Length": str(3 * CHUNK_UNIT), "X-Upload-Content-Type": "video/mp4"}
    unlisted_part = await http.post(url, params={**params, "part": "snippet"}, json=meta, headers=head)
    assert unlisted_part.status_code == 400
    bad_token = await http.post(
        url, params=params, json=meta, headers={**head, "Authorization": "Bearer nope"}
    )
    assert bad_token.status_code == 401
    assert bad_token.json()["error"]["errors"][0]["reason"] == "authError"
    started = await http.post(url, params=params, json=meta, headers=head)
    session = started.headers["location"]
    total = 3 * CHUNK_UNIT

    async def put(body: bytes, content_range: str | None) -> httpx.Response:
        headers = {**auth, "Content-Type": "video/mp4"}
        if content_range is not None:
            headers["Content-Range"] = content_range
        return await http.put(session, content=body, headers=headers)

    assert (await put(b"x" * 10, None)).status_code == 400  # no Content-Range
    odd = await put(b"x" * 1000, f"bytes 0-999/{total}")  # not a multiple of 256 KiB
    assert odd.status_code == 400 and "256 KiB" in odd.json()["error"]["message"]
    assert (await put(b"x" * CHUNK_UNIT, f"bytes 0-{CHUNK_UNIT - 1}/{total + 1}")).status_code == 400
    skipped = await put(b"x" * CHUNK_UNIT, f"bytes {CHUNK_UNIT}-{2 * CHUNK_UNIT - 1}/{total}")
    assert skipped.status_code == 400  # out of order
    short = await put(b"x" * 100, f"bytes 0-{CHUNK_UNIT - 1}/{total}")
    assert short.status_code == 400  # Content-Length disagrees with Content-Range
    ok = await put(b"x" * CHUNK_UNIT, f"bytes 0-{CHUNK_UNIT - 1}/{total}")
    assert ok.status_code == 308 and ok.headers["range"] == f"bytes=0-{CHUNK_UNIT - 1}"
    again = await put(b"x" * CHUNK_UNIT, f"bytes 0-{CHUNK_UNIT - 1}/{total}")
    assert again.status_code == 400  # already stored: resend from the server's Range
    status = await put(b"", f"bytes */{total}")
    assert status.status_code == 308 and status.headers["range"] == f"bytes=0-{CHUNK_UNIT - 1}"
    gone = await http.put(
        url, params={"upload_id": "nope"}, headers={**auth, "Content-Range": f"bytes */{total}"}
    )
    assert gone.status_code == 404
    assert fake.videos == {}


async def test_memory_does_not_grow_with_the_file(
    fake: FakeYouTube, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    big = sized_clip(tmp_path / "big.mp4", size_bytes=96 * 1024 * 1024, fill="sparse")
    media = MediaInfo(path=str(big), sha256="sparse", size_bytes=big.stat().st_size, mime="video/mp4")
    job = _job(big)
    job.media = media
    publisher = _publisher(http, fake, chunk_size=16 * 1024 * 1024)
    tracemalloc.start()
    try:
        result = await publisher.publish(job)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fake.videos[result.remote_id].size == 96 * 1024 * 1024
    # Client and fake share this process: both stream, so the peak stays far below one chunk.
    assert peak < 12 * 1024 * 1024, peak


async def test_stream_range_yields_the_exact_bytes_and_closes_its_file(tmp_path: Path) -> None:
    import os

    from core.media.chunks import stream_range

    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    fds = len(os.listdir("/proc/self/fd"))
    for start, end, piece in ((0, len(data), 1 << 20), (5, 1_000_003, 4096), (len(data) - 1, len(data), 7)):
        got = b"".join([p async for p in stream_range(path, start, end, piece=piece)])
        assert got == data[start:end]
    # A consumer that stops early (a failed request) still releases the descriptor.
    stream = stream_range(path, 0, len(data), piece=1 << 20)
    assert len(await anext(stream)) == 1 << 20
    await stream.aclose()
    assert len(os.listdir("/proc/self/fd")) == fds
    with pytest.raises(OSError, match="changed during upload"):
        async for _ in stream_range(path, 0, len(data) + 10, piece=1 << 20):
            pass


async def test_a_session_moved_on_by_another_uploader_is_resumed_from_its_range(
    fake: FakeYouTube, http: httpx.AsyncClient, video: Path
) -> None:
    # Issue 11 point 5: after a takeover two workers may hold the same session. Here the "other
    # worker" sends the next chunk itself right after our first checkpoint; our next chunk then
    # starts where the session no longer stands, and the 400 must not fail the post.
    size = video.stat().st_size
    step = 2 * CHUNK_UNIT
    job = _job(video)
    plain_save = job.save_state
    assert plain_save is not None
    interfered: list[int] = []

    async def save(state: dict[str, Any]) -> None:
        await plain_save(state)
        if state.get("offset") == step and not interfered:
            interfered.append(step)
            chunk = video.read_bytes()[step : 2 * step]
            other = await http.put(
                state["session_uri"],
                content=chunk,
                headers={
                    "Authorization": f"Bearer {TOKEN}",
                    "Content-Type": "video/mp4",
                    "Content-Range": f"bytes {step}-{2 * step - 1}/{size}",
                },
            )
            assert other.status_code == 308

    job.save_state = save
    result = await _publisher(http, fake).publish(job)

    assert interfered == [step]
    puts = [(r.content_range, r.status) for r in fake.requests if r.method == "PUT"]
    # Ours was refused (the session held 2 chunks), we asked, and went on from the session's Range.
    assert puts[2:5] == [
        (f"bytes {step}-{2 * step - 1}/{size}", 400),
        (f"bytes */{size}", 308),
        (f"bytes {2 * step}-{3 * step - 1}/{size}", 308),
    ]
    assert fake.videos[result.remote_id].sha256 == _sha(video)
    assert len(fake.videos) == 1
    assert job.upload_state["video_id"] == result.remote_id
