"""Periodic operations checks from any process with a chat: accounts to relink, workers gone.

Every ``alerts.check_interval_s`` each such process looks at the database:

- **Accounts.** Per team and platform, when no linked account can post (it was revoked: a refresh
  answered ``invalid_grant``, or a fresh token was still refused with a 401; it expired; or its access
  ends within ``alerts.token_warn_days`` and postbot has no way to renew it, which the OAuth exchange
  told us: the access token's expiry without a refresh token, or the refresh token's own expiry), the
  team's ops channel (or its admins) hears which account and how to relink it, once; and once more
  when an account for that platform works again.
- **API versions.** When a platform API version this deployment sends (LinkedIn-Version, Instagram's
  Graph version) is sunset within ``alerts.api_version_warn_days``, or already was, every chat this
  process reaches hears which, when, and the setting to change, once per version and state; and
  once when it is fixed (core/platforms/versions.py holds the dates).
- **Results scopes.** An account linked before its platform's results reader needed a scope that
  linking now asks for (Instagram's ``instagram_business_manage_insights``, TikTok's ``video.list``)
  is named once to its team, with how to relink; posting is not affected, so it is not repeated.
- **Workers.** When no scheduler has recorded a heartbeat for ``alerts.workers_missing_s``, due posts
  are not going out: every chat this process reaches hears it once, and once when a worker is back.

Which process speaks is settled by the alerter's gate, in a fleet the database's alert gates
(core/store/alerts.py): of several processes checking at once, exactly one sends each alert and each
recovery. While a condition lasts it is said again every ``alerts.repeat_s``, not sooner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts.tokens import renewable
from core.alerts import Alerter
from core.config import AlertSettings, PlatformsSettings
from core.db.models import SocialAccount, Team
from core.domain import AccountStatus, ChatKind, Platform
from core.platforms.results import granted
from core.platforms.versions import VersionState, check_versions
from core.store.heartbeats import Heartbeats, WorkerSeen

log = logging.getLogger(__name__)

WORKERS = "workers:"
ACCOUNTS = "account:"
VERSIONS = "api-version:"
RESULT_SCOPES = "results-scopes:"
# "Once": a missing results scope is no emergency; its gate is not reopened for ten years.
ONCE_S = 10 * 365 * 24 * 3600.0
# A version that is only nearing its sunset is said again at most weekly.
VERSION_REMINDER_S = 7 * 24 * 3600.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Trouble:
    account: SocialAccount
    why: str


class OpsWatch:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        heartbeats: Heartbeats,
        alerter: Alerter,
        settings: AlertSettings,
        *,
        reaches: Callable[[ChatKind], bool],
        clock: Callable[[], datetime] = utcnow,
        platforms: PlatformsSettings | None = None,
        result_scopes: Mapping[Platform, tuple[str, ...]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.heartbeats = heartbeats
        self.alerter = alerter
        self.settings = settings
        self.reaches = reaches
        self.clock = clock
        # None: API versions are not watched (a process built without the platforms' settings).
        self.platforms = platforms
        # Per platform, the scopes its results reader needs and linking asks for (bot/wiring.py).
        self.result_scopes = dict(result_scopes or {})

    async def run(self) -> None:
        """Check every ``check_interval_s``, the first time one interval after start: processes
        restarted together should not find each other missing."""
        while True:
            await asyncio.sleep(self.settings.check_interval_s)
            try:
                await self.check()
            except Exception:
                log.exception("operations check failed")

    async def check(self) -> None:
        if not self.settings.enabled:
            return
        await self.check_workers()
        await self.check_accounts()
        await self.check_api_versions()
        await self.check_result_scopes()

    # -- workers --------------------------------------------------------------------------------

    async def check_workers(self) -> None:
        now = self.clock()
        missing = timedelta(seconds=self.settings.workers_missing_s)
        # A day back: the newest row says whether the last worker stopped on purpose or went silent.
        rows = await self.heartbeats.seen(
            within=max(missing, timedelta(days=1)), now=now, include_stopped=True
        )
        running = [w for w in rows if not w.stopped and now - w.seen_at <= missing]
        # A worker stopped on purpose gets the same grace as one gone silent: a restart or a deploy
        # (stop, start) is not an outage.
        recent = [w for w in rows if now - w.seen_at <= missing]
        for chat in ChatKind:
            if not self.reaches(chat):
                continue
            key = f"{WORKERS}{chat.value}"
            if running:
                if await self._clear(key):
                    await self.alerter.deliver(
                        chat,
                        "",
                        ":white_check_mark: A postbot worker is running again: due posts are going out.",
                    )
            elif not recent and await self._raise(key):
                await self.alerter.deliver(chat, "", self._missing_text(rows[0] if rows else None, now))

    def _missing_text(self, last: WorkerSeen | None, now: datetime) -> str:
        minutes = round(self.settings.workers_missing_s / 60)
        start = "Start one (`postbot worker`, or the bot with its scheduler). I'll say when one is back."
        if last is not None and last.stopped:
            ago = max(minutes, round((now - last.seen_at).total_seconds() / 60))
            return (
                f":warning: No postbot worker is running: the last one ({last.worker_id}) was stopped "
                f"{ago} min ago and none has started since. Due posts are not going out (they wait, "
                f"nothing is lost). {start}"
            )
        return (
            f":warning: No postbot worker has been seen for {minutes} min: due posts are not going "
            f"out (they wait, nothing is lost). {start}"
        )

    # -- API versions ---------------------------------------------------------------------------

    async def check_api_versions(self) -> None:
        if self.platforms is None:
            return
        checks = check_versions(
            self.platforms, self.clock().date(), warn_days=self.settings.api_version_warn_days
        )
        for found in checks:
            if not found.in_use:
                continue
            for chat in ChatKind:
                if not self.reaches(chat):
                    continue
                # One key per state: "ending" and then "past" are each said once (again after a
                # week while it only nears, after alerts.repeat_s once it is past), and a supported
                # version clears both with one "fixed" line.
                prefix = f"{VERSIONS}{chat.value}:{found.platform.value}:"
                bad = found.state in (VersionState.ENDING, VersionState.PAST)
                cleared = False
                for state in (VersionState.ENDING, VersionState.PAST):
                    if state is not found.state:
                        cleared = await self._clear(f"{prefix}{state.value}") or cleared
                if bad:
                    repeat_s = self.settings.repeat_s
                    if found.state is VersionState.ENDING:
                        repeat_s = max(repeat_s, VERSION_REMINDER_S)
                    key = f"{prefix}{found.state.value}"
                    if await self.alerter.gate.open(key, repeat_s=repeat_s):
                        await self.alerter.deliver(chat, "", f":warning: {found.message()}")
                elif cleared and found.state is VersionState.SUPPORTED:
                    await self.alerter.deliver(chat, "", f":white_check_mark: {found.message()}")

    # -- results scopes -------------------------------------------------------------------------

    async def check_result_scopes(self) -> None:
        if not self.result_scopes:
            return
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(SocialAccount, Team)
                    .join(Team)
                    .where(
                        SocialAccount.status == AccountStatus.ACTIVE.value,
                        SocialAccount.platform.in_([p.value for p in self.result_scopes]),
                    )
                )
            ).all()
        for account, team in rows:
            chat = ChatKind(team.chat)
            have = granted(account.scopes)
            if have is None or not self.reaches(chat):
                continue
            platform = Platform(account.platform)
            missing = [s for s in self.result_scopes[platform] if s not in have]
            if missing and await self.alerter.gate.open(f"{RESULT_SCOPES}{account.id}", repeat_s=ONCE_S):
                await self.alerter.deliver(
                    chat,
                    team.external_id,
                    f":information_source: To show {platform.label} results, postbot needs a permission "
                    f"{platform.label} account {_name(account)} was linked without ({', '.join(missing)}). "
                    f"An admin can relink it with `/link {platform.value}`; posting works meanwhile.",
                )

    # -- accounts -------------------------------------------------------------------------------

    async def check_accounts(self) -> None:
        now = self.clock()
        async with self.sessions() as session:
            rows = (await session.execute(select(SocialAccount, Team).join(Team))).all()
        groups: dict[tuple[int, str], list[tuple[SocialAccount, Team]]] = {}
        for account, team in rows:
            groups.setdefault((team.id, account.platform), []).append((account, team))
        for (team_id, platform_name), members in groups.items():
            key = f"{ACCOUNTS}{team_id}:{platform_name}"
            team = members[0][1]
            chat = ChatKind(team.chat)
            if not self.reaches(chat):
                continue
            platform = Platform(platform_name)
            troubles = [t for a, _ in members if (t := self._trouble(a, now)) is not None]
            if len(troubles) < len(members):
                if await self._clear(key):
                    good = next(a for a, _ in members if self._trouble(a, now) is None)
                    await self.alerter.deliver(
                        chat,
                        team.external_id,
                        f":white_check_mark: {platform.label} account {_name(good)} is linked and working: "
                        f"{platform.label} posts can go out again.",
                    )
                continue
            if await self._raise(key):
                await self.alerter.deliver(chat, team.external_id, _account_alert(platform, troubles[0]))

    def _trouble(self, account: SocialAccount, now: datetime) -> _Trouble | None:
        if account.status == AccountStatus.REVOKED.value:
            return _Trouble(account, "its access was revoked")
        if account.status == AccountStatus.EXPIRED.value:
            return _Trouble(account, "its access expired")
        if account.status != AccountStatus.ACTIVE.value:
            return _Trouble(account, account.last_error or "it stopped working")
        horizon = now + timedelta(days=self.settings.token_warn_days)
        ends: datetime | None = None
        if account.refresh_expires_at is not None and account.refresh_expires_at <= horizon:
            ends = account.refresh_expires_at
        elif not renewable(account) and account.token_expires_at is not None:
            if account.token_expires_at <= horizon:
                ends = account.token_expires_at
        if ends is None:
            return None
        if ends <= now:
            return _Trouble(account, "its access has run out")
        return _Trouble(account, f"its access ends in {_span(ends - now)} and cannot be renewed without you")

    async def _raise(self, key: str) -> bool:
        return await self.alerter.gate.open(key, repeat_s=self.settings.repeat_s)

    async def _clear(self, key: str) -> bool:
        return await self.alerter.gate.close(key)


def _name(account: SocialAccount) -> str:
    return account.display_name or account.remote_account_id


def _span(left: timedelta) -> str:
    hours = left.total_seconds() / 3600
    if hours < 48:
        return f"{max(1, round(hours))} h"
    return f"{round(hours / 24)} days"


def _account_alert(platform: Platform, trouble: _Trouble) -> str:
    return (
        f":warning: {platform.label} account {_name(trouble.account)} needs relinking: {trouble.why}. "
        f"An admin can relink it with `/link {platform.value}`; until then {platform.label} posts fail. "
        "I'll say when it works again."
    )
