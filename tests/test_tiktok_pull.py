"""TikTok PULL_FROM_URL from the bucket: the real httpx client against the fake Content Posting API,
which really downloads the presigned URL from moto's S3 server, a PyAV-encoded clip in the bucket."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.domain import MediaInfo, Platform
from core.media.storage.s3 import S3Storage
from core.platforms.tiktok.publisher import TikTokPublisher, under_prefix
from core.publishers.base import PublishJob, TransientError
from tests.clips import clip_file
from tests.fakes.tiktok_api import FakeTikTok
from tests.publishing_support import StaticTokens
from tests.s3_support import S3Server

TOKEN = "act.pull-token"
OPEN_ID = "open-pull"
KEY = "ab/clip.mp4"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTikTok]:
    async with FakeTikTok(tokens={TOKEN: OPEN_ID}) as server:
        yield server


@pytest.fixture
async def stored(s3: S3Server, tmp_path: Path) -> tuple[S3Storage, Path]:
    storage = S3Storage(s3.settings())
    clip = clip_file(tmp_path / "clip.mp4")
    await storage.put_file(KEY, clip)
    return storage, clip


def _bucket_prefix(s3: S3Server) -> str:
    # Path-style URLs (what moto and MinIO want): the bucket is the first path segment.
    return f"{s3.endpoint}/{s3.bucket}/"


def _job(storage: S3Storage, clip: Path, state: dict[str, Any] | None = None) -> PublishJob:
    data = clip.read_bytes()
    return PublishJob(
        post_id=11,
        platform=Platform.TIKTOK,
        idempotency_key="post-11",
        caption="Launch day #launch",
        title=None,
        media=MediaInfo(
            path=str(clip),
            key=KEY,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            mime="video/mp4",
            duration_s=12.0,
        ),
        tokens=StaticTokens(TOKEN, OPEN_ID),
        upload_state=dict(state or {}),
        storage=storage,
        options={"privacy": "public"},
    )


def _publisher(http: httpx.AsyncClient, fake: FakeTikTok, prefixes: list[str]) -> TikTokPublisher:
    return TikTokPublisher(
        http,
        base_url=fake.base_url,
        chunk_size=5 * 1024 * 1024,
        retry_backoff_s=0,
        poll_interval_s=0.01,
        pull_from_url_prefixes=prefixes,
    )


def _inits(fake: FakeTikTok) -> list[int]:
    return [r.status for r in fake.requests if r.path.endswith("/video/init/")]


async def test_tiktok_pulls_the_presigned_url_and_gets_the_bucket_s_bytes(
    fake: FakeTikTok, http: httpx.AsyncClient, s3: S3Server, stored: tuple[S3Storage, Path]
) -> None:
    storage, clip = stored
    fake.verified_prefixes = [_bucket_prefix(s3)]
    job = _job(storage, clip)
    result = await _publisher(http, fake, [_bucket_prefix(s3)]).publish(job)
    [upload] = fake.uploads.values()
    assert upload.source == "PULL_FROM_URL"
    assert result.remote_id == str(upload.post_id)
    # TikTok fetched the whole clip from the bucket; nothing was PUT by postbot.
    assert upload.download_status == 200
    assert upload.digest.hexdigest() == job.media.sha256
    assert upload.downloaded == clip.stat().st_size
    assert [r for r in fake.requests if r.method == "PUT"] == []
    # A SigV4 presigned URL of the object, expiring, under the verified prefix.
    assert upload.video_url is not None
    assert upload.video_url.startswith(f"{_bucket_prefix(s3)}postbot/{KEY}?")
    query = parse_qs(urlsplit(upload.video_url).query)
    assert query["X-Amz-Expires"] == ["3600"] and query["X-Amz-Signature"]
    assert job.upload_state["source"] == "PULL_FROM_URL"


async def test_a_prefix_tiktok_has_not_verified_falls_back_to_uploading_the_file(
    fake: FakeTikTok, http: httpx.AsyncClient, s3: S3Server, stored: tuple[S3Storage, Path]
) -> None:
    storage, clip = stored
    # The operator listed the bucket, but the app verified only its CDN: TikTok refuses the pull.
    fake.verified_prefixes = ["https://cdn.example.com/"]
    job = _job(storage, clip)
    await _publisher(http, fake, [_bucket_prefix(s3)]).publish(job)
    assert _inits(fake) == [403, 200]
    [upload] = fake.uploads.values()
    assert upload.source == "FILE_UPLOAD"
    assert fake.sha256_of(upload.publish_id) == job.media.sha256
    assert job.upload_state["pull_failed"] == "url_ownership_unverified"


async def test_a_link_outside_the_configured_prefixes_is_never_offered(
    fake: FakeTikTok, http: httpx.AsyncClient, stored: tuple[S3Storage, Path]
) -> None:
    storage, clip = stored
    fake.verified_prefixes = ["https://media.example.com/"]
    await _publisher(http, fake, ["https://media.example.com/"]).publish(_job(storage, clip))
    assert _inits(fake) == [200]
    [upload] = fake.uploads.values()
    assert upload.source == "FILE_UPLOAD"


async def test_a_pull_that_fails_is_retried_as_an_upload(
    fake: FakeTikTok, http: httpx.AsyncClient, s3: S3Server, stored: tuple[S3Storage, Path]
) -> None:
    storage, clip = stored
    fake.verified_prefixes = [_bucket_prefix(s3)]
    fake.pull_delay_s = 0.2
    publisher = _publisher(http, fake, [_bucket_prefix(s3)])
    job = _job(storage, clip)
    # The object is gone when TikTok comes for it (the URL answers 404): video_pull_failed.
    s3.client.delete_object(Bucket=s3.bucket, Key=f"postbot/{KEY}")
    with pytest.raises(TransientError, match="could not download"):
        await publisher.publish(job)
    [failed] = fake.uploads.values()
    assert (failed.status, failed.fail_reason, failed.download_status) == ("FAILED", "video_pull_failed", 404)
    # The retry (the scheduler's next attempt) sends the file itself.
    await storage.put_file(KEY, clip)
    await publisher.publish(job)
    sent = [u for u in fake.uploads.values() if u.source == "FILE_UPLOAD"]
    assert len(sent) == 1 and fake.sha256_of(sent[0].publish_id) == job.media.sha256


async def test_a_retried_pull_polls_its_publish_id_and_never_inits_again(
    fake: FakeTikTok, http: httpx.AsyncClient, s3: S3Server, stored: tuple[S3Storage, Path]
) -> None:
    storage, clip = stored
    fake.verified_prefixes = [_bucket_prefix(s3)]
    first = _job(storage, clip)
    publisher = _publisher(http, fake, [_bucket_prefix(s3)])
    await publisher.publish(first)
    # The worker died after TikTok published but before the outcome was recorded.
    state = {k: v for k, v in first.upload_state.items() if k not in ("remote_id", "url")}
    again = await publisher.publish(_job(storage, clip, state))
    assert _inits(fake) == [200]
    assert len(fake.uploads) == 1 and again.remote_id == first.upload_state["remote_id"]


async def test_the_init_body_follows_the_direct_post_reference(
    fake: FakeTikTok, http: httpx.AsyncClient, s3: S3Server, stored: tuple[S3Storage, Path]
) -> None:
    storage, clip = stored
    fake.verified_prefixes = [_bucket_prefix(s3)]
    seen: list[dict[str, Any]] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/video/init/"):
            seen.append(json.loads(request.content))

    http.event_hooks["request"].append(record)
    await _publisher(http, fake, [_bucket_prefix(s3)]).publish(_job(storage, clip))
    [body] = seen
    # PULL_FROM_URL names the URL and nothing of the chunk plan (those fields are FILE_UPLOAD's).
    assert set(body["source_info"]) == {"source", "video_url"}
    assert body["post_info"]["privacy_level"] == "PUBLIC_TO_EVERYONE"


def test_a_prefix_covers_what_lies_under_it_only() -> None:
    assert under_prefix("https://cdn.example.com/v/a.mp4?sig=1", ["https://cdn.example.com/v/"])
    assert under_prefix("https://cdn.example.com/a.mp4", ["https://cdn.example.com"])
    assert not under_prefix("https://cdn.example.com.evil.net/a.mp4", ["https://cdn.example.com"])
    assert not under_prefix("https://cdn.example.com/other/a.mp4", ["https://cdn.example.com/v/"])
    assert not under_prefix("http://cdn.example.com/v/a.mp4", ["https://cdn.example.com/v/"])
