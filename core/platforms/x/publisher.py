"""X (Twitter): chunked media upload through the v2 media endpoints, then a post with the media.

Protocol (the endpoint references: https://docs.x.com/x-api/media/initialize-media-upload, .../append-
media-upload, .../finalize-media-upload, .../get-media-upload-status; the chunked quickstart still
shows the deprecated ``command=INIT/APPEND/FINALIZE`` form on ``/2/media/upload``):
``POST /2/media/upload/initialize`` → media id; ``POST /2/media/upload/{id}/append`` one multipart
segment at a time (``segment_index``, ``media``); ``POST /2/media/upload/{id}/finalize``; poll
``GET /2/media/upload?command=STATUS`` as ``processing_info.check_after_secs`` says until
``succeeded``; then ``POST /2/tweets`` with ``media.media_ids``.

Resuming: the media id stays valid for ``expires_after_secs`` and X keeps the segments it accepted,
so a retried post re-sends only the segments it has no acknowledgement for. Every acknowledged
segment, the finalize and the post id are checkpointed; a retry after an answer that never arrived
looks for the post among the account's recent ones (by the media key) before posting again.
"""

from __future__ import annotations

import asyncio
import functools
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.media.storage import StoredMedia
from core.publishers.base import (
    PermanentError,
    PublishJob,
    PublishResult,
    RateLimited,
    TokenSource,
    TransientError,
)
from core.publishers.http import error_for_response, reset_epoch_to_delay, retry_transient, send_authorized

DEFAULT_BASE_URL = "https://api.x.com"
# X accepts at most 5 MB per APPEND; a power of two below it keeps disk reads aligned.
MAX_SEGMENT = 4 * 1024 * 1024
MAX_SEGMENTS = 1000
READ_SIZE = 1024 * 1024
# A media id this close to expiry is not worth resuming: the rest of the upload may outlive it.
EXPIRY_MARGIN_S = 120.0

_VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm"}


def daily_cap_reset(response: httpx.Response) -> float | None:
    """Seconds until a spent 24-hour cap reopens, from a 429's ``x-user-limit-24hour-*`` or
    ``x-app-limit-24hour-*`` headers; None when neither cap is spent (or the headers are absent) and
    the 15-minute ``x-rate-limit-reset`` is what counts.

    Best effort: X sends these headers on ``POST /2/tweets`` but its rate-limit page documents only
    ``x-rate-limit-*`` (https://docs.x.com/x-api/fundamentals/rate-limits, read 6 Dec 2026), so they
    may change without notice; without them postbot falls back to the documented reset."""
    waits = [
        delay
        for which in ("user", "app")
        if response.headers.get(f"x-{which}-limit-24hour-remaining", "").strip() == "0"
        and (delay := reset_epoch_to_delay(response.headers.get(f"x-{which}-limit-24hour-reset"))) is not None
    ]
    return max(waits) if waits else None


class XPublisher:
    platform = Platform.X
    requires_account = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        chunk_size: int = MAX_SEGMENT,
        media_category: str = "tweet_video",
        max_processing_s: float = 600.0,
        max_inline_wait_s: float = 30.0,
        step_attempts: int = 3,
        retry_base_s: float = 0.5,
    ) -> None:
        self.http = http
        self.api = base_url.rstrip("/") + "/2"
        self.chunk_size = max(1, min(chunk_size, MAX_SEGMENT))
        # Segments are streamed from disk in reads of this size, so memory stays small and flat.
        self.read_size = min(self.chunk_size, READ_SIZE)
        self.media_category = media_category
        self.max_processing_s = max_processing_s
        self.max_inline_wait_s = max_inline_wait_s
        self.step_attempts = step_attempts
        self.retry_base_s = retry_base_s

    @classmethod
    def from_settings(cls, conf: PlatformSettings, http: httpx.AsyncClient) -> XPublisher:
        return cls(http, base_url=conf.base_url or DEFAULT_BASE_URL, chunk_size=conf.chunk_size_bytes)

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get("x_tweet_id"):
            return _result(str(state["x_tweet_id"]))
        if state.get("x_post_attempted"):
            # Checked before anything else: the media id may have expired since, and a new upload
            # must not lead to a second post when the first one went out with its answer lost.
            found = await self._find_post(tokens, str(state.get("x_media_key")))
            if found:
                await job.checkpoint(x_tweet_id=found, remote_id=found, remote_url=_url(found))
                return _result(found)
        media_id = await self._upload(job, tokens)
        await self._wait_processed(job, tokens, media_id)
        return await self._post(job, tokens, media_id)

    # --- requests ------------------------------------------------------------------------------

    async def _call(
        self,
        tokens: TokenSource,
        method: str,
        path: str,
        what: str,
        *,
        body: Callable[[], tuple[dict[str, str], AsyncIterator[bytes]]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        url = f"{self.api}{path}"

        async def send(token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                # A fresh stream per send: a retry after a 401 re-reads the segment from disk.
                extra, content = body()
                return await self.http.request(
                    method, url, headers=headers | extra, content=content, **kwargs
                )
            return await self.http.request(method, url, headers=headers, **kwargs)

        response = await send_authorized(tokens, send)
        if response.is_success:
            return response
        reason = _explain(response)
        message = f"X refused to {what}: {reason}"
        if response.status_code == 403 and "duplicate" in reason.lower():
            # X's 403 here is about the text, not the account's access: no re-link would help.
            raise PermanentError(
                message,
                status_code=403,
                hint="X does not take the same text twice from one account: change the caption.",
            )
        if response.status_code == 429:
            daily = daily_cap_reset(response)
            if daily is not None:
                raise RateLimited(
                    message,
                    status_code=429,
                    retry_after=daily,
                    hint="The account's (or the app's) 24-hour X posting cap is used up; "
                    "the post goes out when it reopens.",
                )
        raise error_for_response(response, message)

    async def _step(self, tokens: TokenSource, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """An idempotent upload step: retried in place on 5xx and on short rate-limit waits."""

        async def once() -> Any:
            response = await self._call(tokens, method, path, what, **kwargs)
            return response.json() if response.content else {}

        return await retry_transient(
            once, attempts=self.step_attempts, base_s=self.retry_base_s, max_wait_s=self.max_inline_wait_s
        )

    # --- upload --------------------------------------------------------------------------------

    async def _upload(self, job: PublishJob, tokens: TokenSource) -> str:
        state = job.upload_state
        size = job.media.size_bytes
        resumable = (
            state.get("x_media_id")
            and state.get("x_total") == size
            and float(state.get("x_expires_at", 0)) > time.time() + EXPIRY_MARGIN_S
        )
        if not resumable:
            await self._initialize(job, tokens)
        media_id = str(state["x_media_id"])
        if state.get("x_finalized"):
            return media_id
        chunk = int(state["x_chunk"])
        done = {int(i) for i in state.get("x_segments", [])}
        job.uploaded(_bytes_in(done, chunk, size), size)
        for index in range(math.ceil(size / chunk)):
            if index in done:
                continue
            start, end = index * chunk, min((index + 1) * chunk, size)
            await self._step(
                tokens,
                "POST",
                f"/media/upload/{media_id}/append",
                f"accept video segment {index}",
                body=functools.partial(_segment_form, job.source, index, start, end, self.read_size),
            )
            done.add(index)
            await job.checkpoint(x_segments=sorted(done))
            job.uploaded(_bytes_in(done, chunk, size), size)
        body = await self._step(tokens, "POST", f"/media/upload/{media_id}/finalize", "finalize the upload")
        await job.checkpoint(x_finalized=True, x_processing=_processing(body))
        return media_id

    async def _initialize(self, job: PublishJob, tokens: TokenSource) -> None:
        size = job.media.size_bytes
        chunk = max(self.chunk_size, math.ceil(size / MAX_SEGMENTS))
        if chunk > MAX_SEGMENT:
            raise PermanentError(
                "the video is too large for X",
                hint=f"X takes at most {MAX_SEGMENTS * MAX_SEGMENT // 2**30} GiB; send a smaller file.",
            )
        media_type = job.media.mime if job.media.mime in _VIDEO_TYPES else "video/mp4"
        payload = {"media_type": media_type, "total_bytes": size, "media_category": self.media_category}
        body = await self._step(tokens, "POST", "/media/upload/initialize", "start the upload", json=payload)
        data = body.get("data") or {}
        media_id = data.get("id")
        if not media_id:
            raise TransientError("X did not return a media id for the upload")
        expires = time.time() + float(data.get("expires_after_secs") or 3600)
        # A fresh media id: forget segments and processing recorded for an expired one.
        await job.checkpoint(
            x_media_id=str(media_id),
            x_media_key=data.get("media_key") or f"7_{media_id}",
            x_expires_at=expires,
            x_total=size,
            x_chunk=chunk,
            x_segments=[],
            x_finalized=False,
            x_processing=None,
            x_post_attempted=False,
        )

    async def _wait_processed(self, job: PublishJob, tokens: TokenSource, media_id: str) -> None:
        info = job.upload_state.get("x_processing")
        job.processing()
        deadline = time.monotonic() + self.max_processing_s
        while info is not None and info.get("state") != "succeeded":
            if info.get("state") == "failed":
                error = info.get("error") or {}
                raise PermanentError(
                    f"X could not process the video: {error.get('message') or error.get('name') or 'failed'}",
                    hint="Check the file plays and is H.264/AAC MP4, then schedule it again.",
                )
            after = info.get("check_after_secs")
            wait = float(after) if after is not None else 1.0
            if time.monotonic() + wait > deadline:
                # The checkpoint says "finalized": the next attempt goes straight back to polling.
                raise TransientError("X is still processing the video", retry_after=wait)
            await asyncio.sleep(wait)
            body = await self._step(
                tokens,
                "GET",
                "/media/upload",
                "report the video's processing status",
                params={"command": "STATUS", "media_id": media_id},
            )
            info = _processing(body)
            await job.checkpoint(x_processing=info)

    # --- the post ------------------------------------------------------------------------------

    async def _post(self, job: PublishJob, tokens: TokenSource, media_id: str) -> PublishResult:
        await job.checkpoint(x_post_attempted=True)
        payload = {"text": job.caption, "media": {"media_ids": [media_id]}}
        # Not retried in place: a lost answer could mean the post exists; the retry looks first.
        response = await self._call(tokens, "POST", "/tweets", "create the post", json=payload)
        tweet_id = str((response.json().get("data") or {}).get("id") or "")
        if not tweet_id:
            raise TransientError("X did not return the new post's id")
        await job.checkpoint(x_tweet_id=tweet_id, remote_id=tweet_id, remote_url=_url(tweet_id))
        return _result(tweet_id)

    async def _find_post(self, tokens: TokenSource, media_key: str) -> str | None:
        response = await self._call(
            tokens,
            "GET",
            f"/users/{tokens.account_id}/tweets",
            "list the account's recent posts",
            params={"max_results": "20", "tweet.fields": "attachments"},
        )
        for tweet in response.json().get("data") or []:
            if media_key in ((tweet.get("attachments") or {}).get("media_keys") or []):
                return str(tweet["id"])
        return None


def _segment_form(
    source: StoredMedia, index: int, start: int, end: int, piece: int
) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """APPEND's multipart/form-data body (``segment_index`` and ``media``), streamed from disk.

    Built by hand because httpx's multipart encoder wants the file's bytes or a blocking file
    object; this one reads the segment piece by piece and knows its length up front.
    """
    boundary = secrets.token_hex(16)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="segment_index"\r\n\r\n{index}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="blob"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def content() -> AsyncIterator[bytes]:
        yield head
        async for data in source.stream(start, end, piece=piece):
            yield data
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + (end - start) + len(tail)),
    }
    return headers, content()


def _processing(body: dict[str, Any]) -> dict[str, Any] | None:
    data = body.get("data", body)
    info = data.get("processing_info")
    return dict(info) if isinstance(info, dict) else None


def _explain(response: httpx.Response) -> str:
    """X's own words: problem details (``detail``/``title``) or the first entry of ``errors``."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
            return str(errors[0]["message"])
        for key in ("detail", "title"):
            if body.get(key):
                return str(body[key])
    return f"HTTP {response.status_code}"


def _url(tweet_id: str) -> str:
    return f"https://x.com/i/web/status/{tweet_id}"


def _result(tweet_id: str) -> PublishResult:
    return PublishResult(remote_id=tweet_id, url=_url(tweet_id))


def _bytes_in(segments: set[int], chunk: int, size: int) -> int:
    """Bytes held by X in the acknowledged ``segments`` (the last one may be short)."""
    return sum(min((i + 1) * chunk, size) - i * chunk for i in segments)
