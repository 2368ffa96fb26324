"""What a Facebook Page video can say beyond its text: its title.

``title`` is a parameter of ``POST /{page-id}/videos`` (https://developers.facebook.com/docs/video-api/
guides/publishing: ``-F "title=<VIDEO_TITLE>" -F "description=<VIDEO_DESCRIPTION>"``). The Reels
Publishing API's finish step takes the reel's ``description`` and no title
(https://developers.facebook.com/docs/video-api/guides/reels-publishing, "Step 3: Publish the
reel"), so a reel shows only its text; the option says so.
"""

from __future__ import annotations

from core.platforms.options import Kind, Option

_PUBLISHING = "https://developers.facebook.com/docs/video-api/guides/publishing"
# Page video titles are short headlines; Meta's reference gives no number, so postbot keeps them to
# what a feed shows on one line (and a typo'd paragraph in the title is refused before queueing).
TITLE_MAX = 255

TITLE = Option(
    key="title",
    flag="title",
    label="Title",
    kind=Kind.TEXT,
    default=None,
    help="the Page video's title (reels show only their text)",
    docs=_PUBLISHING,
    maximum=TITLE_MAX,
)

OPTIONS = (TITLE,)
