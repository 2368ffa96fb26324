"""`postbot console` in a real terminal: the process runs on a pseudo-terminal (pexpect) and is typed
at as a person would, keys and escape sequences included (issue 23)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pexpect
import pytest

from tests.clips import sized_clip
from tests.fakes.oauth_provider import FakeOAuthProvider
from tests.fakes.web_host import WebHost
from tests.fakes.youtube_api import CHUNK_UNIT, FakeYouTube

ROOT = Path(__file__).resolve().parents[1]
# prompt_toolkit draws "postbot>" and moves the cursor past the space rather than printing it.
PROMPT = "postbot>"
# Whatever a terminal program may put between two visible characters: escape sequences, spaces.
_DRAWING = r"(?:\x1b\[[0-9;?]*[A-Za-z]|\s)*"
UP = "\x1b[A"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Console:
    """One `postbot console` on a pseudo-terminal, with everything it printed kept in ``seen``."""

    def __init__(self, folder: Path, *, cpr: bool = False, **env: str) -> None:
        port = _free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTBOT_")}
        environ.update(
            PYTHONPATH=str(ROOT),
            TERM="xterm",
            POSTBOT_DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'postbot.db'}",
            POSTBOT_DATA_DIR=str(folder / "data"),
            POSTBOT_DEFAULT_TIMEZONE="Europe/Berlin",
            POSTBOT_SCHEDULER__POLL_INTERVAL_S="0.5",
            POSTBOT_WEB__PORT=str(port),
            POSTBOT_WEB__PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        if not cpr:
            # Unless told to (``cpr``), this terminal doesn't answer prompt_toolkit's cursor-position
            # request; prompt_toolkit then draws no status line under the prompt.
            environ["PROMPT_TOOLKIT_NO_CPR"] = "1"
        environ.update(env)
        self.cpr = cpr
        self.port = port
        self.log = io.StringIO()
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "bot.cli", "console"],
            cwd=str(folder),
            env=environ,
            encoding="utf-8",
            timeout=30,
            dimensions=(50, 200),
        )
        self.child.logfile_read = self.log

    @property
    def seen(self) -> str:
        return self.log.getvalue()

    def expect(self, pattern: str) -> str:
        # A terminal answers "where is the cursor?" (ESC [ 6 n) with ESC [ row ; col R.
        while self.child.expect([pattern, r"\x1b\[6n"]) == 1:
            self.child.send("\x1b[1;1R")
        return str(self.child.after)

    def prompt(self) -> None:
        self.expect(re.escape(PROMPT))

    def line(self, text: str) -> None:
        self.child.send(text + "\r")

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    started = Console(tmp_path)
    yield started
    started.kill()


def test_ctrl_c_at_the_prompt_stops_and_says_what_stays_queued(console: Console, clip: Path) -> None:
    console.prompt()
    console.line(f"/schedule tomorrow 6pm sandbox Launch day --file {clip}")
    console.expect("Scheduled clip.mp4 for Sandbox")
    console.prompt()
    console.child.send("\x03")
    console.expect(r"Stopped\. 1 post stays queued; due ones go out the next time postbot runs")
    assert console.finish() == 0


async def test_ctrl_c_while_a_command_runs_stops_the_console_within_seconds(tmp_path: Path) -> None:
    # A --url download from a host that stopped answering: Ctrl-C must not wait for the link's timeout
    # (30 s by default) nor for the download's thread.
    async with WebHost() as host:
        console = Console(
            tmp_path,
            POSTBOT_LINKS__ALLOW_NETWORKS='["127.0.0.0/8"]',
            POSTBOT_LINKS__CA_FILE=str(host.ca_pem),
        )
        try:
            await asyncio.to_thread(console.prompt)
            console.line(f"/post sandbox Stuck --url {host.url('/stalled')}")
            while not host.requests:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the download is under way, stalled
            console.child.send("\x03")
            console.child.timeout = 8
            started = time.monotonic()
            code = await asyncio.to_thread(console.finish)
            took = time.monotonic() - started
            assert took < 3, f"stopped {took:.1f} s after Ctrl-C"
            assert code in (0, 130), code
            assert "Traceback" not in console.seen
        finally:
            console.kill()


def test_ctrl_d_stops_the_same_way(console: Console) -> None:
    console.prompt()
    console.child.send("\x04")
    console.expect(r"Stopped\. Nothing is queued\.")
    assert console.finish() == 0


def test_the_up_arrow_brings_back_the_last_line_even_after_a_restart(tmp_path: Path) -> None:
    first = Console(tmp_path)
    try:
        first.prompt()
        first.line("/timezone America/New_York")
        first.expect("Times are now read and shown in America/New_York")
        first.prompt()
        first.line("/queue")
        first.expect("The queue is empty")
        first.prompt()
        # Up twice: the /timezone line, run again as it was.
        first.child.send(UP + UP + "\r")
        first.expect("Times are now read and shown in America/New_York")
        assert "^[[A" not in first.seen
        first.prompt()
        first.line("/quit")
        assert first.finish() == 0
    finally:
        first.kill()
    assert (tmp_path / "data" / "console_history").read_text().count("/queue") == 1
    second = Console(tmp_path)
    try:
        second.prompt()
        # The last line was /quit; the one before it, the /timezone line.
        second.child.send(UP + UP + "\r")
        second.expect("Times are now read and shown in America/New_York")
    finally:
        second.kill()


def test_a_line_longer_than_the_terminal_line_discipline_takes_arrives_whole(console: Console) -> None:
    # A cooked terminal hands a program at most 4095 bytes of one line: input() got a cut line.
    word = "a" * 5000
    console.prompt()
    console.line(f"/{word}")
    found = console.expect(r"Unknown command /(a+)\.")
    assert console.child.match is not None
    assert len(console.child.match.group(1)) == len(word), found[:40]


def test_a_post_published_while_typing_appears_above_the_line_once(console: Console, clip: Path) -> None:
    console.prompt()
    console.line(f"/schedule in 3 seconds sandbox Hello --file {clip}")
    console.expect("Scheduled clip.mp4 for Sandbox")
    console.prompt()
    console.child.send("/que")
    console.expect(r"Published #1 on Sandbox: file://\S+")
    # The half-typed line is drawn again under the message, and still holds what was typed.
    console.expect(re.escape(PROMPT) + _DRAWING + "/que")
    console.child.send("ue\r")
    console.expect("The queue is empty")
    console.prompt()
    console.line("/quit")
    assert console.finish() == 0
    assert console.seen.count("Published #1") == 1
    assert "Sandbox #1: published" not in console.seen


def test_help_lists_what_the_console_supports(console: Console) -> None:
    console.prompt()
    console.line("/help")
    console.expect(r"Platforms: .*\.")
    help_text = console.seen
    # No secret key here: the account commands say what they need instead of failing when typed.
    assert "need POSTBOT_SECRET_KEY" in help_text
    assert "--url <link>" in help_text
    assert "Ctrl-D" in help_text
    for word in ("channel", "workspace"):
        assert word not in help_text.split("/help", 1)[1].lower(), word


async def _link(console: Console, platform: str) -> str:
    """Type /link at the console and do what a person does in the browser; the page's text."""
    await asyncio.to_thread(console.prompt)
    console.line(f"/link {platform}")
    link = await asyncio.to_thread(
        console.expect, rf"http://127\.0\.0\.1:\d+/oauth/{platform}/start\?state=\S+"
    )
    assert link.startswith(f"http://127.0.0.1:{console.port}/")
    async with httpx.AsyncClient(timeout=15, follow_redirects=True) as browser:
        confirmation = await browser.get(link)
        assert confirmation.status_code == 200, confirmation.text
        state = parse_qs(urlsplit(link).query)["state"][0]
        page = await browser.post(link.split("?", 1)[0], data={"state": state})
    assert page.status_code == 200, page.text
    assert str(page.url).startswith(f"http://127.0.0.1:{console.port}/oauth/{platform}/callback")
    return page.text


def _youtube_env(oauth: FakeOAuthProvider) -> dict[str, str]:
    conf = oauth.platform_settings()
    return {
        "POSTBOT_SECRET_KEY": "a long random console secret for this test only",
        "POSTBOT_VAULT__ITERATIONS": "100000",
        "POSTBOT_PLATFORMS__YOUTUBE__AUTH_BASE_URL": conf["auth_base_url"],
        "POSTBOT_PLATFORMS__YOUTUBE__CLIENT_ID": conf["client_id"],
        "POSTBOT_PLATFORMS__YOUTUBE__CLIENT_SECRET": conf["client_secret"],
    }


async def test_link_youtube_completes_through_the_consoles_own_callback(tmp_path: Path) -> None:
    fake = await FakeOAuthProvider("youtube").start()
    console = Console(tmp_path, **_youtube_env(fake))
    try:
        assert "linked" in await _link(console, "youtube")
        handle = fake.account.username
        await asyncio.to_thread(console.expect, rf"YouTube linked as @?{re.escape(handle)}")
        await asyncio.to_thread(console.prompt)
        console.line("/accounts")
        await asyncio.to_thread(console.expect, re.escape(handle))
        await asyncio.to_thread(console.prompt)
        console.line("/unlink youtbe")
        await asyncio.to_thread(console.expect, r"Did you mean youtube\?")
        await asyncio.to_thread(console.prompt)
        console.line("/unlink youtube")
        await asyncio.to_thread(console.expect, r"Unlinked YouTube \(")
        await asyncio.to_thread(console.prompt)
        console.line("/accounts")
        await asyncio.to_thread(console.expect, "No accounts are linked yet")
        assert fake.protocol_errors == []
        [sent] = fake.authorize_requests
        assert sent["redirect_uri"] == f"http://127.0.0.1:{console.port}/oauth/youtube/callback"
    finally:
        console.kill()
        await fake.stop()


async def test_link_to_a_platform_that_wants_https_says_so_and_what_to_do(tmp_path: Path) -> None:
    console = Console(
        tmp_path,
        POSTBOT_SECRET_KEY="a long random console secret for this test only",
        POSTBOT_VAULT__ITERATIONS="100000",
        POSTBOT_PLATFORMS__TIKTOK__CLIENT_ID="key",
        POSTBOT_PLATFORMS__TIKTOK__CLIENT_SECRET="secret",
    )
    try:
        await asyncio.to_thread(console.prompt)
        console.line("/link tiktok")
        await asyncio.to_thread(console.expect, r"TikTok accepts only https redirect addresses")
        await asyncio.to_thread(console.expect, r"docs/setup/tiktok\.md")
        assert "/oauth/tiktok/start" not in console.seen
    finally:
        console.kill()


async def test_link_without_the_setup_tells_the_person_typing_what_to_set(tmp_path: Path) -> None:
    # At the console the person typing is the operator: no "ask the operator", but what to set, where.
    for folder in ("bare", "keyed"):
        (tmp_path / folder).mkdir()
    bare = Console(tmp_path / "bare")
    try:
        await asyncio.to_thread(bare.prompt)
        bare.line("/link tiktok")
        await asyncio.to_thread(bare.expect, r"Set POSTBOT_SECRET_KEY \(`postbot init` makes one\)")
        await asyncio.to_thread(bare.prompt)
        assert "operator" not in bare.seen
    finally:
        bare.kill()
    keyed = Console(
        tmp_path / "keyed",
        POSTBOT_SECRET_KEY="a long random console secret for this test only",
        POSTBOT_VAULT__ITERATIONS="100000",
    )
    try:
        await asyncio.to_thread(keyed.prompt)
        keyed.line("/link youtube")  # a loopback redirect is fine for YouTube: only its app is missing
        await asyncio.to_thread(keyed.expect, r"YouTube linking isn't set up on this bot yet")
        await asyncio.to_thread(
            keyed.expect,
            r"Set platforms\.youtube\.client_id in postbot\.toml and "
            r"POSTBOT_PLATFORMS__YOUTUBE__CLIENT_SECRET",
        )
        await asyncio.to_thread(keyed.expect, r"docs/setup/youtube\.md")
        await asyncio.to_thread(keyed.prompt)
        assert "operator" not in keyed.seen
    finally:
        keyed.kill()


async def test_an_upload_shows_its_real_percentage_under_the_prompt(tmp_path: Path) -> None:
    """A real YouTube upload in 256 KiB chunks against the fake, held after the first chunk: the
    status line says how far it got, then the result is printed once."""
    size = 4 * CHUNK_UNIT
    video = sized_clip(tmp_path / "launch.mp4", size_bytes=size)
    oauth = await FakeOAuthProvider("youtube").start()
    youtube = await FakeYouTube().start()
    youtube.token_check = oauth.account_for
    # The first chunk's answer, then the second's, kept back until the test lets them go.
    first = youtube.hold("chunk")
    second = youtube.hold("chunk")
    console = Console(
        tmp_path,
        # A terminal that answers the cursor-position request, as real ones do: prompt_toolkit
        # then keeps a status line under the prompt.
        cpr=True,
        **_youtube_env(oauth),
        POSTBOT_PLATFORMS__YOUTUBE__BASE_URL=youtube.base_url,
        POSTBOT_PLATFORMS__YOUTUBE__CHUNK_SIZE_BYTES=str(CHUNK_UNIT),
    )
    try:
        await _link(console, "youtube")
        await asyncio.to_thread(console.prompt)
        console.line(f"/post youtube:private Launch day --file {video}")
        await asyncio.to_thread(console.expect, "Publishing launch.mp4 to YouTube now.")
        async with asyncio.timeout(30):
            await first.arrived.wait()
        await asyncio.to_thread(console.expect, r"YouTube #1: uploading 0 %")
        # Past the console's refresh interval (0.25 s), so the next report is shown at once.
        await asyncio.sleep(0.6)
        first.release.set()
        async with asyncio.timeout(30):
            await second.arrived.wait()
        # One chunk of four acknowledged: the status line under the prompt says so, redrawn in place
        # (prompt_toolkit rewrites only what changed: the cursor moves to the number).
        await asyncio.to_thread(console.expect, r"(?:uploading |\x1b\[\d+C(?:\x1b\[0m)?)25 %")
        second.release.set()
        await asyncio.to_thread(console.expect, r"Published #1 on YouTube: \S+")
        await asyncio.to_thread(console.prompt)
        console.line("/quit")
        assert await asyncio.to_thread(console.finish) == 0
        assert console.seen.count("Published #1") == 1
        [uploaded] = youtube.videos.values()
        assert uploaded.resource["status"]["privacyStatus"] == "private"
    finally:
        console.kill()
        await youtube.stop()
        await oauth.stop()
