"""`postbot console`: a prompt with the scheduler running in the same process."""

from __future__ import annotations

import asyncio
import sys

from adapters.console.commands import HELP, ConsoleAdapter, ConsoleNotifier
from bot.wiring import build_app
from core.config import Settings
from core.domain import ChatKind


def _print(text: str) -> None:
    if text:
        print(text, flush=True)


async def run_console(settings: Settings) -> None:
    app = await build_app(settings)
    app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(_print))
    adapter = ConsoleAdapter(app.postbot, app.media)
    await app.warm()
    await app.start_scheduler()
    interactive = sys.stdin.isatty()
    _print(f"postbot console · database {settings.database_url} · /help for commands")
    try:
        while True:
            try:
                line = await asyncio.to_thread(_read_line, "postbot> " if interactive else "")
            except EOFError:
                break
            if line.strip() in ("/quit", "/exit", "quit", "exit"):
                break
            _print(await adapter.handle(line))
    finally:
        await app.close()


def _read_line(prompt: str) -> str:
    if prompt:
        return input(prompt)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


__all__ = ["HELP", "run_console"]
