"""What a TikTok post can say beyond its caption, as the Direct Post API takes it.

``post_info`` fields: https://developers.tiktok.com/doc/content-posting-api-reference-direct-post
(privacy_level, disable_duet, disable_comment, disable_stitch, video_cover_timestamp_ms). The privacy
levels a creator may use are the ``privacy_level_options`` of creator_info, queried before each post
(https://developers.tiktok.com/doc/content-posting-api-reference-query-creator-info); the publisher
checks the chosen one against them at publish time and names the ones offered when it is not there.
"""

from __future__ import annotations

from core.platforms.options import Choice, Kind, Option

_DIRECT_POST = "https://developers.tiktok.com/doc/content-posting-api-reference-direct-post"

# The words postbot stores, and the privacy_level values TikTok documents for them.
PRIVACY_LEVELS = {
    "public": "PUBLIC_TO_EVERYONE",
    "friends": "MUTUAL_FOLLOW_FRIENDS",
    "followers": "FOLLOWER_OF_CREATOR",
    "private": "SELF_ONLY",
}

PRIVACY = Option(
    key="privacy",
    flag="privacy",
    label="Privacy",
    kind=Kind.CHOICE,
    default="public",
    help="who can watch it (the account's creator_info says which it offers)",
    docs=_DIRECT_POST,
    choices=(
        Choice("public", "Everyone", aliases=("everyone",)),
        Choice("friends", "Friends (mutual followers)", aliases=("mutual",)),
        Choice("followers", "Followers"),
        Choice("private", "Only me", aliases=("self", "me", "only-me")),
    ),
)
COMMENTS = Option(
    key="disable_comment",
    flag="comments",
    label="Comments",
    kind=Kind.FLAG,
    default=False,
    help="allow comments (off turns them off)",
    docs=_DIRECT_POST,
    negate=True,
)
DUET = Option(
    key="disable_duet",
    flag="duet",
    label="Duet",
    kind=Kind.FLAG,
    default=False,
    help="allow duets",
    docs=_DIRECT_POST,
    negate=True,
)
STITCH = Option(
    key="disable_stitch",
    flag="stitch",
    label="Stitch",
    kind=Kind.FLAG,
    default=False,
    help="allow stitches",
    docs=_DIRECT_POST,
    negate=True,
)
COVER = Option(
    key="cover_timestamp_ms",
    flag="cover",
    label="Cover frame (ms)",
    kind=Kind.NUMBER,
    default=1000,
    help="the frame used as the cover, in milliseconds from the start",
    docs=_DIRECT_POST,
    minimum=0,
    maximum=600_000,
    within_video=True,
)

OPTIONS = (PRIVACY, COMMENTS, DUET, STITCH, COVER)
