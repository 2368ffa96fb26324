"""YouTube publishing with a real linked account: a stale token is refreshed (before the upload or in
the middle of it) and the post goes out; a revoked grant fails with the re-link message.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake Google OAuth server, which also tells the fake YouTube API which tokens are live.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.domain import AccountStatus, Platform
from core.platforms.youtube.publisher import YouTubePublisher
from core.publishers.base import AuthError
from tests.clips import sized_clip
from tests.fakes.youtube_api import CHUNK_UNIT, FakeYouTube
from tests.publishing_support import Linked, linked_account

CAPTION = "Refreshed and posted #launch"
TITLE = "Refreshed and posted"


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Linked[FakeYouTube]]:
    async with linked_account(tmp_path, Platform.YOUTUBE, FakeYouTube(), http_timeout=30) as linked:
        yield linked


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return sized_clip(tmp_path / "clip.mp4", duration_s=12, size_bytes=6 * CHUNK_UNIT + 999)


def publisher_for(linked: Linked[FakeYouTube]) -> YouTubePublisher:
    return YouTubePublisher(
        linked.http, base_url=linked.api.base_url, chunk_size=2 * CHUNK_UNIT, retry_backoff_s=0
    )


async def test_401_refreshes_the_token_once_and_the_video_goes_up(
    linked: Linked[FakeYouTube], video: Path
) -> None:
    linked.oauth.expire_access_tokens()

    result = await publisher_for(linked).publish(await linked.job_for(video, caption=CAPTION, title=TITLE))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later request"
    stored = linked.api.videos[result.remote_id]
    assert stored.channel_id == linked.seeded.remote_account_id
    assert stored.sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
    assert linked.api.requests[0].status == 401 and linked.api.requests[1].status == 200
    # The refreshed token was written back encrypted: a new source reads it and YouTube accepts it.
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert linked.oauth.account_for(fresh) == linked.seeded.remote_account_id


async def test_a_token_that_goes_stale_mid_upload_is_refreshed_and_the_chunk_resent(
    linked: Linked[FakeYouTube], video: Path
) -> None:
    job = await linked.job_for(video, caption=CAPTION, title=TITLE)
    publisher = publisher_for(linked)
    saves: list[dict[str, object]] = []

    async def expire_after_first_chunk(state: dict[str, object]) -> None:
        saves.append(state)
        if state.get("offset") == 2 * CHUNK_UNIT:
            linked.oauth.expire_access_tokens()

    job.save_state = expire_after_first_chunk
    result = await publisher.publish(job)

    assert linked.oauth.refresh_count == 1
    puts = [(r.content_range, r.status) for r in linked.api.requests if r.method == "PUT"]
    size = video.stat().st_size
    rejected = f"bytes {2 * CHUNK_UNIT}-{4 * CHUNK_UNIT - 1}/{size}"
    assert (rejected, 401) in puts and (rejected, 308) in puts
    assert linked.api.videos[result.remote_id].sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
    assert linked.api.protocol_errors == []


async def test_revoked_access_fails_clearly_and_marks_the_account(
    linked: Linked[FakeYouTube], video: Path
) -> None:
    linked.oauth.revoke_grants()

    with pytest.raises(AuthError) as failed:
        await publisher_for(linked).publish(await linked.job_for(video, caption=CAPTION, title=TITLE))

    assert (
        failed.value.message
        == "YouTube access for Acme Videos was revoked or has expired: re-link with /link youtube"
    )
    assert failed.value.hint is not None and "/link youtube" in failed.value.hint
    assert linked.seeded.access_token not in str(failed.value)
    assert linked.api.videos == {} and linked.api.sessions == {}
    assert (await linked.row()).status == AccountStatus.REVOKED.value
