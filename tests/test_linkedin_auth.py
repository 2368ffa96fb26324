"""LinkedIn with a real linked account: the stored token is refreshed on a 401, a revoked one says so.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake OAuth provider, which also tells the fake LinkedIn API which tokens are live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.domain import AccountStatus, Platform
from core.platforms.linkedin.publisher import LinkedInPublisher
from core.publishers.base import AuthError
from tests.fakes.linkedin_api import FakeLinkedIn
from tests.publishing_support import Linked, linked_account


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Linked[FakeLinkedIn]]:
    async with linked_account(
        tmp_path, Platform.LINKEDIN, FakeLinkedIn(part_size=64 * 1024), http_timeout=10
    ) as linked:
        yield linked


def publisher(linked: Linked[FakeLinkedIn]) -> LinkedInPublisher:
    return LinkedInPublisher(linked.http, base_url=linked.api.base_url, poll_interval_s=0.01)


async def test_401_refreshes_the_token_once_and_the_post_goes_out(
    linked: Linked[FakeLinkedIn], tmp_path: Path
) -> None:
    linked.oauth.expire_access_tokens()

    result = await publisher(linked).publish(await linked.clip_job(tmp_path))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later request"
    (post,) = linked.api.posts.values()
    assert result.remote_id == post.urn and post.body["author"] == linked.seeded.remote_account_id
    assert linked.api.requests[0].status == 401
    assert linked.api.uploaded_parts() == [0, 1, 2]
    # The refreshed token was written back: a new source reads it and LinkedIn accepts it.
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert f"urn:li:person:{linked.oauth.account_for(fresh)}" == linked.seeded.remote_account_id


async def test_revoked_access_fails_clearly_and_marks_the_account(
    linked: Linked[FakeLinkedIn], tmp_path: Path
) -> None:
    linked.oauth.revoke_grants()

    with pytest.raises(AuthError) as failed:
        await publisher(linked).publish(await linked.clip_job(tmp_path))

    assert failed.value.message == (
        "LinkedIn access for Ada Acme was revoked or has expired: re-link with /link linkedin"
    )
    assert failed.value.hint is not None and "/link linkedin" in failed.value.hint
    assert linked.seeded.access_token not in failed.value.message
    assert not linked.api.videos and not linked.api.posts
    assert (await linked.row()).status == AccountStatus.REVOKED.value


async def test_token_expiring_before_finalize_is_refreshed_and_the_post_goes_out(
    linked: Linked[FakeLinkedIn], tmp_path: Path
) -> None:
    def expire_at_finalize(token: str) -> str | None:
        last = linked.api.requests[-1].path
        if "finalizeUpload" in last and not linked.oauth.refresh_count:
            linked.oauth.expire_access_tokens()
        return linked.oauth.account_for(token)

    linked.api.token_check = expire_at_finalize

    await publisher(linked).publish(await linked.clip_job(tmp_path))

    assert linked.oauth.refresh_count == 1
    finalizes = [r.status for r in linked.api.requests if "finalizeUpload" in r.path]
    assert finalizes == [401, 200]
    assert linked.api.uploaded_parts() == [0, 1, 2], "no part was uploaded again"
    assert len(linked.api.posts) == 1
