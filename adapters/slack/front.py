"""The HTTP front door: verify Slack's signature, acknowledge at once, let bolt do the rest.

Slack waits 3 s for an answer. bolt's own HTTP path answers only after its middleware chain, listener
matching and a 10 ms polling loop, and under a burst of commands every request queues behind that
work. Slash commands and Events API callbacks need nothing from the listener to be acknowledged (their
ack is empty or a fixed text), so they are answered here after the v0 signature check (HMAC-SHA256
over ``v0:{timestamp}:{body}``, timestamps older than 5 minutes refused), and the verified request is
then dispatched to the bolt app in the background, which verifies it again and runs the listener.
Everything whose ack carries the listener's decision (modal submissions answering with
``response_action: errors``, shortcuts, buttons) and Slack's URL verification go through bolt's
handler unchanged.

Before any of that, :mod:`adapters.slack.ingress` checks the signature headers, reads the body under a
size cap and a deadline, and answers a replay of a request already handled (the same signature, or
the same Events API ``event_id`` again) with an empty 200 without running it twice. A verified body
that is not what Slack sends (not UTF-8, JSON that is not an object, a form whose ``payload`` is not a
JSON object) is answered 400: nothing past this point sees it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from adapters.slack.ingress import RecentRequests, Refused, check_headers, read_body, signed

log = logging.getLogger(__name__)
# Background work starts once no request has arrived for QUIET_S, or after MAX_DEFER_S at the latest.
QUIET_S = 0.005
MAX_DEFER_S = 0.25
# Slack's requests are a few KiB; the largest (a message shortcut carrying a 50-block message,
# URL-encoded JSON) stay well under this.
MAX_BODY_BYTES = 1024 * 1024
BODY_TIMEOUT_S = 10.0


class AckFirstEndpoint:
    def __init__(
        self,
        bolt: AsyncApp,
        signing_secret: str,
        command_acks: Mapping[str, str],
        *,
        dispatchers: int = 4,
        max_body_bytes: int = MAX_BODY_BYTES,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        self.bolt = bolt
        self.secret = signing_secret.encode()
        self.command_acks = dict(command_acks)
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.seen = RecentRequests()
        # Acknowledged requests wait here for a few dispatchers. Starting every listener at once
        # would fill each turn of the event loop with hundreds of steps of background work, and the
        # acks of requests still arriving would wait behind them.
        self._queue: asyncio.Queue[tuple[float, bytes, str, Any]] = asyncio.Queue()
        self._dispatchers = dispatchers
        self._workers: list[asyncio.Task[None]] = []
        self._last_arrival = 0.0

    async def handle(self, request: Request) -> Response:
        self._last_arrival = asyncio.get_running_loop().time()
        headers = request.headers
        timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        try:
            check_headers(timestamp, signature)
            body = await read_body(request, max_bytes=self.max_body_bytes, timeout_s=self.body_timeout_s)
            assert timestamp is not None and signature is not None
            if not signed(self.secret, timestamp, signature, body):
                raise Refused(401, "bad signature")
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            fields, envelope = _parse(body, content_type)
        except Refused as refused:
            log.info("slack request refused", extra={"status": refused.status, "reason": refused.reason})
            error = "invalid request" if refused.status == 401 else refused.reason
            return JSONResponse({"error": error}, status_code=refused.status)
        event_id = envelope.get("event_id") if envelope.get("type") == "event_callback" else None
        if not self.seen.first_time(signature, f"event:{event_id}" if isinstance(event_id, str) else ""):
            # Already handled: a replay of a captured request, or Slack retrying what was answered.
            log.info(
                "slack request replayed: not run again", extra={"retry": headers.get("x-slack-retry-num")}
            )
            return Response(status_code=200)
        command = fields.get("command", "")
        if command in self.command_acks and "payload" not in fields:
            self._dispatch(body, request)
            text = self.command_acks[command]
            return PlainTextResponse(text) if text else Response(status_code=200)
        if event_id is not None:
            self._dispatch(body, request)
            return Response(status_code=200)
        bolt_response = await self.bolt.async_dispatch(to_async_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    def _dispatch(self, body: bytes, request: Request) -> None:
        if not self._workers:
            self._workers = [asyncio.create_task(self._worker()) for _ in range(self._dispatchers)]
        # Parsing into a bolt request costs more than everything else here: the dispatcher does it.
        self._queue.put_nowait((self._last_arrival, body, request.url.query, request.headers.items()))

    async def _after_burst(self, enqueued_at: float) -> None:
        """asyncio has no priorities, so acks get them this way: while requests keep arriving, the
        listeners wait (at most MAX_DEFER_S), and start once the burst has been answered."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            quiet_for, waited = now - self._last_arrival, now - enqueued_at
            if quiet_for >= QUIET_S or waited >= MAX_DEFER_S:
                return
            await asyncio.sleep(min(QUIET_S - quiet_for, MAX_DEFER_S - waited))

    async def _worker(self) -> None:
        while True:
            enqueued_at, body, query, headers = await self._queue.get()
            try:
                await self._after_burst(enqueued_at)
                bolt_request = AsyncBoltRequest(body=body.decode("utf-8"), query=query, headers=dict(headers))
                response = await self.bolt.async_dispatch(bolt_request)
                if response.status >= 400:
                    log.warning("slack request refused after ack", extra={"status": response.status})
            except Exception:
                log.exception("slack request failed after it was acknowledged")
            finally:
                self._queue.task_done()

    async def close(self) -> None:
        """Hand what was already acknowledged to its listeners, then stop the dispatchers."""
        if self._workers:
            await self._queue.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []


def _parse(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The form fields and the JSON object of a verified body, or 400 for anything Slack never sends."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    if content_type == "application/json":
        return {}, _json_object(text, "JSON body")
    if content_type == "application/x-www-form-urlencoded":
        try:
            parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "malformed form body") from None
        fields = {key: values[0] for key, values in parsed.items()}
        envelope = _json_object(fields["payload"], "form payload") if "payload" in fields else {}
        return fields, envelope
    raise Refused(400, "unexpected content type")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is not a JSON object")
    return value
