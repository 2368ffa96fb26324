"""What instagram accepts in a video post (file and caption)."""

from __future__ import annotations

from core.platforms.media import H264_HEVC, MB, Rules

# Reels: MOV/MP4 with the moov atom at the front, H.264/HEVC, 23-60 fps, 3 s to 15 min, 300 MB,
# aspect 0.01:1 to 10:1, at most 1920 px wide; caption 2200 characters, 30 hashtags, 20 @tags.
# Progressive, closed GOP, 4:2:0; AAC at most 48 kHz, mono or stereo (reel specifications,
# https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media#reel-specifications).
MEDIA = Rules(
    containers=frozenset({"mp4", "mov"}),
    video_codecs=H264_HEVC,
    max_bytes=300 * MB,
    min_duration_s=3,
    max_duration_s=15 * 60,
    min_aspect=0.01,
    max_aspect=10.0,
    max_side_px=1920,
    needs_moov_first=True,
    audio_codecs=frozenset({"aac"}),
    needs_420=True,
    min_fps=23,
    max_fps=60,
    caption_max=2200,
    max_hashtags=30,
    max_mentions=20,
)
