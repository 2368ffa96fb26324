"""TikTok publishing with a real linked account: a stale token is refreshed (before the upload or while
TikTok processes it) and the post goes out; a revoked grant fails with the re-link message.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake TikTok OAuth server, which also tells the fake Content Posting API which are live.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.domain import AccountStatus, Platform
from core.platforms.tiktok.publisher import TikTokPublisher
from core.publishers.base import AuthError
from tests.clips import sized_clip
from tests.fakes.tiktok_api import FakeTikTok
from tests.publishing_support import Linked, linked_account

MiB = 1024 * 1024

CAPTION = "Refreshed and posted #launch"
TITLE = "Refreshed and posted"
# Every TikTok post carries the privacy its author chose: TikTok allows no default.
OPTIONS = {"privacy": "public"}


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Linked[FakeTikTok]]:
    async with linked_account(tmp_path, Platform.TIKTOK, FakeTikTok(), http_timeout=30) as linked:
        yield linked


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return sized_clip(tmp_path / "clip.mp4", duration_s=12, size_bytes=11 * MiB + 999)


def publisher_for(linked: Linked[FakeTikTok]) -> TikTokPublisher:
    return TikTokPublisher(
        linked.http, base_url=linked.api.base_url, chunk_size=5 * MiB, retry_backoff_s=0, poll_interval_s=0.01
    )


async def test_401_refreshes_the_token_once_and_the_video_is_posted(
    linked: Linked[FakeTikTok], video: Path
) -> None:
    linked.oauth.expire_access_tokens()

    result = await publisher_for(linked).publish(
        await linked.job_for(video, caption=CAPTION, title=TITLE, options=OPTIONS)
    )

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later request"
    [upload] = linked.api.published
    assert upload.open_id == linked.seeded.remote_account_id
    assert result.remote_id == str(upload.post_id)
    assert linked.api.sha256_of(upload.publish_id) == hashlib.sha256(video.read_bytes()).hexdigest()
    assert linked.api.requests[0].status == 401 and linked.api.requests[1].status == 200
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert linked.oauth.account_for(fresh) == linked.seeded.remote_account_id


async def test_a_token_that_goes_stale_while_tiktok_processes_is_refreshed(
    linked: Linked[FakeTikTok], video: Path
) -> None:
    job = await linked.job_for(video, caption=CAPTION, title=TITLE, options=OPTIONS)

    async def expire_once_uploaded(state: dict[str, object]) -> None:
        if state.get("uploaded") and linked.oauth.refresh_count == 0:
            linked.oauth.expire_access_tokens()

    job.save_state = expire_once_uploaded
    result = await publisher_for(linked).publish(job)

    assert linked.oauth.refresh_count == 1
    statuses = [r.status for r in linked.api.requests if r.path.endswith("/status/fetch/")]
    assert statuses[0] == 401 and statuses[-1] == 200
    assert result.remote_id == str(linked.api.published[0].post_id)


async def test_revoked_access_fails_clearly_and_marks_the_account(
    linked: Linked[FakeTikTok], video: Path
) -> None:
    linked.oauth.revoke_grants()

    with pytest.raises(AuthError) as failed:
        await publisher_for(linked).publish(
            await linked.job_for(video, caption=CAPTION, title=TITLE, options=OPTIONS)
        )

    assert (
        failed.value.message
        == "TikTok access for acme.tt was revoked or has expired: re-link with /link tiktok"
    )
    assert failed.value.hint is not None and "/link tiktok" in failed.value.hint
    assert linked.seeded.access_token not in str(failed.value)
    assert linked.api.uploads == {}
    assert (await linked.row()).status == AccountStatus.REVOKED.value
