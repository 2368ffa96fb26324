"""Threads with a real linked account: the 60-day token is extended (th_refresh_token) before it
runs out, by a post that needs it and by the keep-alive that runs about daily; a token Threads
rejects (190) is refreshed once; a withdrawn grant marks the account for re-linking.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens
come from the fake OAuth provider (tests/fakes/oauth_provider.py, platform "threads"), which tells
the fake Threads API which tokens are live. The fake downloads each video from postbot's /media/
route (tests/publishing_support.py VideoHost).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from core.accounts.keepalive import refresh_expiring
from core.accounts.store import load_tokens
from core.accounts.tokens import renewable
from core.db.models import SocialAccount
from core.domain import AccountStatus, Platform
from core.platforms.threads.publisher import ThreadsPublisher
from core.publishers.base import AuthError
from tests.fakes.oauth_provider import seed_linked_account
from tests.fakes.threads_api import FakeThreads
from tests.publishing_support import VAULT, Linked, VideoHost, linked_account


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Linked[FakeThreads]]:
    async with linked_account(tmp_path, Platform.THREADS, FakeThreads(), http_timeout=10) as linked:
        yield linked


@pytest.fixture
async def host() -> AsyncIterator[VideoHost]:
    async with VideoHost() as served:
        yield served


def publisher(linked: Linked[FakeThreads]) -> ThreadsPublisher:
    return ThreadsPublisher(linked.http, graph_base_url=linked.api.graph_base_url, poll_interval_s=0.01)


async def expire_in(linked: Linked[FakeThreads], delta: timedelta) -> None:
    async with linked.sessions.begin() as session:
        await session.execute(
            update(SocialAccount)
            .where(SocialAccount.id == linked.seeded.account_row_id)
            .values(token_expires_at=datetime.now(UTC) + delta)
        )


async def test_a_token_about_to_run_out_is_extended_before_the_post_goes_out(
    linked: Linked[FakeThreads], host: VideoHost, tmp_path: Path
) -> None:
    await expire_in(linked, timedelta(seconds=30))  # inside the refresh skew

    result = await publisher(linked).publish(host.attach(await linked.clip_job(tmp_path)))

    assert [(c.grant_type, c.status) for c in linked.oauth.token_calls] == [("th_refresh_token", 200)]
    (media,) = linked.api.media.values()
    assert result.remote_id == media.id and media.owner == linked.seeded.remote_account_id
    # No request carried the old token: the first API call already had the new one.
    assert all(r.status < 400 for r in linked.api.requests)
    row = await linked.row()
    fresh = load_tokens(row, VAULT)
    assert fresh.access_token != linked.seeded.access_token
    assert fresh.expires_at is not None and fresh.expires_at > datetime.now(UTC) + timedelta(days=59)
    assert linked.oauth.account_for(fresh.access_token) == linked.seeded.remote_account_id


async def test_keepalive_extends_threads_tokens_in_their_last_week_only(linked: Linked[FakeThreads]) -> None:
    assert renewable(await linked.row()), "no refresh token, yet renewable: the token extends itself"
    later = await seed_linked_account(linked.sessions, VAULT, linked.oauth, team_external_id="T-other")
    await expire_in(linked, timedelta(days=3))

    assert await refresh_expiring(linked.sources, within=timedelta(days=7)) == 1

    assert linked.oauth.refresh_count == 1
    row = await linked.row()
    assert row.token_expires_at is not None
    assert row.token_expires_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(days=59)
    async with linked.sessions() as session:
        untouched = await session.get(SocialAccount, later.account_row_id)
    assert untouched is not None and load_tokens(untouched, VAULT).access_token == later.access_token


async def test_a_rejected_token_is_refreshed_once_and_the_post_goes_out(
    linked: Linked[FakeThreads], host: VideoHost, tmp_path: Path
) -> None:
    linked.oauth.expire_access_tokens()

    await publisher(linked).publish(host.attach(await linked.clip_job(tmp_path)))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later call"
    # Threads answers a dead token with HTTP 400 and Graph's code 190, not a 401.
    assert linked.api.requests[0].status == 400
    (container,) = linked.api.containers.values()
    assert container.fetch_error is None and container.fetched_bytes == 150_000
    assert len(linked.api.media) == 1


async def test_a_withdrawn_grant_fails_clearly_and_marks_the_account(
    linked: Linked[FakeThreads], host: VideoHost, tmp_path: Path
) -> None:
    linked.oauth.revoke_grants()

    with pytest.raises(AuthError) as failed:
        await publisher(linked).publish(host.attach(await linked.clip_job(tmp_path)))

    assert failed.value.message == (
        "Threads access for acme.threads was revoked or has expired: re-link with /link threads"
    )
    assert linked.seeded.access_token not in failed.value.message
    assert not linked.api.containers and not linked.api.media
    assert (await linked.row()).status == AccountStatus.REVOKED.value
