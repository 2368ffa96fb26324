"""Starting the web server inside the bot process."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute

from adapters.web.app import build_web_app
from adapters.web.server import WebServer
from core.service import Postbot


async def start_web(postbot: Postbot, *, extra_routes: Sequence[BaseRoute] = ()) -> WebServer:
    """Serve OAuth pages, /health (which checks the database) and /metrics on ``web.host:web.port``,
    with a chat's own endpoints beside them; stop with ``.stop()``."""
    web = postbot.settings.web
    server = WebServer(web.host, web.port)
    await server.start(
        build_web_app(postbot, extra_routes=extra_routes, health_check=postbot.database_answers)
    )
    return server
