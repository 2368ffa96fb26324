"""What a YouTube post can say beyond its caption, as videos.insert and thumbnails.set take it.

The fields and their values: https://developers.google.com/youtube/v3/docs/videos#resource
(status.privacyStatus, status.selfDeclaredMadeForKids, snippet.tags[], snippet.categoryId); the
thumbnail: https://developers.google.com/youtube/v3/docs/thumbnails/set ("Maximum file size: 2MB",
"Accepted Media MIME types: image/jpeg, image/png, application/octet-stream").
"""

from __future__ import annotations

from typing import Any

from core.platforms.options import Choice, Kind, Option

_VIDEOS = "https://developers.google.com/youtube/v3/docs/videos#resource"
THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024
# "The property value has a maximum length of 500 characters. Note that the character limit includes
# commas between items and quotation marks around a tag that contains a space" (snippet.tags[]).
TAGS_MAX_CHARS = 500


def _tags_length(tags: list[str]) -> int:
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


def _check_tags(value: Any) -> str | None:
    length = _tags_length(list(value))
    if length > TAGS_MAX_CHARS:
        return f"they come to {length} characters; YouTube takes {TAGS_MAX_CHARS} (commas included)."
    if any("<" in t or ">" in t for t in value):
        return "YouTube does not take < or > in tags."
    return None


PRIVACY = Option(
    key="privacy",
    flag="privacy",
    label="Privacy",
    kind=Kind.CHOICE,
    default="public",
    help="who can watch it",
    docs=_VIDEOS,
    choices=(
        Choice("public", "Public"),
        Choice("unlisted", "Unlisted", aliases=("link",)),
        Choice("private", "Private"),
    ),
)
MADE_FOR_KIDS = Option(
    key="made_for_kids",
    flag="kids",
    label="Made for kids",
    kind=Kind.FLAG,
    # Not declared: YouTube applies the channel's setting.
    default=None,
    help="declare the video made for kids (YouTube's COPPA setting)",
    docs=_VIDEOS,
)
TAGS = Option(
    key="tags",
    flag="tags",
    label="Tags",
    kind=Kind.TAGS,
    default=None,
    help="search tags, comma-separated",
    docs=_VIDEOS,
    maximum=TAGS_MAX_CHARS,
    check=_check_tags,
)
# The assignable categories of videoCategories.list (regionCode=US):
# https://developers.google.com/youtube/v3/docs/videoCategories/list
CATEGORY = Option(
    key="category_id",
    flag="category",
    label="Category",
    kind=Kind.CHOICE,
    default="22",
    help="the video's category (an id or a name)",
    docs=_VIDEOS,
    choices=(
        Choice("1", "Film & Animation", aliases=("film", "animation")),
        Choice("2", "Autos & Vehicles", aliases=("autos", "cars", "vehicles")),
        Choice("10", "Music", aliases=("music",)),
        Choice("15", "Pets & Animals", aliases=("pets", "animals")),
        Choice("17", "Sports", aliases=("sports", "sport")),
        Choice("19", "Travel & Events", aliases=("travel", "events")),
        Choice("20", "Gaming", aliases=("gaming", "games")),
        Choice("22", "People & Blogs", aliases=("people", "blogs", "blog")),
        Choice("23", "Comedy", aliases=("comedy",)),
        Choice("24", "Entertainment", aliases=("entertainment",)),
        Choice("25", "News & Politics", aliases=("news", "politics")),
        Choice("26", "Howto & Style", aliases=("howto", "style")),
        Choice("27", "Education", aliases=("education",)),
        Choice("28", "Science & Technology", aliases=("science", "technology", "tech")),
        Choice("29", "Nonprofits & Activism", aliases=("nonprofits", "activism")),
    ),
)
THUMBNAIL = Option(
    key="thumbnail",
    flag="thumbnail",
    label="Thumbnail",
    kind=Kind.IMAGE,
    default=None,
    help="a custom thumbnail (the channel must be verified for custom thumbnails)",
    docs="https://developers.google.com/youtube/v3/docs/thumbnails/set",
    maximum=THUMBNAIL_MAX_BYTES,
    mimes=("image/jpeg", "image/png"),
)

OPTIONS = (PRIVACY, MADE_FOR_KIDS, TAGS, CATEGORY, THUMBNAIL)
