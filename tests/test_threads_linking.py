"""Linking a Threads profile through postbot's web process: the DMed link, the confirmation page,
Threads' Authorization Window (the fake OAuth provider), the callback, the short-lived token
exchanged at once for a 60-day one (th_exchange_token), the profile read from /v1.0/me, and the
stored account usable by publishers and renewable without a refresh token. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from core.accounts.store import load_tokens
from core.accounts.tokens import TokenSources, renewable
from core.config import Settings
from core.domain import AccountStatus, Platform
from core.platforms.results import missing_scopes
from core.platforms.threads.results import ThreadsMetrics
from tests.conftest import Database
from tests.test_web_linking import ADMIN, Site, close_site, open_site


@pytest.fixture
async def site(db: Database, settings: Settings) -> AsyncIterator[Site]:
    s = await open_site(db, settings, "threads")
    yield s
    await close_site(s)


async def test_linking_a_threads_profile_through_the_web_process(site: Site) -> None:
    link = await site.linker.start_link(ADMIN, Platform.THREADS)
    assert link.startswith(f"{site.server.url}/oauth/threads/start?state=")

    page = await site.open_link(link)

    assert page.status_code == 200, page.text
    assert "linked" in page.text and "acme.threads" in page.text
    (asked,) = site.fake.authorize_requests
    assert asked["scope"] == "threads_basic,threads_content_publish,threads_manage_insights"
    assert asked["client_id"] == site.fake.client_id and asked["response_type"] == "code"
    assert [(c.grant_type, c.status) for c in site.fake.token_calls] == [
        ("authorization_code", 200),
        ("th_exchange_token", 200),
    ], "the one-hour token is exchanged for a 60-day one at once"
    assert site.fake.protocol_errors == []

    [account] = await site.accounts()
    assert account.status == AccountStatus.ACTIVE.value
    assert account.remote_account_id == site.fake.account.account_id
    tokens = load_tokens(account, site.vault)
    assert tokens.refresh_token is None and renewable(account), (
        "extended by th_refresh_token, not a refresh token"
    )
    assert tokens.expires_at is not None and tokens.expires_at > datetime.now(UTC) + timedelta(days=59)
    assert site.fake.account_for(tokens.access_token) == site.fake.account.account_id
    assert missing_scopes(ThreadsMetrics(site.http), tokens.scope) == (), "results can be read"
    [dm] = site.dms
    assert dm.startswith(f"[DM] Threads linked as {account.display_name} for T1 (local console).")
    assert "web.public_url" in dm, "the admin hears that Threads downloads the videos from postbot"

    # The stored account is usable at once, and renews itself.
    source = TokenSources(site.sessions, site.vault, site.linker.oauth)(account)
    assert await source.access_token() == tokens.access_token
    site.fake.expire_access_tokens()
    fresh = await source.refresh()
    assert site.fake.account_for(fresh) == site.fake.account.account_id
    assert site.fake.token_calls[-1].grant_type == "th_refresh_token"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_cancelling_at_threads_stores_nothing(site: Site) -> None:
    site.fake.deny_next()
    link = await site.linker.start_link(ADMIN, Platform.THREADS)

    page = await site.open_link(link)

    assert "Linking cancelled" in page.text and "declined access on Threads" in page.text
    assert await site.accounts() == []
    assert site.fake.token_calls == []
