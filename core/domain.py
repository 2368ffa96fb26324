"""Plain domain types shared by the core and the adapters."""

from __future__ import annotations

import enum
import mimetypes
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from core.errors import NotFound
from core.platforms.registry import NAMES

# Post ids are SQL integers: nothing above a signed 64-bit value can name a post (SQLite's INTEGER
# overflows on it), so such an id is read as "no such post" before it reaches the database.
MAX_POST_ID = 2**63 - 1


def no_such_post(post_id: int | str) -> NotFound:
    return NotFound(f"There is no post #{post_id} in this workspace.", hint="See /queue for the ids.")


class _PlatformType(enum.EnumType):
    # The members are made from the registry's names (below), so the type checker cannot list them:
    # this tells it that ``Platform.<NAME>`` is a Platform. A misspelt name still fails, at import
    # (every use is in a platform's own package, run by tests/test_platform_registry.py), not in
    # mypy; a ``.pyi`` or a member list here would check the names but name every platform again.
    if TYPE_CHECKING:

        def __getattr__(cls, name: str) -> Platform: ...


class Platform(enum.StrEnum, metaclass=_PlatformType):
    """A platform of core/platforms/registry.py: ``Platform.YOUTUBE == Platform("youtube")``, in the
    registry's order. Its value is the name users type and its config section."""

    # Members from a loop, as the enum docs' ``_ignore_`` example makes them
    # (https://docs.python.org/3/library/enum.html#enum.Enum._ignore_).
    _ignore_ = ["_members", "_name"]
    _members = vars()
    for _name in NAMES:
        _members[_name.upper()] = _name

    @property
    def label(self) -> str:
        # The name people know it by lives with the rest of the platform (core/platforms/<name>/).
        from core.platforms.registry import spec

        return spec(self).label


def platform_from_alias(word: str) -> Platform | None:
    """The platform a user means by ``word`` ("yt", "Twitter", ...), or None."""
    from core.platforms.registry import by_alias

    return by_alias(word)


def did_you_mean(word: str) -> str:
    """ " Did you mean youtube?" for a near miss ("youtbe", "instagarm"), or "" when nothing is close."""
    import difflib

    from core.platforms.registry import ALIASES

    close = difflib.get_close_matches(word.strip().lower(), list(ALIASES), n=1, cutoff=0.75)
    return f" Did you mean {ALIASES[close[0]].value}?" if close else ""


@dataclass(frozen=True)
class OptionInfo:
    """An option a platform's posts take, as a chat form shows it (core/platforms/options.py)."""

    # The word after ``--`` ("kids"); a form sends it back as ``<platform>-<flag>``.
    flag: str
    label: str
    # "choice", "flag" (yes/no), "tags", "number", "text" or "image".
    kind: str
    # (word, label) per allowed value; a flag's are ("yes", "Yes"), ("no", "No").
    choices: tuple[tuple[str, str], ...]
    # The platform's default, as typed ("public", "yes"); None: none (the platform's own setting).
    default: str | None
    help: str


@dataclass(frozen=True)
class PlatformInfo:
    """What a chat adapter or a web page shows about a platform (from core/platforms/registry.py)."""

    platform: Platform
    name: str
    label: str
    # Every word that names it, its name first.
    aliases: tuple[str, ...]
    # An admin links an account for it (OAuth); False for the sandbox.
    linkable: bool
    # Posts need a linked account.
    requires_account: bool
    # What a post may set beyond its caption, in form order.
    options: tuple[OptionInfo, ...] = ()
    # The flag of the option ``<platform>:<value>`` sets ("privacy"); None: none.
    short_option: str | None = None

    def option(self, flag: str) -> OptionInfo | None:
        return next((o for o in self.options if o.flag == flag), None)

    @property
    def short(self) -> str:
        """``youtube (yt)``: the name and its best-known other name, for help texts."""
        return f"{self.name} ({self.aliases[1]})" if len(self.aliases) > 1 else self.name


class PostStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Queued in a channel with approval on by someone who is not an approver: the scheduler never
    # claims it (only QUEUED is claimed) until an approver turns it back into QUEUED.
    AWAITING = "awaiting"
    # An approver said no (the reason is the post's review_note); never published.
    REJECTED = "rejected"


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ERROR = "error"


class ChatKind(enum.StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    CONSOLE = "console"


@dataclass(frozen=True)
class ChatContext:
    """Who sent a command and where; built by an adapter, never interpreted by one."""

    chat: ChatKind
    team_id: str
    user_id: str
    channel_id: str | None = None
    thread_id: str | None = None
    team_name: str | None = None
    user_name: str | None = None
    # IANA zone of the user as the chat platform reports it (Slack users.info tz); None → team zone.
    user_tz: str | None = None
    is_admin: bool = False
    # A stable id of the chat request (Slack trigger/event id, Discord interaction id) so that a
    # redelivered command maps onto the posts it already created instead of queueing twice.
    request_id: str | None = None
    # Ids an earlier request that this one repeats may have carried: a command run again by hand
    # because its answer never came (Discord's, when a long download outlived the interaction
    # token). Posts queued under any of them answer this request as a duplicate.
    repeats: tuple[str, ...] = ()
    # The user groups (Slack) or roles (Discord) the user belongs to, where an approval rule may name
    # them as approvers; None when the adapter did not look them up.
    groups: frozenset[str] | None = None
    # Other channels the chat says this user is in (Slack users.conversations, Discord's channel
    # permissions); only listings read it, through ``visible_channels``.
    channels: frozenset[str] = frozenset()

    @property
    def visible_channels(self) -> frozenset[str]:
        """Whose posts a listing may show this user (the queue, the Home tab, autocomplete): those
        queued from the channel they ask in, or from one the chat says they are in; their own posts
        are always theirs to see (core/store/posts.seen_by). Never a channel they are not in: a
        caption or an error from a private channel is that channel's."""
        return self.channels | ({self.channel_id} if self.channel_id else frozenset())


@dataclass(frozen=True)
class MediaInfo:
    """What postbot knows about a stored media file.

    ``path`` is a copy on this machine (the chat side's, for validation); ``key`` names the video in
    the media storage, which is what a worker publishes from. Without a key, ``path`` is the video.
    """

    path: str
    sha256: str
    size_bytes: int
    mime: str
    original_name: str | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    key: str | None = None

    @property
    def storage_key(self) -> str:
        return self.key or self.path


_VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp"}


def looks_like_video(mimetype: str | None, name: str | None) -> bool:
    if mimetype and mimetype.startswith("video/"):
        return True
    guessed = mimetypes.guess_type(name or "")[0] or ""
    return guessed.startswith("video/") or any((name or "").lower().endswith(e) for e in _VIDEO_EXTENSIONS)


@dataclass(frozen=True)
class SharedFile:
    """A video someone shared in chat, remembered so a later command that carries no file finds it."""

    file_id: str
    channel_id: str
    user_id: str
    name: str | None
    mimetype: str | None
    size_bytes: int | None
    download_url: str | None
    # The message to reply under: the upload's thread root, so answers land next to the video.
    message_ts: str | None
    shared_at: datetime
    # A remote file (its bytes live outside the chat's own storage): never fetched with the bot's token.
    # Not stored: a remembered URL is checked against the chat's file hosts when it is fetched.
    external: bool = False


@dataclass(frozen=True)
class AttachedImage:
    """An image the author attached beside the video (a YouTube thumbnail), read whole: the only
    platform that takes one caps it at 2 MB, and a chat refuses a bigger one before fetching it."""

    name: str | None
    data: bytes


@dataclass(frozen=True)
class PostingAccount:
    """The linked account a claimed post goes out as: enough to get its tokens, nothing more."""

    id: int
    platform: Platform
    remote_account_id: str


@dataclass(frozen=True)
class AccountView:
    """A linked platform account as /accounts shows it."""

    platform: Platform
    display_name: str | None
    remote_account_id: str
    status: AccountStatus
    token_expires_at: datetime | None
    refresh_expires_at: datetime | None
    last_error: str | None
    linked_at: datetime
    updated_at: datetime
    # False when only a new link renews access (LinkedIn without a refresh token).
    renewable: bool = True
    # The account row's id (to match it with the channel's defaults).
    row_id: int = 0
    # Posts from the asking channel go to this one when the command names no account.
    default_here: bool = False

    @property
    def handle(self) -> str:
        """What ``platform@handle`` calls it."""
        return (self.display_name or self.remote_account_id).lstrip("@")


@dataclass(frozen=True)
class LinkPreview:
    """What the link's confirmation page shows before the browser goes to the provider."""

    platform: Platform
    team: str
    chat: str
    requested_by: str
    # A fresh signed cookie value for the first browser to open the link; None when it has it already.
    cookie: str | None


@dataclass(frozen=True)
class UnlinkOutcome:
    platform: Platform
    names: list[str]
    # True when the provider confirmed the revocation; False when it has no revoke endpoint or failed.
    revoked_at_provider: bool
    note: str | None = None


@dataclass(frozen=True)
class Slot:
    """A suggested time to post on one platform."""

    at: datetime  # aware, UTC
    score: float  # 0..~2: 1.0 is a documented peak for the whole audience
    reason: str  # one line for the chat reply, saying why (chats show the time themselves)


@dataclass(frozen=True)
class PostView:
    """A scheduled post as the chat sides show it."""

    id: int
    chat: ChatKind
    team_id: str
    platform: Platform
    status: PostStatus
    run_at: datetime
    caption: str
    title: str | None
    author_id: str
    channel_id: str | None
    thread_id: str | None
    attempts: int
    last_error: str | None
    remote_id: str | None
    remote_url: str | None
    media_name: str | None
    batch_id: str
    published_at: datetime | None = None
    tz: str = "UTC"
    extra: dict[str, str] = field(default_factory=dict)
    # Queued, but its team has paused this platform (/pause): it waits for /resume.
    paused: bool = False
    # What the author set beyond the caption (privacy, tags, ...): {key: value}, only those given.
    options: dict[str, Any] = field(default_factory=dict)
    # The account it goes out as, when the platform has more than one linked ("@brand").
    account: str | None = None
    # The video's length in seconds (None: not probed).
    media_duration_s: float | None = None
    # Who approved it (the chat's user id) and when; None: not approved (or no approval needed).
    approved_by: str | None = None
    approved_at: datetime | None = None
    # Who rejected it and why (REJECTED posts only).
    rejected_by: str | None = None
    review_note: str | None = None
    # The post's revision (bumped by each change an approver must see again).
    revision: int = 0


@dataclass(frozen=True)
class MessageRef:
    """One chat message the bot sent: Slack channel + ts, Discord channel id + message id."""

    channel_id: str
    message_id: str


@dataclass(frozen=True)
class RequestCopy:
    """An approval request message postbot sent (in a thread, or one approver's DM copy) whose posts
    no longer await approval: ``posts`` as they are now, for the chat to redraw it as decided."""

    chat: ChatKind
    team_id: str
    message: MessageRef
    posts: tuple[PostView, ...]


@dataclass(frozen=True)
class PauseView:
    """What /pause and /resume changed, and what is held now."""

    # The platforms the command named (None: all of them).
    named: Platform | None
    # False when nothing changed (already paused / not paused).
    changed: bool
    # The team's pauses after the command: None means everything is paused.
    paused: frozenset[Platform] | None
    # /pause: queued posts due by now that the pause holds back; /resume: those it lets go.
    held_due: int


@dataclass(frozen=True)
class PlatformStatus:
    """One platform's line of /status, for the asking team."""

    platform: Platform
    queued: int
    running: int
    paused: bool
    next_due: datetime | None
    published_24h: int
    failed_24h: int
    # "closed", "open" or "half-open" in this process's worker; None when it runs no worker.
    breaker: str | None = None
    # Posts waiting for an approver (/postbot approval).
    awaiting: int = 0

    @property
    def success_rate_24h(self) -> float | None:
        done = self.published_24h + self.failed_24h
        return self.published_24h / done if done else None


@dataclass(frozen=True)
class WorkerView:
    """A scheduler process that recorded a heartbeat lately (any machine of the deployment)."""

    worker_id: str
    seen_s_ago: float
    in_flight: int


@dataclass(frozen=True)
class QuotaView:
    """A platform allowance that the whole deployment shares, as spent today."""

    platform: Platform
    used: int
    limit: int
    unit: str
    # When the day turns over for the platform ("midnight Pacific").
    resets: str


@dataclass(frozen=True)
class StatusView:
    """/status: per platform, and the team's most recent failures."""

    platforms: list[PlatformStatus]
    # The team's latest failures, newest first within each platform, at most a few per platform.
    last_errors: list[PostView]
    tz: str
    # The team's pauses: None means every platform is paused.
    paused: set[Platform] | None = field(default_factory=set)
    # Schedulers seen within ``workers_within_s`` (an empty list: none; nothing is publishing).
    workers: list[WorkerView] = field(default_factory=list)
    workers_within_s: float = 60.0
    quotas: list[QuotaView] = field(default_factory=list)


@dataclass(frozen=True)
class HomeDay:
    """One day of the week ahead, in the viewer's zone."""

    day: date
    posts: list[PostView]


@dataclass(frozen=True)
class HomeView:
    """What a chat's home page shows one member (Slack's Home tab): the team's week ahead day by
    day, its linked accounts and their health, and the latest results."""

    tz: str
    week: list[HomeDay]
    # None when account linking is not set up on this bot.
    accounts: list[AccountView] | None
    recent: list[PostView]
    # The team's pauses: None means every platform is paused.
    paused: set[Platform] | None = field(default_factory=set)
    # The last 7 days' results against the 7 before, of the posts the member may see.
    results: ResultsReport | None = None
    # The posting schedules of the member's channels: each platform's next free slot.
    schedule: list[PlatformSlots] = field(default_factory=list)


@dataclass(frozen=True)
class PostNumbers:
    """One published post's latest reading (core/scheduler/results.py)."""

    post_id: int
    platform: Platform
    url: str | None
    published_at: datetime
    views: int | None
    likes: int | None
    comments: int | None


@dataclass(frozen=True)
class PlatformResults:
    """One platform's line of /results: the period's totals beside the period before."""

    platform: Platform
    posts: int
    views: int
    likes: int
    comments: int
    previous_posts: int
    previous_views: int
    previous_likes: int
    previous_comments: int
    # Best first, by views.
    best: list[PostNumbers]
    # Posts whose numbers could not be had (the API offers none, a scope is missing, not read yet).
    without_numbers: int = 0


@dataclass(frozen=True)
class ResultsReport:
    days: int
    until: datetime
    tz: str
    platforms: list[PlatformResults]
    # The period's posts with their latest readings (what the chart draws).
    posts: list[PostNumbers] = field(default_factory=list)


class ApprovalDelivery(enum.StrEnum):
    """Where approvers are asked: under the scheduling answer, or each by direct message."""

    THREAD = "thread"
    DM = "dm"


@dataclass(frozen=True)
class Approver:
    """One entry of a channel's approvers: a user, or everyone in a group (a Slack user group, a
    Discord role). Ids are the chat's own (``U123``, ``S123``, a snowflake)."""

    kind: str  # "user" or "group"
    id: str

    def mention(self, chat: ChatKind) -> str:
        if chat is ChatKind.SLACK:
            return f"<@{self.id}>" if self.kind == "user" else f"<!subteam^{self.id}>"
        if chat is ChatKind.DISCORD:
            return f"<@{self.id}>" if self.kind == "user" else f"<@&{self.id}>"
        return self.id if self.kind == "user" else f"@{self.id}"


@dataclass(frozen=True)
class ApprovalRule:
    """A channel's approval setting (/postbot approval on|off). No approvers named: the admins."""

    channel_id: str
    approvers: tuple[Approver, ...]
    delivery: ApprovalDelivery
    set_by: str
    set_at: datetime

    def admits(self, user_id: str, groups: frozenset[str] | None, *, is_admin: bool) -> bool:
        """Whether this user approves here: named, in a named group, or an admin when none is named."""
        if not self.approvers:
            return is_admin
        for a in self.approvers:
            if a.kind == "user" and a.id == user_id:
                return True
            if a.kind == "group" and groups is not None and a.id in groups:
                return True
        return False


@dataclass(frozen=True)
class ApprovalRequest:
    """What a chat shows approvers for posts queued awaiting approval (one command's posts)."""

    posts: list[PostView]
    rule: ApprovalRule


@dataclass(frozen=True)
class ReviewOutcome:
    """What an approve, reject or time change did.

    ``done``: posts this action changed. ``already``: posts someone else had decided (or that are not
    awaiting any more). ``overdue``: awaiting posts whose time passed; the approver picks publish now
    or a new time (nothing was changed for them). ``stale``: awaiting posts changed since the request
    the approver acted on (nothing was changed for them)."""

    done: list[PostView]
    already: list[PostView] = field(default_factory=list)
    overdue: list[PostView] = field(default_factory=list)
    stale: list[PostView] = field(default_factory=list)


@dataclass(frozen=True)
class PlatformSlots:
    """One platform's part of a channel's posting schedule (core/schedule)."""

    platform: Platform
    # (weekday, minute of the local day), Monday 0, in week order.
    weekly: tuple[tuple[int, int], ...]
    # The next instants no post waits at (UTC), soonest first.
    next_free: tuple[datetime, ...] = ()
    # The channel whose schedule it is, where a view spans several (the Home tab).
    channel: str | None = None


@dataclass(frozen=True)
class ScheduleView:
    """`/postbot slots`: a channel's weekly slots per platform in the team's zone, and what changed."""

    tz: str
    platforms: list[PlatformSlots]
    # What the command did ("Added 3 YouTube slots."), None when it only showed the schedule.
    changed: str | None = None


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class DigestView:
    """A channel's weekly results digest: the day (0 Monday) and minute of the day, in ``tz``."""

    channel_id: str
    weekday: int
    minute: int
    tz: str
    # The last week whose digest failed for good (its slot) and why; None once one goes out again.
    failed_at: datetime | None = None
    failure: str | None = None

    @property
    def when(self) -> str:
        """ "Mondays at 09:00" """
        return f"{WEEKDAYS[self.weekday]}s at {self.minute // 60:02d}:{self.minute % 60:02d}"


@dataclass(frozen=True)
class DigestOutcome:
    """What /digest left set for the channel (None: off), and whether this command changed it."""

    view: DigestView | None
    changed: bool
