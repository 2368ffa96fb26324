"""LinkedIn with a real linked account: the stored token is refreshed on a 401, a revoked one says so.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake OAuth provider, which also tells the fake LinkedIn API which tokens are live.
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
from core.publishers.linkedin import LinkedInPublisher
from tests.fakes.linkedin_api import FakeLinkedIn
from tests.fakes.mp4 import write_mp4
from tests.fakes.oauth_provider import FakeOAuthProvider, SeededAccount, seed_linked_account

VAULT = Vault(derive_key("linkedin publisher tests", iterations=MIN_ITERATIONS))


@dataclass
class Linked:
    oauth: FakeOAuthProvider
    api: FakeLinkedIn
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
    async with (
        FakeOAuthProvider("linkedin") as oauth,
        FakeLinkedIn(part_size=64 * 1024) as api,
        httpx.AsyncClient(timeout=10) as http,
    ):
        api.token_check = oauth.account_for
        platforms = PlatformsSettings(linkedin=PlatformSettings(**oauth.platform_settings()))
        settings = Settings(database_url=url, data_dir=tmp_path / "data", platforms=platforms)
        sources = TokenSources(sessions, VAULT, OAuthClients(settings, http), skew=timedelta(seconds=60))
        seeded = await seed_linked_account(sessions, VAULT, oauth)
        yield Linked(oauth, api, sessions, sources, seeded, http)
    await engine.dispose()


async def job_for(linked: Linked, tmp_path: Path) -> PublishJob:
    video = write_mp4(tmp_path / "clip.mp4", duration_s=8, size_bytes=150_000)
    return PublishJob(
        post_id=1,
        platform=Platform.LINKEDIN,
        idempotency_key="post-1",
        caption="Refreshed and posted",
        title=None,
        media=MediaInfo(path=str(video), sha256="", size_bytes=video.stat().st_size, mime="video/mp4"),
        tokens=await linked.tokens(),
    )


def publisher(linked: Linked) -> LinkedInPublisher:
    return LinkedInPublisher(linked.http, base_url=linked.api.base_url, poll_interval_s=0.01)


async def test_401_refreshes_the_token_once_and_the_post_goes_out(linked: Linked, tmp_path: Path) -> None:
    linked.oauth.expire_access_tokens()

    result = await publisher(linked).publish(await job_for(linked, tmp_path))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for every later request"
    (post,) = linked.api.posts.values()
    assert result.remote_id == post.urn and post.body["author"] == linked.seeded.remote_account_id
    assert linked.api.requests[0].status == 401
    assert linked.api.uploaded_parts() == [0, 1, 2]
    # The refreshed token was written back: a new source reads it and LinkedIn accepts it.
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert f"urn:li:person:{linked.oauth.account_for(fresh)}" == linked.seeded.remote_account_id


async def test_revoked_access_fails_clearly_and_marks_the_account(linked: Linked, tmp_path: Path) -> None:
    linked.oauth.revoke_grants()

    with pytest.raises(AuthError) as failed:
        await publisher(linked).publish(await job_for(linked, tmp_path))

    assert failed.value.message == (
        "LinkedIn access for Ada Acme was revoked or has expired: re-link with /link linkedin"
    )
    assert failed.value.hint is not None and "/link linkedin" in failed.value.hint
    assert linked.seeded.access_token not in failed.value.message
    assert not linked.api.videos and not linked.api.posts
    assert (await linked.row()).status == AccountStatus.REVOKED.value


async def test_token_expiring_before_finalize_is_refreshed_and_the_post_goes_out(
    linked: Linked, tmp_path: Path
) -> None:
    def expire_at_finalize(token: str) -> str | None:
        last = linked.api.requests[-1].path
        if "finalizeUpload" in last and not linked.oauth.refresh_count:
            linked.oauth.expire_access_tokens()
        return linked.oauth.account_for(token)

    linked.api.token_check = expire_at_finalize

    await publisher(linked).publish(await job_for(linked, tmp_path))

    assert linked.oauth.refresh_count == 1
    finalizes = [r.status for r in linked.api.requests if "finalizeUpload" in r.path]
    assert finalizes == [401, 200]
    assert linked.api.uploaded_parts() == [0, 1, 2], "no part was uploaded again"
    assert len(linked.api.posts) == 1
