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
it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.errors import ConfigError
from core.platforms.instagram import versions
from core.publishers import graph
from core.publishers.base import (
    PermanentError,
    PublishError,
    PublishJob,
    PublishResult,
    RateLimited,
    TokenSource,
    TransientError,
)
from core.publishers.graph import GraphErrors, GraphRequests

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


class InstagramPublisher(GraphRequests):
    errors = ERRORS
    platform = Platform.INSTAGRAM
    requires_account = True

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

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get("ig_media_id"):
            return PublishResult(str(state["ig_media_id"]), state.get("remote_url"))
        container = state.get("ig_container")
        # An old container is replaced only if it was never published: one that may have been is
        # asked for its status below, so a lost publish answer is found, not published again.
        old = time.time() - float(state.get("ig_container_at", 0)) > CONTAINER_TTL_S
        if not container or (old and not state.get("ig_publish_attempted")):
            container = await self._create_container(job, tokens)
        status = await self._wait_finished(job, tokens, container)
        if status == "PUBLISHED":
            media_id = await self._find_published(job, tokens)
        else:
            media_id = await self._publish(job, tokens, container)
        return await self._finish(job, tokens, media_id)

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

    # --- container and upload ------------------------------------------------------------------

    async def _create_container(self, job: PublishJob, tokens: TokenSource) -> str:
        user = tokens.account_id
        limit = await self._step(
            tokens, "GET", f"{user}/content_publishing_limit", "report the publishing limit",
            params={"fields": "quota_usage,config"},
        )  # fmt: skip
        usage = (limit.get("data") or [{}])[0]
        total = (usage.get("config") or {}).get("quota_total")
        if total is not None and int(usage.get("quota_usage") or 0) >= int(total):
            raise RateLimited(
                f"the Instagram account has used its {total} API posts for the last 24 hours",
                retry_after=PUBLISH_LIMIT_RETRY_S,
                hint="Instagram allows a fixed number of API posts per day; it will be retried later.",
            )
        try:
            video_url = await job.video_url(expires=VIDEO_URL_TTL)
        except ConfigError as exc:
            raise PermanentError(
                "Instagram fetches the video from postbot, and postbot has no link to give it",
                hint=str(exc),
            ) from exc
        params = {
            "media_type": "REELS",
            "video_url": video_url,
            "caption": job.caption,
            "share_to_feed": "true" if job.options.get("share_to_feed", self.share_to_feed) else "false",
        }
        if "thumb_offset" in job.options:
            params["thumb_offset"] = str(int(job.options["thumb_offset"]))
        body = await self._step(tokens, "POST", f"{user}/media", "create the reel", data=params)
        container = str(body.get("id") or "")
        if not container:
            raise TransientError("Instagram did not return a container id")
        # A new container has never been published.
        await job.checkpoint(ig_container=container, ig_container_at=time.time(), ig_publish_attempted=False)
        return container

    async def _wait_finished(self, job: PublishJob, tokens: TokenSource, container: str) -> str:
        # Instagram fetches the video from postbot's link itself: there are no bytes of ours to count.
        job.processing("Instagram is fetching the video")
        deadline = time.monotonic() + self.max_processing_s
        while True:
            body = await self._step(
                tokens, "GET", container, "report the reel's status", params={"fields": "status_code,status"}
            )
            status = str(body.get("status_code") or "")
            if status in ("FINISHED", "PUBLISHED"):
                return status
            if status == "ERROR":
                raise PermanentError(
                    f"Instagram could not process the video: {body.get('status') or 'unknown error'}",
                    hint=(
                        "Reels need an MP4/MOV with H.264 or HEVC video and AAC audio, 3 s to 15 min; "
                        "Instagram downloads it from postbot's web.public_url, which must be public."
                    ),
                )
            if status == "EXPIRED":
                await job.checkpoint(ig_container=None)
                raise TransientError("the Instagram upload expired before it was published; starting over")
            if time.monotonic() + self.poll_interval_s > deadline:
                raise TransientError(
                    "Instagram is still processing the video", retry_after=self.poll_interval_s
                )
            await asyncio.sleep(self.poll_interval_s)

    # --- publishing ----------------------------------------------------------------------------

    async def _publish(self, job: PublishJob, tokens: TokenSource, container: str) -> str:
        await job.checkpoint(ig_publish_attempted=True)
        # Not retried in place: an error may hide a publish that happened; the retry checks first.
        body = await self._graph(
            tokens,
            "POST",
            f"{tokens.account_id}/media_publish",
            "publish the reel",
            data={"creation_id": container},
        )
        media_id = str(body.get("id") or "")
        if not media_id:
            raise TransientError("Instagram did not return the published reel's id")
        await job.checkpoint(ig_media_id=media_id, remote_id=media_id)
        return media_id

    async def _find_published(self, job: PublishJob, tokens: TokenSource) -> str:
        """The container was published by an attempt whose answer was lost: find that reel."""
        media_id = await self._find_recent(
            tokens,
            f"{tokens.account_id}/media",
            "list recent posts",
            text_field="caption",
            time_field="timestamp",
            text=job.caption,
            since=float(job.upload_state.get("ig_container_at") or 0),
        )
        if media_id:
            await job.checkpoint(ig_media_id=media_id, remote_id=media_id)
            return media_id
        # Published for certain (the container says so), so never publish again; only the id is unknown.
        container = str(job.upload_state.get("ig_container"))
        log.warning("published reel not found among recent posts", extra={"post_id": job.post_id})
        await job.checkpoint(ig_media_id=container, remote_id=container)
        return container

    async def _finish(self, job: PublishJob, tokens: TokenSource, media_id: str) -> PublishResult:
        url = await self._field(tokens, media_id, "permalink", "report the reel's link")
        await job.checkpoint(remote_url=url)
        return PublishResult(remote_id=media_id, url=url)
