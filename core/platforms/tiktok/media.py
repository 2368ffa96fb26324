"""What tiktok accepts in a video post (file and caption)."""

from __future__ import annotations

from core.platforms.media import Rules

# Content Posting API: MP4/WebM/MOV, H.264/H.265/VP8/VP9, 4 GB, 360-4096 px a side, 23-60 fps, at most
# 10 minutes (creator_info's max_video_post_duration_sec may be lower for some accounts);
# the title (caption) is at most 2200 UTF-16 code units
# (https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide, video restrictions).
MEDIA = Rules(
    containers=frozenset({"mp4", "mov", "webm"}),
    video_codecs=frozenset({"h264", "hevc", "vp8", "vp9"}),
    max_bytes=4 * 1024**3,
    max_duration_s=10 * 60,
    min_side_px=360,
    max_side_px=4096,
    min_fps=23,
    max_fps=60,
    caption_max=2200,
    caption_unit="utf16",
)
