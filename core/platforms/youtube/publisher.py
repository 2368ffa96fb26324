"""YouTube: videos.insert over Google's resumable upload protocol, then thumbnails.set.

The session URI is checkpointed before the first byte goes out and the video id as soon as YouTube
returns it, so a post retried after a crash, a 5xx or a lost connection asks the session how much it
holds (``Content-Range: bytes */total``) and continues from there; a session that already finished
answers with the video, which is taken as the result instead of uploading a second copy.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from core.domain import Platform
from core.media.chunks import STREAM_PIECE
from core.media.storage import StoredMedia
from core.platforms.options import sniff_image
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
from core.publishers.http import error_for_response, parse_retry_after, retry_transient, send_authorized

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.googleapis.com"
CHUNK_UNIT = 256 * 1024
DEFAULT_CHUNK = 32 * 1024 * 1024
PRIVACY = ("public", "private", "unlisted")
_RANGE = re.compile(r"bytes=0-(\d+)")
# YouTube's daily quota resets at midnight Pacific time.
_PACIFIC = ZoneInfo("America/Los_Angeles")
_RELINK = "Re-link the YouTube account with /link youtube."
UPLOAD_LIMIT_WAIT_S = 24 * 3600.0
# Uploads from API projects that have not passed YouTube's audit are locked private
# (https://developers.google.com/youtube/v3/docs/videos/insert, first note; the audit:
# https://support.google.com/youtube/contact/yt_api_form).
PRIVATE_LOCK_NOTE = (
    "YouTube made this video private: uploads from an API project that has not passed YouTube's "
    "API audit are locked private. The operator can request the audit for the bot's Google project."
)


@dataclass
class _Progress:
    """Where a chunk loop stands: the session URI (it can move), the bytes the server holds, and
    whether the server must be asked before the next chunk (after a failed or unanswered one)."""

    session: str
    offset: int
    ask: bool = False
    # Chunks refused because the session moved on without us (two uploaders after a takeover).
    overtaken: int = 0


class _SessionGone(Exception):
    """The resumable session expired (404/410): a new one has to be started."""


def _until_pacific_midnight(now: datetime | None = None) -> float:
    current = now or datetime.now(_PACIFIC)
    midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - current).total_seconds()


def google_error(response: httpx.Response, doing: str) -> PublishError:
    """Classify a Google JSON error body by its ``errors[].reason``, the part Google documents."""
    reasons: list[str] = []
    message = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        error = response.json().get("error", {})
        message = str(error.get("message") or message)
        reasons = [str(e.get("reason", "")) for e in error.get("errors", []) if isinstance(e, dict)]
    except (ValueError, AttributeError):
        pass
    text = f"YouTube {doing} failed: {message}"
    status = response.status_code
    if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
        return RateLimited(
            text,
            status_code=status,
            retry_after=_until_pacific_midnight(),
            hint="The app's daily YouTube API quota is used up; it resets at midnight Pacific time.",
        )
    if {"rateLimitExceeded", "userRateLimitExceeded", "uploadRateLimitExceeded"} & set(reasons):
        delay = parse_retry_after(response.headers.get("retry-after"))
        return RateLimited(text, status_code=status, retry_after=delay if delay is not None else 60.0)
    if "uploadLimitExceeded" in reasons:
        # The channel's own daily upload cap ("The user has exceeded the number of videos they may
        # upload", https://developers.google.com/youtube/v3/docs/videos/insert#errors): it lifts
        # within a day, so the post waits 24 hours instead of failing.
        return RateLimited(
            text,
            status_code=status,
            retry_after=UPLOAD_LIMIT_WAIT_S,
            hint="This channel reached YouTube's daily upload limit; postbot tries again in 24 hours.",
        )
    if status == 401 or "authError" in reasons:
        return AuthError(text, status_code=status, hint=_RELINK)
    if "insufficientPermissions" in reasons or (status == 403 and "forbidden" in reasons):
        return AuthError(text, status_code=status, hint=f"The account lacks the upload permission. {_RELINK}")
    return error_for_response(response, text)


def _range_end(response: httpx.Response) -> int:
    """Bytes the server holds, from a 308's ``Range: bytes=0-n`` (absent when it holds none)."""
    match = _RANGE.fullmatch((response.headers.get("range") or "").strip())
    return int(match.group(1)) + 1 if match else 0


class YouTubePublisher:
    platform = Platform.YOUTUBE
    requires_account = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        max_chunk_attempts: int = 5,
        max_wait_s: float = 120.0,
        retry_backoff_s: float = 1.0,
    ) -> None:
        self.http = http
        # videos.insert and thumbnails.set both live under the upload host's /upload/youtube/v3
        # (https://developers.google.com/youtube/v3/docs/videos/insert); a base written with the
        # /upload path already on it (as the example config once showed) must not double it.
        upload_root = (upload_base_url or base_url).rstrip("/").removesuffix("/upload")
        self.upload = upload_root + "/upload/youtube/v3"
        # Google requires every chunk but the last to be a multiple of 256 KiB.
        self.chunk_size = max(CHUNK_UNIT, chunk_size - chunk_size % CHUNK_UNIT)
        self.max_chunk_attempts = max_chunk_attempts
        self.max_wait_s = max_wait_s
        self.retry_backoff_s = retry_backoff_s

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        video_id = job.upload_state.get("video_id")
        if not video_id:
            if not (job.title or "").strip():
                raise PermanentError(
                    "YouTube needs a title.", hint="Put the title on the caption's first line."
                )
            try:
                video_id = await self._upload_video(job, tokens)
            except _SessionGone:
                log.info("youtube upload session expired; starting a new one", extra={"post_id": job.post_id})
                await job.checkpoint(session_uri=None, offset=0)
                try:
                    video_id = await self._upload_video(job, tokens)
                except _SessionGone as exc:
                    raise TransientError("YouTube dropped the upload session twice in a row.") from exc
        # YouTube processes the video after the upload; the thumbnail is set meanwhile.
        job.processing()
        await self._set_thumbnail(job, tokens, video_id)
        note = PRIVATE_LOCK_NOTE if job.upload_state.get("locked_private") else None
        return PublishResult(remote_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}", note=note)

    # --- the resumable upload ----------------------------------------------------------------

    async def _upload_video(self, job: PublishJob, tokens: TokenSource) -> str:
        size = await job.source.size()
        mime = job.media.mime or "application/octet-stream"
        state = job.upload_state
        session: str | None = state.get("session_uri")
        progress: int | dict[str, Any] = 0
        if session and state.get("total") == size and state.get("sha256") == job.media.sha256:
            progress = await self._query(session, size, tokens)
        else:
            session = None
        if session is None:
            session = await self._start_session(job, tokens, size, mime)
            await job.checkpoint(session_uri=session, total=size, sha256=job.media.sha256, offset=0)
            progress = 0
        if isinstance(progress, int):
            job.uploaded(progress, size)
            progress = await self._send_chunks(job, tokens, session, progress, size, mime)
        job.uploaded(size, size)
        video_id = str(progress["id"])
        wanted = str(job.options.get("privacy", "public"))
        got = (progress.get("status") or {}).get("privacyStatus")
        locked = wanted != "private" and got == "private"
        await job.checkpoint(video_id=video_id, offset=size, session_uri=None, locked_private=locked)
        return video_id

    async def _start_session(self, job: PublishJob, tokens: TokenSource, size: int, mime: str) -> str:
        privacy = str(job.options.get("privacy", "public"))
        if privacy not in PRIVACY:
            raise PermanentError(
                f"Unknown YouTube privacy {privacy!r}.", hint="Use public, unlisted or private."
            )
        status: dict[str, Any] = {"privacyStatus": privacy}
        if "made_for_kids" in job.options:
            status["selfDeclaredMadeForKids"] = bool(job.options["made_for_kids"])
        snippet: dict[str, Any] = {
            "title": (job.title or "").strip(),
            "description": job.caption,
            "categoryId": str(job.options.get("category_id", "22")),
        }
        if job.options.get("tags"):
            snippet["tags"] = [str(t) for t in job.options["tags"]]
        body = {"snippet": snippet, "status": status}

        async def send(token: str) -> httpx.Response:
            return await self.http.post(
                f"{self.upload}/videos",
                params={"uploadType": "resumable", "part": "snippet,status"},
                json=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Upload-Content-Length": str(size),
                    "X-Upload-Content-Type": mime,
                    "Content-Type": "application/json; charset=UTF-8",
                },
            )

        response = await send_authorized(tokens, send)
        if response.status_code != 200:
            raise google_error(response, "starting the upload")
        location = response.headers.get("location")
        if not location:
            raise TransientError("YouTube started an upload but sent no session URI.")
        return location

    async def _query(self, session: str, size: int, tokens: TokenSource) -> int | dict[str, Any]:
        """Ask the session how many bytes it holds, or for the finished video."""

        async def send(token: str) -> httpx.Response:
            return await self.http.put(
                session,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Range": f"bytes */{size}",
                    "Content-Length": "0",
                },
            )

        response = await send_authorized(tokens, send)
        if response.status_code in (200, 201):
            video: dict[str, Any] = response.json()
            return video
        if response.status_code == 308:
            return _range_end(response)
        if response.status_code in (404, 410):
            raise _SessionGone
        raise google_error(response, "checking the upload")

    async def _send_chunks(
        self, job: PublishJob, tokens: TokenSource, session: str, offset: int, size: int, mime: str
    ) -> dict[str, Any]:
        """Send the bytes after ``offset``, one chunk per step. Each step goes through the retry
        every publisher uses (``retry_transient``); a step after a failure first asks the session how
        much it holds, since a failed chunk may still have been partly stored."""
        progress = _Progress(session=session, offset=offset)

        async def step() -> dict[str, Any] | None:
            if progress.ask:
                held = await self._query(progress.session, size, tokens)
                if isinstance(held, dict):
                    return held
                progress.offset, progress.ask = held, False
                await job.checkpoint(offset=held)
            if progress.offset >= size:
                # The server holds every byte but has not answered with the video yet: ask again.
                progress.ask = True
                raise TransientError("YouTube holds the whole file but did not finish the upload.")
            progress.ask = True  # until this chunk is acknowledged
            response = await self._put_chunk(job, tokens, progress.session, progress.offset, size, mime)
            status = response.status_code
            if status in (200, 201):
                video: dict[str, Any] = response.json()
                return video
            if status == 308:
                held = _range_end(response)
                if held <= progress.offset:
                    raise TransientError("YouTube accepted a chunk but stored none of it.")
                progress.offset, progress.ask = held, False
                job.uploaded(held, size)
                moved = response.headers.get("location")
                if moved and moved != progress.session:
                    # The session moved: later chunks, and a resume after a crash, go to the new URI
                    # (google-api-python-client follows a 308's Location the same way).
                    progress.session = moved
                    await job.checkpoint(offset=held, session_uri=moved)
                else:
                    await job.checkpoint(offset=held)
                return None
            if status in (404, 410):
                raise _SessionGone
            error = google_error(response, "uploading")
            if status == 400 and not error.transient and progress.overtaken < self.max_chunk_attempts:
                # A 400 to a well-formed chunk is how the session refuses a Content-Range that does
                # not start where it stands: someone else uploaded to it meanwhile (a worker that
                # stalled past its lease and woke, or the one that took the post over from us). The
                # session's Range is the truth; resume from it as the protocol says for any
                # interruption: https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol
                held = await self._query(progress.session, size, tokens)
                if isinstance(held, dict):
                    return held
                if held != progress.offset:
                    progress.offset, progress.ask = held, False
                    progress.overtaken += 1
                    await job.checkpoint(offset=held)
                    return None
            raise error

        while True:
            done = await retry_transient(
                step,
                attempts=self.max_chunk_attempts,
                base_s=self.retry_backoff_s,
                max_wait_s=self.max_wait_s,
            )
            if done is not None:
                return done

    async def _put_chunk(
        self, job: PublishJob, tokens: TokenSource, session: str, start: int, size: int, mime: str
    ) -> httpx.Response:
        end = min(start + self.chunk_size, size)

        async def send(token: str) -> httpx.Response:
            return await self.http.put(
                session,
                content=job.source.stream(start, end, piece=STREAM_PIECE),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": mime,
                    "Content-Length": str(end - start),
                    "Content-Range": f"bytes {start}-{end - 1}/{size}",
                },
            )

        return await send_authorized(tokens, send)

    # --- thumbnails.set ------------------------------------------------------------------------

    async def _set_thumbnail(self, job: PublishJob, tokens: TokenSource, video_id: str) -> None:
        # A storage key (core/media/store.py's store_image) when queued from chat; a local path when
        # a caller hands one over directly.
        key = job.options.get("thumbnail") or job.options.get("thumbnail_path")
        if not key or job.upload_state.get("thumbnail_done") or job.upload_state.get("thumbnail_error"):
            return
        if job.storage is not None and "thumbnail" in job.options:
            image = StoredMedia(job.storage, str(key))
            data = await image.read(0, await image.size())
        else:
            data = await asyncio.to_thread(Path(str(key)).read_bytes)
        mime = sniff_image(data[:16]) or "image/jpeg"

        async def send(token: str) -> httpx.Response:
            return await self.http.post(
                f"{self.upload}/thumbnails/set",
                params={"videoId": video_id, "uploadType": "media"},
                content=data,
                headers={"Authorization": f"Bearer {token}", "Content-Type": mime},
            )

        response = await send_authorized(tokens, send)
        if response.status_code == 200:
            await job.checkpoint(thumbnail_done=True)
            return
        error = google_error(response, "setting the thumbnail")
        if error.transient:
            # The video is up and its id saved: the retry only redoes the thumbnail.
            raise error
        # The video is published; a thumbnail YouTube refuses (unverified channel, bad image) must
        # not turn a published post into a failed one, so it is recorded and logged instead.
        log.warning("youtube thumbnail refused: %s", error.message, extra={"post_id": job.post_id})
        await job.checkpoint(thumbnail_error=error.message)
