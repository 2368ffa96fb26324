"""What sandbox accepts in a video post (file and caption)."""

from __future__ import annotations

from core.platforms.media import Rules

# Writes into a local folder: any video postbot can read.
MEDIA = Rules(
    containers=frozenset({"mp4", "mov", "webm", "mkv", "avi", "flv", "mpg", "wmv", "ts"}),
    video_codecs=frozenset(),
    fragmented_ok=True,
    max_bytes=None,
)
