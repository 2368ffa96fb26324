"""Facebook Page videos through the Graph API: a reel when the video fits the Reels spec, otherwise
a Page video.

Reels (https://developers.facebook.com/docs/video-api/guides/reels-publishing, read 6 Dec 2026):

1. ``POST /{page-id}/video_reels`` with ``upload_phase=start`` answers ``{"video_id", "upload_url"}``.
2. The bytes go to ``upload_url`` on rupload.facebook.com with ``Authorization: OAuth <page token>``
   and the ``offset`` and ``file_size`` headers. postbot sends them in ``chunk_size_bytes`` pieces,
   each at its offset, so an interrupted upload resumes where ``GET /{video-id}?fields=status`` says
   it stopped (``uploading_phase.bytes_transferred``) instead of starting over. The guide's other
   way, a ``file_url`` header Meta fetches, would need postbot's web address to be public; bytes
   need nothing. Independent clients send the offset and size headers on every upload (trypost's
   fix "use upload_url + file_url for reel transfer phase", github.com/trypostit/trypost/pull/32:
   rupload answered "Header Offset not convertable to unsigned long" without them).
3. ``POST /{page-id}/video_reels`` with ``upload_phase=finish``, ``video_id``,
   ``video_state=PUBLISHED`` and the ``description`` publishes it. "Reels API is limited to 30
   API-published posts within a 24-hour moving period ... enforced on the POST
   /{page_id}/video_reels endpoint when attempting to publish" (same page): a refusal there for a
   limit waits an hour (core/platforms/facebook/caps.py).
4. ``GET /{video-id}?fields=status`` is polled through ``processing_phase`` and
   ``publishing_phase`` until the reel is published.

Page videos (a video that cannot be a reel: longer than 90 s, not 9:16, smaller than 540x960):
``POST /{page-id}/videos`` with ``file_url`` (postbot's signed per-post link, as Instagram uses),
``title``, ``description`` and ``published=true``; then the same status polling. ``file_url`` is a
documented parameter of the Page's videos edge ("Accessible URL of a video file",
https://developers.facebook.com/docs/graph-api/reference/page/videos) and what the Postiz client sends
(libraries/nestjs-libraries/src/integrations/social/facebook.provider.ts). The Video API guide's
upload route, the Resumable Upload API (``/{app-id}/uploads``), takes a *User* token of someone with
"an administrator or developer role on this app"
(https://developers.facebook.com/docs/graph-api/guides/upload), which the Page managers who link
postbot need not be. That is not the only way to send bytes, though: independent clients upload Page
videos in pieces with a *Page* token through the videos edge's own chunked protocol
(``upload_phase=start|transfer|finish``, ``upload_session_id``, ``start_offset``,
``video_file_chunk``; the facebook_api_rs crate's ``graph/pages/media_upload/video_by_reqwest.rs``,
"supports posting video by video_url, Resumable and Non-Resumable upload protocols", and n8n's
workflow 13366, read 6 Dec 2026). Meta's current guides do not describe that protocol, so postbot
keeps ``file_url`` (and its need for a public ``web.public_url``) rather than build on an undocumented
one.

Every step is checkpointed: a retry resumes the upload, polls a video already published, and never
publishes twice (the finish and the create are marked attempted before they are sent; a lost
answer is settled by the video's status or the Page's recent videos).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.errors import ConfigError
from core.platforms.facebook import media, versions
from core.publishers import graph
from core.publishers.base import (
    AuthError,
    PermanentError,
    PublishError,
    PublishJob,
    PublishResult,
    RateLimited,
    TokenSource,
    TransientError,
)
from core.publishers.graph import GraphErrors, GraphRequests, error_body, regain_after
from core.publishers.http import retry_transient, send_authorized

log = logging.getLogger(__name__)

GRAPH_VERSION = versions.DEFAULT
GRAPH_HOST = "https://graph.facebook.com"
UPLOAD_HOST = "https://rupload.facebook.com"
DEFAULT_GRAPH_URL = f"{GRAPH_HOST}/{GRAPH_VERSION}"
# Graph's throttling codes (core/publishers/graph.py) and the Pages rate limit, 80001
# (https://developers.facebook.com/docs/graph-api/guides/error-handling).
THROTTLED = graph.THROTTLED | {80001}
# Still a guess: which error the 30-reels cap answers with. Searched 2026-12-07 (corpus docs: the
# Reels Publishing guide's Rate Limit section names the number and the endpoint, not the error;
# Video API Error Codes, developers.facebook.com/docs/video-api/reference/error-codes, lists only
# upload-session and upload subcodes; Handling Errors has no row for a publishing cap. Corpus issues
# and code: "video_reels limit", "30 API-published posts", the Postiz, trypost, n8n and
# fbsamples/reels_publishing_apis trackers: clients enforce the 30 themselves, none quotes Facebook's
# refusal; nor can postbot count the Page's reels, the Page video_reels reference saying of reading
# "You can't perform this operation on this endpoint"). Code 9 is what Meta's sibling limit answers
# (Instagram's content publishing, code 9 with subcode 2207042, Instagram Error Codes), so it is
# read as the cap, and so is throttling on the publish step without a regain time. Any other refusal
# fails the post with Facebook's own words. That is the cheaper mistake: reading every unknown
# refusal as the cap would hold each genuinely bad reel through hourly attempts (four hours with
# scheduler.max_attempts' default 5) before its author hears, while the opposite mistake needs a Page
# past 30 API reels in a day and costs one post that its author sees failed at once, in Facebook's
# words, and can send again.
PUBLISH_LIMITED = {9}
# Code 368, "Temporarily blocked for policies violations": "Wait and retry the operation" (Handling
# Errors, https://developers.facebook.com/docs/graph-api/guides/error-handling, Error Codes, read
# 2026-12-07). Publishing meets it as the "posting too fast" block, code 368 with subcode 1390008,
# in bodies quoted by clients that publish for real (gitroomhq/postiz-app pull 2068, from its
# production failures, 2026-09-11: "We limit how often you can post ... You can try again later.";
# facebookarchive/php-graph-sdk issue 693). Postiz failed the post; postbot waits, as Meta says.
POLICY_BLOCK = 368
POSTING_TOO_FAST = 1390008
# How long the block or the cap lasts is documented nowhere read (the bodies say "try again later";
# the cap is a moving 24 hours whose oldest reel postbot cannot see): come back hourly, as many
# times as scheduler.max_attempts allows.
PUBLISH_LIMIT_RETRY_S = 3600.0
POLL_S = 10.0
POLL_FOR_S = 300.0
# Meta fetches a Page video's file_url while it uploads; the link dies sooner once the post is over.
VIDEO_URL_TTL = timedelta(hours=2)
REEL = "reel"
VIDEO = "video"
_RELINK = "Re-link the Page with /link facebook."


def _publish_limit(
    error: dict[str, Any], response: httpx.Response, message: str, publish_step: bool
) -> PublishError | None:
    code = error.get("code")
    status = response.status_code
    if code == POLICY_BLOCK:
        why = (
            "Facebook asked postbot to post more slowly"
            if error.get("error_subcode") == POSTING_TOO_FAST
            else "Facebook has temporarily blocked this action for the Page"
        )
        return RateLimited(
            message,
            status_code=status,
            retry_after=PUBLISH_LIMIT_RETRY_S,
            hint=f"{why}; it will be retried in an hour.",
        )
    if publish_step and (code in PUBLISH_LIMITED or (code in THROTTLED and regain_after(response) is None)):
        return RateLimited(
            message,
            status_code=status,
            retry_after=PUBLISH_LIMIT_RETRY_S,
            hint=(
                "Facebook publishes at most 30 reels a day per Page through the API; "
                "it will be retried later."
            ),
        )
    return None


ERRORS = GraphErrors(
    name="Facebook",
    relink=_RELINK,
    permission_hint=(
        "The person linking must manage the Page (CREATE_CONTENT) and grant pages_manage_posts. " + _RELINK
    ),
    throttled=THROTTLED,
    limits=_publish_limit,
)


class FacebookPublisher(GraphRequests):
    errors = ERRORS
    platform = Platform.FACEBOOK
    requires_account = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        graph_base_url: str = DEFAULT_GRAPH_URL,
        upload_base_url: str = UPLOAD_HOST,
        chunk_size: int = 8 * 1024 * 1024,
        poll_interval_s: float = POLL_S,
        max_processing_s: float = POLL_FOR_S,
        max_inline_wait_s: float = 30.0,
        step_attempts: int = 3,
        retry_base_s: float = 0.5,
    ) -> None:
        self.http = http
        self.graph = graph_base_url.rstrip("/")
        self.upload = upload_base_url.rstrip("/")
        self.chunk_size = chunk_size
        self.poll_interval_s = poll_interval_s
        self.max_processing_s = max_processing_s
        self.max_inline_wait_s = max_inline_wait_s
        self.step_attempts = step_attempts
        self.retry_base_s = retry_base_s

    @classmethod
    def from_settings(cls, conf: PlatformSettings, http: httpx.AsyncClient) -> FacebookPublisher:
        return cls(
            http,
            graph_base_url=conf.base_url or f"{GRAPH_HOST}/{conf.api_version or GRAPH_VERSION}",
            upload_base_url=conf.upload_base_url or UPLOAD_HOST,
            chunk_size=conf.chunk_size_bytes,
        )

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get("fb_published"):
            return _result(state)
        kind = state.get("fb_kind")
        if kind is None:
            kind = REEL if media.is_reel(job.media) else VIDEO
            await job.checkpoint(fb_kind=kind)
        if kind == REEL:
            video_id = await self._reel(job, tokens)
        else:
            video_id = await self._page_video(job, tokens)
        url = await self._permalink(tokens, video_id, kind)
        await job.checkpoint(fb_published=True, remote_id=video_id, remote_url=url)
        result = _result(job.upload_state)
        if kind == VIDEO:
            note = f"posted as a Page video, not a reel: {media.why_not_reel(job.media)}"
            return PublishResult(result.remote_id, result.url, note=note)
        return result

    # --- reels ---------------------------------------------------------------------------------

    async def _reel(self, job: PublishJob, tokens: TokenSource) -> str:
        state = job.upload_state
        video_id = state.get("fb_video_id")
        if not video_id:
            body = await self._step(
                tokens, "POST", f"{tokens.account_id}/video_reels", "start the reel upload",
                data={"upload_phase": "start"},
            )  # fmt: skip
            video_id, upload_url = str(body.get("video_id") or ""), str(body.get("upload_url") or "")
            if not video_id:
                raise TransientError("Facebook did not return the reel's video id")
            upload_url = self._upload_url(upload_url, video_id)
            await job.checkpoint(fb_video_id=video_id, fb_upload_url=upload_url, fb_finish_attempted=False)
        video_id = str(video_id)
        if not state.get("fb_finish_attempted"):
            await self._upload(job, tokens, video_id, str(state["fb_upload_url"]))
            await self._finish_reel(job, tokens, video_id)
        else:
            status = await self._status(tokens, video_id)
            if str(status.get("video_status") or "") == "upload_complete" and all(
                _phase(status, phase) in ("", "not_started")
                for phase in ("processing_phase", "publishing_phase")
            ):
                # The finish was sent but never reached Facebook (nothing after the upload has begun):
                # sending it again cannot publish twice.
                await self._finish_reel(job, tokens, video_id)
        await self._wait_published(job, tokens, video_id, what="reel")
        return video_id

    def _upload_url(self, given: str, video_id: str) -> str:
        """Where the bytes go: the address Facebook gave, moved onto a configured upload host (a
        proxy, a test) when there is one; the documented rupload path when none was given."""
        path = urlsplit(given).path if given else f"/video-upload/{self.graph.rsplit('/', 1)[-1]}/{video_id}"
        if given and self.upload == UPLOAD_HOST:
            return given
        return f"{self.upload}{path}"

    async def _upload(self, job: PublishJob, tokens: TokenSource, video_id: str, upload_url: str) -> None:
        source = job.source
        size = await source.size()
        status = await self._status(tokens, video_id)
        sent = int((status.get("uploading_phase") or {}).get("bytes_transferred") or 0)
        job.uploaded(sent, size)
        while sent < size:
            end = min(sent + self.chunk_size, size)
            piece = await source.read(sent, end)
            sent = await retry_transient(
                functools.partial(self._send_piece, tokens, upload_url, sent, size, piece),
                attempts=self.step_attempts,
                base_s=self.retry_base_s,
                max_wait_s=self.max_inline_wait_s,
            )
            await job.checkpoint(fb_bytes_sent=sent)
            job.uploaded(sent, size)

    async def _send_piece(self, tokens: TokenSource, url: str, offset: int, size: int, data: bytes) -> int:
        async def send(token: str) -> httpx.Response:
            return await self.http.post(
                url,
                content=data,
                headers={
                    "Authorization": f"OAuth {token}",
                    "offset": str(offset),
                    "file_size": str(size),
                    "Content-Type": "application/octet-stream",
                },
            )

        response = await send_authorized(tokens, send, token_rejected=_upload_token_rejected)
        if response.is_success:
            return offset + len(data)
        info = _debug_info(response)
        message = (
            f"Facebook refused a piece of the reel: {info.get('message') or f'HTTP {response.status_code}'}"
        )
        if response.status_code == 401:
            raise AuthError(message, status_code=401, hint=_RELINK)
        if info.get("retriable") or response.status_code >= 500:
            # The next attempt asks the video's status where the upload stands and goes on from there.
            raise TransientError(message, status_code=response.status_code)
        raise PermanentError(message, status_code=response.status_code)

    async def _finish_reel(self, job: PublishJob, tokens: TokenSource, video_id: str) -> None:
        await job.checkpoint(fb_finish_attempted=True)
        job.processing("Facebook is processing the reel")
        # Not retried in place: an error may hide a finish that went through; the retry asks first.
        body = await self._graph(
            tokens,
            "POST",
            f"{tokens.account_id}/video_reels",
            "publish the reel",
            publish_step=True,
            data={
                "upload_phase": "finish",
                "video_id": video_id,
                "video_state": "PUBLISHED",
                "description": job.caption,
            },
        )
        if body.get("success") is False:
            raise TransientError("Facebook did not confirm the reel's publishing")

    # --- Page videos ---------------------------------------------------------------------------

    async def _page_video(self, job: PublishJob, tokens: TokenSource) -> str:
        state = job.upload_state
        video_id = state.get("fb_video_id")
        if not video_id and state.get("fb_create_attempted"):
            video_id = await self._find_video(job, tokens)
        if not video_id:
            video_id = await self._create_video(job, tokens)
        await self._wait_published(job, tokens, str(video_id), what="video")
        return str(video_id)

    async def _create_video(self, job: PublishJob, tokens: TokenSource) -> str:
        try:
            file_url = await job.video_url(expires=VIDEO_URL_TTL)
        except ConfigError as exc:
            raise PermanentError(
                "Facebook fetches a Page video from postbot, and postbot has no link to give it",
                hint=f"{exc} (Reels are uploaded directly; only Page videos need the link.)",
            ) from exc
        data = {"file_url": file_url, "description": job.caption, "published": "true"}
        title = job.options.get("title")
        if title:
            data["title"] = str(title)
        await job.checkpoint(fb_create_attempted=True, fb_create_at=time.time())
        job.processing("Facebook is fetching the video")
        # Not retried in place: a lost answer may hide a created video; the retry looks for it.
        body = await self._graph(tokens, "POST", f"{tokens.account_id}/videos", "post the video", data=data)
        video_id = str(body.get("id") or "")
        if not video_id:
            raise TransientError("Facebook did not return the video's id")
        await job.checkpoint(fb_video_id=video_id)
        return video_id

    async def _find_video(self, job: PublishJob, tokens: TokenSource) -> str | None:
        """The create was sent and its answer lost: the Page's newest videos say whether it exists."""
        video_id = await self._find_recent(
            tokens,
            f"{tokens.account_id}/videos",
            "list the Page's videos",
            text_field="description",
            time_field="created_time",
            text=job.caption,
            since=float(job.upload_state.get("fb_create_at") or 0),
        )
        if video_id:
            await job.checkpoint(fb_video_id=video_id)
        return video_id

    # --- status --------------------------------------------------------------------------------

    async def _status(self, tokens: TokenSource, video_id: str) -> dict[str, Any]:
        body = await self._step(
            tokens, "GET", video_id, "report the video's status", params={"fields": "status"}
        )
        status = body.get("status")
        return status if isinstance(status, dict) else {}

    async def _wait_published(
        self, job: PublishJob, tokens: TokenSource, video_id: str, *, what: str
    ) -> None:
        deadline = time.monotonic() + self.max_processing_s
        while True:
            status = await self._status(tokens, video_id)
            for phase in ("uploading_phase", "processing_phase", "publishing_phase"):
                if _phase(status, phase) == "error":
                    raise PermanentError(
                        f"Facebook could not publish the {what}: {_errors(status, phase)}",
                        hint=(
                            "Reels are MP4, 9:16, 3 to 90 s, 24 to 60 fps; Page videos are fetched from "
                            "postbot's web.public_url, which must be public."
                        ),
                    )
            video_status = str(status.get("video_status") or "")
            if video_status == "error":
                raise PermanentError(f"Facebook could not process the {what}")
            if video_status == "expired":
                # The upload session ran out before it was published: start a new one.
                await job.checkpoint(fb_video_id=None, fb_finish_attempted=False, fb_create_attempted=False)
                raise TransientError(
                    f"the Facebook {what} upload expired before it was published; starting over"
                )
            publishing = status.get("publishing_phase") or {}
            if publishing.get("status") == "complete" or publishing.get("publish_status") == "published":
                return
            if time.monotonic() + self.poll_interval_s > deadline:
                raise TransientError(
                    f"Facebook is still processing the {what}", retry_after=self.poll_interval_s
                )
            await asyncio.sleep(self.poll_interval_s)

    async def _permalink(self, tokens: TokenSource, video_id: str, kind: str) -> str | None:
        link = str(await self._field(tokens, video_id, "permalink_url", "report the video's link") or "")
        if link.startswith("/"):
            link = f"https://www.facebook.com{link}"
        if link:
            return link
        return f"https://www.facebook.com/reel/{video_id}" if kind == REEL else None


def _result(state: dict[str, Any]) -> PublishResult:
    return PublishResult(str(state["remote_id"]), state.get("remote_url"))


def _phase(status: dict[str, Any], name: str) -> str:
    phase = status.get(name)
    return str(phase.get("status") or "") if isinstance(phase, dict) else ""


def _errors(status: dict[str, Any], name: str) -> str:
    phase = status.get(name) or {}
    errors = phase.get("errors") if isinstance(phase, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("code") or "unknown error")
    return "unknown error"


def _debug_info(response: httpx.Response) -> dict[str, Any]:
    # rupload answers errors as {"debug_info": {"retriable", "type", "message"}}.
    try:
        body = response.json()
    except ValueError:
        return {}
    info = body.get("debug_info") if isinstance(body, dict) else None
    return info if isinstance(info, dict) else {}


def _upload_token_rejected(response: httpx.Response) -> bool:
    return response.status_code == 401 or error_body(response).get("code") in graph.INVALID_TOKEN
