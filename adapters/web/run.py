"""Starting the web server inside the bot process."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute

from adapters.web.app import build_metrics_app, build_web_app
from adapters.web.server import WebServer
from core.service import Postbot


async def start_web(postbot: Postbot, *, extra_routes: Sequence[BaseRoute] = ()) -> WebServer:
    """Serve OAuth pages, /health (the database and the schedulers' heartbeats), /metrics and signed
    /media/ links on ``web.host:web.port``, with a chat's own endpoints beside them; stop with
    ``.stop()``."""
    web = postbot.settings.web
    token = web.metrics_token.get_secret_value() if web.metrics_token else None
    server = WebServer(web.host, web.port, header_timeout_s=web.header_timeout_s)
    await server.start(
        build_web_app(
            postbot,
            extra_routes=extra_routes,
            health_check=postbot.health,
            # With a private metrics address, the public port has no /metrics at all.
            metrics_token=None if web.metrics_port is not None else token,
        )
    )
    if web.metrics_port is not None:
        metrics = WebServer(web.metrics_host, web.metrics_port, header_timeout_s=web.header_timeout_s)
        await metrics.start(build_metrics_app(refresh=postbot.refresh_fleet_metrics))
        server.also.append(metrics)
    return server
