"""What every capability of the facade stands on: ``ServiceBase`` holds the settings, the database
sessions, the media store, the clock and the hooks ``bot/wiring.py`` sets (waker, preflight,
breakers), with the reads and checks several capabilities share (the caller's zone, who may do
what, a platform named in a command).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.domain import (
    ApprovalRule,
    ChatContext,
    Platform,
    PlatformInfo,
    PostStatus,
    PostView,
    did_you_mean,
    platform_from_alias,
)
from core.errors import PermissionDenied, UserError
from core.media import links
from core.media.conversions import Converter
from core.media.storage import url_signer
from core.media.storage.post_links import PostMediaLinks
from core.media.store import MediaStore
from core.platforms import registry
from core.render import example_platform
from core.store import approvals, posts, teams

if TYPE_CHECKING:
    from core.accounts.linking import AccountLinker


def utcnow() -> datetime:
    return datetime.now(UTC)


Waker = Callable[[datetime], None]


# (platform, linked account id, the post's options there, the video's duration) → what the platform
# refuses before queueing.
Preflight = Callable[[Platform, int, Mapping[str, Any], float | None], Awaitable[list[str]]]


def platform_infos() -> tuple[PlatformInfo, ...]:
    """Every platform postbot knows, in display order (help texts, pickers, web pages)."""
    return registry.infos()


class ServiceBase:
    """The state every capability mixin reads; ``Postbot`` composes the mixins over it."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        media: MediaStore | None = None,
        linker: AccountLinker | None = None,
        wake: Waker | None = None,
        clock: Callable[[], datetime] = utcnow,
        converter: Converter | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        # None: files are taken or refused as they are (no conversion), whatever the settings say.
        self.converter = converter
        self.media = media if media is not None else MediaStore(settings.media_dir)
        # Videos shared as links (too big to attach), fetched under core/media/links.py's rules.
        self.links = links.LinkFetcher(settings.links)
        # None until a vault secret is configured: the bot still schedules, and says why it can't link.
        self.linker = linker
        self._wake = wake
        self.clock = clock
        # Told when a post may have stopped awaiting approval in this process, so its request
        # messages are redrawn at once (core/service/approval.py RequestCloser); others poll.
        self._request_listeners: list[Callable[[], None]] = []
        self._breaker_states: Callable[[], Awaitable[dict[Platform, str]]] | None = None
        # Asks a platform what it refuses before a post is queued (TikTok's creator_info); None: no
        # such checks (set by bot/wiring.py when accounts can be linked).
        self._preflight: Preflight | None = None
        # Signs and checks postbot's own /media/ links (None without a vault secret).
        self._signer = url_signer(settings)
        # The same links bound to one post, dead once it is over (Instagram's video_url).
        self.post_links = (
            PostMediaLinks(self._signer, self.media.storage, self._post_unfinished)
            if self._signer is not None
            else None
        )

    def set_waker(self, wake: Waker | None) -> None:
        """The scheduler in this process wants to hear of new due times (others find them by polling)."""
        self._wake = wake

    def listen_for_decisions(self, listener: Callable[[], None]) -> None:
        """``listener`` is called after each approval, rejection or cancel in this process."""
        self._request_listeners.append(listener)

    def _decided(self) -> None:
        for listener in self._request_listeners:
            listener()

    def set_preflight(self, preflight: Preflight | None) -> None:
        """A platform's own checks of a post before it is queued, by the account it goes out as."""
        self._preflight = preflight

    def set_breaker_states(self, states: Callable[[], Awaitable[dict[Platform, str]]] | None) -> None:
        """The fleet's circuit breakers as the database holds them, for /status (None: not shown)."""
        self._breaker_states = states

    def platforms(self) -> tuple[PlatformInfo, ...]:
        return platform_infos()

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.settings.max_schedule_horizon_days)

    async def timezone_for(self, ctx: ChatContext) -> str:
        """The zone ``ctx``'s times are read in. Only reads: nothing is stored for a look-up."""
        if ctx.user_tz:
            return ctx.user_tz
        async with self.sessions() as session:
            user_tz, team_tz = await teams.stored_zones(session, ctx)
        return user_tz or team_tz or self.settings.default_timezone

    @staticmethod
    def _check_admin(ctx: ChatContext, what: str) -> None:
        if not ctx.is_admin:
            raise PermissionDenied(f"Only an admin can {what}.")

    @staticmethod
    def _check_owner(ctx: ChatContext, author_id: str, post_id: int, verb: str) -> None:
        if ctx.user_id != author_id and not ctx.is_admin:
            raise PermissionDenied(f"Only the author of #{post_id} or an admin can {verb} it.")

    @staticmethod
    def _platform_word(text: str) -> Platform | None:
        word = text.strip()
        if not word or word.lower() in ("all", "everything"):
            return None
        platform = platform_from_alias(word)
        if platform is None:
            raise UserError(
                f"I don't know the platform {word!r}.{did_you_mean(word)}",
                hint=f"e.g. /pause {example_platform(registry.infos())}, or /pause for all of them",
            )
        return platform

    async def _approval_needed(
        self, session: AsyncSession, team_id: int, ctx: ChatContext
    ) -> ApprovalRule | None:
        """The rule a post queued by ``ctx`` waits under (core/service/approval.py); None when it
        needs no approval (approval is off in the channel, or the author approves there)."""
        rule = await approvals.rule(session, team_id, ctx.channel_id)
        if rule is None or rule.admits(ctx.user_id, ctx.groups, is_admin=ctx.is_admin):
            return None
        return rule

    async def _changed(self, session: AsyncSession, ctx: ChatContext, team_id: int, post: PostView) -> bool:
        """After ``ctx`` changed ``post``: an approved post changed by someone who does not approve
        in its channel waits for approval again. True when it does."""
        if post.status is not PostStatus.QUEUED or post.approved_by is None:
            return False
        rule = await approvals.rule(session, team_id, post.channel_id)
        if rule is None or rule.admits(ctx.user_id, ctx.groups, is_admin=ctx.is_admin):
            return False
        return await approvals.unapprove(session, post.id)

    async def _post_unfinished(self, post_id: int) -> bool:
        async with self.sessions() as session:
            return await posts.is_unfinished(session, post_id)
