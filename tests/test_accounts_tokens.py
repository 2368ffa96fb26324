"""StoredTokenSource: decrypts, refreshes before expiry and on demand, once per account, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.accounts.tokens import StoredTokenSource, TokenSources
from core.config import PlatformSettings, PlatformsSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import SocialAccount, Team, User
from core.domain import AccountStatus
from core.oauth import OAuthClients
from core.publishers.base import AuthError, TransientError
from tests.conftest import Database
from tests.fakes.oauth_provider import FakeOAuthProvider, SeededAccount, seed_linked_account

VAULT = Vault(derive_key("test vault secret", iterations=MIN_ITERATIONS))


@dataclass
class World:
    fake: FakeOAuthProvider
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    sources: TokenSources
    seeded: SeededAccount

    def second_process(self, engine: AsyncEngine) -> TokenSources:
        """Token sources as another bot process builds them: own locks, own connection pool."""
        return TokenSources(session_factory(engine), VAULT, self.sources.oauth, skew=self.sources.skew)

    async def row(self) -> SocialAccount:
        async with self.sessions() as session:
            account = await session.get(SocialAccount, self.seeded.account_row_id)
            assert account is not None
            return account


async def build(db: Database, settings: Settings, platform: str, *, expires_in: int | None = None) -> World:
    fake = await FakeOAuthProvider(platform).start()
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    http = httpx.AsyncClient(timeout=10)
    platforms = PlatformsSettings(**{platform: PlatformSettings(**fake.platform_settings())})
    oauth = OAuthClients(settings.model_copy(update={"platforms": platforms}), http)
    sources = TokenSources(sessions, VAULT, oauth, skew=timedelta(seconds=60))
    seeded = await seed_linked_account(sessions, VAULT, fake, expires_in=expires_in)
    return World(fake, engine, sessions, http, sources, seeded)


@pytest.fixture
async def world(db: Database, settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    platform = getattr(request, "param", "youtube")
    w = await build(db, settings, platform)
    yield w
    await w.http.aclose()
    await w.fake.stop()
    await w.engine.dispose()


async def source_for(w: World, sources: TokenSources | None = None) -> StoredTokenSource:
    return (sources or w.sources)(await w.row())


async def test_fresh_token_is_used_without_a_refresh(world: World) -> None:
    tokens = await source_for(world)
    assert tokens.account_id == world.seeded.remote_account_id
    assert await tokens.access_token() == world.seeded.access_token
    assert await tokens.access_token() == world.seeded.access_token
    assert world.fake.refresh_count == 0


async def test_tokens_are_stored_encrypted_under_the_current_key(world: World) -> None:
    row = await world.row()
    assert row.access_token_enc is not None and world.seeded.access_token.encode() not in row.access_token_enc
    assert row.refresh_token_enc is not None and world.seeded.refresh_token
    assert world.seeded.refresh_token.encode() not in row.refresh_token_enc
    assert row.key_id == VAULT.current_key_id


async def test_token_near_expiry_is_refreshed_before_use_and_written_back(
    db: Database, settings: Settings
) -> None:
    w = await build(db, settings, "youtube", expires_in=30)  # inside the 60 s skew
    try:
        tokens = await source_for(w)
        token = await tokens.access_token()
        assert token != w.seeded.access_token
        assert w.fake.account_for(token) == w.fake.account.account_id
        assert w.fake.refresh_count == 1
        # Written back encrypted: a new source (another post) reads the new token without refreshing.
        again = await source_for(w)
        assert await again.access_token() == token
        assert w.fake.refresh_count == 1
        row = await w.row()
        assert token.encode() not in (row.access_token_enc or b"")
        assert row.token_expires_at is not None
    finally:
        await w.http.aclose()
        await w.fake.stop()
        await w.engine.dispose()


@pytest.mark.parametrize("world", ["youtube", "x", "tiktok", "linkedin", "instagram"], indirect=True)
async def test_refresh_on_demand_after_a_401(world: World) -> None:
    tokens = await source_for(world)
    old = await tokens.access_token()
    world.fake.expire_access_tokens()
    assert world.fake.account_for(old) is None  # what a platform API would now answer 401 to
    new = await tokens.refresh()
    assert new != old
    assert world.fake.account_for(new) == world.fake.account.account_id
    assert await tokens.access_token() == new


@pytest.mark.parametrize("world", ["x", "youtube"], indirect=True)
async def test_concurrent_refreshes_of_one_account_make_one_refresh(world: World) -> None:
    # X rotates refresh tokens: a second refresh with the old one would fail as if revoked.
    world.fake.slow_refresh(0.2)
    posts = [await source_for(world) for _ in range(5)]
    for post in posts:
        await post.access_token()
    world.fake.expire_access_tokens()
    results = await asyncio.gather(*(p.refresh() for p in posts))
    assert len(set(results)) == 1
    assert world.fake.refresh_count == 1
    assert world.fake.account_for(results[0]) == world.fake.account.account_id


async def test_refresh_in_two_processes_on_postgres_is_serialised_by_the_row_lock(
    db: Database, settings: Settings
) -> None:
    if db.kind != "postgres":
        pytest.skip("several bot processes share a database only on PostgreSQL")
    w = await build(db, settings, "x")
    other_engine = make_engine(db.url, schema=db.schema)
    try:
        w.fake.slow_refresh(0.3)
        here, there = await source_for(w), await source_for(w, w.second_process(other_engine))
        await here.access_token()
        await there.access_token()
        w.fake.expire_access_tokens()
        a, b = await asyncio.gather(here.refresh(), there.refresh())
        assert a == b
        assert w.fake.refresh_count == 1
        assert (await w.row()).status == AccountStatus.ACTIVE.value
    finally:
        await other_engine.dispose()
        await w.http.aclose()
        await w.fake.stop()
        await w.engine.dispose()


async def test_revoked_refresh_token_marks_the_account_and_says_to_relink(world: World) -> None:
    tokens = await source_for(world)
    world.fake.revoke_grants()
    with pytest.raises(AuthError) as info:
        await tokens.refresh()
    message = str(info.value)
    assert "re-link with /link youtube" in message
    assert world.seeded.access_token not in message
    assert world.seeded.refresh_token and world.seeded.refresh_token not in message
    row = await world.row()
    assert row.status == AccountStatus.REVOKED.value
    assert row.last_error and "re-link with /link youtube" in row.last_error
    # Later posts fail at once, without asking the provider again.
    calls = len(world.fake.token_calls)
    with pytest.raises(AuthError):
        await (await source_for(world)).access_token()
    assert len(world.fake.token_calls) == calls


async def test_provider_outage_during_refresh_is_transient(world: World) -> None:
    tokens = await source_for(world)
    await world.fake.stop()
    with pytest.raises(TransientError):
        await tokens.refresh()
    row = await world.row()
    assert row.status == AccountStatus.ACTIVE.value


async def test_unlinked_account_is_an_auth_error(world: World) -> None:
    tokens = await source_for(world)
    async with world.sessions.begin() as session:
        row = (await session.execute(select(SocialAccount))).scalar_one()
        await session.delete(row)
    with pytest.raises(AuthError) as info:
        await tokens.access_token()
    assert "/link youtube" in str(info.value.hint)


async def test_keepalive_refreshes_only_tokens_about_to_lapse(db: Database, settings: Settings) -> None:
    from core.accounts.keepalive import refresh_expiring

    soon = await build(db, settings, "instagram", expires_in=3 * 86400)
    later = await seed_linked_account(soon.sessions, VAULT, soon.fake, team_external_id="T-other")
    try:
        assert await refresh_expiring(soon.sources, within=timedelta(days=7)) == 1
        assert soon.fake.refresh_count == 1
        row = await soon.row()
        assert row.token_expires_at is not None
        assert row.token_expires_at > soon.sources.clock() + timedelta(days=50)
        async with soon.sessions() as session:
            untouched = await session.get(SocialAccount, later.account_row_id)
        assert untouched is not None
        assert (await (soon.sources(untouched)).access_token()) == later.access_token

        # A revoked grant is marked for re-linking and does not stop the run.
        soon.fake.revoke_grants()
        assert await refresh_expiring(soon.sources, within=timedelta(days=90)) == 0
        assert (await soon.row()).status == AccountStatus.REVOKED.value
    finally:
        await soon.http.aclose()
        await soon.fake.stop()
        await soon.engine.dispose()


async def _linkedin_without_refresh_token(db: Database, settings: Settings, *, expires_in: int) -> World:
    """LinkedIn as most apps get it: a 60-day access token and no refresh token."""
    w = await build(db, settings, "linkedin", expires_in=expires_in)
    w.fake.partner = False
    async with w.sessions.begin() as session:
        account = await session.get(SocialAccount, w.seeded.account_row_id)
        assert account is not None
        account.refresh_token_enc = None
        team = await session.get(Team, account.team_id)
        assert team is not None
        admin = User(team_id=team.id, external_id="U-admin", is_admin=True)
        session.add(admin)
        await session.flush()
        account.linked_by = admin.id
    return w


async def test_linkedin_token_without_refresh_token_expires_it_is_not_revoked(
    db: Database, settings: Settings
) -> None:
    """Before: keep-alive 'refreshed' it 7 days early, failed for want of a refresh token and
    marked the account revoked."""
    from core.accounts.keepalive import refresh_expiring

    w = await _linkedin_without_refresh_token(db, settings, expires_in=3 * 86400)
    try:
        assert await refresh_expiring(w.sources, within=timedelta(days=7)) == 0
        assert (await w.row()).status == AccountStatus.ACTIVE.value
        # Still good for three days: used as it is.
        assert await (await source_for(w)).access_token() == w.seeded.access_token
        assert w.fake.refresh_count == 0
        # Once it has run out, the account has expired; nobody revoked anything.
        async with w.sessions.begin() as session:
            account = await session.get(SocialAccount, w.seeded.account_row_id)
            assert account is not None
            account.token_expires_at = w.sources.clock() - timedelta(minutes=1)
        with pytest.raises(AuthError) as caught:
            await (await source_for(w)).access_token()
        row = await w.row()
        assert row.status == AccountStatus.EXPIRED.value
        assert "revoked" not in caught.value.message and "expired" in caught.value.message
    finally:
        await w.http.aclose()
        await w.fake.stop()
        await w.engine.dispose()


async def test_admins_get_a_fresh_link_7_days_and_1_day_before_expiry_and_accounts_says_when(
    db: Database, settings: Settings
) -> None:
    from core.accounts.keepalive import remind_expiring
    from core.accounts.linking import AccountLinker
    from core.domain import ChatContext, ChatKind
    from core.render import accounts_text

    class Dms:
        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        async def dm(self, chat: ChatKind, team_id: str, user_id: str, text: str) -> None:
            self.sent.append((user_id, text))

    w = await _linkedin_without_refresh_token(db, settings, expires_in=int(6.5 * 86400))
    dms = Dms()
    try:
        linker = AccountLinker(settings, w.sessions, VAULT, w.sources.oauth, dms)  # type: ignore[arg-type]
        now = w.sources.clock()
        assert await remind_expiring(linker, now=now) == 1
        [(user, text)] = dms.sent
        assert user == "U-admin"
        assert "expires in 6 days" in text and "/oauth/linkedin/start?state=" in text
        # Not twice for the same stage, in this run or another process's.
        assert await remind_expiring(linker, now=now + timedelta(hours=6)) == 0
        # The 1-day stage.
        assert await remind_expiring(linker, now=now + timedelta(days=5, hours=13)) == 1
        assert "expires in 1 day," in dms.sent[-1][1]

        ctx = ChatContext(chat=ChatKind.CONSOLE, team_id="T-test", user_id="U-admin", is_admin=True)
        listing = accounts_text(await linker.list_accounts(ctx), now=now)
        assert "expires in 6 days" in listing and "/link linkedin" in listing
        assert "renews automatically" not in listing
    finally:
        await w.http.aclose()
        await w.fake.stop()
        await w.engine.dispose()
