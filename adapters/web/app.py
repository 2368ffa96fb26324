"""The Starlette app: OAuth start/callback pages, health and metrics.

Adapters that need HTTP in the same process (Slack in HTTP mode) pass their routes in
``extra_routes`` rather than running a second server.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from adapters.web.pages import HEADERS, confirm_page, page
from core.domain import Platform
from core.errors import (
    LinkDenied,
    LinkError,
    LinkOpenedElsewhere,
    LinkStateExpired,
    LinkStateInvalid,
    LinkStateUsed,
    UserError,
)
from core.render import linkable_labels
from core.service import Postbot, platform_infos

log = logging.getLogger(__name__)

LINKS = Counter(
    "postbot_oauth_links_total", "OAuth link callbacks by platform and outcome", ["platform", "outcome"]
)

# Raises when the process can't serve; may return details for the body, with "status":
# "unavailable" in them when the fleet can't do its job (no scheduler alive): both answer 503.
HealthCheck = Callable[[], Awaitable[dict[str, Any] | None]]


class Video(Protocol):
    """A stored video as the /media/ route reads it (core.media.storage.StoredMedia)."""

    async def size(self) -> int: ...

    def stream(self, start: int, end: int) -> AsyncIterator[bytes]: ...


# key, expires, sig, post → the video, or None for a link that must not serve (Postbot.open_video).
OpenVideo = Callable[[str, str | None, str | None, str | None], Awaitable[Video | None]]

# The browser-binding cookie (core/accounts/binding.py); it lives as long as a link does.
COOKIE = "postbot_link"
COOKIE_TTL = timedelta(minutes=10)
# The confirmation form carries only the link's state.
_MAX_FORM = 4096

_LINKABLE = frozenset(p.platform for p in platform_infos() if p.linkable)
_UNKNOWN = f"postbot links {linkable_labels(platform_infos())}."

_OUTCOMES: dict[type[LinkError], tuple[str, int]] = {
    LinkStateInvalid: ("forged", 400),
    LinkStateExpired: ("expired", 410),
    LinkStateUsed: ("replayed", 409),
    LinkDenied: ("denied", 200),
    LinkOpenedElsewhere: ("other_browser", 403),
}


def _platform(request: Request) -> Platform | None:
    try:
        platform = Platform(request.path_params["platform"])
    except ValueError:
        return None
    return platform if platform in _LINKABLE else None


async def _form_state(request: Request, timeout_s: float) -> str | None:
    """The ``state`` field of the confirmation form (urlencoded, a few hundred bytes at most); None
    when the body has not all come within ``timeout_s``. The server's deadline covers only the head
    (adapters/web/server.py): a body sent a byte at a time would hold the connection for ever."""
    body = b""
    try:
        async with asyncio.timeout(timeout_s):
            async for piece in request.stream():
                body += piece
                if len(body) > _MAX_FORM:
                    return ""
    except TimeoutError:
        return None
    try:
        values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4).get("state", [""])
    except ValueError:
        return ""
    return values[0]


def build_web_app(
    postbot: Postbot,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    health_check: HealthCheck | None = None,
    registry: CollectorRegistry = REGISTRY,
    metrics_token: str | None = None,
) -> Starlette:
    """The public app. /metrics is on it only behind ``metrics_token`` (a bearer token): operational
    figures (posts per team and platform, failures) are nobody else's business."""
    secure_cookie = postbot.settings.web.public_url.startswith("https://")

    async def start(request: Request) -> Response:
        """GET: say which team and chat the account would be linked to, and bind this browser."""
        platform = _platform(request)
        if platform is None:
            return page("Unknown platform", _UNKNOWN, status=404)
        state = request.query_params.get("state", "")
        try:
            preview = await postbot.open_link(platform, state, request.cookies.get(COOKIE))
        except LinkError as exc:
            outcome, status = _OUTCOMES.get(type(exc), ("failed", 400))
            LINKS.labels(platform.value, outcome).inc()
            return page(exc.title, exc.message, status=status)
        except UserError as exc:
            return page("Linking isn't available", str(exc), status=503)
        response = confirm_page(
            f"Link {platform.label} to {preview.team}?",
            f"{preview.requested_by} asked to link a {platform.label} account to {preview.team}, "
            f"the {preview.chat}. Everyone who can post there will be able to publish as that "
            "account. If you did not ask for this in chat, close this tab.",
            action=f"/oauth/{platform.value}/start",
            state=state,
            button=f"Continue to {platform.label}",
        )
        if preview.cookie is not None:
            response.set_cookie(
                COOKIE,
                preview.cookie,
                max_age=int(COOKIE_TTL.total_seconds()),
                path=f"/oauth/{platform.value}/",
                httponly=True,
                samesite="lax",
                secure=secure_cookie,
            )
        return response

    async def confirm(request: Request) -> Response:
        """POST from the confirmation page: off to the provider, from the browser bound to the link."""
        platform = _platform(request)
        if platform is None:
            return page("Unknown platform", _UNKNOWN, status=404)
        # A few hundred bytes: the budget of a request head (web.header_timeout_s) is plenty.
        state = await _form_state(request, postbot.settings.web.header_timeout_s)
        if state is None:
            response = page(
                "Too slow", "The form took too long to arrive. Press the button again.", status=408
            )
            response.headers["Connection"] = "close"
            return response
        try:
            url = await postbot.authorize_url(platform, state, request.cookies.get(COOKIE))
        except LinkError as exc:
            outcome, status = _OUTCOMES.get(type(exc), ("failed", 400))
            LINKS.labels(platform.value, outcome).inc()
            return page(exc.title, exc.message, status=status)
        except UserError as exc:
            return page("Linking isn't available", str(exc), status=503)
        # 303: the provider's authorize endpoint is fetched with GET.
        return RedirectResponse(url, status_code=303, headers=HEADERS)

    async def callback(request: Request) -> Response:
        platform = _platform(request)
        if platform is None:
            return page("Unknown platform", _UNKNOWN, status=404)
        q = request.query_params
        try:
            outcome = await postbot.complete_link(
                platform,
                q.get("state"),
                cookie=request.cookies.get(COOKIE),
                code=q.get("code"),
                error=q.get("error"),
                error_description=q.get("error_description"),
                issuer=q.get("iss"),
            )
        except LinkError as exc:
            name, status = _OUTCOMES.get(type(exc), ("failed", 502))
            LINKS.labels(platform.value, name).inc()
            return page(exc.title, exc.message, status=status)
        except UserError as exc:
            LINKS.labels(platform.value, "failed").inc()
            return page("Linking isn't available", str(exc), status=503)
        LINKS.labels(platform.value, "linked").inc()
        return page(
            f"{platform.label} linked",
            f"postbot can now post as {outcome.handles} for {outcome.team}, the {outcome.chat}. "
            "You can close this tab and go back to chat.",
        )

    async def client_metadata(request: Request) -> Response:
        """The OAuth client metadata of a platform whose client_id is this URL (AT Protocol): its
        authorization server fetches it at every link, so it is public, JSON and never redirected."""
        platform = _platform(request)
        document = postbot.client_metadata(platform) if platform is not None else None
        if document is None:
            return page("Not found", "postbot publishes no client metadata here.", status=404)
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

    async def health(request: Request) -> Response:
        report: dict[str, Any] = {"status": "ok"}
        if health_check is not None:
            try:
                report.update(await health_check() or {})
            except Exception as exc:
                log.warning("health check failed", extra={"error": type(exc).__name__})
                return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return JSONResponse(report, status_code=503 if report["status"] == "unavailable" else 200)

    async def metrics(request: Request) -> Response:
        assert metrics_token is not None
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {metrics_token}".encode()):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await _refresh(postbot.refresh_fleet_metrics)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/oauth/{platform}/start", start, methods=["GET"]),
        Route("/oauth/{platform}/start", confirm, methods=["POST"]),
        Route("/oauth/{platform}/callback", callback, methods=["GET"]),
        Route("/oauth/{platform}/client-metadata.json", client_metadata, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        *([Route("/metrics", metrics, methods=["GET"])] if metrics_token else []),
        media_route(postbot.open_video),
        *extra_routes,
    ]
    return Starlette(routes=routes)


def media_route(open_video: OpenVideo) -> Route:
    """``GET/HEAD /media/{key}``: a stored video behind postbot's own signed, expiring link, for
    platforms that pull the video by URL (Instagram's ``video_url``). One video per link, ranges
    supported, nothing else under the path reachable."""

    async def stored_video(request: Request) -> Response:
        key = request.path_params["key"]
        query = request.query_params
        video = await open_video(key, query.get("expires"), query.get("sig"), query.get("post"))
        if video is None:
            return Response("link expired or invalid\n", status_code=403, media_type="text/plain")
        try:
            size = await video.size()
        except FileNotFoundError:
            return Response("not found\n", status_code=404, media_type="text/plain")
        span = _byte_range(request.headers.get("range"), size)
        if span is None:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        start, end = span
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(end - start), "Cache-Control": "no-store"}
        status = 200
        if request.headers.get("range"):
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        return StreamingResponse(
            video.stream(start, end), status_code=status, headers=headers, media_type=_video_type(key)
        )

    return Route("/media/{key:path}", stored_video, methods=["GET", "HEAD"])


def _video_type(key: str) -> str:
    # Meta takes MP4 and MOV for Reels; a .mov served as video/mp4 would misdescribe it.
    guessed = mimetypes.guess_type(key)[0]
    return guessed if guessed and guessed.startswith("video/") else "video/mp4"


def build_metrics_app(
    registry: CollectorRegistry = REGISTRY, *, refresh: Callable[[], Awaitable[None]] | None = None
) -> Starlette:
    """/metrics alone, for a private address (``web.metrics_host:web.metrics_port``); ``refresh``
    brings the fleet-wide gauges up to date first (``Postbot.refresh_fleet_metrics``)."""

    async def metrics(request: Request) -> Response:
        if refresh is not None:
            await _refresh(refresh)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])


async def _refresh(refresh: Callable[[], Awaitable[None]]) -> None:
    try:
        await refresh()
    except Exception as exc:
        # Serve the process's own metrics anyway; the fleet gauges keep their last value.
        log.warning("refreshing fleet metrics failed", extra={"error": type(exc).__name__})


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` for one ``Range: bytes=a-b`` (RFC 9110 14.2), the whole file without one;
    None when unsatisfiable. Several ranges at once are answered with the whole file."""
    if not header or not header.startswith("bytes=") or "," in header:
        return 0, size
    first, _, last = header[len("bytes=") :].strip().partition("-")
    try:
        if first == "":
            start, end = max(0, size - int(last)), size
        else:
            start = int(first)
            end = min(size, int(last) + 1) if last else size
    except ValueError:
        return 0, size
    return (start, end) if start < end else None
