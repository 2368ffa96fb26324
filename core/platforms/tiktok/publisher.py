"""TikTok: Content Posting API Direct Post, the video pulled by TikTok from a link or sent in chunks.

PULL_FROM_URL: when ``[platforms.tiktok] pull_from_url_prefixes`` lists URL prefixes verified for
postbot's TikTok app, and the video's link (the bucket's presigned URL, or postbot's own ``/media/``
link) starts with one of them, ``video/init`` names the link and TikTok downloads the video itself:
no byte of it passes through the worker. TikTok only pulls from URL prefixes or domains whose
ownership the app has verified; any other URL is refused with ``url_ownership_unverified``
(https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide/#pull_from_url,
https://developers.tiktok.com/doc/content-posting-api-reference-direct-post). A refusal, or a pull
that fails (``fail_reason: video_pull_failed``,
https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status), makes the post
fall back to FILE_UPLOAD, said in the log: the video still goes out.

FILE_UPLOAD: the publish id and upload URL are checkpointed before the first chunk goes out. A
retried post asks ``status/fetch`` how many bytes TikTok holds (``uploaded_bytes``) and sends only
the chunks after them; once every chunk is in it only polls, so an interrupted post is neither
uploaded nor published twice. A retried pull only polls its publish id, for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from core.domain import Platform
from core.errors import ConfigError
from core.media.chunks import STREAM_PIECE
from core.media.probe import probe_file
from core.platforms.tiktok.options import PRIVACY_LEVELS
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

DEFAULT_BASE_URL = "https://open.tiktokapis.com"
MiB = 1024 * 1024
MIN_CHUNK = 5 * MiB
MAX_CHUNK = 64 * MiB
MAX_CHUNKS = 1000
DEFAULT_CHUNK = 32 * MiB
_RELINK = "Re-link the TikTok account with /link tiktok."
_PRIVACY = PRIVACY_LEVELS
# fail_reason values TikTok documents, in words the user can act on.
_FAIL_REASONS = {
    "file_format_check_failed": "TikTok could not read the file as a video: send an MP4 (H.264).",
    "duration_check_failed": "The video is longer than this TikTok account may post: trim it.",
    "frame_rate_check_failed": "TikTok needs 23-60 frames per second: re-export the video.",
    "picture_size_check_failed": "TikTok needs 360-4096 px on each side: re-export the video.",
    "spam_risk_too_many_posts": "This TikTok account reached its daily post limit: schedule it for tomorrow.",
    "spam_risk_user_banned_from_posting": "TikTok has banned this account from posting.",
    "spam_risk_text": "TikTok flagged the caption as spam: reword it.",
    "spam_risk": "TikTok flagged the post as spam.",
    "publish_cancelled": "The post was cancelled on TikTok.",
    "auth_removed": f"The account removed postbot's access. {_RELINK}",
    "video_pull_failed": "TikTok could not download the video from postbot's link.",
}
# Init errors for a spent 24-hour cap (Direct Post reference, error codes).
_DAILY_CAPS = {
    "spam_risk_too_many_posts": (
        "This TikTok account reached TikTok's daily post limit: it is tried again in 24 hours."
    ),
    "reached_active_user_cap": (
        "postbot's TikTok app is not audited yet and 5 accounts already posted through it today: "
        "it is tried again in 24 hours."
    ),
}
PULL = "PULL_FROM_URL"
FILE = "FILE_UPLOAD"


@dataclass(frozen=True)
class ChunkPlan:
    video_size: int
    chunk_size: int
    total_chunk_count: int

    def bounds(self, index: int) -> tuple[int, int]:
        """``[start, end)`` of chunk ``index``; the last chunk also takes the trailing bytes."""
        start = index * self.chunk_size
        end = self.video_size if index == self.total_chunk_count - 1 else start + self.chunk_size
        return start, end


def plan_chunks(video_size: int, preferred: int = DEFAULT_CHUNK) -> ChunkPlan:
    """Chunking that satisfies the Media Transfer Guide's rules for any size TikTok accepts."""
    if video_size <= 0:
        raise PermanentError("The video file is empty.")
    if video_size < MIN_CHUNK or (video_size <= MAX_CHUNK and video_size <= preferred):
        # Under 5 MB must go whole; up to 64 MB may.
        return ChunkPlan(video_size, video_size, 1)
    chunk = min(max(preferred, MIN_CHUNK), MAX_CHUNK)
    if video_size > MAX_CHUNK:
        # floor(size / chunk) must be at least 2 for files over 64 MB.
        chunk = min(chunk, video_size // 2)
    # At most 1000 chunks; the final one then holds under two chunks' worth (≤ 128 MB).
    chunk = max(chunk, -(-video_size // MAX_CHUNKS))
    if chunk > MAX_CHUNK:
        raise PermanentError("The video is too large for TikTok's upload.", hint="TikTok takes up to 4 GB.")
    return ChunkPlan(video_size, chunk, video_size // chunk)


def _envelope_error(response: httpx.Response) -> tuple[str, str, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    return str(error.get("code") or ""), str(error.get("message") or ""), str(error.get("log_id") or "")


def tiktok_error(response: httpx.Response, doing: str) -> PublishError:
    """Classify TikTok's ``{"error": {"code", "message", "log_id"}}`` by its documented codes."""
    code, message, log_id = _envelope_error(response)
    status = response.status_code
    text = f"TikTok {doing} failed: {message or code or f'HTTP {status}'}"
    if log_id:
        text += f" (log_id {log_id})"
    if code == "access_token_invalid":
        return AuthError(text, status_code=status, hint=_RELINK)
    if code == "scope_not_authorized" or code == "scope_permission_missed":
        return AuthError(text, status_code=status, hint=f"Grant the video.publish permission. {_RELINK}")
    if status == 429 or code == "rate_limit_exceeded":
        delay = parse_retry_after(response.headers.get("retry-after"))
        # TikTok's limits are per minute per token; without a Retry-After, a minute clears the window.
        return RateLimited(text, status_code=status, retry_after=delay if delay is not None else 60.0)
    if code in _DAILY_CAPS:
        # A spent daily cap (core/platforms/tiktok/caps.py): the post waits a day, it is not lost.
        return RateLimited(text, status_code=status, retry_after=24 * 3600.0, hint=_DAILY_CAPS[code])
    if code == "unaudited_client_can_only_post_to_private_accounts":
        return PermanentError(
            text,
            status_code=status,
            hint="Until postbot's TikTok app passes TikTok's audit it can only post privately.",
        )
    if code == "url_ownership_unverified":
        return UrlNotVerified(
            text,
            status_code=status,
            hint="Verify the link's URL prefix for postbot's app in the TikTok developer portal, "
            "or remove it from [platforms.tiktok] pull_from_url_prefixes.",
        )
    if code == "privacy_level_option_mismatch":
        return PermanentError(
            text, status_code=status, hint="Choose a privacy level this TikTok account offers."
        )
    if code in _FAIL_REASONS:
        return PermanentError(text, status_code=status, hint=_FAIL_REASONS[code])
    if status == 403:
        return PermanentError(text, status_code=status)
    return error_for_response(response, text)


class UrlNotVerified(PermanentError):
    """TikTok refused to pull from a URL outside the app's verified prefixes and domains."""


def under_prefix(url: str, prefixes: Sequence[str]) -> bool:
    """Whether ``url`` lies under one of the URL prefixes (a bare origin covers its whole site)."""
    for prefix in prefixes:
        if not url.startswith(prefix):
            continue
        rest = url[len(prefix) :]
        if prefix.endswith("/") or not rest or rest[0] in "/?":
            return True
    return False


def _token_rejected(response: httpx.Response) -> bool:
    # Only an invalid token is worth a refresh; a missing scope stays missing.
    return response.status_code == 401 and _envelope_error(response)[0] in ("access_token_invalid", "")


class TikTokPublisher:
    platform = Platform.TIKTOK
    requires_account = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        chunk_size: int = DEFAULT_CHUNK,
        max_chunk_attempts: int = 5,
        max_wait_s: float = 120.0,
        retry_backoff_s: float = 1.0,
        poll_interval_s: float = 5.0,
        poll_timeout_s: float = 600.0,
        post_id_wait_s: float = 180.0,
        pull_from_url_prefixes: Sequence[str] = (),
        pull_url_expires_s: float = 3600.0,
    ) -> None:
        self.http = http
        self.api = base_url.rstrip("/") + "/v2/post/publish"
        self.chunk_size = chunk_size
        self.max_chunk_attempts = max_chunk_attempts
        self.max_wait_s = max_wait_s
        self.retry_backoff_s = retry_backoff_s
        self.poll_interval_s = poll_interval_s
        self.poll_timeout_s = poll_timeout_s
        # A public post's id comes only after moderation, "usually within one minute", sometimes
        # hours (https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status):
        # wait this long for it, then publish with the publish id and say the link is pending.
        self.post_id_wait_s = post_id_wait_s
        # URL prefixes verified for the app in TikTok's developer portal (empty: never pull).
        self.pull_prefixes = tuple(pull_from_url_prefixes)
        # How long the link handed to TikTok stays valid: the pull starts at once, but a large video
        # takes a while and TikTok may retry it.
        self.pull_url_expires = timedelta(seconds=pull_url_expires_s)

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get("remote_id"):
            return PublishResult(remote_id=str(state["remote_id"]), url=state.get("url"))
        if state.get("source") == PULL and state.get("publish_id"):
            # A pull was started: TikTok fetches on its own, so a retry only waits for the outcome.
            if await self._still_known(tokens, str(state["publish_id"])):
                return await self._poll(job, tokens, str(state["publish_id"]))
        url = await self._pull_url(job)
        if url is not None:
            try:
                await self._start_pull(job, tokens, url)
            except UrlNotVerified as exc:
                log.warning(
                    "TikTok refused to pull from the link (url_ownership_unverified): uploading the "
                    "file instead; check [platforms.tiktok] pull_from_url_prefixes",
                    extra={"detail": exc.message},
                )
                await job.checkpoint(pull_failed="url_ownership_unverified")
            else:
                return await self._poll(job, tokens, str(job.upload_state["publish_id"]))
        size = await job.source.size()
        resumable = (
            state.get("publish_id")
            and state.get("upload_url")
            and state.get("video_size") == size
            and state.get("sha256") == job.media.sha256
        )
        if resumable and not state.get("uploaded"):
            try:
                status = await self._fetch_status(tokens, str(state["publish_id"]))
            except PermanentError as exc:
                if isinstance(exc, AuthError):
                    raise
                # TikTok no longer knows the publish id; an upload that never finished never
                # published, so starting a new one cannot post twice.
                status = {"status": "FAILED"}
            if status.get("status") == "FAILED":
                resumable = False
            else:
                plan = ChunkPlan(size, int(state["chunk_size"]), int(state["total_chunk_count"]))
                held = int(status.get("uploaded_bytes") or 0)
                try:
                    await self._upload(job, plan, str(state["upload_url"]), held)
                except _UploadGone:
                    resumable = False
        if not resumable:
            await self._start(job, tokens, size)
        return await self._poll(job, tokens, str(job.upload_state["publish_id"]))

    # --- init ----------------------------------------------------------------------------------

    async def _still_known(self, tokens: TokenSource, publish_id: str) -> bool:
        """Whether TikTok still knows a publish id and it has not failed (else: start anew)."""
        try:
            status = await self._fetch_status(tokens, publish_id)
        except PermanentError as exc:
            if isinstance(exc, AuthError):
                raise
            return False
        return status.get("status") != "FAILED"

    async def _pull_url(self, job: PublishJob) -> str | None:
        """The video's link under a verified prefix, or None (then the file is uploaded)."""
        if not self.pull_prefixes or job.upload_state.get("pull_failed"):
            return None
        links: list[str] = []
        if job.storage is not None and job.media.key is not None:
            # The store's own expiring URL: presigned by the bucket, or postbot's signed link.
            try:
                links.append(await job.source.url(expires=self.pull_url_expires))
            except ConfigError:
                pass
        if job.media_link is not None:
            links.append(await job.media_link(self.pull_url_expires))
        for link in links:
            if under_prefix(link, self.pull_prefixes):
                return link
        log.warning(
            "no link to the video lies under [platforms.tiktok] pull_from_url_prefixes: uploading it",
            extra={"hosts": sorted({link.split("?", 1)[0].rsplit("/", 1)[0] for link in links})},
        )
        return None

    def _post_info(self, job: PublishJob, creator: dict[str, Any], privacy: str) -> dict[str, Any]:
        return {
            "title": job.caption,
            "privacy_level": privacy,
            "disable_duet": bool(job.options.get("disable_duet", creator.get("duet_disabled", False))),
            "disable_comment": bool(
                job.options.get("disable_comment", creator.get("comment_disabled", False))
            ),
            "disable_stitch": bool(job.options.get("disable_stitch", creator.get("stitch_disabled", False))),
            "video_cover_timestamp_ms": int(job.options.get("cover_timestamp_ms", 1000)),
            # Commercial content disclosure, chosen per post (options.BRANDED, options.OWN_BRAND).
            "brand_content_toggle": bool(job.options.get("brand_content_toggle", False)),
            "brand_organic_toggle": bool(job.options.get("brand_organic_toggle", False)),
        }

    async def _start_pull(self, job: PublishJob, tokens: TokenSource, url: str) -> None:
        creator = await self._post(tokens, "creator_info/query/", {}, "reading the account's settings")
        await self._check_duration(job, creator)
        privacy = self._privacy(job, creator)
        body = {
            "post_info": self._post_info(job, creator, privacy),
            "source_info": {"source": PULL, "video_url": url},
        }
        data = await self._post(tokens, "video/init/", body, "starting the upload")
        publish_id = data.get("publish_id")
        if not publish_id:
            raise TransientError("TikTok accepted the video's link but sent no publish_id.")
        await job.checkpoint(
            source=PULL,
            publish_id=publish_id,
            upload_url=None,
            sha256=job.media.sha256,
            uploaded=True,
            username=creator.get("creator_username"),
            privacy_level=privacy,
        )

    async def _start(self, job: PublishJob, tokens: TokenSource, size: int) -> None:
        creator = await self._post(tokens, "creator_info/query/", {}, "reading the account's settings")
        await self._check_duration(job, creator)
        privacy = self._privacy(job, creator)
        plan = plan_chunks(size, self.chunk_size)
        body = {
            "post_info": self._post_info(job, creator, privacy),
            "source_info": {
                "source": FILE,
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.total_chunk_count,
            },
        }
        data = await self._post(tokens, "video/init/", body, "starting the upload")
        publish_id, upload_url = data.get("publish_id"), data.get("upload_url")
        if not publish_id or not upload_url:
            raise TransientError("TikTok started an upload but sent no publish_id or upload_url.")
        await job.checkpoint(
            source=FILE,
            publish_id=publish_id,
            upload_url=upload_url,
            video_size=plan.video_size,
            chunk_size=plan.chunk_size,
            total_chunk_count=plan.total_chunk_count,
            sha256=job.media.sha256,
            uploaded=False,
            username=creator.get("creator_username"),
            privacy_level=privacy,
        )
        try:
            await self._upload(job, plan, upload_url, 0)
        except _UploadGone as exc:
            raise TransientError("TikTok's upload URL expired before the upload finished.") from exc

    async def _check_duration(self, job: PublishJob, creator: dict[str, Any]) -> None:
        limit = creator.get("max_video_post_duration_sec")
        duration = job.media.duration_s
        local = job.source.local_path()
        if duration is None and local is not None:
            duration = (await asyncio.to_thread(probe_file, local)).duration_s
        if isinstance(limit, int | float) and duration is not None and duration > limit:
            raise PermanentError(
                f"This TikTok account can post videos of up to {int(limit)} s; this one is {duration:.0f} s.",
                hint="Trim the video and schedule it again.",
            )

    async def preflight(
        self, tokens: TokenSource, options: Mapping[str, Any], duration_s: float | None
    ) -> list[str]:
        """What this account's creator_info refuses in a post about to be queued: the chosen privacy
        level when the account does not offer it (listing those it does) and a video longer than
        its ``max_video_post_duration_sec``. TikTok's Direct Post flow asks creator_info before the
        post is made (https://developers.tiktok.com/doc/content-posting-api-reference-direct-post,
        step 1); publishing asks again, as the account's settings may change meanwhile."""
        creator = await self._post(tokens, "creator_info/query/", {}, "reading the account's settings")
        found: list[str] = []
        offered = [str(o) for o in creator.get("privacy_level_options") or []]
        names = {v: k for k, v in _PRIVACY.items()}
        wanted = options.get("privacy")
        if wanted is not None and _PRIVACY.get(str(wanted), str(wanted).upper()) not in offered:
            user = creator.get("creator_username")
            who = f"@{user}" if user else "this TikTok account"
            choices = ", ".join(names.get(o, o) for o in offered) or "none"
            found.append(f"{who} does not offer the privacy '{wanted}': it offers {choices}.")
        limit = creator.get("max_video_post_duration_sec")
        if isinstance(limit, int | float) and duration_s is not None and duration_s > limit:
            found.append(
                f"this TikTok account can post videos of up to {int(limit)} s; this one is "
                f"{duration_s:.0f} s: trim it."
            )
        return found

    def _privacy(self, job: PublishJob, creator: dict[str, Any]) -> str:
        # TikTok's UX guidelines forbid a default privacy: the author chose one when the post was
        # queued (core/platforms/tiktok/options.py); a post queued before that rule has none.
        chosen = job.options.get("privacy")
        offered = [str(o) for o in creator.get("privacy_level_options") or []]
        names = {v: k for k, v in _PRIVACY.items()}
        if chosen is None:
            raise PermanentError(
                "This TikTok post has no privacy chosen, and TikTok allows no default.",
                hint="Schedule it again with one of: "
                + (", ".join(names.get(o, o) for o in offered) or "none")
                + " (e.g. tiktok:public).",
            )
        wanted = str(chosen).lower()
        level = _PRIVACY.get(wanted, wanted.upper())
        if level not in offered:
            choices = ", ".join(names.get(o, o) for o in offered) or "none"
            raise PermanentError(
                f"This TikTok account does not offer the privacy '{wanted}'.",
                hint=f"Choose one of: {choices}.",
            )
        return level

    async def _post(self, tokens: TokenSource, path: str, body: dict[str, Any], doing: str) -> dict[str, Any]:
        async def send(token: str) -> httpx.Response:
            return await self.http.post(
                f"{self.api}/{path}",
                json=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json; charset=UTF-8",
                },
            )

        response = await send_authorized(tokens, send, token_rejected=_token_rejected)
        code = _envelope_error(response)[0]
        if response.status_code != 200 or code not in ("ok", ""):
            raise tiktok_error(response, doing)
        data = response.json().get("data") or {}
        return dict(data)

    # --- chunks --------------------------------------------------------------------------------

    async def _upload(self, job: PublishJob, plan: ChunkPlan, url: str, held: int) -> None:
        """Send the chunks after the ``held`` bytes TikTok already has, in order. Each chunk goes
        through the retry every publisher uses (``retry_transient``); a chunk after a failure first
        asks TikTok how much it holds, since the answer to the failed one may have been lost."""
        if held % plan.chunk_size and held != plan.video_size:
            # Chunks are all-or-nothing; a partial count means this upload cannot be continued.
            raise _UploadGone
        mime = job.media.mime or "video/mp4"
        position = _Position(min(held // plan.chunk_size, plan.total_chunk_count))

        async def step() -> None:
            if position.ask:
                position.index, position.ask = await self._resync(job, plan, position.index), False
                if position.index >= plan.total_chunk_count:
                    return
            index = position.index
            start, end = plan.bounds(index)
            position.ask = True  # until this chunk is acknowledged
            try:
                response = await self.http.put(
                    url,
                    content=job.source.stream(start, end, piece=STREAM_PIECE),
                    headers={
                        "Content-Type": mime,
                        "Content-Length": str(end - start),
                        "Content-Range": f"bytes {start}-{end - 1}/{plan.video_size}",
                    },
                )
            except httpx.TransportError as exc:
                raise TransientError(f"network error uploading to TikTok ({type(exc).__name__})") from exc
            status = response.status_code
            if status in (201, 206):
                position.index, position.ask = index + 1, False
                await job.checkpoint(chunks_sent=index + 1, uploaded=index + 1 == plan.total_chunk_count)
                job.uploaded(end, plan.video_size)
                return
            if status in (403, 404):
                raise _UploadGone
            raise tiktok_error(response, "uploading a chunk")

        while position.index < plan.total_chunk_count:
            await retry_transient(
                step,
                attempts=self.max_chunk_attempts,
                base_s=self.retry_backoff_s,
                max_wait_s=self.max_wait_s,
            )
        if not job.upload_state.get("uploaded"):
            await job.checkpoint(uploaded=True)

    async def _resync(self, job: PublishJob, plan: ChunkPlan, index: int) -> int:
        """After a failed chunk, ask TikTok how much it holds: the answer may have been lost."""
        tokens = job.tokens
        assert tokens is not None
        status = await self._fetch_status(tokens, str(job.upload_state["publish_id"]))
        held = int(status.get("uploaded_bytes") or 0)
        return max(index, min(held // plan.chunk_size, plan.total_chunk_count))

    # --- status --------------------------------------------------------------------------------

    async def _fetch_status(self, tokens: TokenSource, publish_id: str) -> dict[str, Any]:
        return await self._post(tokens, "status/fetch/", {"publish_id": publish_id}, "checking the post")

    async def _poll(self, job: PublishJob, tokens: TokenSource, publish_id: str) -> PublishResult:
        deadline = time.monotonic() + self.poll_timeout_s
        delay = self.poll_interval_s
        id_deadline: float | None = None
        job.processing()
        while True:
            try:
                status = await self._fetch_status(tokens, publish_id)
            except RateLimited as limited:
                wait = limited.retry_after or delay
                if time.monotonic() + wait > deadline:
                    raise
                await asyncio.sleep(wait)
                continue
            state = status.get("status")
            if state in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
                ids = status.get("publicaly_available_post_id") or []
                public = job.upload_state.get("privacy_level") == "PUBLIC_TO_EVERYONE"
                if not ids and public and state == "PUBLISH_COMPLETE":
                    now = time.monotonic()
                    id_deadline = id_deadline if id_deadline is not None else now + self.post_id_wait_s
                    if now + delay <= id_deadline:
                        # Published, but moderation has not released the post id yet: keep looking.
                        await asyncio.sleep(delay)
                        delay = min(delay * 1.5, 30.0)
                        continue
                remote_id = str(ids[0]) if ids else publish_id
                username = job.upload_state.get("username")
                url = f"https://www.tiktok.com/@{username}/video/{ids[0]}" if ids and username else None
                note = None
                if not ids and public and state == "PUBLISH_COMPLETE":
                    where = f" on @{username}'s profile" if username else ""
                    note = (
                        "TikTok is still moderating the video; it appears"
                        f"{where} once approved (this can take a few hours)."
                    )
                await job.checkpoint(remote_id=remote_id, url=url)
                return PublishResult(remote_id=remote_id, url=url, note=note)
            if state == "FAILED":
                reason = str(status.get("fail_reason") or "unknown")
                if reason == "video_pull_failed":
                    # The link did not work for TikTok (expired, unreachable): the next attempt
                    # sends the file itself.
                    await job.checkpoint(publish_id=None, upload_url=None, uploaded=False, pull_failed=reason)
                    raise TransientError(
                        "TikTok could not download the video from its link; it will be uploaded instead.",
                        retry_after=self.poll_interval_s,
                    )
                # A failed publish id is finished: the next attempt has to start a new upload.
                await job.checkpoint(publish_id=None, upload_url=None, uploaded=False, failed_reason=reason)
                raise PermanentError(
                    f"TikTok could not publish the video ({reason}).",
                    hint=_FAIL_REASONS.get(reason, "Check the video and schedule it again."),
                )
            if time.monotonic() + delay > deadline:
                raise TransientError(
                    "TikTok is still processing the video.", retry_after=self.poll_interval_s * 6
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 30.0)


@dataclass
class _Position:
    """The next chunk to send, and whether TikTok must be asked first (after a failed chunk)."""

    index: int
    ask: bool = False


class _UploadGone(Exception):
    """The upload URL expired or is unknown: a new init is needed."""
