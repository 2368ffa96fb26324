"""Starting the web server inside the bot process."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from adapters.web.app import build_web_app
from adapters.web.server import WebServer
from core.accounts.linking import AccountLinker
from core.config import Settings


async def start_web(
    settings: Settings,
    linker: AccountLinker,
    engine: AsyncEngine,
    *,
    extra_routes: Sequence[BaseRoute] = (),
) -> WebServer:
    """Serve OAuth pages, /health (which checks the database) and /metrics; stop with ``.stop()``."""

    async def database_answers() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    server = WebServer(settings.web.host, settings.web.port)
    await server.start(build_web_app(linker, extra_routes=extra_routes, health_check=database_answers))
    return server
