"""What Bluesky accepts in a video post (file and text).

The video service's limits are the official app's (bluesky-social/social-app ``src/lib/constants.ts``,
commit 008fe5e, read 6 Dec 2026): ``VIDEO_MAX_DURATION_MS = 10 * 60 * 1000``, ``VIDEO_MAX_SIZE = 300
MB`` ("Backend uses ISO megabytes"), and ``SUPPORTED_MIME_TYPES`` video/mp4, video/mpeg, video/webm,
video/quicktime. The service transcodes what it takes (https://docs.bsky.app/docs/tutorials/video:
"the video service runs the processing step on your video"), so no codec or frame rate is demanded
beyond what it decodes; its own refusal arrives as a failed job (``failureCode``
``validation_failure``), which the publisher reports. Uploading also needs a verified email on
Bluesky-hosted accounts and room in the daily allowance, both read from ``getUploadLimits``.

Text: ``app.bsky.feed.post`` takes 300 graphemes and 3,000 UTF-8 bytes
(https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/feed/post.json); the byte
cap is checked by the publisher (core/platforms/bluesky/text.py).
"""

from __future__ import annotations

from core.platforms.media import MB, Rules

MEDIA = Rules(
    containers=frozenset({"mp4", "mov", "webm"}),
    video_codecs=frozenset({"h264", "hevc", "vp8", "vp9", "av1"}),
    max_bytes=300 * MB,
    max_duration_s=10 * 60,
    caption_max=300,
    caption_unit="graphemes",
    caption_name="post text",
)
