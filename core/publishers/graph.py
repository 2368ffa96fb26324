"""What the publishers that speak Meta's Graph API share: the error object and its codes, a request
that maps errors to postbot's kinds, and finding a post whose publish answer was lost.

Each platform keeps its own host, version, limits and words (its ``GraphErrors``); what is here is what
Meta documents for the Graph API as a whole (Handling Errors,
https://developers.facebook.com/docs/graph-api/guides/error-handling): an error answers
``{"error": {"message", "type", "code", "error_subcode", "error_user_msg", "is_transient"}}``; code 190
(and 102) is an expired or invalidated token, which Graph answers with HTTP 400 rather than 401;
4, 17, 32 and 613 are throttling; 10 and 200-299 a missing permission; 1 and 2 (or ``is_transient``)
a temporary fault. How long throttling lasts is in the ``x-business-use-case-usage`` header, in minutes
(Rate Limiting, https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from core.errors import ConfigError
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
from core.publishers.http import retry_transient, send_authorized

log = logging.getLogger(__name__)

INVALID_TOKEN = frozenset({102, 190})
THROTTLED = frozenset({4, 17, 32, 613})
PERMISSION = frozenset({10, *range(200, 300)})
TRANSIENT = frozenset({1, 2})
# How long a throttled call waits when Meta does not say.
THROTTLED_RETRY_S = 60.0
# Recent posts searched for one whose publish answer was lost, and how much earlier than the attempt
# a post may be stamped and still be it (the clocks are not ours).
RECENT_LIMIT = 25
RECENT_SLACK_S = 60

# A platform's own reading of an error, asked before throttling: (error object, response, message,
# whether the call is the one that publishes) → the error, or None for the common rules.
LimitRule = Callable[[dict[str, Any], httpx.Response, str, bool], PublishError | None]


@dataclass(frozen=True)
class GraphErrors:
    """How one platform words Graph errors and which codes it reads beyond the common ones."""

    # The platform's label, as in "<name> refused to publish the post: …".
    name: str
    relink: str
    # The whole hint for a missing permission (which permission the platform needs, then relink).
    permission_hint: str
    throttled: frozenset[int] = THROTTLED
    # Whether throttling waits as long as the usage header says (else THROTTLED_RETRY_S).
    regain_from_usage: bool = True
    limits: LimitRule | None = None

    def error(self, response: httpx.Response, what: str, *, publish_step: bool = False) -> PublishError:
        error = error_body(response)
        code = error.get("code")
        reason = error.get("error_user_msg") or error.get("message") or f"HTTP {response.status_code}"
        message = f"{self.name} refused to {what}: {reason}"
        status = response.status_code
        if code in INVALID_TOKEN:
            return AuthError(message, status_code=status, hint=self.relink)
        if code in PERMISSION:
            return AuthError(message, status_code=status, hint=self.permission_hint)
        limited = self.limits(error, response, message, publish_step) if self.limits else None
        if limited is not None:
            return limited
        if code in self.throttled:
            regain = regain_after(response) if self.regain_from_usage else None
            return RateLimited(message, status_code=status, retry_after=regain or THROTTLED_RETRY_S)
        if error.get("is_transient") or code in TRANSIENT or status >= 500:
            return TransientError(message, status_code=status)
        return PermanentError(message, status_code=status)


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph answer, empty when there is none (or no JSON at all)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def token_rejected(response: httpx.Response) -> bool:
    # Graph answers a dead token with HTTP 400 (or 401) and code 190.
    return response.status_code in (400, 401) and error_body(response).get("code") in INVALID_TOKEN


def regain_after(response: httpx.Response) -> float | None:
    """Seconds until Meta lifts throttling, from the usage headers (given there in minutes)."""
    raw = response.headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in entries
        ]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes, default=0.0) * 60 or None


async def media_insights(
    http: httpx.AsyncClient, graph: str, tokens: TokenSource, media_id: str, metrics: tuple[str, ...]
) -> httpx.Response:
    """``GET /{media-id}/insights?metric=a,b`` with the account's token, renewed once if Graph refuses
    it; the caller reads the error, which differs by platform."""

    async def send(token: str) -> httpx.Response:
        return await http.get(
            f"{graph}/{media_id}/insights",
            params={"metric": ",".join(metrics)},
            headers={"Authorization": f"Bearer {token}"},
        )

    return await send_authorized(tokens, send, token_rejected=token_rejected)


def insight_values(body: dict[str, Any]) -> dict[str, object]:
    """Each metric's latest value by name: ``{"data": [{"name": "views", "values": [{"value": 1204}]}]}``,
    or ``{"total_value": {"value": n}}`` for a metric asked as a total. A metric left out is absent."""
    values: dict[str, object] = {}
    for entry in body.get("data") or []:
        points = entry.get("values") or []
        if points:
            values[str(entry.get("name"))] = points[-1].get("value")
        elif isinstance(entry.get("total_value"), dict):
            values[str(entry.get("name"))] = entry["total_value"].get("value")
    return values


def epoch(stamp: Any) -> float | None:
    # Graph's datetimes: "2026-12-06T12:00:00+0000".
    try:
        return datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


class GraphRequests:
    """Requests of a Graph publisher: the token refreshed once when Graph rejects it, errors mapped by
    the platform's ``errors``, and calls safe to repeat retried in place. The publisher sets the
    attributes below in its ``__init__``."""

    errors: ClassVar[GraphErrors]
    http: httpx.AsyncClient
    graph: str
    step_attempts: int
    retry_base_s: float
    max_inline_wait_s: float

    def _seen(self, response: httpx.Response) -> None:
        """Every answer passes here first (a platform that reads its headers overrides it)."""

    async def _graph(
        self,
        tokens: TokenSource,
        method: str,
        path: str,
        what: str,
        *,
        publish_step: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        url = f"{self.graph}/{path}"

        async def send(token: str) -> httpx.Response:
            return await self.http.request(
                method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )

        response = await send_authorized(tokens, send, token_rejected=token_rejected)
        self._seen(response)
        if not response.is_success:
            raise self.errors.error(response, what, publish_step=publish_step)
        body: dict[str, Any] = response.json()
        return body

    async def _step(
        self, tokens: TokenSource, method: str, path: str, what: str, **kwargs: Any
    ) -> dict[str, Any]:
        """A call safe to repeat, retried in place on transient errors and short throttling."""
        return await retry_transient(
            lambda: self._graph(tokens, method, path, what, **kwargs),
            attempts=self.step_attempts,
            base_s=self.retry_base_s,
            max_wait_s=self.max_inline_wait_s,
        )

    async def _find_recent(
        self,
        tokens: TokenSource,
        path: str,
        what: str,
        *,
        text_field: str,
        time_field: str,
        text: str,
        since: float,
    ) -> str | None:
        """The id of a recent post on ``path`` (an account's own posts) with this text, stamped no
        earlier than the attempt began: what a publish whose answer was lost made. The same text
        posted before this attempt (a weekly series) is not it."""
        body = await self._step(
            tokens, "GET", path, what,
            params={"fields": f"id,{text_field},{time_field}", "limit": str(RECENT_LIMIT)},
        )  # fmt: skip
        for item in body.get("data") or []:
            stamp = epoch(item.get(time_field))
            if str(item.get(text_field) or "") == text and (stamp is None or stamp >= since - RECENT_SLACK_S):
                return str(item["id"])
        return None

    async def _field(self, tokens: TokenSource, object_id: str, field: str, what: str) -> Any:
        """One field of a published object (its link), or None when Graph will not say: the post is
        live, and a missing link is not worth failing (and retrying) it for."""
        try:
            body = await self._step(tokens, "GET", object_id, what, params={"fields": field})
        except PublishError:
            return None
        return body.get(field)


@dataclass(frozen=True)
class ContainerApi:
    """Where one platform's container publishing lives and what it calls things."""

    # upload_state keys are "<prefix>_container", "<prefix>_container_at", "<prefix>_publish_attempted"
    # and "<prefix>_media_id" (kept as they were, so posts in flight resume across versions).
    prefix: str
    # The account's edges: the publishing limit, containers, publishing, and its own recent posts.
    limit_edge: str
    create_edge: str
    publish_edge: str
    recent_edge: str
    # The field of a recent post that holds its text (compared with the caption).
    text_field: str
    # A container's status field and the field that says why it failed, and the word for an
    # unexplained failure.
    status_field: str
    detail_field: str
    unknown_detail: str
    # "reel", "post": in "create the reel", "report the post's link".
    noun: str
    # Why a failed container failed, in general (formats, sizes, the public link).
    specs_hint: str


class ContainerPublisher(GraphRequests):
    """Meta's container publishing (Instagram's and Threads' content-publishing guides): ``POST
    /{user}/<create_edge>`` with a ``video_url`` Meta fetches makes a container; ``GET
    /{container}?fields=<status>`` is polled until ``FINISHED`` ("once per minute, for no more than
    5 minutes"); ``POST /{user}/<publish_edge>`` with ``creation_id`` publishes; ``GET
    /{media}?fields=permalink`` gives the link. The container id is checkpointed as soon as it exists
    and the publish is marked as attempted before it is sent: a retry that finds the container
    ``PUBLISHED`` looks the post up instead of publishing it again. The publisher sets ``api`` and,
    in ``__init__``, the attributes below; ``_container_params`` says what the container carries."""

    api: ClassVar[ContainerApi]
    poll_interval_s: float
    max_processing_s: float
    # Containers not published within 24 hours expire; start a new one a little before that.
    container_ttl_s: ClassVar[float] = 23 * 3600
    # How long Meta may fetch the video for: it downloads while the container is IN_PROGRESS, which
    # the polling allows five minutes inline and later retries some more. The link dies sooner
    # anyway once the post is over.
    video_url_ttl: ClassVar[timedelta] = timedelta(hours=2)
    # The publishing limit is a moving 24-hour window whose oldest post we cannot see: check hourly.
    publish_limit_retry_s: ClassVar[float] = 3600.0

    def _container_params(self, job: PublishJob, video_url: str) -> dict[str, str]:
        raise NotImplementedError

    def _key(self, name: str) -> str:
        return f"{self.api.prefix}_{name}"

    async def publish(self, job: PublishJob) -> PublishResult:
        tokens = job.require_tokens()
        state = job.upload_state
        if state.get(self._key("media_id")):
            return PublishResult(str(state[self._key("media_id")]), state.get("remote_url"))
        container = state.get(self._key("container"))
        # An old container is replaced only if it was never published: one that may have been is
        # asked for its status below, so a lost publish answer is found, not published again.
        old = time.time() - float(state.get(self._key("container_at"), 0)) > self.container_ttl_s
        if not container or (old and not state.get(self._key("publish_attempted"))):
            container = await self._create_container(job, tokens)
        status = await self._wait_finished(job, tokens, container)
        if status == "PUBLISHED":
            media_id = await self._find_published(job, tokens)
        else:
            media_id = await self._publish(job, tokens, container)
        return await self._finish(job, tokens, media_id)

    async def _check_limit(self, tokens: TokenSource) -> None:
        name = self.errors.name
        body = await self._step(
            tokens, "GET", f"{tokens.account_id}/{self.api.limit_edge}", "report the publishing limit",
            params={"fields": "quota_usage,config"},
        )  # fmt: skip
        usage = (body.get("data") or [{}])[0]
        total = (usage.get("config") or {}).get("quota_total")
        if total is not None and int(usage.get("quota_usage") or 0) >= int(total):
            raise RateLimited(
                f"the {name} account has used its {total} API posts for the last 24 hours",
                retry_after=self.publish_limit_retry_s,
                hint=f"{name} allows a fixed number of API posts per day; it will be retried later.",
            )

    async def _spent_quota_explains(self, tokens: TokenSource, refused: PermanentError) -> None:
        """Raise the wait for a spent quota if that is why the publish edge refused.

        The limit is "enforced on the POST .../<publish_edge> endpoint", but not every platform shows
        the error it answers with (Threads does not, core/platforms/threads/publisher.py): rather
        than trust a guessed code, a refusal the platform's rules did not read as a limit is checked
        against the limit edge, which is documented. Spent, the post waits; not spent (or the check
        itself failing), the refusal stands in the platform's words."""
        try:
            await self._check_limit(tokens)
        except RateLimited as spent:
            raise spent from refused
        except PublishError:
            return

    async def _create_container(self, job: PublishJob, tokens: TokenSource) -> str:
        name = self.errors.name
        await self._check_limit(tokens)
        try:
            video_url = await job.video_url(expires=self.video_url_ttl)
        except ConfigError as exc:
            raise PermanentError(
                f"{name} fetches the video from postbot, and postbot has no link to give it",
                hint=str(exc),
            ) from exc
        body = await self._step(
            tokens, "POST", f"{tokens.account_id}/{self.api.create_edge}", f"create the {self.api.noun}",
            data=self._container_params(job, video_url),
        )  # fmt: skip
        container = str(body.get("id") or "")
        if not container:
            raise TransientError(f"{name} did not return a container id")
        # A new container has never been published.
        await job.checkpoint(
            **{
                self._key("container"): container,
                self._key("container_at"): time.time(),
                self._key("publish_attempted"): False,
            }
        )
        return container

    async def _wait_finished(self, job: PublishJob, tokens: TokenSource, container: str) -> str:
        name, api = self.errors.name, self.api
        # Meta fetches the video from postbot's link itself: there are no bytes of ours to count.
        job.processing(f"{name} is fetching the video")
        deadline = time.monotonic() + self.max_processing_s
        while True:
            body = await self._step(
                tokens, "GET", container, f"report the {api.noun}'s status",
                params={"fields": f"{api.status_field},{api.detail_field}"},
            )  # fmt: skip
            status = str(body.get(api.status_field) or "")
            if status in ("FINISHED", "PUBLISHED"):
                return status
            if status == "ERROR":
                raise PermanentError(
                    f"{name} could not process the video: {body.get(api.detail_field) or api.unknown_detail}",
                    hint=api.specs_hint,
                )
            if status == "EXPIRED":
                await job.checkpoint(**{self._key("container"): None})
                raise TransientError(f"the {name} upload expired before it was published; starting over")
            if time.monotonic() + self.poll_interval_s > deadline:
                raise TransientError(
                    f"{name} is still processing the video", retry_after=self.poll_interval_s
                )
            await asyncio.sleep(self.poll_interval_s)

    async def _publish(self, job: PublishJob, tokens: TokenSource, container: str) -> str:
        await job.checkpoint(**{self._key("publish_attempted"): True})
        # Not retried in place: an error may hide a publish that happened; the retry checks first.
        try:
            body = await self._graph(
                tokens,
                "POST",
                f"{tokens.account_id}/{self.api.publish_edge}",
                f"publish the {self.api.noun}",
                publish_step=True,
                data={"creation_id": container},
            )
        except AuthError:
            raise
        except PermanentError as refused:
            await self._spent_quota_explains(tokens, refused)
            raise
        media_id = str(body.get("id") or "")
        if not media_id:
            raise TransientError(f"{self.errors.name} did not return the published {self.api.noun}'s id")
        await job.checkpoint(**{self._key("media_id"): media_id, "remote_id": media_id})
        return media_id

    async def _find_published(self, job: PublishJob, tokens: TokenSource) -> str:
        """The container was published by an attempt whose answer was lost: find that post among the
        account's own."""
        media_id = await self._find_recent(
            tokens,
            f"{tokens.account_id}/{self.api.recent_edge}",
            "list recent posts",
            text_field=self.api.text_field,
            time_field="timestamp",
            text=job.caption,
            since=float(job.upload_state.get(self._key("container_at")) or 0),
        )
        if not media_id:
            # Published for certain (the container says so), so never publish again; only the id is
            # unknown.
            media_id = str(job.upload_state.get(self._key("container")))
            log.warning(
                "published %s not found among recent posts", self.api.noun, extra={"post_id": job.post_id}
            )
        await job.checkpoint(**{self._key("media_id"): media_id, "remote_id": media_id})
        return media_id

    async def _finish(self, job: PublishJob, tokens: TokenSource, media_id: str) -> PublishResult:
        url = await self._field(tokens, media_id, "permalink", f"report the {self.api.noun}'s link")
        await job.checkpoint(remote_url=url)
        return PublishResult(remote_id=media_id, url=url)
