"""The Threads publisher against the fake Threads API: a VIDEO container from postbot's own /media/
link that the fake really downloads, the processing delay, the publishing limit, lost answers,
expired containers, the text limit as Threads counts it, and the results reader."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.config import PlatformSettings
from core.domain import Platform
from core.media.validation import text_problems
from core.platforms import chosen
from core.platforms.registry import spec
from core.platforms.results import Metrics
from core.platforms.threads.media import MEDIA, text_length
from core.platforms.threads.publisher import CONTAINER_POLL_FOR_S, CONTAINER_POLL_S, ThreadsPublisher
from core.platforms.threads.results import ThreadsMetrics
from core.publishers.base import AuthError, PermanentError, PublishJob, RateLimited, TransientError
from core.timeparse.command import parse_command, take_flags
from tests.clips import sized_clip
from tests.fakes.threads_api import FETCH_PIECE, FakeThreads, threads_length
from tests.publishing_support import StaticTokens, VideoHost, video_job

TH_USER = "25318902871034482"
TOKEN = "th-access-1"
POST_ID = 11
TEXT = "Launch day 🚀 #launch"


@pytest.fixture
async def fake() -> AsyncIterator[FakeThreads]:
    async with FakeThreads(tokens={TOKEN: TH_USER}) as server:
        yield server


@pytest.fixture
async def host() -> AsyncIterator[VideoHost]:
    async with VideoHost() as served:
        yield served


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # More than two of the fake downloader's range requests, the last one short.
    size = 2 * FETCH_PIECE + 777
    return sized_clip(tmp_path / "thread.mp4", duration_s=10, width=1080, height=1920, size_bytes=size)


def publisher(fake: FakeThreads, http: httpx.AsyncClient, **kwargs: Any) -> ThreadsPublisher:
    options: dict[str, Any] = {"poll_interval_s": 0.01, "retry_base_s": 0.01} | kwargs
    return ThreadsPublisher(http, graph_base_url=fake.graph_base_url, **options)


def make_job(host: VideoHost, video: Path, saved: list[dict[str, Any]], text: str = TEXT) -> PublishJob:
    job = video_job(
        video,
        saved,
        post_id=POST_ID,
        platform=Platform.THREADS,
        caption=text,
        title=None,
        tokens=StaticTokens(TOKEN, TH_USER),
    )
    return host.attach(job)


def retry_of(host: VideoHost, video: Path, saved: list[dict[str, Any]]) -> PublishJob:
    """What the scheduler builds for the next attempt: a new job over the stored state."""
    job = make_job(host, video, saved)
    job.upload_state = dict(saved[-1])
    return job


async def test_video_container_from_postbots_link_is_downloaded_in_ranges_and_published(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_polls = 3
    saved: list[dict[str, Any]] = []
    job = make_job(host, video, saved)
    job.options = {"reply_control": "mentioned"}

    result = await publisher(fake, http).publish(job)

    (container,) = fake.containers.values()
    assert container.params["media_type"] == "VIDEO" and container.params["text"] == TEXT
    assert container.params["reply_control"] == "mentioned_only"
    link = urlsplit(container.params["video_url"])
    assert f"{link.scheme}://{link.netloc}" == host.server.url and link.path.startswith("/media/")
    assert parse_qs(link.query)["post"] == [str(POST_ID)]
    data = video.read_bytes()
    assert (container.fetched_bytes, container.fetched_sha256) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert [(f.method, f.status) for f in fake.fetches] == [("HEAD", 200)] + [("GET", 206)] * 3
    (media,) = fake.media.values()
    assert (result.remote_id, result.url) == (media.id, media.permalink)
    assert container.status == "PUBLISHED" and media.text == TEXT
    paths = [r.path for r in fake.requests]
    assert paths[0] == f"/v1.0/{TH_USER}/threads_publishing_limit", "the limit is asked before anything else"
    polls = [p for p in paths if p == f"/v1.0/{container.id}"]
    # Polls while the video downloads, then three while it is processed: the fake refuses to publish
    # a container that is not FINISHED.
    assert len(polls) >= 3 and container.polls == 3
    assert paths.index(f"/v1.0/{TH_USER}/threads_publish") > paths.index(polls[-1])
    # The post is over: its video link is now useless.
    host.finish(POST_ID)
    assert (await http.get(container.params["video_url"])).status_code == 403


async def test_without_reply_control_threads_default_is_left_alone(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    await publisher(fake, http).publish(make_job(host, video, []))
    (container,) = fake.containers.values()
    assert "reply_control" not in container.params


async def test_processing_longer_than_the_inline_wait_resumes_the_same_container(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_polls = 6
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http, poll_interval_s=0.02, max_processing_s=0.05)

    with pytest.raises(TransientError, match="still processing") as waiting:
        await pub.publish(make_job(host, video, saved))
    assert waiting.value.retry_after == 0.02
    assert not fake.media

    pub.max_processing_s = 1.0
    await pub.publish(retry_of(host, video, saved))

    assert len(fake.containers) == 1, "the retry polled the container it had"
    assert sum(f.method == "HEAD" for f in fake.fetches) == 1, "Threads downloaded the video once"
    assert len(fake.media) == 1


async def test_status_is_polled_at_the_documented_rate(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    """Once a minute for at most five minutes (Troubleshooting); the fake records faster polls."""
    built = ThreadsPublisher.from_settings(PlatformSettings(), http)
    assert (
        (built.poll_interval_s, built.max_processing_s)
        == (CONTAINER_POLL_S, CONTAINER_POLL_FOR_S)
        == (60, 300)
    )
    fake.status_interval_s = 0.05
    fake.processing_polls = 3
    await publisher(fake, http, poll_interval_s=0.05).publish(make_job(host, video, []))
    assert fake.too_fast_polls == [] and len(fake.media) == 1


async def test_a_spent_publishing_limit_waits_before_any_container_is_made(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.quota_total = 1
    await publisher(fake, http).publish(make_job(host, video, [], text="first"))
    fake.fetches.clear()

    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(make_job(host, video, [], text="second"))

    assert limited.value.retry_after == 3600.0
    assert "used its 1 API posts" in limited.value.message
    assert len(fake.containers) == 1 and fake.fetches == [], (
        "nothing downloaded for a post that cannot go out"
    )
    # The window moves: a day later the first post no longer counts.
    (first,) = fake.media
    fake.backdate(first, 24 * 3600 + 1)
    await publisher(fake, http).publish(make_job(host, video, [], text="second"))
    assert len(fake.media) == 2


async def test_threads_publish_refuses_past_the_limit_and_the_refusal_waits(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    """If the quota is spent between the check and the publish (another app posting), Threads'
    own refusal at threads_publish is read as a wait, not a failure."""
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    real_check = pub._check_limit

    async def spend_after_check(tokens: Any) -> None:
        await real_check(tokens)
        fake.quota_total = 0

    pub._check_limit = spend_after_check  # type: ignore[method-assign]
    with pytest.raises(RateLimited) as limited:
        await pub.publish(make_job(host, video, saved))
    assert limited.value.retry_after == 3600.0 and not fake.media


async def test_a_spent_quota_waits_whatever_code_threads_refuses_it_with(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    """What threads_publish answers past the 250 is not documented (PUBLISH_LIMIT_CODE): a refusal
    with any other code is checked against threads_publishing_limit, which is, and waits if the
    quota is spent. Then the retry publishes the same container once the window moved."""
    fake.limit_refusal = (100, "(#100) Invalid parameter")
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    real_check = pub._check_limit
    spent = False

    async def spend_after_first_check(tokens: Any) -> None:
        nonlocal spent
        await real_check(tokens)
        if not spent:
            spent, fake.quota_total = True, 0

    pub._check_limit = spend_after_first_check  # type: ignore[method-assign]
    with pytest.raises(RateLimited) as limited:
        await pub.publish(make_job(host, video, saved))
    assert limited.value.retry_after == 3600.0 and not fake.media
    assert "used its 0 API posts" in limited.value.message

    fake.quota_total = 250
    await pub.publish(retry_of(host, video, saved))
    assert len(fake.media) == 1 and len(fake.containers) == 1, "the same container, published once"


async def test_a_refusal_with_the_quota_not_spent_fails_in_threads_words(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.refuse("publish", 100, "(#100) The parameter creation_id is not valid")

    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(host, video, []))

    assert not isinstance(failed.value, RateLimited)
    assert "creation_id is not valid" in failed.value.message
    assert not fake.media


async def test_throttling_waits_and_the_retry_keeps_the_container(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    """Graph's throttling codes (4, 17, 32, 613) mean "come back later", not "failed"."""
    fake.throttle("status", count=1, code=17)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http, max_inline_wait_s=1.0)

    with pytest.raises(RateLimited) as limited:
        await pub.publish(make_job(host, video, saved))
    assert limited.value.retry_after == 60.0 and "request limit" in limited.value.message
    assert not fake.media

    await pub.publish(retry_of(host, video, saved))
    assert len(fake.containers) == 1 and len(fake.media) == 1


async def test_a_link_threads_cannot_download_fails_with_threads_reason(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(host, video, [])
    host.finish(POST_ID)  # the link is refused, as for a post that is already over

    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(job)

    assert "FAILED_DOWNLOADING_VIDEO" in failed.value.message
    assert failed.value.hint is not None and "web.public_url" in failed.value.hint
    assert [(f.method, f.status) for f in fake.fetches] == [("HEAD", 403)]
    assert not fake.media


async def test_a_processing_error_is_permanent_and_names_threads_code(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_error = "INVALID_DURATION"
    with pytest.raises(PermanentError, match="INVALID_DURATION"):
        await publisher(fake, http).publish(make_job(host, video, []))
    assert not fake.media


async def test_lost_publish_answer_finds_the_post_instead_of_publishing_again(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_publish_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(host, video, saved))
    assert len(fake.media) == 1, "Threads published; only the answer was lost"

    result = await pub.publish(retry_of(host, video, saved))

    (media,) = fake.media.values()
    assert (result.remote_id, result.url) == (media.id, media.permalink)
    assert sum(r.path.endswith("/threads_publish") for r in fake.requests) == 1


async def test_expired_container_is_replaced(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("status", count=3)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(host, video, saved))
    (first,) = fake.containers
    fake.expire(first)

    with pytest.raises(TransientError, match="expired"):
        await pub.publish(retry_of(host, video, saved))
    await pub.publish(retry_of(host, video, saved))

    assert len(fake.containers) == 2 and fake.containers[first].status == "EXPIRED"
    assert len(fake.media) == 1


async def test_5xx_creating_the_container_is_retried_in_place(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("create", count=2, status=503)
    await publisher(fake, http).publish(make_job(host, video, []))
    assert len(fake.containers) == 1 and len(fake.media) == 1


async def test_recorded_media_id_returns_without_calling_threads(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(host, video, [])
    job.upload_state = {"th_media_id": "42", "remote_url": "https://www.threads.com/@a/post/42"}
    result = await publisher(fake, http).publish(job)
    assert (result.remote_id, result.url) == ("42", "https://www.threads.com/@a/post/42")
    assert fake.requests == []


# --- the text limit, counted the way Threads counts it ------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [("hello", 5), ("👍", 4), ("👍🏽", 8), ("🇫🇷", 8), ("é", 1), ("日本語", 3), ("a👨‍👩‍👧b", 20)],
)
def test_text_length_counts_emoji_as_their_utf8_bytes(text: str, length: int) -> None:
    assert text_length(text) == length == threads_length(text)


async def test_emoji_heavy_text_is_refused_before_queueing_and_by_threads(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    plain = "a" * 500
    emoji = "🎉" * 126  # 126 characters, 504 as Threads counts them
    assert text_problems(MEDIA, "Threads", plain, None) == []
    [problem] = text_problems(MEDIA, "Threads", emoji, None)
    assert "504" in problem and "500" in problem
    assert spec(Platform.THREADS).media is MEDIA

    with pytest.raises(PermanentError, match="at most 500 characters"):
        await publisher(fake, http).publish(make_job(host, video, [], text=emoji))
    assert not fake.containers
    await publisher(fake, http).publish(make_job(host, video, [], text=plain))
    assert len(fake.media) == 1


# --- results -----------------------------------------------------------------------------------


async def test_results_reader_reads_views_likes_and_replies(
    fake: FakeThreads, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    result = await publisher(fake, http).publish(make_job(host, video, []))
    fake.media[result.remote_id].insights = {"views": 1204, "likes": 56, "replies": 7, "reposts": 3}
    reader = ThreadsMetrics.from_settings(http, PlatformSettings(base_url=fake.graph_base_url))
    tokens = StaticTokens(TOKEN, TH_USER)

    found = await reader.read(tokens, [result.remote_id, "999"])

    assert found == {result.remote_id: Metrics(1204, 56, 7)}, "a deleted post is simply absent"
    asked = [r for r in fake.requests if r.path.endswith("/insights")]
    assert [r.status for r in asked] == [200, 400]

    fake.media[result.remote_id].insights = {}
    assert await reader.read(tokens, [result.remote_id]) == {result.remote_id: Metrics(None, None, None)}

    fake.scopes_missing.add("threads_manage_insights")
    with pytest.raises(AuthError) as refused:
        await reader.read(tokens, [result.remote_id])
    assert refused.value.hint is not None and "/link threads" in refused.value.hint
    assert reader.scopes == ("threads_basic", "threads_manage_insights")


# --- reply control, as typed in a command --------------------------------------------------------


def _chosen(text: str) -> chosen.Chosen:
    flags = take_flags(text)
    command = parse_command(flags.text, "UTC", datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    return chosen.resolve(command.platforms, command.picks, flags.pairs)


def test_reply_control_is_typed_as_a_short_option_or_a_flag_and_refused_when_unknown() -> None:
    assert _chosen("tomorrow threads:mentioned Hi").options == {
        Platform.THREADS: {"reply_control": "mentioned"}
    }
    assert _chosen("tomorrow th Hi --replies accounts_you_follow").options == {
        Platform.THREADS: {"reply_control": "following"}
    }
    assert _chosen("tomorrow threads Hi").options == {}, "unset: Threads' own default (everyone)"
    assert _chosen("tomorrow threads:nobody Hi").problems == {
        "threads": [
            "'nobody' is not a Threads reply setting. Use one of: everyone, following, mentioned, followers."
        ]
    }
