"""The Starlette app: OAuth start/callback pages, health and metrics.

Adapters that need HTTP in the same process (Slack in HTTP mode) pass their routes in
``extra_routes`` rather than running a second server.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.web.pages import page
from core.domain import Platform
from core.errors import LinkDenied, LinkError, LinkStateExpired, LinkStateInvalid, LinkStateUsed, UserError
from core.render import linkable_labels
from core.service import Postbot, platform_infos

log = logging.getLogger(__name__)

LINKS = Counter(
    "postbot_oauth_links_total", "OAuth link callbacks by platform and outcome", ["platform", "outcome"]
)

HealthCheck = Callable[[], Awaitable[None]]

_LINKABLE = frozenset(p.platform for p in platform_infos() if p.linkable)
_UNKNOWN = f"postbot links {linkable_labels(platform_infos())}."

_OUTCOMES: dict[type[LinkError], tuple[str, int]] = {
    LinkStateInvalid: ("forged", 400),
    LinkStateExpired: ("expired", 410),
    LinkStateUsed: ("replayed", 409),
    LinkDenied: ("denied", 200),
}


def _platform(request: Request) -> Platform | None:
    try:
        platform = Platform(request.path_params["platform"])
    except ValueError:
        return None
    return platform if platform in _LINKABLE else None


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

    async def start(request: Request) -> Response:
        platform = _platform(request)
        if platform is None:
            return page("Unknown platform", _UNKNOWN, status=404)
        try:
            url = await postbot.authorize_url(platform, request.query_params.get("state", ""))
        except LinkError as exc:
            outcome, status = _OUTCOMES.get(type(exc), ("failed", 400))
            LINKS.labels(platform.value, outcome).inc()
            return page(exc.title, exc.message, status=status)
        except UserError as exc:
            return page("Linking isn't available", str(exc), status=503)
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    async def callback(request: Request) -> Response:
        platform = _platform(request)
        if platform is None:
            return page("Unknown platform", _UNKNOWN, status=404)
        q = request.query_params
        try:
            outcome = await postbot.complete_link(
                platform,
                q.get("state"),
                code=q.get("code"),
                error=q.get("error"),
                error_description=q.get("error_description"),
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
            f"postbot can now post as {outcome.handle}. You can close this tab and go back to chat.",
        )

    async def health(request: Request) -> Response:
        if health_check is not None:
            try:
                await health_check()
            except Exception as exc:
                log.warning("health check failed", extra={"error": type(exc).__name__})
                return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        assert metrics_token is not None
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {metrics_token}".encode()):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/oauth/{platform}/start", start, methods=["GET"]),
        Route("/oauth/{platform}/callback", callback, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        *([Route("/metrics", metrics, methods=["GET"])] if metrics_token else []),
        *extra_routes,
    ]
    return Starlette(routes=routes)


def build_metrics_app(registry: CollectorRegistry = REGISTRY) -> Starlette:
    """/metrics alone, for a private address (``web.metrics_host:web.metrics_port``)."""

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])
