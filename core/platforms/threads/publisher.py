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
it again. That flow, and the Graph errors' reading, are core/publishers/graph.py's, shared
with the other platforms on Meta's Graph API; this module says what is Threads' own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.threads import versions
from core.platforms.threads.options import REPLY_CONTROLS
from core.publishers import graph
from core.publishers.base import PublishError, PublishJob, RateLimited
from core.publishers.graph import ContainerApi, ContainerPublisher, GraphErrors

GRAPH_HOST = "https://graph.threads.net"
DEFAULT_GRAPH_URL = f"{GRAPH_HOST}/{versions.DEFAULT}"
# Threads' errors follow Graph's codes (core/publishers/graph.py; developers.facebook.com/docs/
# graph-api/guides/error-handling), with 80002 for its own rate limit as on Instagram.
THROTTLED = graph.THROTTLED | {80002}
# Still a guess: what threads_publish answers once the 250 posts are spent. Searched 2026-12-07:
# corpus docs (Threads Overview's Rate Limiting and Posts sections, Troubleshooting, the
# threads_publishing_limit reference: the limit and the edge that reports it, no error body), corpus
# issues and code ("threads_publish" with limit, quota, 250; Postiz's threads provider and its
# tracker, restfb's Threads support, Threads client libraries): clients check the quota edge
# themselves and none quotes the refusal. Meta's content-publishing APIs answer their own cap with
# code 9 (Instagram: code 9, subcode 2207042), so code 9 is read as the cap at once. The code does
# not have to be right: the quota edge is asked before every container is made, and any other
# permanent refusal of threads_publish is checked against it (ContainerPublisher._publish), so a
# spent quota waits whatever code it comes with, and a refusal with the quota not spent fails in
# Threads' words.
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


class ThreadsPublisher(ContainerPublisher):
    platform = Platform.THREADS
    requires_account = True
    errors = ERRORS
    # Retrieve Threads Posts lists the profile's own (``GET /{threads-user-id}/threads``,
    # https://developers.facebook.com/docs/threads/threads-media): a lost publish is looked up there.
    api = ContainerApi(
        prefix="th",
        limit_edge="threads_publishing_limit",
        create_edge="threads",
        publish_edge="threads_publish",
        recent_edge="threads",
        text_field="text",
        status_field="status",
        detail_field="error_message",
        unknown_detail="UNKNOWN",
        noun="post",
        specs_hint=_SPECS_HINT,
    )
    container_ttl_s = CONTAINER_TTL_S
    video_url_ttl = VIDEO_URL_TTL
    publish_limit_retry_s = PUBLISH_LIMIT_RETRY_S

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

    # --- the container ------------------------------------------------------------------------

    def _container_params(self, job: PublishJob, video_url: str) -> dict[str, str]:
        params = {"media_type": "VIDEO", "video_url": video_url, "text": job.caption}
        word = job.options.get("reply_control")
        if word:
            params["reply_control"] = REPLY_CONTROLS[str(word)]
        return params
