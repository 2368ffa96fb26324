"""A command's options read against the platforms it names: which platform each ``--name value``
and ``platform:value`` is for, and whether the value is one that platform takes.

Grammar problems (an option no chosen platform has) raise at once; a value a platform refuses is a
problem of that platform, reported with the media and caption problems so the author fixes
everything in one go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.domain import Platform
from core.errors import UserError
from core.platforms import registry
from core.platforms.options import CAPTION, Kind, Option, Values
from core.timeparse.command import Pick


@dataclass(frozen=True)
class Chosen:
    # Per platform, only what the author set (stored with the post, read by the publisher).
    options: dict[Platform, Values] = field(default_factory=dict)
    # A caption for one platform that differs from the command's.
    captions: dict[Platform, str] = field(default_factory=dict)
    # The account handle each platform's post should go out as ("brand" in youtube@brand).
    handles: dict[Platform, str] = field(default_factory=dict)
    # What each platform refuses, by platform name (merged into ValidationFailed).
    problems: dict[str, list[str]] = field(default_factory=dict)


def flag_names(platforms: Iterable[Platform]) -> list[str]:
    """``--privacy``, ``--kids``, …: the options ``platforms`` take, each once, in order."""
    names: dict[str, None] = {}
    for platform in platforms:
        for option in registry.spec(platform).options:
            if option.kind is not Kind.IMAGE:
                names.setdefault(f"--{option.flag}", None)
    return list(names)


def _qualified(name: str) -> tuple[Platform, str] | None:
    """``youtube-privacy`` → (YouTube, "privacy"); None when the name has no platform prefix."""
    head, sep, rest = name.partition("-")
    platform = registry.by_alias(head) if sep else None
    return (platform, rest) if platform is not None and rest else None


def _option_for(platform: Platform, flag: str) -> Option | None:
    return CAPTION if flag == CAPTION.flag else registry.spec(platform).option_by_flag(flag)


def _targets(name: str, platforms: Sequence[Platform]) -> list[tuple[Platform, Option]]:
    qualified = _qualified(name)
    if qualified is not None:
        platform, flag = qualified
        option = _option_for(platform, flag)
        if option is None:
            raise UserError(
                f"{platform.label} has no option --{flag}.",
                hint=_takes(platform),
            )
        if platform not in platforms:
            raise UserError(
                f"--{name} is for {platform.label}, and this post does not go to {platform.label}."
            )
        return [(platform, option)]
    if name == CAPTION.flag:
        raise UserError(
            "Say which platform that caption is for.",
            hint=f'e.g. --{platforms[0].value}-caption "…" (the caption after the platforms is for all).',
        )
    found = [(p, o) for p in platforms if (o := registry.spec(p).option_by_flag(name)) is not None]
    if found:
        return found
    elsewhere = [s.label for s in registry.SPECS if s.option_by_flag(name) is not None]
    if elsewhere:
        raise UserError(
            f"--{name} is a {' and '.join(elsewhere)} option; this post does not go there.",
        )
    listed = ", ".join(flag_names(platforms))
    raise UserError(
        f"There is no option --{name}.",
        hint=(
            f"Options for {', '.join(p.label for p in platforms)}: {listed}. "
            if listed
            else f"{' and '.join(p.label for p in platforms)} {'takes' if len(platforms) == 1 else 'take'} "
            "no options. "
        )
        + "Options go at the start or the end of the command as --name value.",
    )


def _takes(platform: Platform) -> str:
    flags = [
        f"--{platform.value}-{o.flag}" for o in registry.spec(platform).options if o.kind is not Kind.IMAGE
    ]
    return f"It takes {', '.join(flags)}." if flags else f"{platform.label} takes no options but its caption."


def resolve(
    platforms: Sequence[Platform],
    picks: Mapping[Platform, Pick],
    pairs: Sequence[tuple[str, str]],
) -> Chosen:
    """Read ``platform:value``, ``platform@handle`` and ``--name value`` for ``platforms``."""
    chosen = Chosen()

    def problem(platform: Platform, text: str) -> None:
        chosen.problems.setdefault(platform.value, []).append(text)

    tried: set[tuple[Platform, str]] = set()

    def put(platform: Platform, option: Option, raw: str) -> None:
        tried.add((platform, option.key))
        try:
            value = option.parse(raw, label=platform.label)
        except UserError as exc:
            problem(platform, str(exc))
            return
        if option is CAPTION:
            chosen.captions[platform] = value
            return
        chosen.options.setdefault(platform, {})[option.key] = value

    for platform, pick in picks.items():
        if pick.handle is not None:
            chosen.handles[platform] = pick.handle.lstrip("@")
        if pick.value is None:
            continue
        spec = registry.spec(platform)
        short = spec.option(spec.short_option) if spec.short_option else None
        if short is None:
            problem(platform, f"'{platform.value}:{pick.value}' means nothing: {_takes(platform)}")
            continue
        put(platform, short, pick.value)
    for name, raw in pairs:
        for platform, option in _targets(name, platforms):
            if option.kind is Kind.IMAGE:
                problem(platform, f"the {option.label.lower()} is {option.allowed()}, not typed text.")
                continue
            put(platform, option, raw)
    for platform in platforms:
        values = chosen.options.get(platform, {})
        for option in registry.spec(platform).options:
            if option.required and (platform, option.key) not in tried:
                problem(platform, _missing(platform, option))
            elif option.rule is not None and option.key in values and (wrong := option.rule(values)):
                problem(platform, wrong)
    return chosen


def _missing(platform: Platform, option: Option) -> str:
    spec = registry.spec(platform)
    short = f"{platform.value}:<{option.flag}> or " if spec.short_option == option.key else ""
    return (
        f"choose the {option.label.lower()} yourself ({platform.label} sets no default): "
        f"{short}--{platform.value}-{option.flag} <{option.flag}>, one of: {option.allowed()}."
    )


def frame_problems(chosen: Chosen, duration_s: float | None) -> dict[str, list[str]]:
    """Options that point into the video (a cover frame) and fall past its end."""
    found: dict[str, list[str]] = {}
    if duration_s is None:
        return found
    for platform, values in chosen.options.items():
        for option in registry.spec(platform).options:
            value = values.get(option.key)
            if option.within_video and value is not None and value > duration_s * 1000:
                found.setdefault(platform.value, []).append(
                    f"the {option.label.lower()} is at {value} ms, past the video's end "
                    f"({duration_s * 1000:.0f} ms)."
                )
    return found


def changed(platform: Platform, values: Mapping[str, Any]) -> list[tuple[Option, Any]]:
    """The options in ``values`` that differ from what the platform does by default, in form order."""
    spec = registry.spec(platform)
    return [(o, values[o.key]) for o in spec.options if o.key in values and values[o.key] != o.default]


def describe(platform: Platform, values: Mapping[str, Any]) -> str:
    """``privacy unlisted, kids no``: what a reply or /queue says about a post's options."""
    return ", ".join(f"{o.label.lower()} {o.show(v)}" for o, v in changed(platform, values))


def flags_help() -> str:
    """``--privacy (YouTube, TikTok, …)``: every option, with the platforms that take it."""
    by_flag: dict[str, list[str]] = {}
    for spec in registry.SPECS:
        for option in spec.options:
            if option.kind is not Kind.IMAGE:
                by_flag.setdefault(option.flag, []).append(spec.label)
    return ", ".join(f"--{flag} ({', '.join(labels)})" for flag, labels in by_flag.items())


def field_problems(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Per form field (``<platform>-<flag>``), what is wrong with its value: a form shows it under
    the field before anything else happens."""
    found: dict[str, str] = {}
    for name, raw in pairs:
        qualified = _qualified(name)
        option = _option_for(*qualified) if qualified else None
        if qualified is None or option is None:
            found[name] = f"There is no option {name}."
            continue
        try:
            option.parse(raw, label=qualified[0].label)
        except UserError as exc:
            found[name] = str(exc)
    return found
