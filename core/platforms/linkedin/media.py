"""What linkedin accepts in a video post (file and caption)."""

from __future__ import annotations

from core.platforms.media import KB, MB, Rules

# LinkedIn Videos API: MP4, 75 KB to 500 MB, 3 s to 30 min, aspect 1:2.4 to 2.4:1, 10-60 fps;
# post commentary up to 3000 characters
# (https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api).
MEDIA = Rules(
    containers=frozenset({"mp4"}),
    video_codecs=frozenset({"h264", "hevc", "vp8", "vp9", "mpeg4"}),
    max_bytes=500 * MB,
    min_bytes=75 * KB,
    min_duration_s=3,
    max_duration_s=30 * 60,
    min_aspect=1 / 2.4,
    max_aspect=2.4,
    min_fps=10,
    max_fps=60,
    caption_max=3000,
)

# The same limits in one sentence, for hints after LinkedIn refuses a video: one number everywhere.
SUMMARY = (
    f"LinkedIn takes MP4 of {MEDIA.min_duration_s:g} s to {(MEDIA.max_duration_s or 0) / 60:g} min and "
    f"{MEDIA.min_bytes // KB} KB to {(MEDIA.max_bytes or 0) // MB} MB."
)
