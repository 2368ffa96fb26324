"""Errors whose message is written for the person in chat."""

from __future__ import annotations


class UserError(Exception):
    """Bad input. The message is shown to the user as it is, so it says what to change."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


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
    the author is told by direct message instead (and a failure always is)."""


class ConfigError(Exception):
    """A missing or invalid setting; the CLI prints it on one line."""
