"""Key rotation over the database: every token moves to the new key, the old key is then unneeded,
a refresh racing the rotation is never overwritten, and `postbot rotate-key` does it from the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.accounts.rotation import report_text, rotate_tokens
from core.accounts.store import load_tokens
from core.accounts.tokens import TokenSources
from core.config import PlatformSettings, PlatformsSettings, Settings
from core.crypto import UnknownKeyError, Vault, derive_key, state_aad
from core.crypto.keys import DEFAULT_ITERATIONS, MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import OAuthState, SocialAccount, Team, User
from core.oauth import OAuthClients
from tests.conftest import Database
from tests.fakes.oauth_provider import FakeOAuthProvider, seed_linked_account

OLD_KEY = derive_key("the old secret", iterations=MIN_ITERATIONS)
NEW_KEY = derive_key("the new secret", iterations=MIN_ITERATIONS)
OLD = Vault(OLD_KEY)
ROTATING = Vault(NEW_KEY, [OLD_KEY])
NEW_ONLY = Vault(NEW_KEY)


@dataclass
class Db:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def accounts(self) -> list[SocialAccount]:
        async with self.sessions() as session:
            return list((await session.execute(select(SocialAccount).order_by(SocialAccount.id))).scalars())


@pytest.fixture
async def store(db: Database) -> AsyncIterator[Db]:
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    yield Db(engine, session_factory(engine))
    await engine.dispose()


async def seed_under_old_key(store: Db, fakes: list[FakeOAuthProvider]) -> dict[int, tuple[str, str | None]]:
    plain: dict[int, tuple[str, str | None]] = {}
    for fake in fakes:
        seeded = await seed_linked_account(store.sessions, OLD, fake)
        plain[seeded.account_row_id] = (seeded.access_token, seeded.refresh_token)
    return plain


async def add_pending_link(store: Db, vault: Vault) -> tuple[str, str]:
    state_hash, verifier = "ab" * 32, "v" * 64
    async with store.sessions.begin() as session:
        team = (await session.execute(select(Team))).scalars().first()
        assert team is not None
        user = User(team_id=team.id, external_id="U1")
        session.add(user)
        await session.flush()
        now = datetime.now(UTC)
        session.add(
            OAuthState(
                state_hash=state_hash,
                team_id=team.id,
                user_id=user.id,
                platform="x",
                pkce_verifier_enc=vault.encrypt(verifier, state_aad(state_hash)),
                created_at=now,
                expires_at=now + timedelta(minutes=10),
            )
        )
    return state_hash, verifier


async def test_rotation_reencrypts_everything_and_the_old_key_is_no_longer_needed(store: Db) -> None:
    fakes = [await FakeOAuthProvider(p).start() for p in ("youtube", "x", "instagram")]
    try:
        plain = await seed_under_old_key(store, fakes)
        state_hash, verifier = await add_pending_link(store, OLD)

        report = await rotate_tokens(store.sessions, ROTATING, batch_size=2)

        assert report.complete and report.accounts == 3 and report.pending_links == 1
        assert "the previous secret can be removed" in report_text(report)
        for account in await store.accounts():
            assert account.key_id == NEW_KEY.key_id_hex
            tokens = load_tokens(account, NEW_ONLY)  # the new key alone reads everything
            assert (tokens.access_token, tokens.refresh_token) == plain[account.id]
            with pytest.raises(UnknownKeyError):
                load_tokens(account, OLD)
        async with store.sessions() as session:
            state = (await session.execute(select(OAuthState))).scalar_one()
        assert state.pkce_verifier_enc is not None
        assert NEW_ONLY.decrypt(state.pkce_verifier_enc, state_aad(state_hash)) == verifier
        # Running it again finds nothing to do.
        again = await rotate_tokens(store.sessions, ROTATING)
        assert again.accounts == 0 and again.complete
    finally:
        for fake in fakes:
            await fake.stop()


async def test_tokens_under_a_key_nobody_holds_are_reported_not_lost(store: Db) -> None:
    async with FakeOAuthProvider("youtube") as fake:
        [row_id] = await seed_under_old_key(store, [fake])
    report = await rotate_tokens(store.sessions, NEW_ONLY)
    assert not report.complete
    assert report.unreadable == [row_id]
    assert "POSTBOT_VAULT__PREVIOUS_SECRET_KEYS" in report_text(report)
    [account] = await store.accounts()
    assert load_tokens(account, OLD).access_token  # untouched, still readable with the old key


async def test_a_refresh_racing_the_rotation_is_not_overwritten(store: Db) -> None:
    async with FakeOAuthProvider("x") as fake, httpx.AsyncClient(timeout=10) as http:
        await seed_under_old_key(store, [fake])
        settings = Settings(platforms=PlatformsSettings(x=PlatformSettings(**fake.platform_settings())))
        # A running bot that already has the new secret as current and the old one for reading.
        sources = TokenSources(store.sessions, ROTATING, OAuthClients(settings, http))
        [account] = await store.accounts()
        source = sources(account)
        await source.access_token()
        fake.expire_access_tokens()
        fake.slow_refresh(0.3)

        refreshing = asyncio.create_task(source.refresh())
        await asyncio.sleep(0.1)  # the refresh has read the row and is waiting on X
        report = await rotate_tokens(store.sessions, ROTATING)
        refreshed = await refreshing

        assert report.complete
        [account] = await store.accounts()
        stored = load_tokens(account, NEW_ONLY)
        assert stored.access_token == refreshed
        # X rotated the refresh token; the stored one must be the new, working one.
        assert fake.account_for(stored.access_token) == fake.account.account_id
        fake.slow_refresh(0)
        fake.expire_access_tokens()
        assert fake.account_for(await sources(account).refresh()) == fake.account.account_id


def test_rotate_key_command(db: Database, tmp_path: Path) -> None:
    if db.kind != "sqlite":
        pytest.skip("the CLI path is the same on both databases; the rotation itself is tested on both")

    async def seed() -> None:
        engine = make_engine(db.url)
        await migrate(engine)
        async with FakeOAuthProvider("linkedin") as fake:
            await seed_linked_account(
                session_factory(engine),
                Vault.from_secrets("old", salt="s", iterations=DEFAULT_ITERATIONS),
                fake,
            )
        await engine.dispose()

    asyncio.run(seed())
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
    env.update(
        POSTBOT_DATABASE_URL=db.url,
        POSTBOT_SECRET_KEY="new",
        POSTBOT_VAULT__SALT="s",
        POSTBOT_VAULT__PREVIOUS_SECRET_KEYS=json.dumps(["old"]),
        POSTBOT_LOG_LEVEL="WARNING",
    )
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rotate-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert run.returncode == 0, run.stderr
    assert "re-encrypted 1 linked account(s)" in run.stdout
    assert "previous secret can be removed" in run.stdout

    # Without the old secret a second machine can't read old tokens: the command says how to fix it.
    env["POSTBOT_SECRET_KEY"] = "a third secret"
    env.pop("POSTBOT_VAULT__PREVIOUS_SECRET_KEYS")
    failed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rotate-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert failed.returncode == 2
    assert "POSTBOT_VAULT__PREVIOUS_SECRET_KEYS" in failed.stdout
    assert "new" not in failed.stderr.split("postbot:")[-1]  # the secret itself is never echoed
