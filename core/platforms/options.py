"""Per-post options a platform takes (privacy, made for kids, tags, ...): how each is typed, which
values it allows and what it stores. Each platform declares its own in its package
(core/platforms/<name>/options.py) and lists them in its ``PlatformSpec``; the command parser, the
chats' forms and the publishers all read them from there, so no code outside a platform's package
names one of its options.

What is stored with a post is a plain JSON object ``{key: value}`` holding only the options the author
set; a publisher reads ``job.options.get(key, default)``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.domain import OptionInfo
from core.errors import UserError


class Kind(enum.StrEnum):
    # One of a fixed list of words.
    CHOICE = "choice"
    # yes/no.
    FLAG = "flag"
    # A comma-separated list of words (YouTube tags).
    TAGS = "tags"
    # A whole number in a range (a cover frame's millisecond offset).
    NUMBER = "number"
    # Free text (a caption for one platform).
    TEXT = "text"
    # An image the author attaches (YouTube's thumbnail): the chat hands it over as a file.
    IMAGE = "image"


@dataclass(frozen=True)
class Choice:
    # The word people type and postbot stores ("unlisted", "friends").
    word: str
    # What a form shows ("Unlisted", "Friends (mutual followers)").
    label: str
    # Other words accepted for it ("connections" for LinkedIn's CONNECTIONS, "mutual", ...).
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Option:
    """One setting a post may carry on one platform."""

    # The key stored in the post's options and read by the publisher ("made_for_kids").
    key: str
    # The word after ``--`` ("kids" for ``--kids no``); ``--<platform>-<flag>`` always works too.
    flag: str
    # What forms show ("Made for kids").
    label: str
    kind: Kind
    # What the platform does when the option is not given (the publisher's default), shown in forms.
    default: Any
    # One line for help texts and forms.
    help: str
    # The documentation that defines the field and its values.
    docs: str
    choices: tuple[Choice, ...] = ()
    # NUMBER: inclusive bounds; TAGS: most characters (YouTube counts commas and quotes); TEXT: most.
    minimum: int | None = None
    maximum: int | None = None
    # A further rule on the parsed value (TAGS, TEXT): returns what is wrong, or None.
    check: Callable[[Any], str | None] | None = None
    # FLAG: the stored value is the opposite of what is typed (``--comments off`` stores
    # disable_comment=True), so the author speaks of the feature, the API of disabling it.
    negate: bool = False
    # NUMBER: milliseconds into the video (a cover frame), so it must fall within the video.
    within_video: bool = False
    # IMAGE: the image types accepted (``maximum`` is then its size in bytes).
    mimes: tuple[str, ...] = ()
    # The author must choose it: the platform forbids a default (TikTok's privacy level). A post
    # without it is refused before anything is queued or fetched.
    required: bool = False
    # A rule over all of the post's options on this platform, checked when this one is set
    # (TikTok: branded content cannot be private): returns what is wrong, or None.
    rule: Callable[[Mapping[str, Any]], str | None] | None = None

    def allowed(self) -> str:
        """The values this option takes, as a refusal lists them."""
        if self.kind is Kind.CHOICE:
            return ", ".join(c.word for c in self.choices)
        if self.kind is Kind.FLAG:
            return "yes or no"
        if self.kind is Kind.NUMBER:
            return f"a whole number from {self.minimum} to {self.maximum}"
        if self.kind is Kind.TAGS:
            return "words separated by commas, e.g. launch,tutorial"
        if self.kind is Kind.IMAGE:
            kinds = " or ".join(m.split("/")[-1].upper() for m in self.mimes)
            return f"an attached {kinds} image of at most {(self.maximum or 0) / 1e6:g} MB"
        return "text"

    def parse(self, raw: str, *, label: str) -> Any:
        """The stored value for what the author typed, or a UserError listing what is allowed."""
        value = raw.strip()
        where = f"{label} {self.label.lower()}"
        if self.kind is Kind.CHOICE:
            word = value.lower()
            for choice in self.choices:
                if word == choice.word or word in choice.aliases:
                    return choice.word
            raise UserError(f"'{value[:40]}' is not a {where}.", hint=f"Use one of: {self.allowed()}.")
        if self.kind is Kind.FLAG:
            word = value.lower()
            if word in _YES:
                return not self.negate
            if word in _NO:
                return self.negate
            raise UserError(f"'{value[:40]}' is not yes or no ({where}).", hint="Use yes or no.")
        if self.kind is Kind.NUMBER:
            if not re.fullmatch(r"[0-9]{1,12}", value):
                raise UserError(f"'{value[:40]}' is not a whole number ({where}).", hint=self._range())
            number = int(value)
            if (self.minimum is not None and number < self.minimum) or (
                self.maximum is not None and number > self.maximum
            ):
                raise UserError(f"{number} is out of range for the {where}.", hint=self._range())
            return number
        if self.kind is Kind.TAGS:
            tags = list(dict.fromkeys(t.strip().lstrip("#") for t in value.split(",") if t.strip()))
            if not tags:
                raise UserError(f"No {where} given.", hint=f"Use {self.allowed()}.")
            problem = self.check(tags) if self.check else None
            if problem:
                raise UserError(f"The {where}: {problem}", hint=f"Use {self.allowed()}.")
            return tags
        if self.kind is Kind.TEXT:
            if self.maximum is not None and len(value) > self.maximum:
                raise UserError(
                    f"The {where} is {len(value)} characters; it takes {self.maximum}.",
                )
            problem = self.check(value) if self.check else None
            if problem:
                raise UserError(f"The {where}: {problem}")
            return value
        raise UserError(f"The {where} is a file: attach the image instead of typing it.")

    def _range(self) -> str:
        return f"Use {self.allowed()}."

    def show(self, value: Any) -> str:
        """A stored value as replies and /queue show it."""
        if self.kind is Kind.FLAG:
            return "yes" if bool(value) != self.negate else "no"
        if self.kind is Kind.TAGS:
            return ",".join(str(v) for v in value)
        if self.kind is Kind.TEXT:
            text = str(value)
            return f"“{text if len(text) <= 30 else text[:27] + '...'}”"
        if self.kind is Kind.IMAGE:
            return "attached"
        return str(value)


_YES = frozenset({"yes", "y", "true", "on", "1"})
_NO = frozenset({"no", "n", "false", "off", "0"})


# The caption for one platform when it differs from the command's: every platform takes it. It
# replaces the post's caption (and YouTube's title, its first line) instead of being stored as an option.
CAPTION = Option(
    key="caption",
    flag="caption",
    label="Caption",
    kind=Kind.TEXT,
    default=None,
    help='a caption for this platform only (quote it: --<platform>-caption "...")',
    docs="docs/platforms.md#options",
)


# A post's options on one platform, as stored: {key: value}.
Values = dict[str, Any]


def info(option: Option) -> OptionInfo:
    """``option`` as the plain data a chat form is built from."""
    if option.kind is Kind.FLAG:
        choices: tuple[tuple[str, str], ...] = (("yes", "Yes"), ("no", "No"))
    else:
        choices = tuple((c.word, c.label) for c in option.choices)
    default = None if option.default is None else option.show(option.default)
    return OptionInfo(
        flag=option.flag,
        label=option.label,
        kind=option.kind.value,
        choices=choices,
        default=default,
        help=option.help,
    )


def sniff_image(head: bytes) -> str | None:
    """An image's type from its first bytes (a file name or a chat's mimetype can lie)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None
