"""`postbot console`: a prompt, with the scheduler running in the same process (bot/runtime.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from starlette.routing import BaseRoute

from adapters.console.commands import HELP, ConsoleAdapter, ConsoleNotifier
from core.domain import ChatKind
from core.service import Postbot


def _print(text: str) -> None:
    if text:
        print(text, flush=True)


class ConsoleChat:
    """Lines from standard input until EOF or /quit; outcomes and DMs printed as they come."""

    kind = ChatKind.CONSOLE

    def __init__(self, postbot: Postbot, *, out: Callable[[str], None] = _print) -> None:
        self.postbot = postbot
        self.out = out
        self.adapter = ConsoleAdapter(postbot)

    def notifier(self) -> ConsoleNotifier:
        return ConsoleNotifier(self.out)

    def routes(self) -> list[BaseRoute]:
        return []

    async def start(self) -> None:
        self.out(f"postbot console · database {self.postbot.settings.database_url} · /help for commands")

    async def wait(self) -> None:
        interactive = sys.stdin.isatty()
        while True:
            try:
                line = await asyncio.to_thread(_read_line, "postbot> " if interactive else "")
            except EOFError:
                return
            if line.strip() in ("/quit", "/exit", "quit", "exit"):
                return
            self.out(await self.adapter.handle(line))

    async def stop(self) -> None:
        """Each line is answered before the next is read: nothing is left to hand over."""

    async def close(self) -> None:
        """Nothing to release."""


def _read_line(prompt: str) -> str:
    if prompt:
        return input(prompt)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


__all__ = ["HELP", "ConsoleChat"]
