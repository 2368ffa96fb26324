"""Slack's part of a running process: Socket Mode (no public URL; the default) or HTTP mode (Slack
posts signed requests to ``/slack/events``, verified with the v0 signing secret and a 5-minute replay
window). bot/runtime.py starts the app, the scheduler and the web server around it, in order.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from adapters.slack.client import make_web_client
from adapters.slack.front import AckFirstEndpoint
from adapters.slack.handlers import COMMAND_ACKS, SlackHandlers
from adapters.slack.ingress import RecentRequests
from adapters.slack.notifier import SlackNotifier
from core.domain import ChatKind
from core.errors import ConfigError
from core.service import Postbot

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


class SlackChat:
    """The bolt app wired to the facade. The same listeners serve both modes: given a signing secret
    it serves HTTP (``routes()``), given an app-level token it holds a Socket Mode connection."""

    kind = ChatKind.SLACK

    def __init__(
        self,
        postbot: Postbot,
        http: httpx.AsyncClient,
        *,
        bot_token: str,
        signing_secret: str | None = None,
        app_token: str | None = None,
        client: AsyncWebClient | None = None,
    ) -> None:
        if (signing_secret is None) == (app_token is None):
            raise ValueError("a Slack chat runs in HTTP mode (signing secret) or Socket Mode (app token)")
        self._session: aiohttp.ClientSession | None = None
        if client is None:
            # One pooled session for every Web API call (the chat is built inside the event loop).
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
            client = make_web_client(bot_token, postbot.settings.slack.api_base_url, session=self._session)
        self.client = client
        self.app_token = app_token
        self.handlers = SlackHandlers(postbot=postbot, http=http, client=self.client, bot_token=bot_token)
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            # Over a socket there is no HTTP request to sign: Slack authenticates the connection instead.
            request_verification_enabled=signing_secret is not None,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        if app_token is not None:
            # Slack redelivers an Events API event it got no ack for within 3 s over the socket too
            # (a new envelope, the same event_id: https://github.com/slackapi/bolt-python/issues/1071),
            # as the HTTP endpoint's replay check knows (adapters/slack/front.py). A retry reaching
            # another process is still safe where it matters: a mention's posts are keyed by its
            # message in the database. This keeps help and refusals from being said twice.
            self._events_seen = RecentRequests()
            self.bolt.middleware(self._first_delivery)
        self.handlers.register(self.bolt)
        slack = postbot.settings.slack
        self.endpoint: AckFirstEndpoint | None = None
        if signing_secret:
            self.endpoint = AckFirstEndpoint(
                self.bolt,
                signing_secret,
                COMMAND_ACKS,
                max_body_bytes=slack.max_body_bytes,
                body_timeout_s=slack.body_timeout_s,
            )
        self._socket: AsyncSocketModeHandler | None = None

    async def _first_delivery(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and not self._events_seen.first_time(f"event:{event_id}"):
            log.info("slack event redelivered over the socket: acknowledged, not run again")
            return BoltResponse(status=200, body="")
        await next()
        return None

    def notifier(self) -> SlackNotifier:
        return SlackNotifier(self.client, self.handlers.homes)

    def routes(self) -> list[BaseRoute]:
        """The Slack endpoint, for the shared web server (OAuth callbacks, health, metrics)."""
        if self.endpoint is None:
            return []
        return [Route(EVENTS_PATH, self.endpoint.handle, methods=["POST"])]

    def asgi(self) -> Starlette:
        if self.endpoint is None:
            raise ConfigError("config error: the Slack HTTP endpoint needs slack.mode = 'http'")
        return Starlette(routes=self.routes())

    async def start(self) -> None:
        settle_heap()
        # Redraws request messages decided in another process (a worker, another Slack process).
        self.handlers.approval.closer.start()
        if self.app_token is not None:
            await self._check_app_token()
            self._socket = AsyncSocketModeHandler(self.bolt, self.app_token)
            await self._socket.connect_async()
            log.info("slack socket mode connected")

    async def _check_app_token(self) -> None:
        """The socket client retries every failure for ever, a refused token included, so a mistyped
        or revoked app token would only log "Failed to connect; Retrying..." every ten seconds. Ask
        once for a socket URL first: Slack's refusal ends the start with one line. A network error
        is left to the socket client's retries."""
        assert self.app_token is not None
        try:
            await self.client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in (
                "invalid_auth",
                "not_authed",
                "not_allowed_token_type",
                "token_revoked",
                "account_inactive",
            ):
                raise ConfigError(
                    f"config error: Slack refused slack.app_token ({error}): copy it again into "
                    "POSTBOT_SLACK__APP_TOKEN from Basic Information → App-Level Tokens (scope "
                    "connections:write); docs/setup/slack.md"
                ) from None
        except (aiohttp.ClientError, TimeoutError):
            pass

    async def wait(self) -> None:
        await asyncio.Event().wait()

    async def stop(self) -> None:
        """Take no more requests and hand those already acknowledged to their listeners; before the
        core shuts down."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self.endpoint is not None:
            await self.endpoint.close()
        await self.handlers.homes.close()
        await self.handlers.approval.closer.stop()

    async def close(self) -> None:
        """Release the Web API connections; after the core (whose scheduler notifies) stopped."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class SlackReporter:
    """Slack for a process that serves no Slack requests (``postbot worker``): results and DMs need
    only the Web API and the bot token."""

    kind = ChatKind.SLACK

    def __init__(self, bot_token: str, api_base_url: str) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.client = make_web_client(bot_token, api_base_url, session=self._session)

    def notifier(self) -> SlackNotifier:
        return SlackNotifier(self.client)

    async def start(self) -> None:
        """The Web API needs no connection up front."""

    async def close(self) -> None:
        await self._session.close()


def settle_heap() -> None:
    """Move everything alive at start into the permanent generation: full garbage collections then
    scan only what requests create, so they stay short instead of pausing every ack queued behind
    them (measured: 105 ms → under 80 ms worst case). The runtime has loaded what the first command
    would load (dateparser's data) before the chat starts."""
    gc.collect()
    gc.freeze()
