"""Access tokens for publishers, refreshed before they expire and at most once per account at a time.

Two posts for one account may find its token stale together. Within a process a lock per account
lets one of them refresh while the other waits and then reuses the result; across processes on
PostgreSQL the refresh holds the row's ``FOR UPDATE`` lock for the same effect. This matters beyond
saving a request: X rotates refresh tokens, so a second refresh with the old one would fail and look
like a revoked account.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts.store import load_tokens, save_tokens
from core.crypto import Vault, VaultError
from core.db.models import SocialAccount
from core.domain import AccountStatus, Platform, PostingAccount
from core.oauth import InvalidGrant, OAuthClients, OAuthError, OAuthProvider, ProviderUnavailable
from core.oauth.models import TokenSet
from core.publishers.base import AuthError, PermanentError, PublishError, TransientError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

REFRESHES = Counter(
    "postbot_token_refreshes_total", "OAuth refresh grants by platform and outcome", ["platform", "outcome"]
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def relink_message(platform: Platform) -> str:
    return f"re-link with /link {platform.value}"


class AccountLocks:
    """One asyncio.Lock per account row, shared by every token source in the process."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}

    def get(self, account_id: int) -> asyncio.Lock:
        lock = self._locks.get(account_id)
        if lock is None:
            lock = self._locks[account_id] = asyncio.Lock()
        return lock


class TokenSources:
    """The scheduler's token factory: ``sources(account)`` → a TokenSource for one publish."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        oauth: OAuthClients,
        *,
        skew: timedelta = timedelta(minutes=5),
        clock: Clock = utcnow,
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.oauth = oauth
        self.skew = skew
        self.clock = clock
        self.locks = AccountLocks()

    def __call__(self, account: PostingAccount) -> StoredTokenSource:
        return StoredTokenSource(
            row_id=account.id,
            platform=Platform(account.platform),
            remote_account_id=account.remote_account_id,
            sessions=self.sessions,
            vault=self.vault,
            provider=lambda: self.oauth.get(Platform(account.platform)),
            lock=self.locks.get(account.id),
            skew=self.skew,
            clock=self.clock,
        )


def renewable(account: SocialAccount) -> bool:
    """Whether postbot can renew this account's access without a new link: it holds a refresh token,
    or its platform extends access tokens themselves (Instagram)."""
    from core.platforms.registry import spec

    provider = spec(Platform(account.platform)).oauth
    return account.refresh_token_enc is not None or (provider is not None and provider.refreshes_access_token)


class StoredTokenSource:
    """core.publishers.base.TokenSource over one social_accounts row."""

    def __init__(
        self,
        *,
        row_id: int,
        platform: Platform,
        remote_account_id: str,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        provider: Callable[[], OAuthProvider],
        lock: asyncio.Lock,
        skew: timedelta,
        clock: Clock = utcnow,
    ) -> None:
        self.row_id = row_id
        self.platform = platform
        self._remote_id = remote_account_id
        self.sessions = sessions
        self.vault = vault
        self._provider = provider
        self._lock = lock
        self.skew = skew
        self.clock = clock
        # The token this source last handed out: a refresh() after a 401 on it must not be
        # answered with that same token, and may be answered with one another post just fetched.
        self._last: TokenSet | None = None

    @property
    def account_id(self) -> str:
        return self._remote_id

    def __repr__(self) -> str:
        return f"StoredTokenSource(account={self.row_id}, platform={self.platform.value})"

    async def access_token(self) -> str:
        if self._last is not None and self._fresh(self._last):
            return self._last.access_token
        async with self.sessions.begin() as session:
            account = await self._row(session, lock=False)
            tokens = self._decrypt(account)
        if self._fresh(tokens):
            self._last = tokens
            return tokens.access_token
        return await self._refresh(seen=tokens.access_token, force=False)

    async def refresh(self) -> str:
        return await self._refresh(seen=self._last.access_token if self._last else None, force=True)

    async def rejected(self) -> None:
        relink = relink_message(self.platform)
        async with self.sessions.begin() as session:
            account = await session.get(SocialAccount, self.row_id)
            if account is None or account.status != AccountStatus.ACTIVE.value:
                return
            name = account.display_name or self._remote_id
            account.status = AccountStatus.REVOKED.value
            account.last_error = (
                f"{self.platform.label} refused a freshly refreshed token for {name}: {relink}"
            )
        REFRESHES.labels(self.platform.value, "rejected").inc()
        log.warning(
            "token refused after a refresh", extra={"platform": self.platform.value, "account": self.row_id}
        )

    def _fresh(self, tokens: TokenSet) -> bool:
        return tokens.expires_at is None or tokens.expires_at - self.skew > self.clock()

    async def _refresh(self, *, seen: str | None, force: bool) -> str:
        async with self._lock:
            # Raised only after the transaction commits, so the account's status and last error stick.
            failure: PublishError | None = None
            async with self.sessions.begin() as session:
                account = await self._row(session, lock=True)
                current = self._decrypt(account)
                someone_refreshed = seen is not None and current.access_token != seen
                if (someone_refreshed and self._not_expired(current)) or (not force and self._fresh(current)):
                    self._last = current
                    return current.access_token
                relink = relink_message(self.platform)
                provider = self._provider()
                if not provider.can_refresh(current):
                    # Nothing to renew with (LinkedIn without partner refresh tokens): the token is
                    # used until it runs out, and then the account has expired; nobody revoked it.
                    if self._not_expired(current):
                        self._last = current
                        return current.access_token
                    failure = self._expired(account, relink)
                else:
                    try:
                        fresh = await provider.refresh(current)
                    except InvalidGrant:
                        name = account.display_name or self._remote_id
                        message = (
                            f"{self.platform.label} access for {name} was revoked or has expired: {relink}"
                        )
                        account.status = AccountStatus.REVOKED.value
                        account.last_error = message
                        failure = AuthError(message, hint=f"An admin can {relink}.")
                        REFRESHES.labels(self.platform.value, "revoked").inc()
                    except ProviderUnavailable as exc:
                        REFRESHES.labels(self.platform.value, "unavailable").inc()
                        raise TransientError(
                            f"could not refresh the {self.platform.label} token: {exc.message}"
                        ) from None
                    except OAuthError as exc:
                        REFRESHES.labels(self.platform.value, "refused").inc()
                        account.last_error = exc.message
                        failure = PermanentError(
                            f"could not refresh the {self.platform.label} token: {exc.message}",
                            hint=f"Check the bot's {self.platform.label} app credentials, or {relink}.",
                        )
                    else:
                        save_tokens(account, fresh, self.vault)
                        self._last = fresh
                        REFRESHES.labels(self.platform.value, "ok").inc()
                        log.info(
                            "token refreshed", extra={"platform": self.platform.value, "account": self.row_id}
                        )
            if failure is not None:
                log.warning(
                    "token refresh failed",
                    extra={"platform": self.platform.value, "account": self.row_id, "error": failure.message},
                )
                raise failure
            return fresh.access_token

    def _expired(self, account: SocialAccount, relink: str) -> PublishError:
        name = account.display_name or self._remote_id
        message = (
            f"{self.platform.label} access for {name} expired and {self.platform.label} gives this app "
            f"no way to renew it: {relink}"
        )
        account.status = AccountStatus.EXPIRED.value
        account.last_error = message
        REFRESHES.labels(self.platform.value, "expired").inc()
        return AuthError(message, hint=f"An admin can {relink}.")

    def _not_expired(self, tokens: TokenSet) -> bool:
        return tokens.expires_at is None or tokens.expires_at > self.clock()

    async def _row(self, session: AsyncSession, *, lock: bool) -> SocialAccount:
        query = select(SocialAccount).where(SocialAccount.id == self.row_id)
        if lock:
            # PostgreSQL: other processes refreshing this account wait here. SQLite ignores it;
            # there the in-process lock is the guard, as SQLite deployments run one process.
            query = query.with_for_update()
        account = (await session.execute(query)).scalar_one_or_none()
        if account is None:
            raise AuthError(
                f"the {self.platform.label} account was unlinked",
                hint=f"An admin can {relink_message(self.platform)}.",
            )
        if account.status == AccountStatus.REVOKED.value:
            raise AuthError(
                account.last_error
                or f"{self.platform.label} access was revoked: {relink_message(self.platform)}",
                hint=f"An admin can {relink_message(self.platform)}.",
            )
        return account

    def _decrypt(self, account: SocialAccount) -> TokenSet:
        try:
            return load_tokens(account, self.vault)
        except VaultError as exc:
            # The vault's message names key ids only, never material.
            raise PermanentError(
                f"the stored {self.platform.label} token can't be read: {exc}",
                hint=f"If the vault secret changed, restore it or {relink_message(self.platform)}.",
            ) from None
        except ValueError:
            raise AuthError(
                f"the {self.platform.label} account holds no tokens",
                hint=f"An admin can {relink_message(self.platform)}.",
            ) from None
