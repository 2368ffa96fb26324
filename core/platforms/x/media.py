"""What x accepts in a video post (file and caption)."""

from __future__ import annotations

from core.platforms.media import MB, Rules

# X media upload (tweet_video): MP4/MOV, H.264, 512 MB, 0.5 s to 140 s, aspect 1:3 to 3:1, ≤ 60 fps,
# at least 32 px a side; a post is 280 weighted characters. H.264 High profile 4:2:0 8-bit, AAC-LC
# mono or stereo (https://docs.x.com/x-api/media/quickstart/best-practices).
MEDIA = Rules(
    containers=frozenset({"mp4", "mov"}),
    video_codecs=frozenset({"h264"}),
    audio_codecs=frozenset({"aac"}),
    max_bit_depth=8,
    needs_420=True,
    max_bytes=512 * MB,
    min_duration_s=0.5,
    max_duration_s=140,
    min_aspect=1 / 3,
    max_aspect=3.0,
    min_side_px=32,
    max_fps=60,
    caption_max=280,
    caption_unit="x",
    caption_name="post text",
)
