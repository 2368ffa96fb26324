"""What a Facebook Page accepts in a video post, and which videos can be Reels.

Every video postbot takes for Facebook can be published: one that fits the Reels spec goes as a reel,
any other as a Page video (core/platforms/facebook/publisher.py). So the rules checked before a post
is queued (``MEDIA``) are the Page video's, and ``is_reel`` decides the route.

- Page videos: at most 2 GB and at least 1 KB ("The maximum size for a video is 2 GB", "The minimum
  size for a video is 1 KB": subcodes 1363023 and 1363022 of
  https://developers.facebook.com/docs/video-api/reference/error-codes). MP4 is the format Meta
  recommends (https://developers.facebook.com/docs/video-api/guides/publishing); postbot takes MP4
  and MOV with H.264 or HEVC, as for its other platforms.
- Post text: 63,206 characters, the limit the Postiz client checks for a Page post
  (gitroomhq/postiz-app, libraries/nestjs-libraries/src/integrations/social/facebook.provider.ts,
  ``maxLength()``); Meta's reference pages give no number for ``description``.
- Reels: ".mp4 (recommended)", "Aspect Ratio 9 x 16", "Minimum is 540 x 960 pixels", "24 to 60
  frames per second", "Duration 3 to 90 seconds" (the reel specifications of
  https://developers.facebook.com/docs/video-api/guides/reels-publishing, read 6 Dec 2026).
"""

from __future__ import annotations

from core.domain import MediaInfo
from core.platforms.media import GB, H264_HEVC, KB, Rules

MEDIA = Rules(
    containers=frozenset({"mp4", "mov"}),
    video_codecs=H264_HEVC,
    max_bytes=2 * GB,
    min_bytes=1 * KB,
    caption_max=63_206,
    caption_name="post text",
)

REEL_MIN_S = 3.0
REEL_MAX_S = 90.0
REEL_ASPECT = 9 / 16
# A phone's "9:16" is rarely exact (1080x1920 is, 720x1280 is, 1088x1920 is not): 2% either side.
REEL_ASPECT_SLACK = 0.02
REEL_MIN_WIDTH, REEL_MIN_HEIGHT = 540, 960


def is_reel(media: MediaInfo) -> bool:
    """Whether the video fits the Reels spec (length, aspect, size); a video postbot knows too little
    about (no probe stored) goes as a Page video, which takes any of them."""
    if media.duration_s is None or not media.width or not media.height:
        return False
    if not REEL_MIN_S <= media.duration_s <= REEL_MAX_S:
        return False
    if media.width < REEL_MIN_WIDTH or media.height < REEL_MIN_HEIGHT:
        return False
    return abs(media.width / media.height - REEL_ASPECT) <= REEL_ASPECT * REEL_ASPECT_SLACK


def why_not_reel(media: MediaInfo) -> str:
    """Why a video goes as a Page video rather than a reel, for the author's reply."""
    if media.duration_s is None or not media.width or not media.height:
        return "its length and size are unknown"
    if not REEL_MIN_S <= media.duration_s <= REEL_MAX_S:
        return f"reels last {REEL_MIN_S:g} to {REEL_MAX_S:g} s and it lasts {media.duration_s:.0f} s"
    if abs(media.width / media.height - REEL_ASPECT) > REEL_ASPECT * REEL_ASPECT_SLACK:
        return f"reels are 9:16 and it is {media.width}x{media.height}"
    return f"reels are at least {REEL_MIN_WIDTH}x{REEL_MIN_HEIGHT} and it is {media.width}x{media.height}"
