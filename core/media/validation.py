"""Each platform's rules for a video post, checked before anything is queued.

Every problem is collected, for every chosen platform, and each one says what to change, so the user
fixes the file and caption once instead of learning the rules one rejection at a time. The limits are
the platforms' published ones for their posting APIs, kept as data in each platform's package
(core/platforms/<name>/media.py); this module only applies them, and decides which mismatches a
conversion fixes (core/media/convert.py) and which must be refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.domain import MediaInfo, Platform
from core.errors import ValidationFailed
from core.media.convert import MP4_AUDIO_CODECS, MP4_VIDEO_CODECS, REMUX, Target
from core.media.probe import MediaProbe, probe_file
from core.platforms.media import GB, KB, MB, Rules
from core.platforms.registry import media_rules

_CONTAINER_NAMES = {
    "mp4": "MP4",
    "mov": "MOV",
    "webm": "WebM",
    "mkv": "MKV",
    "avi": "AVI",
    "flv": "FLV",
    "mpg": "MPEG-PS",
    "wmv": "WMV",
    "ts": "MPEG-TS",
}
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

_AUDIO_NAMES = {
    "aac": "AAC",
    "opus": "Opus",
    "vorbis": "Vorbis",
    "mp3": "MP3",
    "ac3": "AC-3",
    "eac3": "E-AC-3",
    "flac": "FLAC",
    "alac": "ALAC",
    "pcm_s16le": "PCM",
    "pcm_s24le": "PCM",
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
    if unit == "graphemes":
        # What a reader sees as one character (an emoji with a skin tone, a flag): Unicode's extended
        # grapheme clusters (UAX #29), which only the regex module's \X counts.
        import regex

        return len(regex.findall(r"\X", text))
    return len(text)


def hashtags(text: str) -> list[str]:
    return _HASHTAG.findall(text)


def _mb(n: int) -> str:
    if n >= GB:
        return f"{n / GB:.1f} GB"
    if n >= MB:
        return f"{n / MB:.0f} MB" if n >= 10 * MB else f"{n / MB:.1f} MB"
    return f"{max(1, round(n / KB))} KB"


def size_text(n: int) -> str:
    """A byte count as chat messages show it (KB, MB, GB), never rounded down to "0 MB"."""
    return _mb(n)


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


@dataclass(frozen=True)
class Assessment:
    """What one platform makes of a file: what cannot be fixed, and what a conversion would fix."""

    # Problems the user must fix (every one, when conversion is off).
    problems: list[str]
    # The conversion that makes the file acceptable (None: taken as it is, or refused anyway).
    target: Target | None = None
    # Why it is converted, in the user's words ("X takes H.264 only").
    reasons: tuple[str, ...] = ()


@dataclass
class _Needs:
    """Fixable mismatches, each with the message shown when conversion is off."""

    rewrap: list[tuple[str, str]] = field(default_factory=list)
    encode: list[tuple[str, str]] = field(default_factory=list)
    max_long_side: int | None = None
    min_short_side: int | None = None
    fps: float | None = None


def _unfixable(rules: Rules, label: str, media: MediaProbe, transcoding: bool) -> list[str]:
    problems: list[str] = []
    # A transcode writes a new file whose size nobody knows yet; the source's size limits only
    # bind a file that goes out as it is (or merely rewrapped, which keeps its size).
    if not transcoding:
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
        aspect = media.width / media.height
        low, high = rules.min_aspect, rules.max_aspect
        if (low is not None and aspect < low * 0.995) or (high is not None and aspect > high * 1.005):
            span = f"{_ratio(low or 0.01)} to {_ratio(high or 100)}"
            problems.append(
                f"the aspect ratio is {_ratio(aspect)} ({media.width}x{media.height}); {label} takes "
                f"{span}: crop or pad the video."
            )
    return problems


def _needs(rules: Rules, label: str, media: MediaProbe) -> _Needs:
    needs = _Needs()
    if media.container not in rules.containers:
        accepted = _names(rules.containers, _CONTAINER_NAMES)
        needs.rewrap.append(
            (
                f"{label} takes {accepted}",
                f"{label} does not take {media.kind}s: export it as {accepted} (H.264).",
            )
        )
    if rules.needs_moov_first and media.moov_first is False:
        needs.rewrap.append(
            (
                f"{label} needs the index at the front",
                f"the video's index (moov atom) is at the end of the file; {label} needs it at the front: "
                're-export with "fast start" / "optimize for web" (ffmpeg -movflags +faststart).',
            )
        )
    if media.fragmented and not rules.fragmented_ok:
        needs.rewrap.append(
            (
                f"{label} does not take fragmented MP4",
                f"the video is a fragmented MP4 (as live encoders write); {label} needs a plain one: "
                're-export it with "fast start".',
            )
        )
    codec = media.video_codec or ""
    if rules.video_codecs and codec not in rules.video_codecs:
        accepted = _names(rules.video_codecs, _CODEC_NAMES)
        name = _CODEC_NAMES.get(codec, codec)
        needs.encode.append(
            (
                f"{label} takes {accepted}, not {name}",
                f"the video is encoded as {name}; {label} takes {accepted}: re-export it with H.264.",
            )
        )
    if rules.max_bit_depth is not None and (media.bit_depth or 8) > rules.max_bit_depth:
        needs.encode.append(
            (
                f"{label} takes {rules.max_bit_depth}-bit video only",
                f"the video is {media.bit_depth}-bit; {label} takes {rules.max_bit_depth}-bit: "
                "re-export it as 8-bit H.264 (SDR).",
            )
        )
    if rules.needs_420 and media.pix_fmt and not media.pix_fmt.startswith(("yuv420p", "yuvj420p", "nv12")):
        needs.encode.append(
            (
                f"{label} takes 4:2:0 video only",
                f"the video's colour is stored as {media.pix_fmt}; {label} takes 4:2:0: "
                "re-export it as H.264.",
            )
        )
    audio = media.audio_codec
    if audio is not None and rules.audio_codecs is not None and audio not in rules.audio_codecs:
        accepted = _names(rules.audio_codecs, _AUDIO_NAMES)
        name = _AUDIO_NAMES.get(audio, audio)
        needs.encode.append(
            (
                f"{label} takes {accepted} sound, not {name}",
                f"the sound is encoded as {name}; {label} takes {accepted}: re-export it with AAC audio.",
            )
        )
    if media.width and media.height:
        dims = f"{media.width}x{media.height}"
        short, long = min(media.width, media.height), max(media.width, media.height)
        if rules.min_side_px is not None and short < rules.min_side_px:
            needs.min_short_side = rules.min_side_px
            needs.encode.append(
                (
                    f"{label} needs {rules.min_side_px} px a side",
                    f"the video is {dims}; {label} needs at least {rules.min_side_px} px on each side: "
                    "export it at a higher resolution.",
                )
            )
        if rules.max_side_px is not None and long > rules.max_side_px:
            needs.max_long_side = rules.max_side_px
            needs.encode.append(
                (
                    f"{label} takes at most {rules.max_side_px} px a side",
                    f"the video is {dims}; {label} takes at most {rules.max_side_px} px on a side: "
                    "scale it down (for example to 1080x1920).",
                )
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
            needs.fps = 30.0 if too_slow or (rules.max_fps or 60) < 30 else float(rules.max_fps or 30)
            needs.encode.append(
                (
                    f"{label} takes {span}",
                    f"the video runs at {fps:.3g} fps; {label} takes {span}: re-export it at 30 fps.",
                )
            )
    if needs.rewrap and not needs.encode:
        # Rewrapping copies the codecs into an MP4: only those an MP4 can carry.
        copyable = media.video_codec in MP4_VIDEO_CODECS and (
            media.audio_codec is None or media.audio_codec in MP4_AUDIO_CODECS
        )
        if not copyable:
            needs.encode.extend(needs.rewrap)
            needs.rewrap = []
    return needs


def assess(rules: Rules, label: str, media: MediaProbe, *, convert: bool = True) -> Assessment:
    """What ``label`` makes of the file: problems to refuse it for, or the conversion that fixes it."""
    if media.container is None:
        return Assessment(
            [f"the file is {media.a_kind}, not a video: send a video file (MP4 works everywhere)."]
        )
    if media.problem:
        return Assessment([f"{media.problem}; re-export or re-send the video."])
    if media.video_codec is None:
        return Assessment(["the file has no video track: send a video, not an audio file."])
    needs = _needs(rules, label, media)
    transcoding = convert and bool(needs.encode)
    problems = _unfixable(rules, label, media, transcoding)
    if not convert:
        return Assessment(problems + [message for _, message in needs.rewrap + needs.encode])
    if needs.encode:
        target = Target("h264", needs.max_long_side, needs.min_short_side, needs.fps)
        reasons = tuple(reason for reason, _ in needs.encode + needs.rewrap)
    elif needs.rewrap:
        target, reasons = REMUX, tuple(reason for reason, _ in needs.rewrap)
    else:
        target, reasons = None, ()
    return Assessment(problems, None if problems else target, () if problems else reasons)


def media_problems(rules: Rules, label: str, media: MediaProbe) -> list[str]:
    """What is wrong with the file for one platform as it is, each with what to change."""
    return assess(rules, label, media, convert=False).problems


def text_problems(rules: Rules, label: str, caption: str, title: str | None) -> list[str]:
    """What is wrong with the caption and title for one platform."""
    problems: list[str] = []
    name = rules.caption_name
    if rules.caption_max is not None:
        counter = rules.caption_counter
        length = counter(caption) if counter else text_length(caption, rules.caption_unit)
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
    media: MediaProbe,
    platforms: Iterable[Platform],
    *,
    caption: str,
    title: str | None,
    convert: bool = False,
) -> dict[Platform, list[str]]:
    """Every problem per platform; platforms with none are left out. With ``convert``, what a
    conversion fixes is not a problem (``plan`` says which conversion)."""
    out: dict[Platform, list[str]] = {}
    for platform in dict.fromkeys(platforms):
        rules = media_rules(platform)
        found = assess(rules, platform.label, media, convert=convert).problems + text_problems(
            rules, platform.label, caption, title
        )
        if found:
            out[platform] = found
    return out


@dataclass(frozen=True)
class Plan:
    """A file checked for every chosen platform, with the conversions it needs."""

    media: MediaProbe
    # Problems keyed by platform value ("youtube"), ready for ValidationFailed; empty: all good.
    problems: dict[str, list[str]]
    # Platforms that get a converted file, and why.
    targets: dict[Platform, Target]
    reasons: dict[Platform, tuple[str, ...]]


def plan(
    media: MediaInfo | MediaProbe,
    platforms: Iterable[Platform],
    *,
    caption: str,
    title: str | None = None,
    convert: bool = True,
    texts: Mapping[Platform, tuple[str, str | None]] | None = None,
) -> Plan:
    """Check the post for every platform; with ``convert`` (the default), a file a platform would
    refuse only for its wrapping or encoding is planned for conversion instead of refused.
    ``texts`` gives a platform its own (caption, title) when it differs from the command's."""
    facts = _as_probe(media)
    problems: dict[str, list[str]] = {}
    targets: dict[Platform, Target] = {}
    reasons: dict[Platform, tuple[str, ...]] = {}
    for platform in dict.fromkeys(platforms):
        rules = media_rules(platform)
        verdict = assess(rules, platform.label, facts, convert=convert)
        own_caption, own_title = (texts or {}).get(platform, (caption, title))
        found = verdict.problems + text_problems(rules, platform.label, own_caption, own_title)
        if found:
            problems[platform.value] = found
        elif verdict.target is not None:
            targets[platform] = verdict.target
            reasons[platform] = verdict.reasons
    return Plan(facts, problems, targets, reasons)


def target_for(media: MediaProbe, platform: Platform) -> Target | None:
    """The conversion a queued post's file needs before it goes to ``platform`` (None: none)."""
    return assess(media_rules(platform), platform.label, media, convert=True).target


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
