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
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

log = logging.getLogger(__name__)
# Background work starts once no request has arrived for QUIET_S, or after MAX_DEFER_S at the latest.
QUIET_S = 0.005
MAX_DEFER_S = 0.25


class AckFirstEndpoint:
    def __init__(
        self,
        bolt: AsyncApp,
        signing_secret: str,
        command_acks: Mapping[str, str],
        *,
        dispatchers: int = 4,
    ) -> None:
        self.bolt = bolt
        self.verifier = SignatureVerifier(signing_secret)
        self.command_acks = dict(command_acks)
        self.handler = AsyncSlackRequestHandler(bolt)
        # Acknowledged requests wait here for a few dispatchers. Starting every listener at once
        # would fill each turn of the event loop with hundreds of steps of background work, and the
        # acks of requests still arriving would wait behind them.
        self._queue: asyncio.Queue[tuple[float, bytes, str, Any]] = asyncio.Queue()
        self._dispatchers = dispatchers
        self._workers: list[asyncio.Task[None]] = []
        self._last_arrival = 0.0

    async def handle(self, request: Request) -> Response:
        self._last_arrival = asyncio.get_running_loop().time()
        body = await request.body()
        headers = request.headers
        if not self._signed(body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if content_type == "application/x-www-form-urlencoded" and b"payload=" not in body[:8]:
            command = (parse_qs(body.decode()).get("command") or [""])[0]
            if command in self.command_acks:
                self._dispatch(body, request)
                text = self.command_acks[command]
                return PlainTextResponse(text) if text else Response(status_code=200)
        elif content_type == "application/json" and b'"event_callback"' in body:
            try:
                kind = json.loads(body).get("type")
            except ValueError:
                kind = None
            if kind == "event_callback":
                self._dispatch(body, request)
                return Response(status_code=200)
        return await self.handler.handle(request)

    def _signed(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        if not timestamp or not signature or not timestamp.isdigit():
            return False
        # Checks the HMAC in constant time and refuses timestamps more than 5 minutes off (replays).
        return self.verifier.is_valid(body, timestamp, signature)

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
