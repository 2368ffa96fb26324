"""Accounts: ``/link`` and the OAuth round trip it starts, ``/unlink``, ``/accounts`` and a
channel's default account per platform.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.domain import (
    AccountStatus,
    AccountView,
    ChatContext,
    LinkPreview,
    Platform,
    UnlinkOutcome,
    platform_from_alias,
)
from core.errors import UserError
from core.platforms import registry
from core.render import account_example
from core.service.base import ServiceBase, platform_infos
from core.store import accounts, teams

if TYPE_CHECKING:
    from core.accounts.linking import AccountLinker, LinkOutcome


NO_LINKING = UserError(
    "Account linking is not set up on this bot.",
    hint="The operator has to set POSTBOT_SECRET_KEY and the platforms' OAuth apps.",
)


class Accounts(ServiceBase):
    @property
    def can_link(self) -> bool:
        return self.linker is not None

    def _linker(self) -> AccountLinker:
        if self.linker is None:
            raise NO_LINKING
        return self.linker

    async def link(self, ctx: ChatContext, platform_word: str, *, loopback: bool = False) -> str:
        """`/link <platform>`: DM the admin a single-use link; returns the in-channel acknowledgement.
        ``loopback``: the OAuth callback comes back to this machine (the console's own web server)."""
        return await self._linker().request_link(ctx, platform_word, loopback=loopback)

    async def unlink(self, ctx: ChatContext, platform: Platform, handle: str | None = None) -> UnlinkOutcome:
        """`/unlink youtube` (every YouTube account) or `/unlink youtube@brand` (that one)."""
        return await self._linker().unlink(ctx, platform, handle.lstrip("@") if handle else None)

    async def accounts(self, ctx: ChatContext) -> list[AccountView]:
        """`/accounts`: every linked account, the one each platform's posts from this channel go to
        (when none is named) marked."""
        views = await self._linker().list_accounts(ctx)
        async with self.sessions() as session:
            team_id = await teams.find(session, ctx)
            usual = await accounts.usual_accounts(session, team_id, ctx.channel_id) if team_id else set()
        return [replace(v, default_here=v.row_id in usual) for v in views]

    async def set_default_account(self, ctx: ChatContext, text: str) -> AccountView:
        """`/postbot default youtube@brand` (admins): the account this channel's YouTube posts go to
        when a command names none."""
        self._check_admin(ctx, "choose the channel's default account")
        platform, handle = _platform_and_handle(text)
        if ctx.channel_id is None:
            raise UserError("A default account is set in a channel.", hint="Run it in the channel it is for.")
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            row = await accounts.set_default(
                session, member.team_id, ctx.channel_id, platform, handle, by=ctx.user_id, at=self.clock()
            )
            from core.accounts.linking import account_view

            return account_view(row, default_here=True)

    async def linked_platforms(self, ctx: ChatContext) -> set[Platform] | None:
        """Platforms ready to post to (the sandbox always is); None when linking is not set up here."""
        if self.linker is None:
            return None
        accounts = await self.linker.list_accounts(ctx)
        # A platform that needs no account (the sandbox) is always ready.
        ready = {i.platform for i in platform_infos() if not i.requires_account}
        return {a.platform for a in accounts if a.status is AccountStatus.ACTIVE} | ready

    async def open_link(self, platform: Platform, state: str, cookie: str | None) -> LinkPreview:
        """A /link URL opened in a browser: which team and chat it links to; binds the browser."""
        return await self._linker().open_link(platform, state, cookie)

    async def authorize_url(self, platform: Platform, state: str, cookie: str | None) -> str:
        """Where the confirmed link goes: the platform's consent page (the binding browser only)."""
        return await self._linker().authorize_url(platform, state, cookie)

    async def complete_link(
        self,
        platform: Platform,
        state: str | None,
        *,
        cookie: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None,
        issuer: str | None = None,
    ) -> LinkOutcome:
        """The OAuth callback: store the account's tokens (or raise a LinkError saying why not).
        ``issuer``: the callback's ``iss`` (RFC 9207), checked by providers that send one."""
        return await self._linker().complete_link(
            platform,
            state,
            cookie=cookie,
            code=code,
            error=error,
            error_description=error_description,
            issuer=issuer,
        )

    def client_metadata(self, platform: Platform) -> dict[str, Any] | None:
        """The OAuth client metadata document postbot publishes for ``platform`` (AT Protocol's
        client_id is its URL); None when the platform has none or linking is not set up."""
        return self.linker.client_metadata(platform) if self.linker is not None else None


_DEFAULT_HELP = f"e.g. /postbot default {account_example(registry.infos())} (the handles are in /accounts)"


def _platform_and_handle(text: str) -> tuple[Platform, str]:
    """``youtube@brand``, ``youtube @brand`` or ``yt brand``."""
    words = text.replace("@", " @", 1).split()
    platform = platform_from_alias(words[0]) if words else None
    if platform is None:
        raise UserError(
            f"Which platform? '{(words or [''])[0][:40]}' is not one."
            if words
            else "Which platform and account?",
            hint=_DEFAULT_HELP,
        )
    if len(words) != 2 or not words[1].lstrip("@"):
        raise UserError(f"Which {platform.label} account?", hint=_DEFAULT_HELP)
    return platform, words[1].lstrip("@")
