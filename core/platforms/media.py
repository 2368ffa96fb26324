"""The shape of a platform's media and caption limits; each platform package holds its own values
(``core/platforms/<name>/media.py``) and core/media/validation.py checks a file against them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KB = 1000
MB = 1000 * 1000
GB = 1000 * MB


@dataclass(frozen=True)
class Rules:
    containers: frozenset[str]
    video_codecs: frozenset[str]
    max_bytes: int | None
    min_bytes: int = 0
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    # Width / height as displayed.
    min_aspect: float | None = None
    max_aspect: float | None = None
    min_side_px: int | None = None
    max_side_px: int | None = None
    needs_moov_first: bool = False
    # Whether a fragmented MP4 (moof boxes, as live encoders write) is taken as it is.
    fragmented_ok: bool = False
    # Audio codecs taken (None: whatever the container carries).
    audio_codecs: frozenset[str] | None = None
    # 8: only 8-bit pictures; None: any depth. And whether only 4:2:0 chroma is taken.
    max_bit_depth: int | None = None
    needs_420: bool = False
    min_fps: float | None = None
    max_fps: float | None = None
    caption_max: int | None = None
    # How the platform counts caption length: "chars" (code points), "utf16", "bytes" (UTF-8),
    # "x" (X's weighted count, where URLs count 23 and most non-Latin characters count 2), or
    # "graphemes" (what a reader sees as one character, Bluesky's count).
    caption_unit: str = "chars"
    # A platform's own way of counting, where none of the units above is it (Threads counts an emoji
    # as its UTF-8 bytes and every other character as one); it replaces ``caption_unit``.
    caption_counter: Callable[[str], int] | None = None
    caption_name: str = "caption"
    max_hashtags: int | None = None
    max_mentions: int | None = None
    title_required: bool = False
    title_max: int | None = None
    # Characters the platform refuses in text fields.
    forbidden_chars: str = ""


H264_HEVC = frozenset({"h264", "hevc"})
