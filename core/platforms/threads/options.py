"""What a Threads post can say beyond its text: who may reply.

``reply_control`` is a parameter of the container (``POST /{threads-user-id}/threads``): "everyone",
"accounts_you_follow" or "mentioned_only" (reply management, "Control who can reply",
https://developers.facebook.com/docs/threads/reply-management#control-who-can-reply), and since
7 Jul 2025 "followers_only" and "parent_post_author_only" (Threads changelog,
https://developers.facebook.com/docs/threads/changelog, read 2026-12-06). The last one only means
something for a reply, which postbot never posts, so it is not offered. Unset, Threads lets everyone
reply, as the app does.
"""

from __future__ import annotations

from core.platforms.options import Choice, Kind, Option

_REPLIES = "https://developers.facebook.com/docs/threads/reply-management#control-who-can-reply"

# The words postbot stores, and the reply_control values Threads documents for them.
REPLY_CONTROLS = {
    "everyone": "everyone",
    "following": "accounts_you_follow",
    "mentioned": "mentioned_only",
    "followers": "followers_only",
}

REPLY_CONTROL = Option(
    key="reply_control",
    flag="replies",
    label="Reply setting",
    kind=Kind.CHOICE,
    default="everyone",
    help="who can reply: everyone, accounts you follow, people you mention, or your followers",
    docs=_REPLIES,
    choices=(
        Choice("everyone", "Everyone", aliases=("anyone", "all")),
        Choice("following", "Accounts you follow", aliases=("accounts_you_follow", "follow")),
        Choice("mentioned", "Mentioned only", aliases=("mentioned_only", "mentions")),
        Choice("followers", "Your followers", aliases=("followers_only",)),
    ),
)

OPTIONS = (REPLY_CONTROL,)
