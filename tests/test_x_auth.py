"""X publishing with a real linked account: the stored token is refreshed on a 401, a revoked one says so.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake OAuth provider, which also tells the fake X API which tokens are live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.accounts.tokens import StoredTokenSource, TokenSources
from core.config import PlatformSettings, PlatformsSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import SocialAccount
from core.domain import AccountStatus, MediaInfo, Platform
from core.oauth import OAuthClients
from core.publishers.base import AuthError, PublishJob
from core.publishers.x import XPublisher
from tests.fakes.mp4 import write_mp4
from tests.fakes.oauth_provider import FakeOAuthProvider, SeededAccount, seed_linked_account
from tests.fakes.x_api import FakeX

VAULT = Vault(derive_key("x publisher tests", iterations=MIN_ITERATIONS))


@dataclass
class Linked:
    oauth: FakeOAuthProvider
    api: FakeX
    sessions: async_sessionmaker[AsyncSession]
    sources: TokenSources
    seeded: SeededAccount
    http: httpx.AsyncClient

    async def row(self) -> SocialAccount:
        async with self.sessions() as session:
            account = await session.get(SocialAccount, self.seeded.account_row_id)
            assert account is not None
            return account

    async def tokens(self) -> StoredTokenSource:
        return self.sources(await self.row())


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Linked]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}"
    engine: AsyncEngine = make_engine(url)
    await migrate(engine)
    sessions = session_factory(engine)
    async with FakeOAuthProvider("x") as oauth, FakeX() as api, httpx.AsyncClient(timeout=10) as http:
        api.token_check = oauth.account_for
        api.check_after_secs = 0
        platforms = PlatformsSettings(x=PlatformSettings(**oauth.platform_settings()))
        settings = Settings(database_url=url, data_dir=tmp_path / "data", platforms=platforms)
        sources = TokenSources(sessions, VAULT, OAuthClients(settings, http), skew=timedelta(seconds=60))
        seeded = await seed_linked_account(sessions, VAULT, oauth)
        yield Linked(oauth, api, sessions, sources, seeded, http)
    await engine.dispose()


async def job_for(linked: Linked, tmp_path: Path) -> PublishJob:
    video = write_mp4(tmp_path / "clip.mp4", duration_s=8, size_bytes=150_000)
    return PublishJob(
        post_id=1,
        platform=Platform.X,
        idempotency_key="post-1",
        caption="Refreshed and posted",
        title=None,
        media=MediaInfo(path=str(video), sha256="", size_bytes=video.stat().st_size, mime="video/mp4"),
        tokens=await linked.tokens(),
    )


async def test_401_refreshes_the_token_once_and_the_post_goes_out(linked: Linked, tmp_path: Path) -> None:
    linked.oauth.expire_access_tokens()
    publisher = XPublisher(linked.http, base_url=linked.api.base_url, chunk_size=64 * 1024)

    result = await publisher.publish(await job_for(linked, tmp_path))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later request"
    (tweet,) = linked.api.tweets.values()
    assert result.remote_id == tweet.id and tweet.author_id == linked.seeded.remote_account_id
    assert linked.api.requests[0].status == 401
    # The refreshed token was written back: a new source reads it and X accepts it.
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert linked.oauth.account_for(fresh) == linked.seeded.remote_account_id


async def test_revoked_access_fails_clearly_and_marks_the_account(linked: Linked, tmp_path: Path) -> None:
    linked.oauth.revoke_grants()
    publisher = XPublisher(linked.http, base_url=linked.api.base_url)

    with pytest.raises(AuthError) as failed:
        await publisher.publish(await job_for(linked, tmp_path))

    assert failed.value.message == "X access for Acme was revoked or has expired: re-link with /link x"
    assert failed.value.hint is not None and "/link x" in failed.value.hint
    assert linked.seeded.access_token not in failed.value.message
    assert not linked.api.uploads and not linked.api.tweets
    assert (await linked.row()).status == AccountStatus.REVOKED.value


async def test_token_expiring_mid_upload_is_refreshed_and_the_upload_continues(
    linked: Linked, tmp_path: Path
) -> None:
    def expire_at_second_segment(token: str) -> str | None:
        appends = [r for r in linked.api.requests if r.path.endswith("/append")]
        if len(appends) == 2 and not linked.oauth.refresh_count:
            linked.oauth.expire_access_tokens()
        return linked.oauth.account_for(token)

    linked.api.token_check = expire_at_second_segment
    publisher = XPublisher(linked.http, base_url=linked.api.base_url, chunk_size=64 * 1024)

    await publisher.publish(await job_for(linked, tmp_path))

    assert linked.oauth.refresh_count == 1
    appends = [r.status for r in linked.api.requests if r.path.endswith("/append")]
    assert appends == [200, 401, 200, 200], "the rejected segment was sent again with the new token"
    assert linked.api.appended() == [0, 1, 2]
    assert len(linked.api.tweets) == 1
