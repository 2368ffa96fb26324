"""Refreshing tokens of accounts nobody posted to lately, before they lapse.

Refreshes otherwise happen only when a post needs a token. An Instagram long-lived token that isn't
refreshed within its 60 days dies for good, and Google drops refresh tokens unused for six months,
so the scheduler calls ``refresh_expiring`` about daily.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from core.accounts.tokens import TokenSources
from core.db.models import SocialAccount
from core.domain import AccountStatus
from core.publishers.base import PublishError
from core.store.accounts import posting_account

log = logging.getLogger(__name__)


async def refresh_expiring(sources: TokenSources, *, within: timedelta = timedelta(days=7)) -> int:
    """Refresh every active account whose access token expires within ``within``; returns how many.

    A failure on one account (revoked: it is marked for re-linking) does not stop the others.
    """
    horizon = sources.clock() + within
    async with sources.sessions() as session:
        accounts = list(
            (
                await session.execute(
                    select(SocialAccount).where(
                        SocialAccount.status == AccountStatus.ACTIVE.value,
                        SocialAccount.access_token_enc.is_not(None),
                        SocialAccount.token_expires_at.is_not(None),
                        SocialAccount.token_expires_at < horizon,
                    )
                )
            ).scalars()
        )
    refreshed = 0
    for account in accounts:
        try:
            await sources(posting_account(account)).refresh()
        except PublishError as exc:
            log.warning(
                "keep-alive refresh failed",
                extra={"platform": account.platform, "account": account.id, "error": exc.message},
            )
            continue
        refreshed += 1
    return refreshed
