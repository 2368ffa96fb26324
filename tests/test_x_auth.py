"""X publishing with a real linked account: the stored token is refreshed on a 401, a revoked one says so.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake OAuth provider, which also tells the fake X API which tokens are live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.domain import AccountStatus, Platform
from core.platforms.x.publisher import XPublisher
from core.publishers.base import AuthError
from tests.fakes.x_api import FakeX
from tests.publishing_support import Linked, linked_account


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Linked[FakeX]]:
    async with linked_account(tmp_path, Platform.X, FakeX(), http_timeout=10) as linked:
        linked.api.check_after_secs = 0
        yield linked


async def test_401_refreshes_the_token_once_and_the_post_goes_out(
    linked: Linked[FakeX], tmp_path: Path
) -> None:
    linked.oauth.expire_access_tokens()
    publisher = XPublisher(linked.http, base_url=linked.api.base_url, chunk_size=64 * 1024)

    result = await publisher.publish(await linked.clip_job(tmp_path))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later request"
    (tweet,) = linked.api.tweets.values()
    assert result.remote_id == tweet.id and tweet.author_id == linked.seeded.remote_account_id
    assert linked.api.requests[0].status == 401
    # The refreshed token was written back: a new source reads it and X accepts it.
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert linked.oauth.account_for(fresh) == linked.seeded.remote_account_id


async def test_revoked_access_fails_clearly_and_marks_the_account(
    linked: Linked[FakeX], tmp_path: Path
) -> None:
    linked.oauth.revoke_grants()
    publisher = XPublisher(linked.http, base_url=linked.api.base_url)

    with pytest.raises(AuthError) as failed:
        await publisher.publish(await linked.clip_job(tmp_path))

    assert failed.value.message == "X access for Acme was revoked or has expired: re-link with /link x"
    assert failed.value.hint is not None and "/link x" in failed.value.hint
    assert linked.seeded.access_token not in failed.value.message
    assert not linked.api.uploads and not linked.api.tweets
    assert (await linked.row()).status == AccountStatus.REVOKED.value


async def test_token_expiring_mid_upload_is_refreshed_and_the_upload_continues(
    linked: Linked[FakeX], tmp_path: Path
) -> None:
    def expire_at_second_segment(token: str) -> str | None:
        appends = [r for r in linked.api.requests if r.path.endswith("/append")]
        if len(appends) == 2 and not linked.oauth.refresh_count:
            linked.oauth.expire_access_tokens()
        return linked.oauth.account_for(token)

    linked.api.token_check = expire_at_second_segment
    publisher = XPublisher(linked.http, base_url=linked.api.base_url, chunk_size=64 * 1024)

    await publisher.publish(await linked.clip_job(tmp_path))

    assert linked.oauth.refresh_count == 1
    appends = [r.status for r in linked.api.requests if r.path.endswith("/append")]
    assert appends == [200, 401, 200, 200], "the rejected segment was sent again with the new token"
    assert linked.api.appended() == [0, 1, 2]
    assert len(linked.api.tweets) == 1
