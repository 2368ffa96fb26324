"""Everything account-related the wiring needs, built from the settings in one call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts.linking import AccountLinker
from core.accounts.tokens import TokenSources
from core.config import Settings
from core.crypto import Vault
from core.notify import NotifierRouter
from core.oauth import OAuthClients


@dataclass
class Accounts:
    vault: Vault
    oauth: OAuthClients
    # The scheduler's TokenFactory (PostProcessor(tokens_for=accounts.tokens)).
    tokens: TokenSources
    linker: AccountLinker

    @classmethod
    def build(
        cls,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        notifier: NotifierRouter | None,
    ) -> Accounts:
        """Derives the vault key (once, here); raises ConfigError naming POSTBOT_SECRET_KEY if unset."""
        vault = Vault.from_settings(settings)
        oauth = OAuthClients(settings, http)
        tokens = TokenSources(sessions, vault, oauth, skew=timedelta(seconds=settings.vault.refresh_skew_s))
        linker = AccountLinker(settings, sessions, vault, oauth, notifier)
        return cls(vault=vault, oauth=oauth, tokens=tokens, linker=linker)
