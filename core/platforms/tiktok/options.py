"""What a TikTok post can say beyond its caption, as the Direct Post API takes it.

``post_info`` fields: https://developers.tiktok.com/doc/content-posting-api-reference-direct-post
(privacy_level, disable_duet, disable_comment, disable_stitch, video_cover_timestamp_ms). The privacy
levels a creator may use are the ``privacy_level_options`` of creator_info, queried before each post
(https://developers.tiktok.com/doc/content-posting-api-reference-query-creator-info); the publisher
checks the chosen one against them at publish time and names the ones offered when it is not there.

TikTok's UX guidelines for Direct Post (https://developers.tiktok.com/doc/content-sharing-guidelines,
"Required UX implementation"): the person posting picks the privacy level, with no default value;
the commercial content disclosure is offered ("Your brand": ``brand_organic_toggle``, "Branded
content": ``brand_content_toggle``), and branded content cannot be private.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    # No default: TikTok requires the person posting to choose (content-sharing guidelines).
    default=None,
    help="who can watch it: required, TikTok allows no default (creator_info says which the account offers)",
    docs=_DIRECT_POST,
    required=True,
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

_GUIDELINES = "https://developers.tiktok.com/doc/content-sharing-guidelines"


def _branded_not_private(values: Mapping[str, Any]) -> str | None:
    if values.get("brand_content_toggle") and values.get("privacy") == "private":
        return (
            "branded content cannot be private on TikTok: choose another privacy, or leave out "
            "--tiktok-branded."
        )
    return None


BRANDED = Option(
    key="brand_content_toggle",
    flag="branded",
    label="Branded content",
    kind=Kind.FLAG,
    default=False,
    help="discloses a paid partnership: it promotes another brand or a third party",
    docs=_GUIDELINES,
    rule=_branded_not_private,
)
OWN_BRAND = Option(
    key="brand_organic_toggle",
    flag="own-brand",
    label="Your brand",
    kind=Kind.FLAG,
    default=False,
    help="discloses that it promotes yourself or your own business",
    docs=_GUIDELINES,
)

OPTIONS = (PRIVACY, COMMENTS, DUET, STITCH, COVER, BRANDED, OWN_BRAND)
