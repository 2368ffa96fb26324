"""Instagram Reels through the Instagram Graph API, from a ``video_url`` that Meta fetches.

postbot links accounts with Instagram Login (core/platforms/instagram/oauth.py), so it publishes the
way "Instagram API with Instagram Login" documents
(https://developers.facebook.com/docs/instagram-platform/content-publishing#reels): ``POST
/{ig-user-id}/media`` with ``media_type=REELS&video_url=…`` creates a container and Meta downloads
the video from that URL ("We cURL media used in publishing attempts so the media must be hosted on a
publicly accessible server at the time of the attempt", same page); ``GET /{container-id}
?fields=status_code`` is polled until ``FINISHED``; ``POST /{ig-user-id}/media_publish`` with
``creation_id`` publishes; the permalink comes from ``GET /{media-id}?fields=permalink``.

Resumable upload (``upload_type=resumable`` + rupload.facebook.com) is not used: Meta documents it as
"available only for apps that have implemented Facebook Login for Business"
(https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads), and
an Instagram Login token is refused there. Independent clients that publish with Instagram Login do
the same (Postiz, libraries/nestjs-libraries/src/integrations/social/instagram.standalone.provider.ts:
a REELS container from ``video_url`` on graph.instagram.com, then status polling and media_publish).

The URL is this post's own link to its video on postbot's web server (``web.public_url``, see
core/media/storage/post_links.py): signed for this key and this post, expiring, answering ranges,
and refused once the post is published, failed or cancelled.

The container id is checkpointed as soon as it exists and the publish is marked as attempted before
it is sent: a retry that finds the container ``PUBLISHED`` looks the media up instead of publishing
it again. That flow, and the Graph errors' reading, are core/publishers/graph.py's, shared
with the other platforms on Meta's Graph API; this module says what is Instagram's own.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.instagram import versions
from core.publishers import graph
from core.publishers.base import PublishError, PublishJob, RateLimited
from core.publishers.graph import ContainerApi, ContainerPublisher, GraphErrors

log = logging.getLogger(__name__)

# Both carry the Graph API version (platforms.instagram.api_version; the versions and their expiry
# dates are data: core/platforms/instagram/versions.py).
# Accounts are linked with Instagram Login (core/platforms/instagram/oauth.py), whose tokens are
# accepted by graph.instagram.com only; graph.facebook.com wants Facebook Login page tokens.
GRAPH_VERSION = versions.DEFAULT
GRAPH_HOST = "https://graph.instagram.com"
DEFAULT_GRAPH_URL = f"{GRAPH_HOST}/{GRAPH_VERSION}"
# Graph's throttling codes (core/publishers/graph.py) and Instagram's own rate limit, 80002
# (developers.facebook.com/docs/graph-api/guides/error-handling).
THROTTLED = graph.THROTTLED | {80002}
PUBLISH_LIMIT_SUBCODE = 2207042
CONTAINER_POLL_S = 60.0
CONTAINER_POLL_FOR_S = 300.0
# Containers not published within 24 hours expire; start a new one a little before that.
CONTAINER_TTL_S = 23 * 3600
# How long Meta may fetch the video for: it downloads while the container is IN_PROGRESS, which the
# status polling allows five minutes inline and later retries some more. The link dies sooner anyway
# once the post is over.
VIDEO_URL_TTL = timedelta(hours=2)
# The publishing limit is a moving 24-hour window whose oldest post we cannot see: check hourly.
PUBLISH_LIMIT_RETRY_S = 3600.0
_RELINK = "Re-link the Instagram account with /link instagram."


def _publish_limit(
    error: dict[str, Any], response: httpx.Response, message: str, publish_step: bool
) -> PublishError | None:
    # The spent daily quota (subcode 2207042); a throttling code is read as throttling first.
    if error.get("error_subcode") == PUBLISH_LIMIT_SUBCODE and error.get("code") not in THROTTLED:
        return RateLimited(message, status_code=response.status_code, retry_after=PUBLISH_LIMIT_RETRY_S)
    return None


ERRORS = GraphErrors(
    name="Instagram",
    relink=_RELINK,
    permission_hint="The account must grant content publishing. " + _RELINK,
    throttled=THROTTLED,
    limits=_publish_limit,
)


class InstagramPublisher(ContainerPublisher):
    platform = Platform.INSTAGRAM
    requires_account = True
    errors = ERRORS
    api = ContainerApi(
        prefix="ig",
        limit_edge="content_publishing_limit",
        create_edge="media",
        publish_edge="media_publish",
        recent_edge="media",
        text_field="caption",
        status_field="status_code",
        detail_field="status",
        unknown_detail="unknown error",
        noun="reel",
        specs_hint=(
            "Reels need an MP4/MOV with H.264 or HEVC video and AAC audio, 3 s to 15 min; "
            "Instagram downloads it from postbot's web.public_url, which must be public."
        ),
    )
    container_ttl_s = CONTAINER_TTL_S
    video_url_ttl = VIDEO_URL_TTL
    publish_limit_retry_s = PUBLISH_LIMIT_RETRY_S

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        graph_base_url: str = DEFAULT_GRAPH_URL,
        share_to_feed: bool = True,
        # "We recommend querying a container's status once per minute, for no more than 5 minutes"
        # (https://developers.facebook.com/docs/instagram-platform/content-publishing#troubleshooting).
        poll_interval_s: float = CONTAINER_POLL_S,
        max_processing_s: float = CONTAINER_POLL_FOR_S,
        max_inline_wait_s: float = 30.0,
        step_attempts: int = 3,
        retry_base_s: float = 0.5,
    ) -> None:
        self.http = http
        self.graph = graph_base_url.rstrip("/")
        self.share_to_feed = share_to_feed
        self.poll_interval_s = poll_interval_s
        self.max_processing_s = max_processing_s
        self.max_inline_wait_s = max_inline_wait_s
        self.step_attempts = step_attempts
        self.retry_base_s = retry_base_s
        self._warned_version = False

    @classmethod
    def from_settings(cls, conf: PlatformSettings, http: httpx.AsyncClient) -> InstagramPublisher:
        return cls(
            http,
            # An explicit base URL carries its own version; the defaults take api_version.
            graph_base_url=conf.base_url or f"{GRAPH_HOST}/{conf.api_version or GRAPH_VERSION}",
        )

    # --- requests ------------------------------------------------------------------------------

    def _seen(self, response: httpx.Response) -> None:
        """Meta serves a call to an expired Graph version with the oldest available one and says
        which in ``facebook-api-version`` (core/platforms/instagram/versions.py): nothing fails, so
        say it in the log, once per publisher, naming the setting to change."""
        served = response.headers.get("facebook-api-version")
        asked = self.graph.rsplit("/", 1)[-1]
        if served and served != asked and not self._warned_version:
            self._warned_version = True
            log.warning(
                "Instagram answered Graph API %s calls with %s: %s is past its expiry. Set "
                "platforms.instagram.api_version to a supported version (%s).",
                asked,
                served,
                asked,
                versions.SOURCE,
            )

    # --- the container ------------------------------------------------------------------------

    def _container_params(self, job: PublishJob, video_url: str) -> dict[str, str]:
        params = {
            "media_type": "REELS",
            "video_url": video_url,
            "caption": job.caption,
            "share_to_feed": "true" if job.options.get("share_to_feed", self.share_to_feed) else "false",
        }
        if "thumb_offset" in job.options:
            params["thumb_offset"] = str(int(job.options["thumb_offset"]))
        return params
