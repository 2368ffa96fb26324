"""What an Instagram Reel can say beyond its caption: the media container's parameters
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media#creating,
"share_to_feed: Reels only. Set to true to request that the reel be shown on both the Feed and Reels
tabs"; "thumb_offset: ... Location, in milliseconds, of the video or reel frame to be used as the
cover thumbnail image. Default value is 0, which is the first frame").
"""

from __future__ import annotations

from core.platforms.options import Kind, Option

_MEDIA = "https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media"

SHARE_TO_FEED = Option(
    key="share_to_feed",
    flag="feed",
    label="Also in the feed",
    kind=Kind.FLAG,
    default=True,
    help="show the reel in the profile's feed too, not only the Reels tab",
    docs=_MEDIA,
)
COVER = Option(
    key="thumb_offset",
    flag="cover",
    label="Cover frame (ms)",
    kind=Kind.NUMBER,
    default=0,
    help="the frame used as the cover, in milliseconds from the start",
    docs=_MEDIA,
    minimum=0,
    maximum=900_000,
    within_video=True,
)

OPTIONS = (SHARE_TO_FEED, COVER)
