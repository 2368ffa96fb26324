"""Instagram with a real linked account: a token Graph rejects (code 190) is refreshed; a revoked one says so.

The token source is the real StoredTokenSource over an encrypted social_accounts row; the tokens are
issued by the fake OAuth provider, which also tells the fake Graph API and rupload which tokens are live.
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
from core.publishers.instagram import InstagramPublisher
from tests.fakes.instagram_api import FakeInstagram
from tests.fakes.mp4 import write_mp4
from tests.fakes.oauth_provider import FakeOAuthProvider, SeededAccount, seed_linked_account

VAULT = Vault(derive_key("instagram publisher tests", iterations=MIN_ITERATIONS))


@dataclass
class Linked:
    oauth: FakeOAuthProvider
    api: FakeInstagram
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
        FakeOAuthProvider("instagram") as oauth,
        FakeInstagram() as api,
        httpx.AsyncClient(timeout=10) as http,
    ):
        api.token_check = oauth.account_for
        platforms = PlatformsSettings(instagram=PlatformSettings(**oauth.platform_settings()))
        settings = Settings(database_url=url, data_dir=tmp_path / "data", platforms=platforms)
        sources = TokenSources(sessions, VAULT, OAuthClients(settings, http), skew=timedelta(seconds=60))
        seeded = await seed_linked_account(sessions, VAULT, oauth)
        yield Linked(oauth, api, sessions, sources, seeded, http)
    await engine.dispose()


async def job_for(linked: Linked, tmp_path: Path) -> PublishJob:
    video = write_mp4(tmp_path / "clip.mp4", duration_s=8, size_bytes=150_000)
    return PublishJob(
        post_id=1,
        platform=Platform.INSTAGRAM,
        idempotency_key="post-1",
        caption="Refreshed and posted",
        title=None,
        media=MediaInfo(path=str(video), sha256="", size_bytes=video.stat().st_size, mime="video/mp4"),
        tokens=await linked.tokens(),
    )


def publisher(linked: Linked) -> InstagramPublisher:
    return InstagramPublisher(
        linked.http,
        graph_base_url=linked.api.graph_base_url,
        upload_base_url=linked.api.upload_base_url,
        chunk_size=64 * 1024,
        poll_interval_s=0.01,
    )


async def test_rejected_token_is_refreshed_once_and_the_reel_goes_out(linked: Linked, tmp_path: Path) -> None:
    linked.oauth.expire_access_tokens()

    result = await publisher(linked).publish(await job_for(linked, tmp_path))

    assert linked.oauth.refresh_count == 1, "one refresh, reused for the upload and the publish"
    (media,) = linked.api.media.values()
    assert result.remote_id == media.id and media.owner == linked.seeded.remote_account_id
    # Graph answers a dead token with HTTP 400 and code 190, not a 401.
    assert linked.api.requests[0].status == 400
    assert len(linked.api.uploaded_pieces()) == 3
    # The refreshed token was written back: a new source reads it and Instagram accepts it.
    fresh = await (await linked.tokens()).access_token()
    assert fresh != linked.seeded.access_token
    assert linked.oauth.account_for(fresh) == linked.seeded.remote_account_id


async def test_revoked_access_fails_clearly_and_marks_the_account(linked: Linked, tmp_path: Path) -> None:
    linked.oauth.revoke_grants()

    with pytest.raises(AuthError) as failed:
        await publisher(linked).publish(await job_for(linked, tmp_path))

    assert failed.value.message == (
        "Instagram access for acme.ig was revoked or has expired: re-link with /link instagram"
    )
    assert failed.value.hint is not None and "/link instagram" in failed.value.hint
    assert linked.seeded.access_token not in failed.value.message
    assert not linked.api.containers and not linked.api.media
    assert (await linked.row()).status == AccountStatus.REVOKED.value


async def test_token_rejected_by_rupload_mid_upload_is_refreshed_and_the_upload_continues(
    linked: Linked, tmp_path: Path
) -> None:
    def expire_at_second_piece(token: str) -> str | None:
        pieces = [r for r in linked.api.requests if "/ig-api-upload/" in r.path]
        if len(pieces) == 2 and not linked.oauth.refresh_count:
            linked.oauth.expire_access_tokens()
        return linked.oauth.account_for(token)

    linked.api.token_check = expire_at_second_piece

    await publisher(linked).publish(await job_for(linked, tmp_path))

    assert linked.oauth.refresh_count == 1
    pieces = [r.status for r in linked.api.requests if "/ig-api-upload/" in r.path]
    # rupload answers a dead token with 400 NotAuthorizedError; the piece is re-sent after the refresh.
    assert pieces == [200, 400, 200, 200]
    assert linked.api.uploaded_pieces() == [0, 64 * 1024, 128 * 1024]
    assert len(linked.api.media) == 1
