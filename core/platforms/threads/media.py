"""What Threads accepts in a video post (file and text).

Video: Meta's Threads API Overview, "Limitations and Specifications", "Video Specifications"
(https://developers.facebook.com/documentation/threads/overview, its markdown copy read 2026-12-07):
"MOV or MP4 (MPEG-4 Part 14), no edit lists, moov atom at the front of the file"; "AAC, 48khz sample
rate maximum, 1 or 2 channels"; "HEVC or H264, progressive scan, closed GOP, 4:2:0 chroma
subsampling"; "23-60 FPS"; "Maximum Columns (horizontal pixels): 1920"; aspect ratio "between 0.01:1
and 10:1" (9:16 recommended); "300 seconds (5 minutes) maximum, minimum longer than 0 seconds"; "1 GB
maximum". These replace the values first read from Ayrshare's copy
(ayrshare.com/docs/media-guidelines/threads), which agrees on all of them but the video bitrate: Meta
says "VBR, 100 Mbps maximum", Ayrshare 25 Mbps. postbot checks no bitrate (``Rules`` has none), so
that difference changes nothing here.

Text: "Text posts are limited to 500 characters" (same Overview, "Other Limitations"), and "Emojis
are counted as the number of UTF-8 bytes" (Threads Posts, https://developers.facebook.com/docs/threads/posts,
Limitations; the word "bytes" links to the grapheme-splitter package, so a character is a
grapheme cluster). So ``👍`` counts 4, ``👍🏽`` 8, a flag 8, and ``é`` or ``日`` one each:
``text_length`` below. Postiz (libraries/nestjs-libraries/src/integrations/social/threads.provider.ts)
checks a plain 500 and maps Threads' own refusal "text must be at most 500 characters"; postbot
counts the emoji as Threads does, so a caption heavy with emoji is refused before it is queued.
"""

from __future__ import annotations

import regex

from core.platforms.media import GB, H264_HEVC, Rules

TEXT_MAX = 500
# A grapheme cluster is an emoji when it holds a pictographic code point or a regional indicator
# (flags); keycaps (1️⃣) carry U+20E3. Unicode's Extended_Pictographic is what emoji segmentation uses
# (UAX #29).
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")
_GRAPHEME = regex.compile(r"\X")


def text_length(text: str) -> int:
    """``text``'s length as Threads counts it: an emoji is its UTF-8 bytes, anything else one."""
    return sum(
        len(cluster.encode("utf-8")) if _EMOJI.search(cluster) else 1 for cluster in _GRAPHEME.findall(text)
    )


MEDIA = Rules(
    containers=frozenset({"mp4", "mov"}),
    video_codecs=H264_HEVC,
    max_bytes=1 * GB,
    max_duration_s=300,
    min_aspect=0.01,
    max_aspect=10.0,
    max_side_px=1920,
    needs_moov_first=True,
    audio_codecs=frozenset({"aac"}),
    needs_420=True,
    min_fps=23,
    max_fps=60,
    caption_max=TEXT_MAX,
    caption_counter=text_length,
    caption_name="text",
)
