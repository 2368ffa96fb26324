"""Each platform's results reader against its fake: the documented metrics endpoint, the fields it
lists, a missing scope refused, deleted posts absent, ids batched as the docs allow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.platforms.instagram.results import InstagramMetrics
from core.platforms.linkedin.results import LinkedInMetrics
from core.platforms.results import Metrics, missing_scopes
from core.platforms.tiktok.results import TikTokMetrics
from core.platforms.x.results import XMetrics
from core.platforms.youtube.results import YouTubeMetrics
from core.publishers.base import AuthError, PermanentError, RateLimited
from tests.fakes.instagram_api import FakeInstagram, Media
from tests.fakes.linkedin_api import FakeLinkedIn, Post
from tests.fakes.tiktok_api import FakeTikTok, Upload
from tests.fakes.x_api import FakeX, Tweet
from tests.fakes.youtube_api import FakeYouTube, Video
from tests.publishing_support import StaticTokens

TOKEN = "results-token"


# --- YouTube -------------------------------------------------------------------------------------


@pytest.fixture
async def youtube() -> AsyncIterator[FakeYouTube]:
    async with FakeYouTube(tokens={TOKEN: "UCresults"}) as server:
        yield server


async def test_youtube_statistics_fifty_ids_a_unit_and_the_readonly_scope(
    youtube: FakeYouTube, http: httpx.AsyncClient
) -> None:
    for i in range(60):
        stats = {"viewCount": str(100 + i), "likeCount": "3", "commentCount": "1", "favoriteCount": "0"}
        resource = {"kind": "youtube#video", "id": f"v{i}", "statistics": stats}
        youtube.videos[f"v{i}"] = Video(
            id=f"v{i}", channel_id="UCresults", resource=resource, size=0, sha256=""
        )
    reader = YouTubeMetrics(http, youtube.base_url)
    found = await reader.read(StaticTokens(TOKEN, "UCresults"), [f"v{i}" for i in range(60)] + ["gone"])
    assert found["v59"] == Metrics(159, 3, 1) and "gone" not in found
    assert youtube.list_units == 2

    youtube.no_readonly.add(TOKEN)
    with pytest.raises(AuthError):
        await reader.read(StaticTokens(TOKEN, "UCresults"), ["v1"])


# --- Instagram -----------------------------------------------------------------------------------


@pytest.fixture
async def instagram() -> AsyncIterator[FakeInstagram]:
    async with FakeInstagram(tokens={TOKEN: "17841400000000001"}) as server:
        yield server


def _reel(fake: FakeInstagram, media_id: str, **insights: int) -> Media:
    media = Media(media_id, "17841400000000001", "c" + media_id, "caption", "2026-12-01T18:00:00+0000")
    media.insights.update(insights)
    fake.media[media_id] = media
    return media


async def test_instagram_reads_views_likes_comments_from_reel_insights(
    instagram: FakeInstagram, http: httpx.AsyncClient
) -> None:
    _reel(instagram, "901", views=1204, likes=87, comments=12, reach=900)
    _reel(instagram, "902", views=40)  # likes and comments have no data yet: absent, not 0
    _reel(instagram, "903").too_few_viewers = True
    reader = InstagramMetrics(http, instagram.graph_base_url)
    found = await reader.read(StaticTokens(TOKEN, "17841400000000001"), ["901", "902", "903", "904"])
    assert found == {
        "901": Metrics(1204, 87, 12),
        "902": Metrics(40, None, None),
        "903": Metrics(None, None, None),
    }
    calls = [r for r in instagram.requests if r.path.endswith("/insights")]
    assert len(calls) == 4 and [r.status for r in calls] == [200, 200, 400, 400]


async def test_instagram_insights_need_the_manage_insights_permission(
    instagram: FakeInstagram, http: httpx.AsyncClient
) -> None:
    _reel(instagram, "901", views=5)
    instagram.scopes_missing.add("instagram_business_manage_insights")
    reader = InstagramMetrics(http, instagram.graph_base_url)
    with pytest.raises(AuthError, match="permission") as caught:
        await reader.read(StaticTokens(TOKEN, "17841400000000001"), ["901"])
    assert "instagram_business_manage_insights" in (caught.value.hint or "")
    # An account whose stored grant lacks it is not even asked.
    assert missing_scopes(reader, "instagram_business_basic,instagram_business_content_publish") == (
        "instagram_business_manage_insights",
    )
    assert missing_scopes(reader, None) == ()


async def test_instagram_fake_refuses_the_deprecated_reels_metrics(
    instagram: FakeInstagram, http: httpx.AsyncClient
) -> None:
    _reel(instagram, "901", views=5)
    for old in ("plays", "impressions", "ig_reels_aggregated_all_plays_count", "video_views"):
        response = await http.get(
            f"{instagram.graph_base_url}/901/insights",
            params={"metric": f"views,{old}"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == 100


# --- X -------------------------------------------------------------------------------------------


@pytest.fixture
async def x() -> AsyncIterator[FakeX]:
    async with FakeX(tokens={TOKEN: "4200"}) as server:
        yield server


async def test_x_reads_public_metrics_a_hundred_ids_a_call(x: FakeX, http: httpx.AsyncClient) -> None:
    for i in range(150):
        tweet = Tweet(str(1000 + i), "4200", f"post {i}", [], [], "2026-12-01T18:00:00.000Z")
        tweet.public_metrics = {
            "impression_count": 500 + i,
            "like_count": 9,
            "reply_count": 2,
            "retweet_count": 1,
        }
        x.tweets[tweet.id] = tweet
    reader = XMetrics(http, x.base_url)
    ids = [str(1000 + i) for i in range(150)] + ["999"]
    found = await reader.read(StaticTokens(TOKEN, "4200"), ids)
    assert len(found) == 150 and found["1149"] == Metrics(649, 9, 2) and "999" not in found
    lookups = [r for r in x.requests if r.method == "GET" and r.path == "/2/tweets"]
    assert len(lookups) == 2 and x.posts_read == 150


async def test_x_lookup_needs_tweet_read_and_its_rate_limit_is_honoured(
    x: FakeX, http: httpx.AsyncClient
) -> None:
    x.tweets["1"] = Tweet("1", "4200", "hi", [], [], "2026-12-01T18:00:00.000Z")
    reader = XMetrics(http, x.base_url)
    x.rate_limit("lookup", reset_in=600)
    with pytest.raises(RateLimited) as limited:
        await reader.read(StaticTokens(TOKEN, "4200"), ["1"])
    assert limited.value.retry_after is not None and 590 <= limited.value.retry_after <= 601
    x.scopes_missing.add("tweet.read")
    with pytest.raises(AuthError):
        await reader.read(StaticTokens(TOKEN, "4200"), ["1"])


# --- TikTok --------------------------------------------------------------------------------------


@pytest.fixture
async def tiktok() -> AsyncIterator[FakeTikTok]:
    async with FakeTikTok(tokens={TOKEN: "open-1"}) as server:
        yield server


def _tiktok_video(fake: FakeTikTok, post_id: int, open_id: str = "open-1", **counts: int) -> None:
    upload = Upload(f"p{post_id}", f"u{post_id}", TOKEN, open_id, {}, 1, 1, 1)
    upload.status, upload.post_id = "PUBLISH_COMPLETE", post_id
    fake.uploads[upload.publish_id] = upload
    fake.counts[str(post_id)] = counts


async def test_tiktok_video_query_counts_twenty_ids_a_call(
    tiktok: FakeTikTok, http: httpx.AsyncClient
) -> None:
    for i in range(25):
        _tiktok_video(tiktok, 7300 + i, view_count=1000 + i, like_count=50, comment_count=4, share_count=2)
    _tiktok_video(tiktok, 7999, open_id="someone-else", view_count=5)
    reader = TikTokMetrics(http, tiktok.base_url)
    ids = [str(7300 + i) for i in range(25)] + ["7999"]
    found = await reader.read(StaticTokens(TOKEN, "open-1"), ids)
    assert found["7324"] == Metrics(1024, 50, 4)
    assert "7999" not in found  # not this user's video
    queries = [r for r in tiktok.requests if r.path == "/v2/video/query/"]
    assert len(queries) == 2


async def test_tiktok_video_query_needs_video_list(tiktok: FakeTikTok, http: httpx.AsyncClient) -> None:
    _tiktok_video(tiktok, 7300, view_count=1)
    tiktok.scopes_missing.add("video.list")
    tokens = StaticTokens(TOKEN, "open-1")
    with pytest.raises(AuthError, match="scope") as caught:
        await TikTokMetrics(http, tiktok.base_url).read(tokens, ["7300"])
    assert "video.list" in (caught.value.hint or "")
    assert tokens.refreshes == 0  # a missing scope is not a stale token


# --- LinkedIn ------------------------------------------------------------------------------------

MEMBER = "urn:li:person:resultsMember"


@pytest.fixture
async def linkedin() -> AsyncIterator[FakeLinkedIn]:
    async with FakeLinkedIn(tokens={TOKEN: MEMBER}) as server:
        yield server


async def test_linkedin_member_post_statistics_with_the_approved_permission(
    linkedin: FakeLinkedIn, http: httpx.AsyncClient
) -> None:
    post = Post("urn:li:share:7100", {"author": MEMBER}, 0.0)
    post.analytics.update(IMPRESSION=640, REACTION=31, COMMENT=5, RESHARE=2)
    linkedin.posts[post.urn] = post
    reader = LinkedInMetrics(http, linkedin.base_url)
    tokens = StaticTokens(TOKEN, MEMBER)
    with pytest.raises(AuthError):
        await reader.read(tokens, [post.urn])

    linkedin.post_analytics_readers.add(MEMBER)
    found = await reader.read(tokens, [post.urn, "urn:li:share:404"])
    assert found == {post.urn: Metrics(640, 31, 5)}


def test_linkedin_self_serve_accounts_are_not_asked() -> None:
    reader = LinkedInMetrics(httpx.AsyncClient())
    # The self-serve products' grant carries no analytics permission: results are not available.
    assert missing_scopes(reader, "openid profile w_member_social") == ("r_member_postAnalytics",)


async def test_errors_keep_their_kind(linkedin: FakeLinkedIn, http: httpx.AsyncClient) -> None:
    linkedin.post_analytics_readers.add(MEMBER)
    linkedin.posts["urn:li:share:1"] = Post("urn:li:share:1", {"author": MEMBER}, 0.0)
    linkedin.fail("analytics", status=429)
    with pytest.raises(RateLimited):
        await LinkedInMetrics(http, linkedin.base_url).read(StaticTokens(TOKEN, MEMBER), ["urn:li:share:1"])
    assert not isinstance(RateLimited("x"), PermanentError)
