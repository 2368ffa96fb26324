"""Errors whose message is written for the person in chat."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.domain import Platform


class UserError(Exception):
    """Bad input. The message is shown to the user as it is, so it says what to change."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class NotConfigured(UserError):
    """A platform whose OAuth app is not in the settings; ``platform`` lets a front end that is the
    operator's own (the console) say what to set in its own words."""

    def __init__(self, message: str, *, hint: str | None = None, platform: Platform | None = None) -> None:
        super().__init__(message, hint=hint)
        self.platform = platform


class TimeParseError(UserError):
    pass


class PlatformParseError(UserError):
    pass


class MediaError(UserError):
    pass


class ValidationFailed(UserError):
    """Every problem found, grouped per platform, so the user fixes all of them at once."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        lines = [f"{platform}: {p}" for platform, ps in problems.items() for p in ps]
        super().__init__("This post can't be queued:\n" + "\n".join(f"• {line}" for line in lines))
        self.problems = problems


class NotFound(UserError):
    pass


class PermissionDenied(UserError):
    pass


class LinkError(UserError):
    """An account link that cannot complete; ``title`` heads the page the browser shows."""

    title = "Linking failed"


class LinkStateInvalid(LinkError):
    title = "This link isn't valid"


class LinkStateExpired(LinkError):
    title = "This link has expired"


class LinkStateUsed(LinkError):
    title = "This link was already used"


class LinkDenied(LinkError):
    title = "Linking cancelled"


class LinkProviderFailed(LinkError):
    title = "Linking failed"


class LinkOpenedElsewhere(LinkError):
    """The link (or its callback) came from a browser other than the first one that opened it."""

    title = "This link belongs to another browser"


class ChannelUnreachable(Exception):
    """The chat refused a post's result for good: the bot was removed from the channel, lost the
    permission to see or write in it, or the channel is archived or gone. Retrying can't help, so
    the author is told by direct message instead (and a failure always is).

    ``what`` and ``fix`` say it in the chat's own words for the people who can mend it ("postbot is
    no longer a member of the channel", "Invite @postbot back"): only the adapter knows them. The
    message stays the chat's error code, for the logs."""

    def __init__(self, message: str, *, what: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.what = what or "the chat refused the channel"
        self.fix = fix


class ChatRateLimited(Exception):
    """The chat refused a call for its rate limit (Slack's 429 ``ratelimited``, Discord's 429) and
    said when to come back: the caller waits that long and sends again; nothing is lost."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limited for {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class ConfigError(Exception):
    """A missing or invalid setting; the CLI prints it on one line."""


DISK_FULL = "postbot's disk is full, so that was not saved."
DISK_FULL_HINT = "The operator has to free space on postbot's data disk; then try again."
# SQLite's result code for "database or disk is full" (https://sqlite.org/rescode.html#full).
_SQLITE_FULL = 13


class DiskFull(UserError):
    def __init__(self) -> None:
        super().__init__(DISK_FULL, hint=DISK_FULL_HINT)


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or EDQUOT from the OS, or SQLite's SQLITE_FULL, anywhere in ``exc``'s chain (a driver
    error wraps the database's, which may wrap the OS's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False
