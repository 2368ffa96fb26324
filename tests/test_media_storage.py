"""Media storage: the S3 backend against a real S3 endpoint (moto's server), the local folder with
postbot's own signed links, and a publisher reading its chunks from the bucket with no local copy."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from adapters.web import WebServer, build_web_app
from bot.wiring import build_app
from core.config import Settings
from core.domain import Platform
from core.media.storage import LocalStorage, StoredMedia, UrlSigner
from core.media.storage.post_links import PostMediaLinks
from core.media.storage.s3 import MIN_PART, S3Storage
from core.media.store import MediaStore
from core.platforms.youtube.publisher import YouTubePublisher
from core.publishers.base import PublishJob
from tests.clips import clip_file
from tests.conftest import Database
from tests.fakes.youtube_api import CHUNK_UNIT, FakeYouTube
from tests.publishing_support import StaticTokens
from tests.s3_support import S3Server

TOKEN = "ya29.test-token"
CHANNEL = "UCtestchannel000000000000"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_s3_stores_in_parts_and_reads_back_any_range(s3: S3Server, tmp_path: Path) -> None:
    data = os.urandom(2 * MIN_PART + 12_345)
    source = tmp_path / "video.mp4"
    source.write_bytes(data)
    storage = S3Storage(s3.settings(part_size_bytes=MIN_PART))

    await storage.put_file("ab/video.mp4", source)

    assert s3.keys() == ["postbot/ab/video.mp4"]
    # A multipart object's ETag is "<md5 of the parts' md5s>-<part count>", not the body's MD5:
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html (ETag)
    etag = s3.client.head_object(Bucket=s3.bucket, Key="postbot/ab/video.mp4")["ETag"].strip('"')
    assert etag.endswith("-3")
    assert await storage.size("ab/video.mp4") == len(data)
    assert await storage.exists("ab/video.mp4") and not await storage.exists("ab/other.mp4")
    video = StoredMedia(storage, "ab/video.mp4")
    across = (MIN_PART - 100, MIN_PART + 100)
    assert await video.read(*across) == data[across[0] : across[1]]
    pieces = [p async for p in video.stream(0, len(data), piece=1024 * 1024)]
    assert b"".join(pieces) == data and len(pieces) > 1

    await storage.delete("ab/video.mp4")
    await storage.delete("ab/video.mp4")  # a second delete is not an error
    assert s3.keys() == []


async def test_s3_presigned_url_fetches_the_video_and_says_when_it_expires(
    s3: S3Server, tmp_path: Path
) -> None:
    source = tmp_path / "video.mp4"
    source.write_bytes(b"0123456789" * 100)
    storage = S3Storage(s3.settings())
    await storage.put_file("cd/video.mp4", source)

    url = await storage.url("cd/video.mp4", expires=timedelta(minutes=15))

    # SigV4 query-string auth: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    async with httpx.AsyncClient() as http:
        whole = await http.get(url)
        part = await http.get(url, headers={"Range": "bytes=10-19"})
    assert whole.status_code == 200 and whole.content == source.read_bytes()
    assert part.status_code == 206 and part.content == b"0123456789"
    # S3 refuses presigned URLs longer than 7 days; asking for more gets the most it allows.
    longest = await storage.url("cd/video.mp4", expires=timedelta(days=30))
    assert parse_qs(urlsplit(longest).query)["X-Amz-Expires"] == [str(7 * 24 * 3600)]


@pytest.fixture
async def youtube() -> AsyncIterator[FakeYouTube]:
    async with FakeYouTube(tokens={TOKEN: CHANNEL}) as server:
        yield server


async def test_youtube_uploads_from_the_bucket_with_no_copy_on_the_workers_disk(
    s3: S3Server, youtube: FakeYouTube, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    clip = clip_file(tmp_path / "clip.mp4", size_bytes=5 * 2 * CHUNK_UNIT + 12_345)
    storage = S3Storage(s3.settings(part_size_bytes=MIN_PART))
    chat_side = MediaStore(tmp_path / "chat", storage)
    media = await chat_side.import_file(clip)
    assert media.key is not None and s3.keys() == [f"postbot/{media.key}"]
    # The worker is another machine: nothing of the chat side's folder is there.
    Path(media.path).unlink()
    job = PublishJob(
        post_id=1,
        platform=Platform.YOUTUBE,
        idempotency_key="post-1",
        caption="From the bucket",
        title="From the bucket",
        media=media,
        tokens=StaticTokens(TOKEN, CHANNEL),
        storage=storage,
    )

    result = await YouTubePublisher(http, base_url=youtube.base_url, chunk_size=2 * CHUNK_UNIT).publish(job)

    stored = youtube.videos[result.remote_id]
    assert stored.sha256 == _sha(clip.read_bytes()) and stored.size == clip.stat().st_size
    assert youtube.protocol_errors == []


async def test_the_same_video_twice_is_uploaded_once(s3: S3Server, tmp_path: Path) -> None:
    clip = clip_file(tmp_path / "clip.mp4", size_bytes=600_000)
    storage = S3Storage(s3.settings())
    first = await MediaStore(tmp_path / "one", storage).import_file(clip)
    s3.client.put_object_tagging(
        Bucket=s3.bucket, Key=f"postbot/{first.key}", Tagging={"TagSet": [{"Key": "seen", "Value": "1"}]}
    )
    second = await MediaStore(tmp_path / "two", storage).import_file(clip)

    assert second.key == first.key and s3.keys() == [f"postbot/{first.key}"]
    # Not re-sent: a new PUT would have replaced the object and dropped its tags.
    tags = s3.client.get_object_tagging(Bucket=s3.bucket, Key=f"postbot/{first.key}")["TagSet"]
    assert tags == [{"Key": "seen", "Value": "1"}]


async def test_local_videos_are_served_behind_postbots_own_expiring_links(
    settings: Settings, db: Database, http: httpx.AsyncClient
) -> None:
    secret = "a secret of this deployment"
    app = await build_app(settings.model_copy(update={"secret_key": SecretStr(secret)}), schema=db.schema)
    root = settings.media_dir
    (root / "ef").mkdir(parents=True)
    data = os.urandom(100_000)
    (root / "ef" / "video.mp4").write_bytes(data)
    server = WebServer()
    await server.start(build_web_app(app.postbot))
    try:
        # What a platform is handed (web.public_url is where this server listens).
        signer = UrlSigner(server.url, secret.encode())
        storage = LocalStorage(root, signer=signer)
        url = await storage.url("ef/video.mp4", expires=timedelta(minutes=5))
        whole = await http.get(url)
        assert whole.status_code == 200 and whole.content == data
        part = await http.get(url, headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"

        other_key = url.replace("ef/video.mp4", "ef/other.mp4")
        expired = signer.url("ef/video.mp4", expires=timedelta(seconds=-1))
        forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
        for bad in (other_key, expired, forged, url.split("?")[0]):
            assert (await http.get(bad)).status_code == 403, bad
    finally:
        await server.stop()
        await app.close()


async def test_local_links_need_a_secret_and_a_public_url(tmp_path: Path) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="POSTBOT_SECRET_KEY"):
        await LocalStorage(tmp_path).url("ab/video.mp4", expires=timedelta(minutes=5))


def test_a_signed_media_link_holds_to_its_key_post_and_last_second() -> None:
    """UrlSigner's promises one by one (the server test above sees them through HTTP only)."""
    signer = UrlSigner("https://postbot.example/", b"a secret of this deployment")
    url = signer.url("ab/reel v1.mp4", expires=timedelta(seconds=60), now=1_000_000, post=7)
    assert url.startswith("https://postbot.example/media/ab/reel%20v1.mp4?")
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert query["expires"] == "1000060" and query["post"] == "7"
    expires, sig = query["expires"], query["sig"]

    def check(
        key: str = "ab/reel v1.mp4", e: str | None = expires, s: str | None = sig, **kw: object
    ) -> bool:
        return signer.check(key, e, s, **{"now": 1_000_030, "post": 7, **kw})  # type: ignore[arg-type]

    assert check()
    assert check(now=1_000_060)  # valid through its last second
    assert not check(now=1_000_061)
    assert not check(post=8) and not check(post=None)  # bound to its post
    assert not check("ab/other.mp4")
    assert not check(e="1000061") and not check(e="1e9") and not check(e=None) and not check(e="")
    assert not check(s=None) and not check(s="") and not check(s=sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    other = UrlSigner("https://postbot.example", b"another deployment")
    assert not other.check("ab/reel v1.mp4", expires, sig, now=1_000_030, post=7)
    # Without a post the signature differs: a post's link is not a plain link, nor the reverse.
    plain = signer.url("ab/reel v1.mp4", expires=timedelta(seconds=60), now=1_000_000)
    plain_sig = dict(p.split("=", 1) for p in plain.split("?", 1)[1].split("&"))["sig"]
    assert plain_sig != sig and "post=" not in plain
    assert signer.check("ab/reel v1.mp4", expires, plain_sig, now=1_000_030)
    assert not signer.check("ab/reel v1.mp4", expires, plain_sig, now=1_000_030, post=7)


def test_a_media_link_from_the_running_version_verifies_after_an_upgrade() -> None:
    """A platform may fetch a video minutes after its link was made, across a deploy: the signature
    is a wire format. Key HMAC-SHA256(secret, "postbot media url v1"), signature HMAC-SHA256(key,
    "<key>\\n<expires>\\npost <id>"), computed here from that description; the public URL is kept
    as configured but for its trailing slash. Survivors of tools/mutation.py post-media-url."""
    secret = b"a secret of this deployment"
    derived = hmac.new(secret, b"postbot media url v1", hashlib.sha256).digest()
    sig = hmac.new(derived, b"ab/reel.mp4\n1000060\npost 7", hashlib.sha256).hexdigest()
    signer = UrlSigner("https://example.org/X/", secret)
    assert signer.check("ab/reel.mp4", "1000060", sig, now=1_000_000, post=7)
    url = signer.url("ab/reel.mp4", expires=timedelta(seconds=60), now=1_000_000, post=7)
    assert url == f"https://example.org/X/media/ab/reel.mp4?expires=1000060&sig={sig}&post=7"


async def test_a_post_link_without_a_post_number_opens_nothing(tmp_path: Path) -> None:
    signer = UrlSigner("https://postbot.example", b"secret")
    asked: list[int] = []

    async def wants(post_id: int) -> bool:
        asked.append(post_id)
        return True

    links = PostMediaLinks(signer, LocalStorage(tmp_path), wants)
    url = await links.for_post(7, "ab/reel.mp4")(timedelta(minutes=5))
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert await links.open("ab/reel.mp4", query["expires"], query["sig"], "7") is not None
    # "\u0667" is an Arabic-Indic seven: str.isdigit accepts it and int() reads it as 7.
    for post in (None, "", "7a", "-7", "\u0667", " 7"):
        assert await links.open("ab/reel.mp4", query["expires"], query["sig"], post) is None
    assert asked == [7]
