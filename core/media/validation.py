"""Each platform's rules for a video post, checked before anything is queued.

Every problem is collected, for every chosen platform, and each one says what to change, so the user
fixes the file and caption once instead of learning the rules one rejection at a time. The limits are
the platforms' published ones for their posting APIs, kept as data in each platform's package
(core/platforms/<name>/media.py); this module only applies them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from core.domain import MediaInfo, Platform
from core.errors import ValidationFailed
from core.media.probe import MediaProbe, probe_file
from core.platforms.media import GB, KB, MB, Rules
from core.platforms.registry import media_rules

_CONTAINER_NAMES = {"mp4": "MP4", "mov": "MOV", "webm": "WebM", "mkv": "MKV"}
_CODEC_NAMES = {
    "h264": "H.264",
    "hevc": "HEVC (H.265)",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4 Part 2",
    "prores": "ProRes",
    "mjpeg": "Motion JPEG",
    "encrypted": "encrypted (DRM)",
}

_HASHTAG = re.compile(r"(?<![\w#])#\w+")
_MENTION = re.compile(r"(?<![\w@])@[\w.]+")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# twitter-text v3: these code point ranges weigh 1, everything else 2; a URL weighs 23.
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_URL_WEIGHT = 23


def x_weighted_length(text: str) -> int:
    """Length of a post as X counts it toward its 280 limit."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    last = 0
    for match in _URL.finditer(text):
        total += _x_plain_weight(text[last : match.start()]) + _X_URL_WEIGHT
        last = match.end()
    return total + _x_plain_weight(text[last:])


def _x_plain_weight(text: str) -> int:
    weight = 0
    for ch in text:
        cp = ord(ch)
        weight += 1 if any(lo <= cp <= hi for lo, hi in _X_LIGHT_RANGES) else 2
    return weight


def text_length(text: str, unit: str) -> int:
    if unit == "bytes":
        return len(text.encode("utf-8"))
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    if unit == "x":
        return x_weighted_length(text)
    return len(text)


def hashtags(text: str) -> list[str]:
    return _HASHTAG.findall(text)


def _mb(n: int) -> str:
    if n >= GB:
        return f"{n / GB:.1f} GB"
    if n >= MB:
        return f"{n / MB:.0f} MB" if n >= 10 * MB else f"{n / MB:.1f} MB"
    return f"{max(1, round(n / KB))} KB"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _ratio(value: float) -> str:
    if value >= 1:
        return f"{value:.3g}:1"
    return f"1:{1 / value:.3g}"


def _names(values: Iterable[str], names: dict[str, str]) -> str:
    ordered = sorted(names.get(v, v) for v in values)
    return ordered[0] if len(ordered) == 1 else ", ".join(ordered[:-1]) + " or " + ordered[-1]


def media_problems(rules: Rules, label: str, media: MediaProbe) -> list[str]:
    """What is wrong with the file for one platform, each with what to change."""
    problems: list[str] = []
    if media.container is None:
        accepted = _names(rules.containers, _CONTAINER_NAMES)
        return [f"the file is a {media.kind}, not a video {label} accepts: send an {accepted} video."]
    if media.problem:
        problems.append(f"{media.problem}; re-export or re-send the video.")
    if media.container not in rules.containers:
        accepted = _names(rules.containers, _CONTAINER_NAMES)
        problems.append(f"{label} does not take {media.kind}s: export it as {accepted} (H.264).")
    codec = media.video_codec
    if codec is None and media.problem is None:
        problems.append("the file has no video track: send a video, not an audio file.")
    elif codec is not None and rules.video_codecs and codec not in rules.video_codecs:
        accepted = _names(rules.video_codecs, _CODEC_NAMES)
        problems.append(
            f"the video is encoded as {_CODEC_NAMES.get(codec, codec)}; {label} takes {accepted}: "
            "re-export it with H.264."
        )
    if rules.max_bytes is not None and media.size_bytes > rules.max_bytes:
        problems.append(
            f"the file is {_mb(media.size_bytes)}; {label} takes at most {_mb(rules.max_bytes)}: "
            "compress it or shorten it."
        )
    if media.size_bytes < rules.min_bytes:
        problems.append(
            f"the file is {_mb(media.size_bytes)}; {label} needs at least {_mb(rules.min_bytes)}."
        )
    if media.duration_s is not None:
        if rules.max_duration_s is not None and media.duration_s > rules.max_duration_s:
            over = media.duration_s - rules.max_duration_s
            problems.append(
                f"the video is {_duration(media.duration_s)} long; {label} takes at most "
                f"{_duration(rules.max_duration_s)}: trim {_duration(over)}."
            )
        if rules.min_duration_s is not None and media.duration_s < rules.min_duration_s:
            problems.append(
                f"the video is {_duration(media.duration_s)} long; {label} needs at least "
                f"{_duration(rules.min_duration_s)}."
            )
    if media.width and media.height:
        dims = f"{media.width}x{media.height}"
        aspect = media.width / media.height
        low, high = rules.min_aspect, rules.max_aspect
        if (low is not None and aspect < low * 0.995) or (high is not None and aspect > high * 1.005):
            span = f"{_ratio(low or 0.01)} to {_ratio(high or 100)}"
            problems.append(
                f"the aspect ratio is {_ratio(aspect)} ({dims}); {label} takes {span}: crop or pad the video."
            )
        short, long = min(media.width, media.height), max(media.width, media.height)
        if rules.min_side_px is not None and short < rules.min_side_px:
            problems.append(
                f"the video is {dims}; {label} needs at least {rules.min_side_px} px on each side: "
                "export it at a higher resolution."
            )
        if rules.max_side_px is not None and long > rules.max_side_px:
            problems.append(
                f"the video is {dims}; {label} takes at most {rules.max_side_px} px on a side: "
                "scale it down (for example to 1080x1920)."
            )
    fps = media.frame_rate
    if fps is not None:
        # A hair of tolerance: 23.976 fps material is the usual "24" and must pass a 23 minimum.
        too_slow = rules.min_fps is not None and fps < rules.min_fps - 0.01
        too_fast = rules.max_fps is not None and fps > rules.max_fps + 0.01
        if too_slow or too_fast:
            span = (
                f"{rules.min_fps:g}-{rules.max_fps:g} fps"
                if rules.min_fps is not None and rules.max_fps is not None
                else f"at most {rules.max_fps:g} fps"
            )
            problems.append(f"the video runs at {fps:.3g} fps; {label} takes {span}: re-export it at 30 fps.")
    if rules.needs_moov_first and media.moov_first is False:
        problems.append(
            f"the video's index (moov atom) is at the end of the file; {label} needs it at the front: "
            're-export with "fast start" / "optimize for web" (ffmpeg -movflags +faststart).'
        )
    return problems


def text_problems(rules: Rules, label: str, caption: str, title: str | None) -> list[str]:
    """What is wrong with the caption and title for one platform."""
    problems: list[str] = []
    name = rules.caption_name
    if rules.caption_max is not None:
        length = text_length(caption, rules.caption_unit)
        if length > rules.caption_max:
            unit = "weighted characters" if rules.caption_unit == "x" else "characters"
            if rules.caption_unit == "bytes":
                unit = "bytes"
            problems.append(
                f"the {name} is {length:,} {unit}; {label} takes {rules.caption_max:,}: "
                f"cut {length - rules.caption_max:,}."
            )
    if rules.max_hashtags is not None:
        count = len(hashtags(caption))
        if count > rules.max_hashtags:
            problems.append(
                f"the {name} has {count} hashtags; {label} allows {rules.max_hashtags}: "
                f"remove {count - rules.max_hashtags}."
            )
    if rules.max_mentions is not None:
        count = len(_MENTION.findall(caption))
        if count > rules.max_mentions:
            problems.append(
                f"the {name} tags {count} accounts; {label} allows {rules.max_mentions}: "
                f"remove {count - rules.max_mentions} @mentions."
            )
    if rules.title_required and not (title or "").strip():
        problems.append(f"{label} needs a title: put it on the first line of the caption.")
    if title and rules.title_max is not None and len(title) > rules.title_max:
        problems.append(
            f"the title is {len(title)} characters; {label} takes {rules.title_max}: "
            f"cut {len(title) - rules.title_max}."
        )
    for char in rules.forbidden_chars:
        fields = [f for f, text in ((name, caption), ("title", title or "")) if char in text]
        if fields:
            problems.append(f"{label} does not allow '{char}' in the {' or '.join(fields)}: remove it.")
    return problems


def check(
    media: MediaProbe, platforms: Iterable[Platform], *, caption: str, title: str | None
) -> dict[Platform, list[str]]:
    """Every problem per platform; platforms with none are left out."""
    out: dict[Platform, list[str]] = {}
    for platform in dict.fromkeys(platforms):
        rules = media_rules(platform)
        found = media_problems(rules, platform.label, media) + text_problems(
            rules, platform.label, caption, title
        )
        if found:
            out[platform] = found
    return out


def _as_probe(media: MediaInfo | MediaProbe) -> MediaProbe:
    return media if isinstance(media, MediaProbe) else probe_file(media.path)


def validate(
    media: MediaInfo | MediaProbe,
    platforms: Iterable[Platform],
    *,
    caption: str,
    title: str | None = None,
) -> dict[str, list[str]]:
    """Problems keyed by platform value (``"youtube"``), ready for ``ValidationFailed``.

    A ``MediaInfo`` is probed from its path (a few small reads); pass a ``MediaProbe`` to reuse one.
    """
    found = check(_as_probe(media), platforms, caption=caption, title=title)
    return {platform.value: problems for platform, problems in found.items()}


def ensure_valid(
    media: MediaInfo | MediaProbe,
    platforms: Iterable[Platform],
    *,
    caption: str,
    title: str | None = None,
) -> None:
    """Raise ``ValidationFailed`` listing every problem when the post breaks any platform's rules."""
    problems = validate(media, platforms, caption=caption, title=title)
    if problems:
        raise ValidationFailed(problems)


def max_upload_bytes(platforms: Iterable[Platform]) -> int | None:
    """The largest file every chosen platform accepts (None: no limit), so a chat adapter can
    refuse an oversize attachment from its announced size before downloading a byte of it."""
    limits = [limit for p in platforms if (limit := media_rules(p).max_bytes) is not None]
    return min(limits) if limits else None


def oversize_message(size_bytes: int, platforms: Iterable[Platform]) -> str | None:
    """Why an attachment of ``size_bytes`` cannot be posted to ``platforms``, or None if it can."""
    too_big = [
        (p.label, limit)
        for p in dict.fromkeys(platforms)
        if (limit := media_rules(p).max_bytes) is not None and size_bytes > limit
    ]
    if not too_big:
        return None
    parts = ", ".join(f"{label} takes at most {_mb(limit)}" for label, limit in too_big)
    return f"The video is {_mb(size_bytes)}: {parts}. Compress or shorten it, or leave those platforms out."
