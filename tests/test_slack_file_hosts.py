"""The bot token goes only to Slack's file hosts: a remote file, a forged URL or a redirect that points
elsewhere (here: a listener on another loopback port, standing for any host, inside the network or
not) gets a clear refusal, and the listener never sees a request, let alone the token."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from adapters.slack.files import FileHosts
from core.config import load_settings
from core.db.models import RecentFile
from core.errors import ConfigError
from tests import test_slack_adapter
from tests.fakes.loopback import LoopbackFake
from tests.test_slack_adapter import ANA, CHANNEL, Harness, sqlite_only

# The adapter tests' fixture: the real bolt app over HTTP, the fake Slack trusted as a file origin.
harness = test_slack_adapter.harness


class Listener(LoopbackFake):
    """A host that is not Slack's, recording what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{rest:.*}", self._any)
        return app

    async def _any(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "authorization": request.headers.get("Authorization")})
        return web.Response(body=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, content_type="video/mp4")


async def remembered(h: Harness, file_id: str) -> None:
    async with asyncio.timeout(10):
        while True:
            async with h.app.sessions() as session:
                query = select(RecentFile).where(RecentFile.file_id == file_id)
                row = (await session.execute(query)).scalar()
            if row is not None:
                return
            await asyncio.sleep(0.02)


@pytest.fixture
async def listener() -> Any:
    async with Listener() as server:
        yield server


@sqlite_only
async def test_a_remote_file_is_refused_and_gets_no_token(harness: Harness, listener: Listener) -> None:
    h = harness
    remote = h.slack.add_remote_file(ANA, CHANNEL, f"{listener.base_url}/internal/admin.mp4")
    # The message event alone carries the whole file object (no file_shared event to race with it).
    await h.shared(ANA, CHANNEL, remote, file_shared=False)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Remote", user=ANA, channel=CHANNEL)
    hook = await h.hook("stored outside Slack")
    assert "upload it into this channel" in hook["text"]
    assert listener.requests == []
    assert await h.posts() == []


@sqlite_only
async def test_an_unflagged_file_url_off_slack_is_not_fetched(harness: Harness, listener: Listener) -> None:
    """A payload that does not say the file is remote (or a URL remembered earlier) is judged by its host."""
    h = harness
    remote = h.slack.add_remote_file(ANA, CHANNEL, f"{listener.base_url}/files-pri/T-F/download/x.mp4")
    message = h.sender.user_message(ANA, CHANNEL, "", [remote])
    for file in message["files"]:
        file.update(is_external=False, mode="hosted", url_private_download=file["url_private"])
    response = await h.sender.event({**message, "channel": CHANNEL, "event_ts": message["ts"]})
    assert response.status_code == 200
    await remembered(h, remote.id)
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Forged", user=ANA, channel=CHANNEL)
    await h.hook("stored outside Slack")
    assert listener.requests == []


@sqlite_only
async def test_a_redirect_off_slack_is_not_followed(harness: Harness, listener: Listener, clip: Path) -> None:
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    h.slack.download_redirect = f"{listener.base_url}/elsewhere.mp4"
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Moved", user=ANA, channel=CHANNEL)
    hook = await h.hook("did not follow")
    assert h.slack.bot_token not in hook["text"]
    assert [d["authorized"] for d in h.slack.downloads] == [True]
    assert listener.requests == []
    assert await h.posts() == []


@sqlite_only
async def test_a_3xx_without_a_location_is_refused_after_one_request(harness: Harness, clip: Path) -> None:
    """httpx's ``is_redirect`` is every 3xx: a 304 without a Location was taken for a redirect to the
    same URL, which was asked again with the bot token until the redirect limit ran out."""
    h = harness
    await h.shared(ANA, CHANNEL, h.slack.add_file(ANA, CHANNEL, clip))
    h.slack.download_status = 304
    await h.sender.command("/schedule", "tomorrow 6pm sandbox Unmodified", user=ANA, channel=CHANNEL)
    hook = await h.hook("did not hand over")
    assert "(HTTP 304)" in hook["text"]
    assert [d["authorized"] for d in h.slack.downloads] == [True]
    assert await h.posts() == []


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.mp4", True),
        ("https://files.slack-gov.com/files-pri/T1-F1/a.mp4", True),
        ("https://acme.slack.com/signin", True),
        # A fully qualified name (trailing dot), any case, the default port written out: the same host.
        ("https://files.slack.com./files-pri/T1-F1/a.mp4", True),
        ("https://FILES.Slack.COM/files-pri/T1-F1/a.mp4", True),
        ("https://files.slack.com:443/files-pri/T1-F1/a.mp4", True),
        ("http://files.slack.com/files-pri/T1-F1/a.mp4", False),
        ("https://files.slack.com:8443/files-pri/T1-F1/a.mp4", False),
        ("https://files.slack.com.evil.example/a.mp4", False),
        ("https://evilslack.com/a.mp4", False),
        ("https://user@files.slack.com/a.mp4", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:9/x", False),
        ("file:///etc/passwd", False),
        ("https://[::1/x", False),
    ],
)
def test_only_slacks_hosts_over_https_are_trusted(url: str, trusted: bool) -> None:
    assert FileHosts().trusted(url) is trusted


def test_an_origin_the_operator_lists_is_trusted_exactly() -> None:
    hosts = FileHosts(["http://127.0.0.1:8123"])
    assert hosts.trusted("http://127.0.0.1:8123/files-pri/T-F/download/a.mp4")
    assert not hosts.trusted("http://127.0.0.1:8124/files-pri/T-F/download/a.mp4")
    assert not hosts.trusted("https://127.0.0.1:8123/a.mp4")


@pytest.mark.parametrize(
    ("listed", "url"),
    [
        ("https://proxy.example", "https://proxy.example:443/a.mp4"),
        ("https://proxy.example:443", "https://proxy.example/a.mp4"),
        ("http://proxy.example", "http://proxy.example:80/a.mp4"),
        ("http://proxy.example:80", "http://Proxy.Example./a.mp4"),
        ("HTTPS://Proxy.Example.", "https://proxy.example/a.mp4"),
    ],
)
def test_a_listed_origin_matches_its_default_port_case_and_trailing_dot(listed: str, url: str) -> None:
    """Mutations: a scheme's default port forgotten or altered, the trailing dot not stripped."""
    assert FileHosts([listed]).trusted(url)
    assert not FileHosts([listed]).trusted(re.sub("proxy.example", "proxy.example.net", url, flags=re.I))


@pytest.mark.parametrize(
    "origin", ["https://", "files.proxy.example", "ftp://files.proxy.example", "https://h:x"]
)
def test_an_origin_that_names_no_host_is_refused_at_start_up(
    origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An origin is trusted with the bot token: one naming no host must not load (it would be
    compared with URLs that name none either)."""
    monkeypatch.setenv(
        "POSTBOT_SLACK__FILE_ORIGINS", json.dumps(["https://files.slack-proxy.example", origin])
    )
    with pytest.raises(ConfigError, match=r"slack\.file_origins: .* is not an origin; write scheme://host"):
        load_settings()
