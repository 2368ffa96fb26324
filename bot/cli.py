"""The `postbot` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from core.config import Settings, load_settings
from core.errors import ConfigError
from core.logs import setup_logging

log = logging.getLogger("postbot")


async def _migrate(settings: Settings) -> None:
    from core.db.engine import make_engine, migrate

    engine = make_engine(settings.database_url)
    await migrate(engine)
    await engine.dispose()
    print("database is at the newest schema")


async def _worker(settings: Settings) -> None:
    from bot.runtime import run_worker

    await run_worker(settings)


async def _web(settings: Settings) -> None:
    from bot.runtime import run_web

    await run_web(settings)


async def _slack(settings: Settings) -> None:
    from bot.runtime import run_slack

    await run_slack(settings)


async def _discord(settings: Settings) -> None:
    from bot.runtime import run_discord

    await run_discord(settings)


async def _console(settings: Settings) -> None:
    from bot.runtime import run_console

    await run_console(settings)


async def _rotate_key(settings: Settings) -> None:
    from core.accounts.rotation import run_rotate_key

    await run_rotate_key(settings)


COMMANDS: dict[str, tuple[str, Callable[[Settings], Coroutine[Any, Any, None]]]] = {
    "console": ("chat with postbot at a local prompt, scheduler included", _console),
    "worker": ("run the scheduler that publishes due posts", _worker),
    "migrate": ("upgrade the database schema", _migrate),
    "rotate-key": ("re-encrypt every stored token under the current vault secret", _rotate_key),
    "slack": ("run the Slack bot (Socket Mode or HTTP per slack.mode), scheduler included", _slack),
    "discord": ("run the Discord bot, scheduler included", _discord),
    "web": ("serve OAuth pages, /health and /metrics (and Slack, when configured)", _web),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postbot", description="Schedule video posts from chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        sub.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        quiet = args.command == "console"
        setup_logging("WARNING" if quiet else settings.log_level, json_output=settings.log_json)
        asyncio.run(COMMANDS[args.command][1](settings))
    except ConfigError as exc:
        print(f"postbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
