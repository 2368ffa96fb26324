"""Linking platform accounts from chat: an admin asks, the bot DMs a single-use link, the callback stores.

The link's state is 32 random bytes, bound to team, user and platform, valid for ten minutes and
good for one callback. Only its SHA-256 is stored, so a leaked database row cannot be replayed as a
link; for PKCE platforms the verifier is stored encrypted, bound to that state. The state is burnt
by an atomic conditional UPDATE before the code is exchanged, so two callbacks racing with the same
state (a replay, a double click) cannot both get through. The link is also bound to the first
browser that opens it (core/accounts/binding.py), which is shown the team and chat the account will
be linked to before it is sent to the provider.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts.binding import BrowserBinding
from core.accounts.store import load_tokens, save_tokens
from core.config import Settings
from core.crypto import Vault, VaultError, state_aad
from core.db.models import OAuthState, SocialAccount, Team, User
from core.domain import (
    AccountStatus,
    AccountView,
    ChatContext,
    ChatKind,
    LinkPreview,
    Platform,
    UnlinkOutcome,
    did_you_mean,
    platform_from_alias,
)
from core.errors import (
    LinkDenied,
    LinkOpenedElsewhere,
    LinkProviderFailed,
    LinkStateExpired,
    LinkStateInvalid,
    LinkStateUsed,
    PermissionDenied,
    PlatformParseError,
    UserError,
)
from core.notify import NotifierRouter
from core.oauth import OAuthClients, OAuthError, ProviderUnavailable
from core.platforms.registry import SPECS, spec
from core.store.accounts import handle_matches, handle_of
from core.store.teams import ensure_team_user

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)


def utcnow() -> datetime:
    return datetime.now(UTC)


def redirect_uri(settings: Settings, platform: Platform) -> str:
    """The address the platform sends the browser back to: register it in the platform's app."""
    return f"{settings.web.public_url.rstrip('/')}/oauth/{platform.value}/callback"


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _command(platform: str) -> str:
    """postbot's link command, as a web page names it: the page can't know which chat the link came
    from (Slack and Discord have /postbot link, the console /link), so it names none of them."""
    return f"postbot's link command for {platform} in chat"


def _new_link(platform: str) -> str:
    return f"Ask for a new one with {_command(platform)}."


@dataclass(frozen=True)
class LinkOutcome:
    platform: Platform
    account_row_id: int
    remote_account_id: str
    display_name: str
    handle: str
    relinked: bool
    # Whose team and which chat the account now posts for, named on the success page and in the DM.
    team: str = ""
    chat: str = ""
    # The other accounts the same consent linked (a Facebook login's further Pages).
    also: tuple[str, ...] = ()

    @property
    def handles(self) -> str:
        """``@acme``, or ``@acme, @shop and @blog`` when one consent linked several."""
        names = (self.handle, *self.also)
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


_CHAT_NAMES = {"slack": "Slack workspace", "discord": "Discord server", "console": "local console"}


class AccountLinker:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        oauth: OAuthClients,
        notifier: NotifierRouter | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.vault = vault
        self.oauth = oauth
        self.notifier = notifier
        self.clock = clock
        # The vault secret signs the browser-binding cookies, so every web process verifies them. A
        # linker built without it (a worker sending reminders) never binds a browser: a random key.
        secret = settings.secret_key.get_secret_value() if settings.secret_key else secrets.token_hex(32)
        self.binding = BrowserBinding(secret)

    def redirect_uri(self, platform: Platform) -> str:
        return redirect_uri(self.settings, platform)

    def check_loopback(self, platform: Platform) -> None:
        """Refuse, saying what to do, a link whose plain-http redirect the platform won't accept."""
        redirect = self.redirect_uri(platform)
        if redirect.startswith("https://") or not self.oauth.linkable(platform):
            return
        if self.oauth.provider_class(platform).loopback_redirect:
            return
        raise UserError(
            f"{platform.label} accepts only https redirect addresses, and this postbot's is {redirect}.",
            hint=(
                f"Link {platform.label} through a postbot whose web.public_url is a public https address "
                "(postbot web behind an https proxy, or a tunnel to this machine) on the same database; "
                f"the account is then usable here. See docs/setup/{platform.value}.md."
            ),
        )

    # -- /link -------------------------------------------------------------------------------------

    async def request_link(self, ctx: ChatContext, platform_word: str, *, loopback: bool = False) -> str:
        """What /link does: DM the admin a fresh link and return the in-channel acknowledgement.

        The link only ever goes by DM: whoever opens it links *their* account to this team.
        ``loopback``: the callback is served on this machine (the console), so a platform that takes
        only https redirects is refused up front, with what to do, unless web.public_url is https.
        """
        from core.accounts.views import link_ack_text, link_dm_text

        platform = platform_from_alias(platform_word)
        if platform is None:
            raise PlatformParseError(
                f"I don't know the platform {platform_word.strip()!r}.{did_you_mean(platform_word)}",
                hint=f"Use one of: {', '.join(s.name for s in SPECS if s.linkable)}.",
            )
        if loopback:
            self.check_loopback(platform)
        url = await self.start_link(ctx, platform)
        if self.notifier is None:
            raise UserError("I can't send direct messages from here, so I can't send you a link.")
        await self.notifier.dm(ctx.chat, ctx.team_id, ctx.user_id, link_dm_text(platform, url))
        return link_ack_text(platform)

    async def start_link(self, ctx: ChatContext, platform: Platform) -> str:
        """The single-use URL to DM the admin. Refuses non-admins before anything is stored."""
        if not ctx.is_admin:
            raise PermissionDenied(
                f"Only admins can link accounts. Ask a workspace admin to run /link {platform.value}."
            )
        if not self.oauth.linkable(platform):
            raise UserError(f"{platform.label} needs no account link.")
        provider = self.oauth.get(platform)  # fails here, clearly, when the app isn't configured
        state = secrets.token_urlsafe(32)
        state_hash = hash_state(state)
        now = self.clock()
        async with self.sessions.begin() as session:
            team, user = await ensure_team_user(session, ctx, self.settings.default_timezone)
            # Links nobody used are of no further interest a day later.
            await session.execute(delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1)))
            verifier = provider.new_link_secret() if provider.uses_pkce else None
            session.add(
                OAuthState(
                    state_hash=state_hash,
                    team_id=team.id,
                    user_id=user.id,
                    platform=platform.value,
                    pkce_verifier_enc=self.vault.encrypt(verifier, state_aad(state_hash))
                    if verifier
                    else None,
                    created_at=now,
                    expires_at=now + STATE_TTL,
                )
            )
        log.info("link started", extra={"platform": platform.value, "team": ctx.team_id})
        query = urlencode({"state": state})
        return f"{self.settings.web.public_url.rstrip('/')}/oauth/{platform.value}/start?{query}"

    async def open_link(self, platform: Platform, state: str, cookie: str | None) -> LinkPreview:
        """What GET /oauth/{platform}/start shows: whose team this links to. Binds the link to this
        browser if it is the first to open it; refuses any other browser."""
        async with self.sessions.begin() as session:
            row = await self._state_row(session, platform, state)
            self._check_usable(row)
            held = self.binding.verify(cookie, row.state_hash)
            fresh: str | None = None
            if held is None or held != row.browser_hash:
                binding = self.binding.issue(row.state_hash)
                claimed = await session.execute(
                    update(OAuthState)
                    .where(OAuthState.id == row.id, OAuthState.browser_hash.is_(None))
                    .values(browser_hash=binding.nonce_hash)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    raise self._elsewhere(platform)
                fresh = binding.cookie
            team = await session.get(Team, row.team_id)
            user = await session.get(User, row.user_id)
            assert team is not None and user is not None
            return LinkPreview(
                platform=platform,
                team=_team_label(team),
                chat=_CHAT_NAMES.get(team.chat, team.chat),
                requested_by=user.display_name or user.external_id,
                cookie=fresh,
            )

    async def authorize_url(self, platform: Platform, state: str, cookie: str | None) -> str:
        """Where the confirmed start sends the browser. Checks state and browser without burning."""
        async with self.sessions() as session:
            row = await self._state_row(session, platform, state)
            self._check_usable(row)
            self._check_browser(platform, row, cookie)
            verifier = self._verifier(row)
        provider = self.oauth.get(platform)
        try:
            return await provider.begin(
                state=state, redirect_uri=self.redirect_uri(platform), secret=verifier
            )
        except OAuthError as exc:
            # Only providers that push the request first (PAR) talk to the provider here.
            raise LinkProviderFailed(
                f"{exc.message}. Nothing was linked; try {_command(platform.value)} again."
            ) from None

    def client_metadata(self, platform: Platform) -> dict[str, Any] | None:
        """The client metadata document of a platform whose client_id is its URL (AT Protocol); None
        when the platform has none or linking it is not configured."""
        if not self.oauth.linkable(platform):
            return None
        try:
            provider = self.oauth.get(platform)
        except UserError:
            return None
        return provider.client_metadata(self.redirect_uri(platform))

    # -- callback ----------------------------------------------------------------------------------

    async def complete_link(
        self,
        platform: Platform,
        state: str | None,
        *,
        cookie: str | None = None,
        code: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
        issuer: str | None = None,
    ) -> LinkOutcome:
        if not state:
            raise LinkStateInvalid(
                "The address has no link state. Start again with postbot's link command in chat."
            )
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await self._state_row(session, platform, state)
            # Before burning: a callback carried into another browser must not spend the admin's link.
            self._check_browser(platform, row, cookie)
            burnt = await session.execute(
                update(OAuthState)
                .where(OAuthState.id == row.id, OAuthState.used_at.is_(None), OAuthState.expires_at > now)
                .values(used_at=now)
            )
            if burnt.rowcount != 1:  # type: ignore[attr-defined]
                self._check_usable(row)
                raise LinkStateUsed(_new_link(platform.value))
            verifier = self._verifier(row)
            team_id, user_id = row.team_id, row.user_id

        if error:
            log.info("link declined at the provider", extra={"platform": platform.value, "error": error})
            if error == "access_denied":
                raise LinkDenied(
                    f"You declined access on {platform.label}, so nothing was linked. "
                    f"Whenever you're ready, use {_command(platform.value)} again."
                )
            said = f": {error_description[:200]}" if error_description else ""
            raise LinkProviderFailed(
                f"{platform.label} reported an error ({error[:64]}{said}), so nothing was linked. "
                f"Try {_command(platform.value)} again."
            )
        if not code:
            raise LinkStateInvalid(
                f"{platform.label} sent no authorization code. Try {_command(platform.value)} again."
            )

        provider = self.oauth.get(platform)
        try:
            await provider.check_issuer(issuer)
            tokens = await provider.exchange_code(
                code=code, redirect_uri=self.redirect_uri(platform), code_verifier=verifier
            )
            linked = await provider.fetch_accounts(tokens)
        except ProviderUnavailable as exc:
            raise LinkProviderFailed(
                f"{exc.message}. Nothing was linked; try {_command(platform.value)} again."
            ) from None
        except OAuthError as exc:
            raise LinkProviderFailed(
                f"{exc.message}. Nothing was linked; try {_command(platform.value)} again."
            ) from None

        async with self.sessions.begin() as session:
            rows: list[tuple[SocialAccount, bool]] = []
            for profile, account_tokens in linked:
                existing = (
                    await session.execute(
                        select(SocialAccount).where(
                            SocialAccount.team_id == team_id,
                            SocialAccount.platform == platform.value,
                            SocialAccount.remote_account_id == profile.account_id,
                        )
                    )
                ).scalar_one_or_none()
                account = existing or SocialAccount(
                    team_id=team_id, platform=platform.value, remote_account_id=profile.account_id
                )
                account.display_name = profile.handle
                account.linked_by = user_id
                if existing is None:
                    session.add(account)
                    await session.flush()
                save_tokens(account, account_tokens, self.vault)
                account.updated_at = now
                rows.append((account, existing is not None))
            team = await session.get(Team, team_id)
            user = await session.get(User, user_id)
            assert team is not None and user is not None
            chat, team_ext, user_ext = team.chat, team.external_id, user.external_id
            team_label, chat_label = _team_label(team), _CHAT_NAMES.get(team.chat, team.chat)
            account_row_id = rows[0][0].id

        profile, relinked = linked[0][0], rows[0][1]
        also = tuple(p.handle for p, _ in linked[1:])
        outcome = LinkOutcome(
            platform=platform,
            account_row_id=account_row_id,
            remote_account_id=profile.account_id,
            display_name=profile.display_name,
            handle=profile.handle,
            relinked=relinked,
            team=team_label,
            chat=chat_label,
            also=also,
        )
        log.info("account linked", extra={"platform": platform.value, "account": account_row_id})
        note = spec(platform).link_note
        # Naming the team lets an admin notice a link completed by someone else, or for another team.
        text = f"{platform.label} linked as {outcome.handles} for {team_label} ({chat_label})."
        await self._dm(chat, team_ext, user_ext, f"{text} {note}" if note else text)
        return outcome

    async def remind_relink(self, account: SocialAccount, *, since: datetime, now: datetime) -> bool:
        """DM the admin who linked ``account`` a fresh link before its unrenewable token runs out,
        unless a link for it was already made for them since ``since``. True when a DM went out."""
        platform = Platform(account.platform)
        async with self.sessions() as session:
            team = await session.get(Team, account.team_id)
            user = await session.get(User, account.linked_by) if account.linked_by is not None else None
            if team is None or user is None:
                log.warning("expiring account has no admin to remind", extra={"account": account.id})
                return False
            already = (
                await session.execute(
                    select(OAuthState.id).where(
                        OAuthState.team_id == team.id,
                        OAuthState.user_id == user.id,
                        OAuthState.platform == platform.value,
                        OAuthState.created_at >= since,
                    )
                )
            ).first()
        if already is not None:
            return False
        ctx = ChatContext(
            chat=ChatKind(team.chat), team_id=team.external_id, user_id=user.external_id, is_admin=True
        )
        url = await self.start_link(ctx, platform)
        assert account.token_expires_at is not None
        days = max(1, round((account.token_expires_at - now).total_seconds() / 86400))
        name = account.display_name or account.remote_account_id
        text = (
            f"{platform.label} access for {name} expires in {days} day{'s' if days != 1 else ''}, and "
            f"{platform.label} gives this app no way to renew it. Link it again to keep posting: {url}"
        )
        await self._dm(team.chat, team.external_id, user.external_id, text)
        return True

    async def _dm(self, chat: str, team_id: str, user_id: str, text: str) -> None:
        if self.notifier is None:
            return
        try:
            await self.notifier.dm(ChatKind(chat), team_id, user_id, text)
        except Exception as exc:  # the link itself succeeded; a chat outage must not undo it
            log.warning("could not DM the admin about a link", extra={"error": type(exc).__name__})

    async def _state_row(self, session: AsyncSession, platform: Platform, state: str) -> OAuthState:
        row = (
            await session.execute(select(OAuthState).where(OAuthState.state_hash == hash_state(state)))
        ).scalar_one_or_none()
        # A state for another platform is treated like a forged one: someone edited the address.
        if row is None or row.platform != platform.value:
            raise LinkStateInvalid(
                f"This link wasn't issued by postbot, or was altered. {_new_link(platform.value)}"
            )
        return row

    def _check_browser(self, platform: Platform, row: OAuthState, cookie: str | None) -> None:
        held = self.binding.verify(cookie, row.state_hash)
        if row.browser_hash is None or held is None or not secrets.compare_digest(held, row.browser_hash):
            raise self._elsewhere(platform)

    @staticmethod
    def _elsewhere(platform: Platform) -> LinkOpenedElsewhere:
        return LinkOpenedElsewhere(
            "Each link works only in the browser that opened it first, and that was another one. "
            f"If that wasn't you, tell your admins. {_new_link(platform.value)}"
        )

    def _check_usable(self, row: OAuthState) -> None:
        if row.used_at is not None:
            raise LinkStateUsed(f"Each link works once. {_new_link(row.platform)}")
        if row.expires_at <= self.clock():
            minutes = int(STATE_TTL.total_seconds() // 60)
            raise LinkStateExpired(f"Links are valid for {minutes} minutes. {_new_link(row.platform)}")

    def _verifier(self, row: OAuthState) -> str | None:
        if row.pkce_verifier_enc is None:
            return None
        try:
            return self.vault.decrypt(row.pkce_verifier_enc, state_aad(row.state_hash))
        except VaultError:
            raise LinkStateInvalid(f"This link can no longer be used. {_new_link(row.platform)}") from None

    # -- /accounts and /unlink ---------------------------------------------------------------------

    async def list_accounts(self, ctx: ChatContext) -> list[AccountView]:
        """Every member may list (names and token health, never token material); linking and
        unlinking are for admins. README and each chat's /help say the same."""
        async with self.sessions() as session:
            team = (
                await session.execute(
                    select(Team).where(Team.chat == ctx.chat.value, Team.external_id == ctx.team_id)
                )
            ).scalar_one_or_none()
            if team is None:
                return []
            rows = (
                await session.execute(
                    select(SocialAccount)
                    .where(SocialAccount.team_id == team.id)
                    .order_by(SocialAccount.platform, SocialAccount.id)
                )
            ).scalars()
            return [account_view(r) for r in rows]

    async def unlink(self, ctx: ChatContext, platform: Platform, handle: str | None = None) -> UnlinkOutcome:
        """Revoke at the provider where it can, then delete the tokens and the account row: every
        account of ``platform``, or the one ``handle`` names when the team linked several."""
        if not ctx.is_admin:
            raise PermissionDenied(
                f"Only admins can unlink accounts. Ask a workspace admin to run /unlink {platform.value}."
            )
        async with self.sessions() as session:
            team = (
                await session.execute(
                    select(Team).where(Team.chat == ctx.chat.value, Team.external_id == ctx.team_id)
                )
            ).scalar_one_or_none()
            rows = (
                list(
                    (
                        await session.execute(
                            select(SocialAccount).where(
                                SocialAccount.team_id == team.id, SocialAccount.platform == platform.value
                            )
                        )
                    ).scalars()
                )
                if team is not None
                else []
            )
        if not rows:
            raise UserError(f"No {platform.label} account is linked.")
        if handle is not None:
            named = [r for r in rows if handle_matches(handle, r)]
            if not named:
                linked = ", ".join(f"{platform.value}@{handle_of(r)}" for r in rows)
                raise UserError(
                    f"No {platform.label} account @{handle.lstrip('@')} is linked (linked: {linked})."
                )
            rows = named
        revoked_all = True
        note: str | None = None
        for row in rows:
            revoked, problem = await self._revoke(platform, row)
            revoked_all = revoked_all and revoked
            note = note or problem
        async with self.sessions.begin() as session:
            await session.execute(delete(SocialAccount).where(SocialAccount.id.in_([r.id for r in rows])))
        names = [r.display_name or r.remote_account_id for r in rows]
        log.info("account unlinked", extra={"platform": platform.value, "accounts": [r.id for r in rows]})
        return UnlinkOutcome(platform=platform, names=names, revoked_at_provider=revoked_all, note=note)

    async def _revoke(self, platform: Platform, row: SocialAccount) -> tuple[bool, str | None]:
        try:
            provider = self.oauth.get(platform)
        except UserError:
            return (
                False,
                f"{platform.label} isn't configured here, so access was not revoked at {platform.label}.",
            )
        if not provider.has_revoke:
            return False, (
                f"{platform.label} has no way for apps to revoke access; remove postbot under "
                f"{platform.label}'s connected apps settings to withdraw it there too."
            )
        if row.access_token_enc is None or row.status == AccountStatus.REVOKED.value:
            return True, None
        try:
            return await provider.revoke(load_tokens(row, self.vault)), None
        except (OAuthError, VaultError) as exc:
            log.warning("revoke failed", extra={"platform": platform.value, "error": type(exc).__name__})
            return False, (
                f"{platform.label} did not confirm the revocation; "
                "remove postbot under its connected apps settings."
            )


def _renewable(account: SocialAccount) -> bool:
    from core.accounts.tokens import renewable

    return renewable(account)


def account_view(r: SocialAccount, *, default_here: bool = False) -> AccountView:
    """A social_accounts row as /accounts shows it (never token material)."""
    return AccountView(
        platform=Platform(r.platform),
        display_name=r.display_name,
        remote_account_id=r.remote_account_id,
        status=AccountStatus(r.status),
        token_expires_at=r.token_expires_at,
        refresh_expires_at=r.refresh_expires_at,
        last_error=r.last_error,
        linked_at=r.created_at,
        updated_at=r.updated_at,
        renewable=_renewable(r),
        row_id=r.id,
        default_here=default_here,
    )


def _team_label(team: Team) -> str:
    return f"{team.name} ({team.external_id})" if team.name else team.external_id
