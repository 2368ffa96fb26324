"""Instagram with a real linked account: a token Graph rejects (code 190) is refreshed; a revoked one says so.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake OAuth provider, which also tells the fake Graph API which tokens are live. The fake
downloads each reel's video from postbot's /media/ route (tests/publishing_support.py VideoHost).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.domain import AccountStatus, Platform
from core.platforms.instagram.publisher import InstagramPublisher
from core.publishers.base import AuthError
from tests.fakes.instagram_api import FakeInstagram
from tests.publishing_support import Linked, VideoHost, linked_account


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Linked[FakeInstagram]]:
    async with linked_account(tmp_path, Platform.INSTAGRAM, FakeInstagram(), http_timeout=10) as linked:
        yield linked


@pytest.fixture
async def host() -> AsyncIterator[VideoHost]:
    async with VideoHost() as served:
        yield served


def publisher(linked: Linked[FakeInstagram]) -> InstagramPublisher:
    return InstagramPublisher(linked.http, graph_base_url=linked.api.graph_base_url, poll_interval_s=0.01)


async def test_rejected_token_is_refreshed_once_and_the_reel_goes_out(
    linked: Linked[FakeInstagram], host: VideoHost, tmp_path: Path
) -> None:
    linked.oauth.expire_access_tokens()

    result = await publisher(linked).publish(host.attach(await linked.clip_job(tmp_path)))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later call"
    (media,) = linked.api.media.values()
    assert result.remote_id == media.id and media.owner == linked.seeded.remote_account_id
    # Graph answers a dead token with HTTP 400 and code 190, not a 401.
    assert linked.api.requests[0].status == 400
    (container,) = linked.api.containers.values()
    assert container.fetch_error is None and container.fetched_bytes == 150_000
    # The refreshed token was written back: a new source reads it and Instagram accepts it.
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert linked.oauth.account_for(fresh) == linked.seeded.remote_account_id


async def test_revoked_access_fails_clearly_and_marks_the_account(
    linked: Linked[FakeInstagram], host: VideoHost, tmp_path: Path
) -> None:
    linked.oauth.revoke_grants()

    with pytest.raises(AuthError) as failed:
        await publisher(linked).publish(host.attach(await linked.clip_job(tmp_path)))

    assert failed.value.message == (
        "Instagram access for acme.ig was revoked or has expired: re-link with /link instagram"
    )
    assert failed.value.hint is not None and "/link instagram" in failed.value.hint
    assert linked.seeded.access_token not in failed.value.message
    assert not linked.api.containers and not linked.api.media
    assert (await linked.row()).status == AccountStatus.REVOKED.value


async def test_token_rejected_while_polling_is_refreshed_and_the_same_container_goes_out(
    linked: Linked[FakeInstagram], host: VideoHost, tmp_path: Path
) -> None:
    def expire_at_first_poll(token: str) -> str | None:
        polls = [r for r in linked.api.requests if r.path.count("/") == 2 and r.method == "GET"]
        if len(polls) == 1 and not linked.oauth.refresh_count:
            linked.oauth.expire_access_tokens()
        return linked.oauth.account_for(token)

    linked.api.token_check = expire_at_first_poll

    await publisher(linked).publish(host.attach(await linked.clip_job(tmp_path)))

    assert linked.oauth.refresh_count == 1
    # Graph answers a dead token with 400 and code 190; the poll is repeated after the refresh.
    polls = [r.status for r in linked.api.requests if r.path.count("/") == 2 and r.method == "GET"]
    assert polls[:2] == [400, 200]
    assert len(linked.api.containers) == 1 and len(linked.api.media) == 1
