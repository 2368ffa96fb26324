"""The Instagram publisher against the fake Graph API: reels from a ``video_url`` that the fake really
downloads from postbot's own /media/ route, limits, failures, and the link dying with the post."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiohttp import web

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.instagram import versions
from core.platforms.instagram.publisher import CONTAINER_POLL_S, InstagramPublisher
from core.publishers.base import PermanentError, PublishJob, RateLimited, TransientError
from tests.clips import sized_clip
from tests.fakes.instagram_api import FETCH_PIECE, FakeInstagram
from tests.fakes.loopback import LoopbackFake
from tests.publishing_support import StaticTokens, VideoHost, video_job

IG_USER = "17841400000000001"
TOKEN = "ig-access-1"
POST_ID = 7
CAPTION = "Launch day #launch #reels"


@pytest.fixture
async def fake() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram(tokens={TOKEN: IG_USER}) as server:
        yield server


@pytest.fixture
async def host() -> AsyncIterator[VideoHost]:
    async with VideoHost() as served:
        yield served


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # More than two of the fake downloader's range requests, the last one short.
    size = 2 * FETCH_PIECE + 4321
    return sized_clip(tmp_path / "reel.mp4", duration_s=12, width=1080, height=1920, size_bytes=size)


def publisher(fake: FakeInstagram, http: httpx.AsyncClient, **kwargs: Any) -> InstagramPublisher:
    options: dict[str, Any] = {"poll_interval_s": 0.01, "retry_base_s": 0.01} | kwargs
    return InstagramPublisher(http, graph_base_url=fake.graph_base_url, **options)


def plain_job(video: Path, saved: list[dict[str, Any]], caption: str = CAPTION) -> PublishJob:
    return video_job(
        video,
        saved,
        post_id=POST_ID,
        platform=Platform.INSTAGRAM,
        caption=caption,
        title=None,
        tokens=StaticTokens(TOKEN, IG_USER),
    )


def make_job(host: VideoHost, video: Path, saved: list[dict[str, Any]], caption: str = CAPTION) -> PublishJob:
    """A job whose video Instagram fetches from postbot's /media/ route, through the post's link."""
    return host.attach(plain_job(video, saved, caption))


def retry_of(host: VideoHost, video: Path, saved: list[dict[str, Any]]) -> PublishJob:
    """What the scheduler builds for the next attempt: a new job over the stored state."""
    job = make_job(host, video, saved)
    job.upload_state = dict(saved[-1])
    return job


def assert_received_intact(fake: FakeInstagram, video: Path) -> None:
    (container,) = fake.containers.values()
    data = video.read_bytes()
    assert container.fetch_error is None
    assert (container.fetched_bytes, container.fetched_sha256) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )


async def test_reel_is_created_from_postbots_link_fetched_in_ranges_and_published(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_polls = 3
    saved: list[dict[str, Any]] = []

    result = await publisher(fake, http).publish(make_job(host, video, saved))

    (container,) = fake.containers.values()
    assert container.params["media_type"] == "REELS"
    assert "upload_type" not in container.params, "resumable upload is for Facebook Login for Business"
    assert container.params["caption"] == CAPTION
    link = urlsplit(container.params["video_url"])
    assert f"{link.scheme}://{link.netloc}" == host.server.url and link.path.startswith("/media/")
    assert parse_qs(link.query)["post"] == [str(POST_ID)]
    assert_received_intact(fake, video)
    size = video.stat().st_size
    assert [(f.method, f.range, f.status) for f in fake.fetches] == [
        ("HEAD", None, 200),
        ("GET", f"bytes=0-{FETCH_PIECE - 1}", 206),
        ("GET", f"bytes={FETCH_PIECE}-{2 * FETCH_PIECE - 1}", 206),
        ("GET", f"bytes={2 * FETCH_PIECE}-{size - 1}", 206),
    ]
    (media,) = fake.media.values()
    assert result.remote_id == media.id and result.url == media.permalink
    assert container.status_code == "PUBLISHED"
    assert saved[-1]["remote_id"] == media.id and saved[-1]["remote_url"] == media.permalink
    paths = [r.path for r in fake.requests]
    assert paths[0].endswith("/content_publishing_limit"), "the daily limit is checked before creating"
    assert paths.index(f"/{fake.version}/{IG_USER}/media_publish") > paths.index(
        f"/{fake.version}/{container.id}"
    )
    assert not [r for r in fake.requests if "/ig-api-upload/" in r.path], "nothing sent to rupload"


async def test_the_link_serves_only_this_video_and_dies_with_the_post_or_its_expiry(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(host, video, [])
    await publisher(fake, http).publish(job)
    (container,) = fake.containers.values()
    url = container.params["video_url"]
    assert (await http.get(url, headers={"Range": "bytes=0-99"})).content == video.read_bytes()[:100]

    other_post = url.replace(f"post={POST_ID}", "post=8")
    other_video = url.replace("reel.mp4", "other.mp4")
    unbound = url.split("&post=")[0]
    assert job.media_link is not None
    expired = await job.media_link(timedelta(seconds=-1))
    for bad in (other_post, other_video, unbound, expired, url.split("?")[0]):
        assert (await http.get(bad)).status_code == 403, bad

    host.finish(POST_ID)
    assert (await http.get(url)).status_code == 403, "the post is over: the link is useless"
    assert (await http.head(url)).status_code == 403


async def test_a_link_meta_cannot_download_fails_the_post_with_instagrams_reason(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(host, video, [])
    host.finish(POST_ID)  # The link is refused, as for a post that is already over.

    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(job)

    assert "Media download has failed" in failed.value.message
    assert failed.value.hint is not None and "web.public_url" in failed.value.hint
    assert [(f.method, f.status) for f in fake.fetches] == [("HEAD", 403)]
    assert not fake.media


async def test_without_a_link_and_with_a_folder_store_the_post_says_what_to_configure(
    fake: FakeInstagram, http: httpx.AsyncClient, video: Path
) -> None:
    job = plain_job(video, [])  # no media link and a local storage without a signing secret

    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(job)

    assert failed.value.hint is not None and "web.public_url" in failed.value.hint
    assert not fake.containers


async def test_5xx_creating_the_container_is_retried_in_place(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("create", count=2, status=503)

    await publisher(fake, http).publish(make_job(host, video, []))

    assert_received_intact(fake, video)
    assert len(fake.media) == 1


async def test_status_outage_resumes_with_the_same_container(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("status", count=3, status=503)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)

    with pytest.raises(TransientError) as failed:
        await pub.publish(make_job(host, video, saved))
    assert failed.value.status_code == 503
    assert not fake.media

    await pub.publish(retry_of(host, video, saved))

    assert len(fake.containers) == 1, "the same container was resumed"
    assert sum(f.method == "HEAD" for f in fake.fetches) == 1, "Meta downloaded the video once"
    assert_received_intact(fake, video)
    assert len(fake.media) == 1


async def test_lost_publish_answer_finds_the_reel_instead_of_publishing_again(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_publish_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(host, video, saved))
    assert fake.published_count(IG_USER) == 1, "Instagram published; only the answer was lost"

    result = await pub.publish(retry_of(host, video, saved))

    (media,) = fake.media.values()
    assert result.remote_id == media.id and result.url == media.permalink
    publishes = [r for r in fake.requests if r.path.endswith("/media_publish")]
    assert len(publishes) == 1


async def test_recorded_media_id_returns_without_calling_instagram(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    job = make_job(host, video, [])
    job.upload_state = {"ig_media_id": "999", "remote_url": "https://www.instagram.com/reel/999/"}
    result = await publisher(fake, http).publish(job)
    assert (result.remote_id, result.url) == ("999", "https://www.instagram.com/reel/999/")
    assert fake.requests == []


async def test_throttling_surfaces_metas_regain_time_and_the_retry_keeps_the_container(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.throttle("status", count=1, code=4, regain_minutes=2)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)

    with pytest.raises(RateLimited) as limited:
        await pub.publish(make_job(host, video, saved))
    assert limited.value.retry_after == 120.0
    assert "Application request limit reached" in limited.value.message

    await pub.publish(retry_of(host, video, saved))
    assert len(fake.containers) == 1 and len(fake.media) == 1


async def test_content_publishing_limit_defers_before_creating(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.quota_total = 0
    with pytest.raises(RateLimited) as limited:
        await publisher(fake, http).publish(make_job(host, video, []))
    assert limited.value.retry_after == 3600.0
    assert not fake.containers and not fake.fetches


async def test_processing_error_is_permanent_with_instagrams_reason(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.processing_error = "ERROR: The video codec is not supported"
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(host, video, []))
    assert "video codec is not supported" in failed.value.message
    assert not fake.media


async def test_validation_error_is_permanent_and_quotes_instagram(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    caption = " ".join(f"#tag{i}" for i in range(31))
    with pytest.raises(PermanentError) as failed:
        await publisher(fake, http).publish(make_job(host, video, [], caption=caption))
    assert "more than 30 hashtags" in failed.value.message
    assert not fake.containers


async def test_expired_container_is_replaced(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.fail("status", count=3)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(host, video, saved))
    (first,) = fake.containers
    fake.expire(first)

    # The next attempt learns the container expired and says it starts over; the one after publishes.
    with pytest.raises(TransientError, match="expired"):
        await pub.publish(retry_of(host, video, saved))
    await pub.publish(retry_of(host, video, saved))

    assert len(fake.containers) == 2
    assert fake.containers[first].status_code == "EXPIRED"
    assert len(fake.media) == 1


async def test_built_from_settings(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    conf = PlatformSettings(base_url=fake.graph_base_url)
    pub = InstagramPublisher.from_settings(conf, http)
    # Built from settings it polls at Meta's rate (a minute); when the fake's download of the video
    # ends after the first poll, that minute was spent here in real time.
    assert pub.poll_interval_s == CONTAINER_POLL_S
    pub.poll_interval_s = 0.05
    await pub.publish(make_job(host, video, []))
    assert len(fake.media) == 1


async def test_lost_publish_answer_is_found_even_when_the_container_is_old(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    fake.lose_publish_answers(1)
    saved: list[dict[str, Any]] = []
    pub = publisher(fake, http)
    with pytest.raises(TransientError):
        await pub.publish(make_job(host, video, saved))

    retry = make_job(host, video, saved)
    retry.upload_state = dict(saved[-1], ig_container_at=saved[-1]["ig_container_at"] - 23.5 * 3600)
    result = await pub.publish(retry)

    (media,) = fake.media.values()
    assert result.remote_id == media.id
    assert len(fake.containers) == 1, "no new container for a reel that was published"


async def test_container_status_is_polled_at_metas_rate(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    """Meta asks for one status query a minute, for at most five minutes; the publisher polled every
    5 s for 10 minutes. The fake records polls closer than its interval (scaled down here)."""
    assert InstagramPublisher.from_settings(PlatformSettings(), http).poll_interval_s == 60
    assert InstagramPublisher.from_settings(PlatformSettings(), http).max_processing_s == 300
    fake.status_interval_s = 0.05
    fake.processing_polls = 3
    pub = publisher(fake, http, poll_interval_s=0.05)
    await pub.publish(make_job(host, video, []))
    assert fake.too_fast_polls == []


# --- the fake enforces what Meta documents -----------------------------------------------------


async def test_fake_refuses_resumable_upload_with_an_instagram_login_token(
    fake: FakeInstagram, http: httpx.AsyncClient
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    resumable = await http.post(
        f"{fake.graph_base_url}/{IG_USER}/media",
        headers=bearer,
        data={"media_type": "REELS", "upload_type": "resumable", "caption": "hi"},
    )
    assert resumable.status_code == 400 and resumable.json()["error"]["code"] == 100
    assert "Facebook Login for Business" in resumable.json()["error"]["message"]
    assert not fake.containers

    rupload = await http.post(
        f"{fake.upload_base_url}/123",
        headers={"Authorization": f"OAuth {TOKEN}", "offset": "0", "file_size": "3"},
        content=b"abc",
    )
    assert rupload.status_code == 400 and rupload.json()["debug_info"]["type"] == "NotAuthorizedError"

    no_url = await http.post(
        f"{fake.graph_base_url}/{IG_USER}/media", headers=bearer, data={"media_type": "REELS"}
    )
    assert no_url.status_code == 400 and "video_url" in no_url.json()["error"]["message"]


class CarelessHost(LoopbackFake):
    """A web server that answers a video the wrong way: whole file for a Range, or not as a video."""

    def __init__(self, data: bytes, content_type: str = "video/mp4", ranges: bool = True) -> None:
        super().__init__()
        self.data, self.content_type, self.ranges = data, content_type, ranges

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v.mp4", self._get)
        return app

    async def _get(self, request: web.Request) -> web.Response:
        if self.ranges and request.http_range.start is not None:
            part = self.data[request.http_range]
            start = request.http_range.start
            headers = {"Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(self.data)}"}
            return web.Response(body=part, status=206, headers=headers, content_type=self.content_type)
        return web.Response(body=self.data, content_type=self.content_type)


@pytest.mark.parametrize(
    ("content_type", "ranges", "reason"),
    [("text/html", True, "not a video"), ("video/mp4", False, "answered 200")],
)
async def test_fake_downloader_fails_a_link_served_wrongly(
    fake: FakeInstagram, http: httpx.AsyncClient, content_type: str, ranges: bool, reason: str
) -> None:
    async with CarelessHost(b"x" * 5000, content_type, ranges) as careless:
        created = await http.post(
            f"{fake.graph_base_url}/{IG_USER}/media",
            headers={"Authorization": f"Bearer {TOKEN}"},
            data={"media_type": "REELS", "video_url": f"{careless.base_url}/v.mp4"},
        )
        await fake.downloads_done()
    status = await http.get(
        f"{fake.graph_base_url}/{created.json()['id']}",
        params={"fields": "status_code,status"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert status.json()["status_code"] == "ERROR"
    assert "Media download has failed" in status.json()["status"] and reason in status.json()["status"]


async def test_share_to_feed_and_the_cover_frame_reach_the_container(
    fake: FakeInstagram, host: VideoHost, http: httpx.AsyncClient, video: Path
) -> None:
    saved: list[dict[str, Any]] = []
    job = make_job(host, video, saved)
    job.options = {"share_to_feed": False, "thumb_offset": 1500}
    await publisher(fake, http).publish(job)
    (container,) = fake.containers.values()
    assert container.params["share_to_feed"] == "false"
    assert container.params["thumb_offset"] == "1500"
    # Without options: Meta's documented default for a reel's feed sharing, no cover offset sent.
    fake.containers.clear()
    await publisher(fake, http).publish(make_job(host, video, [], caption="Another reel"))
    (container,) = fake.containers.values()
    assert container.params["share_to_feed"] == "true" and "thumb_offset" not in container.params


async def test_an_expired_graph_version_is_served_by_another_silently(
    http: httpx.AsyncClient, host: VideoHost, video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Meta does not refuse an expired version: it answers with the oldest available one. Nothing
    fails, which is why postbot warns before the date (core/platforms/versions.py, core/watch.py)."""
    async with FakeInstagram(tokens={TOKEN: IG_USER}, version="v21.0") as fake:
        fake.today = lambda: date(2027, 1, 21)
        await publisher(fake, http).publish(make_job(host, video, []))
        assert len(fake.media) == 1
        assert fake.upgraded and set(fake.upgraded) == {("v21.0", "v22.0")}
    # Nothing failed, so postbot says it in the log, once, with the setting to change.
    warned = [
        r.getMessage() for r in caplog.records if "facebook" in r.getMessage() or "v22.0" in r.getMessage()
    ]
    assert len(warned) == 1 and "platforms.instagram.api_version" in warned[0], warned


async def test_the_default_graph_version_is_served_as_itself(
    fake: FakeInstagram, http: httpx.AsyncClient, host: VideoHost, video: Path
) -> None:
    conf = PlatformSettings(base_url=fake.graph_base_url)
    assert fake.version == versions.DEFAULT
    pub = InstagramPublisher.from_settings(conf, http)
    # Meta's polling minute spent in real time otherwise (test_built_from_settings checks it).
    pub.poll_interval_s = 0.05
    await pub.publish(make_job(host, video, []))
    assert len(fake.media) == 1 and fake.upgraded == []
