"""Reading a ``/schedule`` or ``/post`` command before anything is written: a chat form's fields,
the options (a typo is refused before the video is fetched), ``--no-convert``, the title and an
attached image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from core.domain import AttachedImage, Platform
from core.errors import UserError, ValidationFailed
from core.platforms import chosen, registry
from core.platforms.options import Kind, Option, sniff_image
from core.timeparse.command import Flags, ParsedCommand, take_flags


def option_help() -> str:
    """``--privacy (YouTube, TikTok), --kids (YouTube), …``: every option a command takes."""
    return chosen.flags_help()


def image_help() -> str:
    """``A YouTube thumbnail: a JPEG or PNG of at most 2 MB``: what an attached image is for, from the
    platforms whose options take one."""
    takers = [(s.label, o) for s in registry.SPECS for o in s.options if o.kind is Kind.IMAGE]
    if not takers:
        return "An image: none of the platforms takes one"
    option = takers[0][1]
    kinds = " or ".join(m.split("/")[-1].upper() for m in option.mimes)
    labels = " or ".join(dict.fromkeys(label for label, _ in takers))
    return f"A {labels} {option.label.lower()}: a {kinds} of at most {(option.maximum or 0) / 2**20:g} MB"


@dataclass(frozen=True)
class Form:
    """What a chat's form (the Slack modal, Discord's command options) gives beside the command's
    time and platforms: the caption as typed, never read for options, and option fields as
    (``<platform>-<name>``, value) pairs, checked exactly like ``--<platform>-<name> value``."""

    caption: str = ""
    options: tuple[tuple[str, str], ...] = ()
    # Options typed in one field as ``--name value`` pairs (Discord's ``options``).
    flags: str = ""


def _with_form(flags: Flags, form: Form | None) -> Flags:
    if form is None:
        return flags
    typed = take_flags(form.flags) if form.flags.strip() else Flags(text="")
    if typed.text:
        raise UserError(
            f"'{typed.text[:40]}' is not an option.",
            hint="The options field takes --name value pairs, e.g. --tags launch,demo --kids no.",
        )
    return Flags(text=flags.text, pairs=(*flags.pairs, *form.options, *typed.pairs))


def _with_caption(command: ParsedCommand, form: Form | None) -> ParsedCommand:
    if form is None or not form.caption:
        return command
    joined = f"{command.caption}\n{form.caption}" if command.caption else form.caption
    return replace(command, caption=joined.strip())


@dataclass(frozen=True)
class _Request:
    """A schedule or post-now command as read, before anything is written."""

    command: ParsedCommand
    picked: chosen.Chosen
    convert: bool
    thumbnail: AttachedImage | None


def _read_options(command: ParsedCommand, pairs: tuple[tuple[str, str], ...]) -> chosen.Chosen:
    """The command's options, read once; a mistyped one is refused before the video is fetched (a
    typo costs no download). What needs the video (a cover frame past its end) is checked with it."""
    found = chosen.resolve(command.platforms, command.picks, pairs)
    if found.problems:
        raise ValidationFailed(found.problems)
    return found


def _title(caption: str) -> str | None:
    """A post's title (YouTube's): its caption's first line, whole, so a platform's title limit is
    checked against what was written (YouTube's 100 characters are reported, not cut)."""
    return caption.strip().split("\n", 1)[0] or None


# scheduled_posts.title's width: a first line longer than this is only ever a title for platforms
# without one (YouTube refuses it before anything is stored).
_TITLE_COLUMN = 300


def _merge(*groups: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in groups:
        for platform, found in group.items():
            out.setdefault(platform, []).extend(found)
    return out


def _image_options(
    platforms: tuple[Platform, ...], image: AttachedImage | None, problems: dict[str, list[str]]
) -> list[tuple[Platform, Option, str]]:
    """The chosen platforms that take the attached image (YouTube's thumbnail) and its type; a
    wrong type or size is added to ``problems`` with what the platform takes."""
    if image is None:
        return []
    found = []
    for platform in platforms:
        option = next((o for o in registry.spec(platform).options if o.kind is Kind.IMAGE), None)
        if option is None:
            continue
        mime = sniff_image(image.data[:16])
        if mime not in option.mimes:
            problems.setdefault(platform.value, []).append(
                f"the {option.label.lower()} must be {option.allowed()}; "
                f"{image.name or 'the attached file'} is not a JPEG or PNG."
            )
        elif option.maximum is not None and len(image.data) > option.maximum:
            problems.setdefault(platform.value, []).append(
                f"the {option.label.lower()} is {len(image.data) / 1e6:.1f} MB; {platform.label} takes "
                f"{option.allowed()}."
            )
        else:
            found.append((platform, option, mime))
    if not found and not any(problems.get(p.value) for p in platforms):
        takers = [s.label for s in registry.SPECS if any(o.kind is Kind.IMAGE for o in s.options)]
        raise UserError(
            "None of this post's platforms takes an attached image.",
            hint=f"{' and '.join(takers)} takes one as a thumbnail.",
        )
    return found


_NO_CONVERT = re.compile(r"(?:^|\s)--no-convert(?=\s|$)")


def _take_no_convert(text: str) -> tuple[str, bool]:
    """Remove ``--no-convert`` from a command; False when it was there (refuse, don't convert)."""
    stripped, found = _NO_CONVERT.subn(" ", text)
    return (stripped.strip(), False) if found else (text, True)
