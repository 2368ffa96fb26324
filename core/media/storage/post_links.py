"""One post's link to its video, for platforms that fetch the video themselves (Instagram's
``video_url``): postbot's own signed ``/media/<key>?post=<id>`` URL, useless once the post is over.

The signature binds the key, the expiry and the post id; on every request the web server also asks
the database whether that post is still queued or being published. So the link stops working when
the post is published, fails or is cancelled, or when it expires, whichever comes first, and it
never reaches any other video. It is served from whichever backend holds the video (local folder or
S3), so the platform only ever sees postbot's own host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from core.media.storage.base import MediaStorage, StoredMedia
from core.media.storage.signing import UrlSigner

# post id, storage key → may the platform still fetch it (the post is queued or publishing)?
PostWantsVideo = Callable[[int], Awaitable[bool]]
LinkFor = Callable[[timedelta], Awaitable[str]]


class PostMediaLinks:
    def __init__(self, signer: UrlSigner, storage: MediaStorage, post_wants_video: PostWantsVideo) -> None:
        self.signer = signer
        self.storage = storage
        self.post_wants_video = post_wants_video

    def for_post(self, post_id: int, key: str) -> LinkFor:
        """What a publisher calls for its link (fresh each time, so each attempt gets a full window)."""

        async def link(expires: timedelta) -> str:
            return self.signer.url(key, expires=expires, post=post_id)

        return link

    async def open(
        self, key: str, expires: str | None, sig: str | None, post: str | None
    ) -> StoredMedia | None:
        """The video behind a post's link; None when forged, expired, or the post is over."""
        # ASCII digits only: str.isdigit also accepts other scripts' digits, which int() reads.
        if not post or not post.isascii() or not post.isdigit():
            return None
        post_id = int(post)
        if not self.signer.check(key, expires, sig, post=post_id):
            return None
        if not await self.post_wants_video(post_id):
            return None
        return StoredMedia(self.storage, key)
