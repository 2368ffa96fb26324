"""Threads video posts through the Threads API, from a ``video_url`` that Threads fetches.

Publishing is two steps (Threads Posts, https://developers.facebook.com/docs/threads/posts, read
2026-12-06): ``POST /{threads-user-id}/threads`` with ``media_type=VIDEO``, ``video_url`` and ``text``
creates a container, and Threads downloads the video ("Threads retrieves your video from the URL
provided, so it must be on a public server"); then ``POST /{threads-user-id}/threads_publish`` with
``creation_id`` publishes it. Between the two, ``GET /{threads-container-id}?fields=status,error_message``
says ``IN_PROGRESS``, ``FINISHED``, ``ERROR`` (with ``FAILED_DOWNLOADING_VIDEO``, ``INVALID_DURATION``…),
``EXPIRED`` ("not published within 24 hours") or ``PUBLISHED``; "We recommend querying a container's
status once per minute, for no more than 5 minutes" (Troubleshooting,
https://developers.facebook.com/docs/threads/troubleshooting). The permalink comes from
``GET /{threads-media-id}?fields=permalink``.

The publishing limit (250 API-published posts per profile per moving 24 hours) is "enforced on the
POST /{threads-user-id}/threads_publish endpoint", and Meta recommends that an app which schedules
posts enforces it too (Overview, Posts, https://developers.facebook.com/docs/threads/overview#posts):
``GET /{threads-user-id}/threads_publishing_limit?fields=quota_usage,config`` is asked before a
container is created, and a spent quota waits (caps.py) instead of downloading a video that cannot
go out.

Postiz (libraries/nestjs-libraries/src/integrations/social/threads.provider.ts) does the same: a
VIDEO container from ``video_url``, status polling (``status,error_message``), then threads_publish
with ``creation_id``, and treats a container found ``PUBLISHED`` as live ("never publish again").

The URL is this post's own link to its video on postbot's web server (``web.public_url``, see
core/media/storage/post_links.py): signed for this key and this post, expiring, answering ranges,
and refused once the post is published, failed or cancelled.

The container id is checkpointed as soon as it exists and the publish is marked as attempted before
it is sent: a retry that finds the container ``PUBLISHED`` looks the post up instead of publishing
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
from core.platforms.threads import versions
from core.platforms.threads.options import REPLY_CONTROLS
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

GRAPH_HOST = "https://graph.threads.net"
DEFAULT_GRAPH_URL = f"{GRAPH_HOST}/{versions.DEFAULT}"
# Threads' errors follow Graph's codes (core/publishers/graph.py; developers.facebook.com/docs/
# graph-api/guides/error-handling), with 80002 for its own rate limit as on Instagram.
THROTTLED = graph.THROTTLED | {80002}
# What threads_publish answers once the 250 posts are spent is not shown in Threads' pages; Meta's
# content-publishing APIs use code 9 ("Application request limit reached") for it, which is what
# postbot reads as "wait" (the check before creating the container normally keeps it from happening).
PUBLISH_LIMIT_CODE = 9
CONTAINER_POLL_S = 60.0
CONTAINER_POLL_FOR_S = 300.0
# "EXPIRED — The container was not published within 24 hours" (Troubleshooting): start a new one a
# little before that.
CONTAINER_TTL_S = 23 * 3600
# How long Threads may fetch the video for: it downloads while the container is IN_PROGRESS, which the
# polling allows five minutes inline and later retries some more. The link dies sooner anyway once
# the post is over.
VIDEO_URL_TTL = timedelta(hours=2)
# The limit is a moving 24-hour window whose oldest post we cannot see: check hourly.
PUBLISH_LIMIT_RETRY_S = 3600.0
_RELINK = "Re-link the Threads account with /link threads."
_SPECS_HINT = (
    "Threads takes an MP4/MOV with H.264 or HEVC video and AAC audio, up to 5 minutes and 1 GB, and "
    "downloads it from postbot's web.public_url, which must be public."
)


def _publish_limit(
    error: dict[str, Any], response: httpx.Response, message: str, publish_step: bool
) -> PublishError | None:
    if error.get("code") == PUBLISH_LIMIT_CODE:
        return RateLimited(message, status_code=response.status_code, retry_after=PUBLISH_LIMIT_RETRY_S)
    return None


# Throttling waits Graph's flat minute: Threads' pages do not document the usage header.
ERRORS = GraphErrors(
    name="Threads",
    relink=_RELINK,
    permission_hint="The account must grant threads_content_publish. " + _RELINK,
    throttled=THROTTLED,
    regain_from_usage=False,
    limits=_publish_limit,
)


class ThreadsPublisher(GraphRequests):
    errors = ERRORS
    platform = Platform.THREADS
    requires_account = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        graph_base_url: str = DEFAULT_GRAPH_URL,
        # "once per minute, for no more than 5 minutes" (Troubleshooting).
        poll_interval_s: float = CONTAINER_POLL_S,
        max_processing_s: float = CONTAINER_POLL_FOR_S,
        max_inline_wait_s: float = 30.0,
        step_attempts: int = 3,
        retry_base_s: float = 0.5,
    ) -> None:
        self.http = http
        self.graph = graph_base_url.rstrip("/")
        self.poll_interval_s = poll_interval_s
        self.max_processing_s = max_processing_s
        self.max_inline_wait_s = max_inline_wait_s
        self.step_attempts = step_attempts
        self.retry_base_s = retry_base_s

    @classmethod
    def from_settings(cls, conf: PlatformSettings, http: httpx.AsyncClient) -> ThreadsPublisher:
        return cls(http, graph_base_url=conf.base_url or DEFAULT_GRAPH_URL)

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get("th_media_id"):
            return PublishResult(str(state["th_media_id"]), state.get("remote_url"))
        container = state.get("th_container")
        # An old container is replaced only if it was never published: one that may have been is
        # asked for its status below, so a lost publish answer is found, not published again.
        old = time.time() - float(state.get("th_container_at", 0)) > CONTAINER_TTL_S
        if not container or (old and not state.get("th_publish_attempted")):
            container = await self._create_container(job, tokens)
        status = await self._wait_finished(job, tokens, container)
        if status == "PUBLISHED":
            media_id = await self._find_published(job, tokens)
        else:
            media_id = await self._publish(job, tokens, container)
        return await self._finish(job, tokens, media_id)

    # --- container -----------------------------------------------------------------------------

    async def _check_limit(self, tokens: TokenSource) -> None:
        body = await self._step(
            tokens, "GET", f"{tokens.account_id}/threads_publishing_limit", "report the publishing limit",
            params={"fields": "quota_usage,config"},
        )  # fmt: skip
        usage = (body.get("data") or [{}])[0]
        total = (usage.get("config") or {}).get("quota_total")
        if total is not None and int(usage.get("quota_usage") or 0) >= int(total):
            raise RateLimited(
                f"the Threads account has used its {total} API posts for the last 24 hours",
                retry_after=PUBLISH_LIMIT_RETRY_S,
                hint="Threads allows a fixed number of API posts per day; it will be retried later.",
            )

    async def _create_container(self, job: PublishJob, tokens: TokenSource) -> str:
        await self._check_limit(tokens)
        try:
            video_url = await job.video_url(expires=VIDEO_URL_TTL)
        except ConfigError as exc:
            raise PermanentError(
                "Threads fetches the video from postbot, and postbot has no link to give it",
                hint=str(exc),
            ) from exc
        params = {"media_type": "VIDEO", "video_url": video_url, "text": job.caption}
        word = job.options.get("reply_control")
        if word:
            params["reply_control"] = REPLY_CONTROLS[str(word)]
        body = await self._step(
            tokens, "POST", f"{tokens.account_id}/threads", "create the post", data=params
        )
        container = str(body.get("id") or "")
        if not container:
            raise TransientError("Threads did not return a container id")
        # A new container has never been published.
        await job.checkpoint(th_container=container, th_container_at=time.time(), th_publish_attempted=False)
        return container

    async def _wait_finished(self, job: PublishJob, tokens: TokenSource, container: str) -> str:
        # Threads fetches the video from postbot's link itself: there are no bytes of ours to count.
        job.processing("Threads is fetching the video")
        deadline = time.monotonic() + self.max_processing_s
        while True:
            body = await self._step(
                tokens, "GET", container, "report the post's status",
                params={"fields": "status,error_message"},
            )  # fmt: skip
            status = str(body.get("status") or "")
            if status in ("FINISHED", "PUBLISHED"):
                return status
            if status == "ERROR":
                raise PermanentError(
                    f"Threads could not process the video: {body.get('error_message') or 'UNKNOWN'}",
                    hint=_SPECS_HINT,
                )
            if status == "EXPIRED":
                await job.checkpoint(th_container=None)
                raise TransientError("the Threads upload expired before it was published; starting over")
            if time.monotonic() + self.poll_interval_s > deadline:
                raise TransientError(
                    "Threads is still processing the video", retry_after=self.poll_interval_s
                )
            await asyncio.sleep(self.poll_interval_s)

    # --- publishing ----------------------------------------------------------------------------

    async def _publish(self, job: PublishJob, tokens: TokenSource, container: str) -> str:
        await job.checkpoint(th_publish_attempted=True)
        # Not retried in place: an error may hide a publish that happened; the retry checks first.
        body = await self._graph(
            tokens,
            "POST",
            f"{tokens.account_id}/threads_publish",
            "publish the post",
            data={"creation_id": container},
        )
        media_id = str(body.get("id") or "")
        if not media_id:
            raise TransientError("Threads did not return the published post's id")
        await job.checkpoint(th_media_id=media_id, remote_id=media_id)
        return media_id

    async def _find_published(self, job: PublishJob, tokens: TokenSource) -> str:
        """The container was published by an attempt whose answer was lost: find that post among the
        profile's own (``GET /{threads-user-id}/threads``, Retrieve Threads Posts,
        https://developers.facebook.com/docs/threads/threads-media)."""
        media_id = await self._find_recent(
            tokens,
            f"{tokens.account_id}/threads",
            "list recent posts",
            text_field="text",
            time_field="timestamp",
            text=job.caption,
            since=float(job.upload_state.get("th_container_at") or 0),
        )
        if media_id:
            await job.checkpoint(th_media_id=media_id, remote_id=media_id)
            return media_id
        # Published for certain (the container says so), so never publish again; only the id is unknown.
        container = str(job.upload_state.get("th_container"))
        log.warning("published thread not found among recent posts", extra={"post_id": job.post_id})
        await job.checkpoint(th_media_id=container, remote_id=container)
        return container

    async def _finish(self, job: PublishJob, tokens: TokenSource, media_id: str) -> PublishResult:
        url = await self._field(tokens, media_id, "permalink", "report the post's link")
        await job.checkpoint(remote_url=url)
        return PublishResult(remote_id=media_id, url=url)
