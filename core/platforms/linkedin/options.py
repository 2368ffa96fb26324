"""What a LinkedIn post can say beyond its commentary: who sees it, the Posts API's ``visibility``
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api#post-schema:
PUBLIC "viewable by anyone on LinkedIn", CONNECTIONS "viewable by 1st-degree connections only").
"""

from __future__ import annotations

from core.platforms.options import Choice, Kind, Option

VISIBILITY = Option(
    key="visibility",
    flag="visibility",
    label="Visibility",
    kind=Kind.CHOICE,
    default="public",
    help="who sees the post",
    docs="https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api",
    choices=(
        Choice("public", "Anyone on LinkedIn", aliases=("anyone",)),
        Choice("connections", "Connections only", aliases=("network",)),
    ),
)

OPTIONS = (VISIBILITY,)
