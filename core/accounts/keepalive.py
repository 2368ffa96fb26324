"""Refreshing tokens of accounts nobody posted to lately, before they lapse.

Refreshes otherwise happen only when a post needs a token. An Instagram long-lived token that isn't
refreshed within its 60 days dies for good, and Google drops refresh tokens unused for six months,
so the scheduler calls ``refresh_expiring`` about daily.

An account that cannot be renewed (LinkedIn issues refresh tokens to approved partners only) is not
"refreshed" into a revoked state: ``remind_expiring`` DMs the admin who linked it a fresh link 7 days
and again 1 day before its access token runs out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from core.accounts.linking import AccountLinker
from core.accounts.tokens import TokenSources, renewable
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
        if not renewable(account):
            continue  # remind_expiring's business: only a new link renews it
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


# When the admins hear that an unrenewable token is about to run out, before its expiry.
REMINDERS = (timedelta(days=7), timedelta(days=1))


async def remind_expiring(linker: AccountLinker, *, now: datetime | None = None) -> int:
    """DM a fresh link for every active account that cannot be renewed and whose access token
    expires within 7 days, once at 7 days and once at 1 day before; returns how many were sent.

    Each reminder is a link state row created for the admin, which is also how a later run (or
    another process) knows the reminder went out: a stage counts as sent when such a row exists
    from its start on. A stage is only sent during its first day, so a missed run never sends a
    7-day notice with one day left.
    """
    current = now or linker.clock()
    async with linker.sessions() as session:
        accounts = list(
            (
                await session.execute(
                    select(SocialAccount).where(
                        SocialAccount.status == AccountStatus.ACTIVE.value,
                        SocialAccount.token_expires_at.is_not(None),
                        SocialAccount.token_expires_at > current,
                        SocialAccount.token_expires_at <= current + REMINDERS[0],
                    )
                )
            ).scalars()
        )
    sent = 0
    for account in accounts:
        if renewable(account) or account.token_expires_at is None:
            continue
        for ahead in REMINDERS:
            start = account.token_expires_at - ahead
            if start <= current < start + timedelta(days=1):
                if await linker.remind_relink(account, since=start, now=current):
                    sent += 1
                break
    return sent
