"""Issue 11 point 15: random, hostile and malformed input to every console command gets an answer,
never a traceback, and never hurts the data (seeded, bounded: the same few hundred lines every run).

Also the post-id overflow the fault run found: ids beyond 64 bits answer "there is no post #…"."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier
from bot.wiring import App, build_app
from core.config import Settings
from core.domain import ChatKind
from tests.conftest import Database

COMMANDS = ["/schedule", "/post", "/queue", "/cancel", "/reschedule", "/suggest", "/timezone", "/help"]
HUGE = ["99999999999999999999", str(2**63), str(2**64 + 1), "9" * 400, "-1", "0", "+5", "1e9", "0x10"]
HOSTILE = [
    "'; DROP TABLE scheduled_posts; --",
    "1 OR 1=1",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "%s%s%s%n",
    "../../../../etc/passwd",
    "..",
    "/",
    "a\x00b",
    "\u202etxt.mp4",
    "²",
    "٣",
    "#",
    "#12",
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "🙂" * 50,
    "x" * 5000,
    "tomorrow 6pm",
    "in 99999999999 years",
    "yesterday",
    "best",
    "youtube,instagram,x,linkedin,tiktok,sandbox,myspace",
    "Europe/Berlin",
    "Mars/Olympus_Mons",
    "--file",
    "--file ..",
    "--file /",
    "--file 'a\x00b'",
    f"--file {'n' * 300}.mp4",
]
ALPHABET = "abc XYZ 0123456789 #/.,:;-_@!?'\"\\ \t é ß 中 🙂 \u200b \x00 \x7f"


def _random_text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(HUGE)
    if pick < 0.6:
        return rng.choice(HOSTILE)
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))


def _lines(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        command = rng.choice([*COMMANDS, "/unknown", "schedule", ""])
        words = [_random_text(rng) for _ in range(rng.randint(0, 4))]
        lines.append(" ".join([command, *words]))
    return lines


@pytest.fixture
async def console(settings: Settings, db: Database) -> AsyncIterator[ConsoleAdapter]:
    app: App = await build_app(settings, schema=db.schema, worker_id="fuzz")
    app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(lambda _: None))
    try:
        yield ConsoleAdapter(app.postbot, user="ana")
    finally:
        await app.close()


@pytest.mark.parametrize("command", ["/cancel", "/reschedule"])
async def test_post_ids_beyond_64_bits_are_no_such_post(console: ConsoleAdapter, command: str) -> None:
    when = " tomorrow 6pm" if command == "/reschedule" else ""
    for post_id in ("99999999999999999999", str(2**63), "#" + "9" * 40):
        reply = await console.handle(f"{command} {post_id}{when}")
        assert (
            reply == f"✗ There is no post #{post_id.lstrip('#')} in this workspace. See /queue for the ids."
        ), reply


async def test_random_and_hostile_commands_get_answers_and_leave_the_queue_intact(
    console: ConsoleAdapter, clip: Path
) -> None:
    adapter = console
    reply = await adapter.handle(f"/schedule tomorrow 6pm sandbox Keep me --file {clip}")
    assert reply.startswith("Scheduled"), reply
    before = await adapter.handle("/queue")
    for line in _lines(seed=11, count=400):
        reply = await adapter.handle(line)
        assert isinstance(reply, str), line
        assert "Traceback" not in reply, (line, reply)
    # Nothing hostile was run against the database, and the post queued first is still there.
    after = await adapter.handle("/queue")
    assert "Keep me" in after and after.count("#") >= before.count("#")
