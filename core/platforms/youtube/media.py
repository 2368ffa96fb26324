"""What youtube accepts in a video post (file and caption)."""

from __future__ import annotations

from core.platforms.media import GB, Rules

# videos.insert: up to 256 GB or 12 hours; title ≤ 100 characters, description ≤ 5000 bytes,
# neither may contain < or >; more than 60 hashtags and YouTube ignores all of them.
# Formats: MOV, MPEG4, MP4, AVI, WMV, MPEGPS, FLV, 3GPP, WebM, DNxHR, ProRes, CineForm, HEVC
# (https://support.google.com/youtube/answer/4603579); YouTube transcodes everything itself.
MEDIA = Rules(
    containers=frozenset({"mp4", "mov", "webm", "mkv", "avi", "flv", "mpg", "wmv", "ts"}),
    video_codecs=frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mjpeg"}),
    fragmented_ok=True,
    max_bytes=256 * GB,
    max_duration_s=12 * 3600,
    caption_max=5000,
    caption_unit="bytes",
    caption_name="description",
    max_hashtags=60,
    title_required=True,
    title_max=100,
    forbidden_chars="<>",
)
