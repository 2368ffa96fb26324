"""`postbot console`: a prompt, with the scheduler running in the same process (bot/runtime.py).

At a terminal the prompt is prompt_toolkit's: line editing, a history kept in the data folder, lines
of any length (the terminal's own line discipline, which cuts a typed line at 4095 bytes, is off
while prompt_toolkit reads), Ctrl-C and Ctrl-D to leave. What arrives while someone types (a post
published, a failure) is printed above the prompt through ``patch_stdout``, which redraws the line
being typed underneath; upload progress lives in one status line under the prompt, edited in place.
Piped input (scripts, tests) is read line by line with plain output.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from starlette.routing import BaseRoute

from adapters.console.commands import HELP, ConsoleAdapter, ConsoleNotifier, help_text
from core.domain import ChatKind
from core.service import Postbot

HISTORY_FILE = "console_history"
PROMPT = "postbot> "


def _print(text: str) -> None:
    if text:
        print(text, flush=True)


def goodbye_text(queued: int) -> str:
    """What the console says when it stops, so nobody wonders whether their posts were lost."""
    if queued == 0:
        return "Stopped. Nothing is queued."
    posts = "post stays" if queued == 1 else "posts stay"
    return (
        f"Stopped. {queued} {posts} queued; due ones go out the next time postbot runs on this "
        "database (postbot console, or a worker)."
    )


class ConsoleChat:
    """Lines typed at the prompt until Ctrl-C, Ctrl-D or /quit; outcomes printed as they come."""

    kind = ChatKind.CONSOLE

    def __init__(
        self,
        postbot: Postbot,
        *,
        out: Callable[[str], None] = _print,
        stdin: TextIO | None = None,
        interactive: bool | None = None,
        history: Path | None = None,
    ) -> None:
        self.postbot = postbot
        self.out = out
        self.stdin = stdin or sys.stdin
        self.interactive = (
            interactive if interactive is not None else self.stdin.isatty() and sys.stdout.isatty()
        )
        self.history = history or postbot.settings.data_dir / HISTORY_FILE
        self.adapter = ConsoleAdapter(postbot)
        # Upload progress per post, shown in the status line under the prompt (interactive only).
        self._live: dict[int, str] = {}
        self._redraw: Callable[[], None] = lambda: None

    def notifier(self) -> ConsoleNotifier:
        return ConsoleNotifier(self.out, live=self._show_live if self.interactive else None)

    def routes(self) -> list[BaseRoute]:
        return []

    async def start(self) -> None:
        self.out(f"postbot console · database {self.postbot.settings.database_url} · /help for commands")

    async def wait(self) -> None:
        if self.interactive:
            await self._prompt_loop()
        else:
            await self._pipe_loop()
        self.out(goodbye_text(await self._queued()))

    async def _pipe_loop(self) -> None:
        while True:
            line = await asyncio.to_thread(self.stdin.readline)
            if not line or _is_quit(line):
                return
            self.out(await self.adapter.handle(line))

    async def _prompt_loop(self) -> None:
        # Imported here: only an interactive console needs the terminal library.
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.patch_stdout import patch_stdout
        from prompt_toolkit.styles import Style

        self.history.parent.mkdir(parents=True, exist_ok=True)
        session: PromptSession[str] = PromptSession(
            history=FileHistory(str(self.history)),
            bottom_toolbar=self._toolbar,
            # No reverse-video bar while nothing uploads.
            style=Style.from_dict({"bottom-toolbar": "noreverse"}),
        )
        self._redraw = session.app.invalidate
        try:
            # Everything printed while the prompt is up (the notifier's lines, the answers) goes
            # above it; the line being typed is redrawn underneath, intact.
            with patch_stdout(raw=True):
                while True:
                    try:
                        # prompt_toolkit's own SIGINT handling swaps the runtime's handler out and,
                        # leaving the prompt, removes it from the loop: a Ctrl-C while a command then
                        # ran (a --url download) was ignored. At the prompt the terminal is raw, so
                        # Ctrl-C arrives as a key and still ends prompt_async (KeyboardInterrupt).
                        line = await session.prompt_async(PROMPT, handle_sigint=False)
                    except (KeyboardInterrupt, EOFError):
                        return
                    if _is_quit(line):
                        return
                    self.out(await self.adapter.handle(line))
        finally:
            self._redraw = lambda: None

    def _show_live(self, post_id: int, text: str | None) -> None:
        if text is None:
            self._live.pop(post_id, None)
        else:
            self._live[post_id] = text
        self._redraw()

    def _toolbar(self) -> str:
        return " · ".join(self._live.values())

    async def _queued(self) -> int:
        try:
            return len(await self.postbot.list_queue(self.adapter.ctx))
        except Exception:
            # Leaving must not fail on a database that went away; the count is a courtesy.
            return 0

    async def stop(self) -> None:
        """Each line is answered before the next is read: nothing is left to hand over."""

    async def close(self) -> None:
        """Nothing to release."""


def _is_quit(line: str) -> bool:
    return line.strip() in ("/quit", "/exit", "quit", "exit")


__all__ = ["HELP", "ConsoleChat", "goodbye_text", "help_text"]
