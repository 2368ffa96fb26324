"""LinkedIn: the Videos API multipart upload, then a post through the Posts API.

Protocol (learn.microsoft.com/linkedin/marketing/community-management/shares/videos-api, posts-api):
``POST /rest/videos?action=initializeUpload`` gives a video URN, an upload token and one pre-signed
URL per part (``firstByte``..``lastByte``); each part is ``PUT`` to its URL and answers an ``ETag``;
``POST /rest/videos?action=finalizeUpload`` takes the ETags in part order; ``GET /rest/videos/{urn}``
reports ``PROCESSING`` → ``AVAILABLE``; ``POST /rest/posts`` with ``content.media.id`` creates the
post, whose URN comes back in ``x-restli-id``. Every REST call carries ``LinkedIn-Version`` and
``X-Restli-Protocol-Version: 2.0.0``.

Resuming: the upload URLs stay valid until ``uploadUrlsExpireAt``, so a retry PUTs only the parts it
has no ETag for. The post is marked as attempted before it is sent. A retry after a lost answer
never posts blindly: listing the author's posts (``q=author``) needs ``r_member_social``, which
LinkedIn grants only to approved partners, so it is used only when ``platforms.linkedin.
can_list_posts`` says the app has it; otherwise the post ends as "may have been published" and the
author is told where to look.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.linkedin import media, versions
from core.platforms.linkedin.settings import LinkedInSettings
from core.publishers.base import (
    PermanentError,
    PublishError,
    PublishJob,
    PublishResult,
    RateLimited,
    TokenSource,
    TransientError,
)
from core.publishers.http import error_for_response, retry_transient, send_authorized, transport_error

_T = TypeVar("_T")

DEFAULT_BASE_URL = "https://api.linkedin.com"
# The versions and their sunsets are data (core/platforms/linkedin/versions.py).
DEFAULT_API_VERSION = versions.DEFAULT

# Upload URLs this close to expiry are not worth resuming with.
URL_MARGIN_S = 300.0
# Characters the "little" commentary format reserves; unescaped, LinkedIn cuts the text there.
_RESERVED = set("\\|{}@[]()<>#*_~")


def little_text(caption: str) -> str:
    """The caption as LinkedIn's little text: reserved characters escaped, ``#hashtags`` kept."""
    out: list[str] = []
    for i, char in enumerate(caption):
        hashtag = char == "#" and i + 1 < len(caption) and (caption[i + 1].isalnum() or caption[i + 1] == "_")
        if char in _RESERVED and not (hashtag and (i == 0 or caption[i - 1].isspace())):
            out.append("\\")
        out.append(char)
    return "".join(out)


def seconds_to_utc_midnight(now: datetime | None = None) -> float:
    """LinkedIn's API limits are daily and reset at midnight UTC."""
    current = now or datetime.now(UTC)
    midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - current).total_seconds()


class LinkedInPublisher:
    platform = Platform.LINKEDIN
    requires_account = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        chunk_size: int = 1024 * 1024,
        visibility: str = "PUBLIC",
        poll_interval_s: float = 5.0,
        max_processing_s: float = 600.0,
        max_inline_wait_s: float = 30.0,
        step_attempts: int = 3,
        retry_base_s: float = 0.5,
        can_list_posts: bool = False,
    ) -> None:
        self.http = http
        self.api = base_url.rstrip("/") + "/rest"
        self.api_version = api_version
        self.chunk_size = max(1, chunk_size)
        self.visibility = visibility
        self.poll_interval_s = poll_interval_s
        self.max_processing_s = max_processing_s
        self.max_inline_wait_s = max_inline_wait_s
        self.step_attempts = step_attempts
        self.retry_base_s = retry_base_s
        self.can_list_posts = can_list_posts

    @classmethod
    def from_settings(cls, conf: PlatformSettings, http: httpx.AsyncClient) -> LinkedInPublisher:
        return cls(
            http,
            base_url=conf.base_url or DEFAULT_BASE_URL,
            api_version=conf.api_version or DEFAULT_API_VERSION,
            # Parts are sized by LinkedIn (4 MiB); this is only how much of one is read at a time.
            chunk_size=min(conf.chunk_size_bytes, 1024 * 1024),
            # Only LinkedIn's own section has the key; the common one (a test's) means no.
            can_list_posts=isinstance(conf, LinkedInSettings) and conf.can_list_posts,
        )

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get("li_post_urn"):
            return _result(str(state["li_post_urn"]))
        video = await self._upload(job, tokens)
        job.processing()
        await self._wait_available(tokens, video)
        return await self._post(job, tokens, video)

    # --- requests ------------------------------------------------------------------------------

    async def _rest(
        self, tokens: TokenSource, method: str, path: str, what: str, **kwargs: Any
    ) -> httpx.Response:
        url = f"{self.api}{path}"

        async def send(token: str) -> httpx.Response:
            headers = {
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": self.api_version,
                "X-Restli-Protocol-Version": "2.0.0",
            }
            return await self.http.request(method, url, headers=headers, **kwargs)

        response = await send_authorized(tokens, send)
        if response.is_success:
            return response
        raise _error(response, f"LinkedIn refused to {what}: {_explain(response)}")

    async def _retried(self, call: Callable[[], Awaitable[_T]]) -> _T:
        return await retry_transient(
            call, attempts=self.step_attempts, base_s=self.retry_base_s, max_wait_s=self.max_inline_wait_s
        )

    # --- upload --------------------------------------------------------------------------------

    async def _upload(self, job: PublishJob, tokens: TokenSource) -> str:
        state = job.upload_state
        usable = state.get("li_video") and (
            state.get("li_finalized") or float(state.get("li_urls_expire_at", 0)) > time.time() + URL_MARGIN_S
        )
        if not usable:
            await self._initialize(job, tokens)
        video = str(state["li_video"])
        if state.get("li_finalized"):
            return video
        etags: dict[str, str] = dict(state.get("li_etags") or {})
        instructions: list[dict[str, Any]] = state["li_instructions"]
        size = job.media.size_bytes

        def held() -> int:
            return sum(
                int(p["last"]) - int(p["first"]) + 1 for i, p in enumerate(instructions) if str(i) in etags
            )

        job.uploaded(held(), size)
        for index, part in enumerate(instructions):
            if str(index) in etags:
                continue
            etags[str(index)] = await self._retried(functools.partial(self._put_part, job, index, part))
            await job.checkpoint(li_etags=etags)
            job.uploaded(held(), size)
        payload = {
            "finalizeUploadRequest": {
                "video": video,
                "uploadToken": state.get("li_upload_token") or "",
                "uploadedPartIds": [etags[str(i)] for i in range(len(instructions))],
            }
        }

        async def finalize() -> None:
            await self._rest(
                tokens,
                "POST",
                "/videos",
                "finalize the upload",
                params={"action": "finalizeUpload"},
                json=payload,
            )

        await self._retried(finalize)
        await job.checkpoint(li_finalized=True)
        return video

    async def _initialize(self, job: PublishJob, tokens: TokenSource) -> None:
        payload = {
            "initializeUploadRequest": {
                "owner": tokens.account_id,
                "fileSizeBytes": job.media.size_bytes,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        }

        async def initialize() -> dict[str, Any]:
            response = await self._rest(
                tokens,
                "POST",
                "/videos",
                "start the upload",
                params={"action": "initializeUpload"},
                json=payload,
            )
            value: dict[str, Any] = response.json().get("value") or {}
            return value

        value = await self._retried(initialize)
        instructions = value.get("uploadInstructions") or []
        if not value.get("video") or not instructions:
            raise TransientError("LinkedIn did not return upload instructions")
        # Fresh URLs for a fresh video: parts acknowledged for an earlier one do not count.
        await job.checkpoint(
            li_video=value["video"],
            li_upload_token=value.get("uploadToken") or "",
            li_instructions=[
                {"url": p["uploadUrl"], "first": int(p["firstByte"]), "last": int(p["lastByte"])}
                for p in instructions
            ],
            li_urls_expire_at=float(value.get("uploadUrlsExpireAt") or 0) / 1000,
            li_etags={},
            li_finalized=False,
            li_post_attempted=False,
        )

    async def _put_part(self, job: PublishJob, index: int, part: dict[str, Any]) -> str:
        first, last = int(part["first"]), int(part["last"])

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(last - first + 1)}
        # The URL is pre-signed for this part; the bearer token is not sent to the upload host.
        try:
            body = job.source.stream(first, last + 1, piece=self.chunk_size)
            response = await self.http.put(part["url"], content=body, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        if response.status_code in (401, 403):
            # A URL that is no longer accepted (expired, signature rejected): start a new upload.
            await job.checkpoint(li_video=None)
            raise TransientError(f"LinkedIn no longer accepts the upload URL for part {index}; starting over")
        if not response.is_success:
            raise _error(response, f"LinkedIn refused video part {index}: {_explain(response)}")
        etag = response.headers.get("etag")
        if not etag:
            raise TransientError(f"LinkedIn sent no ETag for video part {index}")
        return etag

    async def _wait_available(self, tokens: TokenSource, video: str) -> None:
        deadline = time.monotonic() + self.max_processing_s
        path = f"/videos/{quote(video, safe='')}"
        while True:

            async def status() -> dict[str, Any]:
                body: dict[str, Any] = (
                    await self._rest(tokens, "GET", path, "report the video's status")
                ).json()
                return body

            body = await self._retried(status)
            state = body.get("status")
            if state == "AVAILABLE":
                return
            if state == "PROCESSING_FAILED":
                reason = body.get("processingFailureReason") or "processing failed"
                raise PermanentError(
                    f"LinkedIn could not process the video: {reason}",
                    hint=media.SUMMARY,
                )
            if time.monotonic() + self.poll_interval_s > deadline:
                raise TransientError(
                    "LinkedIn is still processing the video", retry_after=self.poll_interval_s
                )
            await asyncio.sleep(self.poll_interval_s)

    # --- the post ------------------------------------------------------------------------------

    async def _post(self, job: PublishJob, tokens: TokenSource, video: str) -> PublishResult:
        state = job.upload_state
        if state.get("li_post_attempted"):
            if not self.can_list_posts:
                raise PermanentError(
                    "LinkedIn may have published this post: its answer to the create call was lost, "
                    "and posting again could publish it twice.",
                    hint="Look for it on the account's recent activity "
                    "(https://www.linkedin.com/in/me/recent-activity/all/); schedule it again only if "
                    "it is not there.",
                )
            found = await self._find_post(tokens, video)
            if found:
                await job.checkpoint(li_post_urn=found, remote_id=found, remote_url=_url(found))
                return _result(found)
        await job.checkpoint(li_post_attempted=True)
        payload = {
            "author": tokens.account_id,
            "commentary": little_text(job.caption),
            "visibility": str(job.options.get("visibility") or self.visibility).upper(),
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "content": {"media": {"title": job.title or "", "id": video}},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        # Not retried in place: a lost answer may hide a created post; the next attempt looks first.
        try:
            response = await self._rest(tokens, "POST", "/posts", "create the post", json=payload)
        except PublishError as exc:
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                # A 4xx (429 included) is a refusal: nothing was created, so a retry may post.
                await job.checkpoint(li_post_attempted=False)
            raise
        urn = response.headers.get("x-restli-id")
        if not urn:
            raise TransientError("LinkedIn did not return the new post's id")
        await job.checkpoint(li_post_urn=urn, remote_id=urn, remote_url=_url(urn))
        return _result(urn)

    async def _find_post(self, tokens: TokenSource, video: str) -> str | None:
        # Rest.li 2.0 wants the URN encoded inside the query string; httpx would leave ':' alone.
        query = f"?q=author&author={quote(tokens.account_id, safe='')}&count=20&sortBy=LAST_MODIFIED"
        response = await self._rest(tokens, "GET", f"/posts{query}", "list the author's posts")
        for post in response.json().get("elements") or []:
            if ((post.get("content") or {}).get("media") or {}).get("id") == video:
                return str(post["id"])
        return None


def _explain(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {response.status_code}"


def _error(response: httpx.Response, message: str) -> PublishError:
    error = error_for_response(response, message)
    if isinstance(error, RateLimited) and error.retry_after is None:
        # No Retry-After from LinkedIn: its limits are per day, so come back after the reset.
        error.retry_after = seconds_to_utc_midnight()
    if response.status_code == 426:
        newest = versions.VERSIONS.newest_dated()
        to = f' = "{newest.name}"' if newest else ""
        error.hint = (
            "LinkedIn no longer serves the configured LinkedIn-Version (past its sunset, "
            f"{versions.SOURCE}): set platforms.linkedin.api_version{to}, or upgrade postbot."
        )
    return error


def _url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _result(urn: str) -> PublishResult:
    return PublishResult(remote_id=urn, url=_url(urn))
