"""`postbot rotate-key`: move every stored token to the current vault key while the bot keeps running.

Procedure (also in the README): set the new secret as ``POSTBOT_SECRET_KEY``, put the old one in
``POSTBOT_VAULT__PREVIOUS_SECRET_KEYS``, restart the processes (they now encrypt under the new key
and still read the old one), run ``postbot rotate-key``, then drop the previous secret.

Rows are rewritten with a compare-and-swap on the ciphertexts, so a token refresh that lands between
our read and our write is never overwritten with the older token: the row is read again instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts.store import ACCESS, REFRESH
from core.config import Settings
from core.crypto import Vault, VaultError, account_aad, state_aad
from core.db.models import OAuthState, SocialAccount
from core.errors import ConfigError

log = logging.getLogger(__name__)

MAX_PASSES = 5
MAX_ATTEMPTS_PER_ROW = 5


@dataclass
class RotationReport:
    key_id: str
    accounts: int = 0
    pending_links: int = 0
    # Rows whose ciphertext is under a key this process lacks (or fails authentication).
    unreadable: list[int] = field(default_factory=list)
    # Rows still not under the current key after every pass (kept being rewritten by an old process).
    remaining: int = 0

    @property
    def complete(self) -> bool:
        return not self.unreadable and self.remaining == 0


async def rotate_tokens(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, *, batch_size: int = 200
) -> RotationReport:
    report = RotationReport(key_id=vault.current_key_id)
    for _ in range(MAX_PASSES):
        moved = await _pass(sessions, vault, report, batch_size)
        if not moved:
            break
    await _rotate_pending_states(sessions, vault, report)
    async with sessions() as session:
        report.remaining = len(
            [i for i in await _stale_ids(session, vault, after=0, limit=None) if i not in report.unreadable]
        )
    return report


async def _stale_ids(session: AsyncSession, vault: Vault, *, after: int, limit: int | None) -> list[int]:
    query = (
        select(SocialAccount.id)
        .where(
            SocialAccount.id > after,
            SocialAccount.access_token_enc.is_not(None),
            or_(SocialAccount.key_id.is_(None), SocialAccount.key_id != vault.current_key_id),
        )
        .order_by(SocialAccount.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())


async def _pass(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, report: RotationReport, batch_size: int
) -> int:
    moved = 0
    after = 0
    while True:
        async with sessions() as session:
            ids = await _stale_ids(session, vault, after=after, limit=batch_size)
        if not ids:
            return moved
        after = ids[-1]
        for account_id in ids:
            if account_id in report.unreadable:
                continue
            if await _rotate_account(sessions, vault, account_id, report):
                moved += 1


async def _rotate_account(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, account_id: int, report: RotationReport
) -> bool:
    for _ in range(MAX_ATTEMPTS_PER_ROW):
        async with sessions.begin() as session:
            row = (
                await session.execute(
                    select(SocialAccount.access_token_enc, SocialAccount.refresh_token_enc).where(
                        SocialAccount.id == account_id
                    )
                )
            ).one_or_none()
            if row is None or row.access_token_enc is None:
                return False  # unlinked meanwhile
            old_access, old_refresh = row.access_token_enc, row.refresh_token_enc
            try:
                new_access = vault.reencrypt(old_access, account_aad(account_id, ACCESS))
                new_refresh = (
                    vault.reencrypt(old_refresh, account_aad(account_id, REFRESH))
                    if old_refresh is not None
                    else None
                )
            except VaultError as exc:
                log.warning(
                    "token unreadable during rotation", extra={"account": account_id, "error": str(exc)}
                )
                report.unreadable.append(account_id)
                return False
            same_refresh = (
                SocialAccount.refresh_token_enc.is_(None)
                if old_refresh is None
                else SocialAccount.refresh_token_enc == old_refresh
            )
            result = await session.execute(
                update(SocialAccount)
                .where(
                    and_(
                        SocialAccount.id == account_id,
                        SocialAccount.access_token_enc == old_access,
                        same_refresh,
                    )
                )
                .values(
                    access_token_enc=new_access, refresh_token_enc=new_refresh, key_id=vault.current_key_id
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                report.accounts += 1
                return True
        # A refresh rewrote the row between our read and our write: read it again.
    return False


async def _rotate_pending_states(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, report: RotationReport
) -> None:
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(OAuthState).where(
                    OAuthState.pkce_verifier_enc.is_not(None), OAuthState.used_at.is_(None)
                )
            )
        ).scalars()
        unreadable: list[int] = []
        for state in rows:
            assert state.pkce_verifier_enc is not None
            try:
                if vault.needs_rotation(state.pkce_verifier_enc):
                    state.pkce_verifier_enc = vault.reencrypt(
                        state.pkce_verifier_enc, state_aad(state.state_hash)
                    )
                    report.pending_links += 1
            except VaultError:
                unreadable.append(state.id)
        if unreadable:
            # A pending link is ten minutes of convenience, not data: the admin can run /link again.
            await session.execute(delete(OAuthState).where(OAuthState.id.in_(unreadable)))


def report_text(report: RotationReport) -> str:
    lines = [
        f"re-encrypted {report.accounts} linked account(s) and {report.pending_links} pending link(s) "
        f"under key {report.key_id}"
    ]
    if report.unreadable:
        lines.append(
            f"{len(report.unreadable)} account(s) are under a key this process does not hold "
            f"(ids {', '.join(map(str, report.unreadable))}): add the secret they were stored with to "
            "POSTBOT_VAULT__PREVIOUS_SECRET_KEYS and run rotate-key again, or re-link those accounts"
        )
    if report.remaining:
        lines.append(
            f"{report.remaining} account(s) were rewritten under an older key while rotating: a process "
            "still runs with the old secret as current; restart it with the new one and run rotate-key again"
        )
    if report.complete:
        lines.append("every token is under the current key: the previous secret can be removed")
    return "\n".join(lines)


async def run_rotate_key(settings: Settings) -> None:
    from core.db.engine import make_engine, migrate, session_factory

    vault = Vault.from_settings(settings)
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        report = await rotate_tokens(session_factory(engine), vault)
    finally:
        await engine.dispose()
    print(report_text(report))
    if not report.complete:
        raise ConfigError("rotate-key did not finish: see above")
