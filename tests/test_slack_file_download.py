"""adapters.slack.files.download on its own, against the Slack fake's file host: what the bot token
may reach, how far redirects are followed, and the limits a download is held to before and while it
streams. The adapter tests (test_slack_file_hosts.py) play the same refusals through the whole bolt
app; these reach each rule directly, fast enough to run against every mutant of the module
(tools/mutation.py slack-file-hosts).

Slack's side is the fake in tests/fakes/slack_api.py: ``url_private_download`` answers with the bytes
only for the bot token, and with its sign-in page (a redirect, then HTML) otherwise
(https://docs.slack.dev/reference/objects/file-object, "Authentication": private file URLs need an
``Authorization: Bearer`` header with a token that can see the file).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from adapters.slack.files import FileHosts, download, shared_file
from core.config import Settings
from core.db.engine import make_engine, session_factory
from core.domain import Platform
from core.errors import MediaError
from core.media.store import MediaStore, size_text
from core.service import Postbot
from tests.fakes.loopback import LoopbackFake
from tests.fakes.slack_api import FakeSlack

# A host that is not Slack's, recording what reaches it (another loopback port stands for any host).
from tests.test_slack_file_hosts import Listener

CHANNEL = "C0LAUNCH"
ANA = "U0ANA"
_UNTYPED = "X-Test-Untyped"


class Hops(LoopbackFake):
    """A trusted origin that redirects ``/hop/<n>`` n more times before sending the client to ``then``,
    recording each request's Authorization header."""

    def __init__(self) -> None:
        super().__init__()
        self.then = ""
        self.seen: list[tuple[str, str | None]] = []
        self.body = b""
        self.sent = 0

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/hop/{left}", self._hop)
        app.router.add_get("/not-modified", self._not_modified)
        app.router.add_get("/bare", self._bare)
        app.router.add_get("/endless", self._endless)
        app.on_response_prepare.append(self._untyped)
        return app

    async def _hop(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization")))
        left = int(request.match_info["left"])
        # A relative Location, as servers often send: joined to the URL it came from.
        raise web.HTTPFound(f"/hop/{left - 1}" if left > 1 else self.then)

    async def _not_modified(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization")))
        return web.Response(status=304)

    async def _bare(self, request: web.Request) -> web.Response:
        """The file's bytes with no Content-Type at all (a proxy that drops it)."""
        return web.Response(body=self.body, headers={_UNTYPED: "1"})

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        """A chunked body that never ends, counting what it managed to send."""
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        piece = b"\0" * 65536
        try:
            while True:
                await response.write(piece)
                self.sent += len(piece)
        except (ConnectionResetError, RuntimeError):
            return response

    @staticmethod
    async def _untyped(request: web.Request, response: web.StreamResponse) -> None:
        # aiohttp gives every body a Content-Type before sending; on_response_prepare comes after.
        if response.headers.pop(_UNTYPED, None):
            response.headers.popall("Content-Type", None)


class World:
    def __init__(
        self, slack: FakeSlack, hops: Hops, elsewhere: Listener, postbot: Postbot, http: httpx.AsyncClient
    ) -> None:
        self.slack, self.hops, self.elsewhere, self.postbot, self.http = slack, hops, elsewhere, postbot, http
        self.hosts = FileHosts([slack.base_url, hops.base_url])

    def payload(self, path: Path, **changes: Any) -> dict[str, Any]:
        """A file object as a message event carries it, with ``changes`` applied (None removes a key)."""
        payload = self.slack.file_payload(self.slack.add_file(ANA, CHANNEL, path))
        for key, value in changes.items():
            if value is None:
                payload.pop(key, None)
            else:
                payload[key] = value
        return payload

    async def fetch(
        self, payload: dict[str, Any], platforms: tuple[Platform, ...] = (Platform.SANDBOX,)
    ) -> Any:
        file = shared_file(payload, channel_id=CHANNEL, user_id=ANA, message_ts=None)
        return await download(
            self.http,
            self.postbot,
            bot_token=self.slack.bot_token,
            file=file,
            platforms=platforms,
            hosts=self.hosts,
        )

    def stored(self) -> list[Path]:
        return [p for p in (self.postbot.media.root).rglob("*") if p.is_file()]


@pytest.fixture
async def world(tmp_path: Path, http: httpx.AsyncClient) -> AsyncIterator[World]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")  # never queried here
    postbot = Postbot(
        Settings(data_dir=tmp_path), session_factory(engine), media=MediaStore(tmp_path / "media")
    )
    async with FakeSlack() as slack, Hops() as hops, Listener() as elsewhere:
        yield World(slack, hops, elsewhere, postbot, http)
    await engine.dispose()


async def test_a_hosted_file_is_downloaded_with_the_bot_token(world: World, clip: Path) -> None:
    info = await world.fetch(world.payload(clip))
    assert info.size_bytes == clip.stat().st_size
    assert Path(info.path).read_bytes() == clip.read_bytes()
    assert world.slack.downloads == [{"file": world.slack.downloads[0]["file"], "authorized": True}]


@pytest.mark.parametrize(
    "flags",
    [{"is_external": True}, {"mode": "external"}],
    ids=["is_external", "mode-external"],
)
async def test_a_remote_file_on_a_trusted_host_is_still_not_fetched(
    world: World, clip: Path, flags: dict[str, Any]
) -> None:
    """A remote file's URL is whatever its creator gave files.remote.add, so it can name another,
    private Slack file the bot token can read: the token would fetch it on the creator's behalf. The
    file object says it is remote (``is_external`` true or ``mode: external``,
    https://docs.slack.dev/reference/objects/file-object), and either alone is refused, whatever the
    host. Mutations: ``is_external`` always false, ``and`` for ``or``, either key or value altered."""
    payload = world.payload(clip, **{"is_external": False, "mode": "hosted", **flags})
    with pytest.raises(MediaError) as refused:
        await world.fetch(payload)
    assert str(refused.value) == (
        f"{clip.name} is stored outside Slack (a remote or linked file), and postbot only fetches "
        "videos uploaded to Slack itself. Download the video and upload it into this channel, then try again."
    )
    assert world.slack.downloads == []


async def test_a_file_without_a_name_is_named_by_its_id(world: World, clip: Path) -> None:
    """Mutations: the name dropped, or ``and`` for ``or`` (the id shown although there is a name)."""
    nameless = world.payload(clip, name=None, title=None, is_external=True)
    with pytest.raises(MediaError, match=rf"^{nameless['id']} is stored outside Slack"):
        await world.fetch(nameless)
    named = world.payload(clip, is_external=True)
    with pytest.raises(MediaError, match=rf"^{clip.name} is stored outside Slack"):
        await world.fetch(named)


async def test_a_url_off_slacks_hosts_is_refused_before_any_request(world: World, clip: Path) -> None:
    payload = world.payload(clip, url_private_download=f"{world.elsewhere.base_url}/files-pri/x.mp4")
    with pytest.raises(MediaError, match=rf"^{clip.name} is stored outside Slack"):
        await world.fetch(payload)
    assert world.elsewhere.requests == []


async def test_a_file_without_a_download_link_is_refused_saying_so(world: World, clip: Path) -> None:
    payload = world.payload(clip, url_private_download=None, url_private=None)
    with pytest.raises(MediaError) as refused:
        await world.fetch(payload)
    assert str(refused.value) == f"Slack gave no download link for {clip.name}. Upload the video again."


async def test_an_announced_size_too_big_is_refused_before_downloading(world: World, clip: Path) -> None:
    """Mutations: the size check skipped when there is a size (``is None``), or asked about no size."""
    payload = world.payload(clip, size=400_000_000)
    with pytest.raises(MediaError) as refused:
        await world.fetch(payload, (Platform.INSTAGRAM,))
    assert str(refused.value).startswith("The video is 400 MB: Instagram takes at most 300 MB.")
    assert world.slack.downloads == []


async def test_a_stream_past_the_platforms_limit_is_cut(world: World, tmp_path: Path) -> None:
    """A file object without a size (nothing to check first) is held to the chosen platforms' limit
    while it streams, and what was written is removed. Mutation: no limit passed to the store."""
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:  # sparse: 300 MB + 1 byte of zeros, not written to disk
        fh.truncate(300_000_001)
    payload = world.payload(big, size=None)
    with pytest.raises(MediaError, match=r"^The file is larger than 300 MB, the most the chosen platforms"):
        await world.fetch(payload, (Platform.INSTAGRAM,))
    assert world.stored() == []


async def test_a_stream_past_its_announced_size_is_cut_there(world: World, clip: Path) -> None:
    """Mutation: the announced size not handed to the store (only the platform limit would apply)."""
    payload = world.payload(clip, size=1000)
    with pytest.raises(MediaError) as refused:
        await world.fetch(payload)
    assert str(refused.value).startswith(
        f"{clip.name} is larger than the {size_text(1000)} it was announced as"
    )
    assert world.stored() == []


async def test_a_sign_in_page_is_not_taken_for_the_file(world: World, clip: Path) -> None:
    """Without files:read Slack answers with its sign-in page: a redirect on its own host, then a 200
    of HTML. It is refused as not handed over, with how to fix the scope."""
    world.slack.scopes.discard("files:read")
    with pytest.raises(MediaError) as refused:
        await world.fetch(world.payload(clip))
    assert str(refused.value) == (
        f"Slack did not hand over {clip.name} (HTTP 200). Check that postbot is in this channel and has "
        "the files:read scope (reinstall the app from its manifest), then try again."
    )
    assert world.stored() == []


async def test_an_error_status_is_refused_with_its_code(world: World, clip: Path) -> None:
    world.slack.download_status = 503
    with pytest.raises(MediaError, match=r"\(HTTP 503\)"):
        await world.fetch(world.payload(clip))
    assert world.stored() == []


async def test_redirects_on_trusted_hosts_are_followed_up_to_three(world: World, clip: Path) -> None:
    """Three hops on a trusted host, each sent the token, then the file. Mutation: fewer hops allowed."""
    payload = world.payload(clip)
    world.hops.then = payload["url_private_download"]
    payload["url_private_download"] = f"{world.hops.base_url}/hop/3"
    info = await world.fetch(payload)
    assert info.size_bytes == clip.stat().st_size
    token = f"Bearer {world.slack.bot_token}"
    assert world.hops.seen == [("/hop/3", token), ("/hop/2", token), ("/hop/1", token)]
    assert [d["authorized"] for d in world.slack.downloads] == [True]


async def test_a_fourth_redirect_is_not_followed(world: World, clip: Path) -> None:
    """Mutation: more hops allowed (the fourth redirect's target would be asked)."""
    payload = world.payload(clip)
    world.hops.then = payload["url_private_download"]
    payload["url_private_download"] = f"{world.hops.base_url}/hop/4"
    with pytest.raises(MediaError) as refused:
        await world.fetch(payload)
    assert str(refused.value) == f"Slack did not hand over {clip.name} (too many redirects). Try again later."
    assert [path for path, _ in world.hops.seen] == ["/hop/4", "/hop/3", "/hop/2", "/hop/1"]
    assert world.slack.downloads == []


async def test_a_redirect_off_slack_is_refused_logged_and_never_requested(
    world: World, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusal names the file and says what to do; the operator's log says where the download was
    sent. Mutations: the message, hint or log record altered or dropped."""
    payload = world.payload(clip)
    world.hops.then = f"{world.elsewhere.base_url}/stolen.mp4"
    payload["url_private_download"] = f"{world.hops.base_url}/hop/1"
    with (
        caplog.at_level(logging.WARNING, logger="adapters.slack.files"),
        pytest.raises(MediaError) as refused,
    ):
        await world.fetch(payload)
    assert str(refused.value) == (
        f"Slack did not hand over {clip.name}: the download was sent to a host that is not Slack's, "
        "and postbot did not follow it. Upload the video again."
    )
    assert world.elsewhere.requests == []
    [record] = [r for r in caplog.records if r.name == "adapters.slack.files"]
    assert record.getMessage() == "slack file download redirected off Slack's hosts"
    assert record.__dict__["host"] == "127.0.0.1"


async def test_an_answer_without_a_content_type_is_taken(world: World, clip: Path) -> None:
    """Only HTML (a sign-in page) is refused by its type; no type at all is not an error.
    Mutation: no default for a missing header (``None.startswith`` would raise)."""
    world.hops.body = clip.read_bytes()
    payload = world.payload(clip, url_private_download=f"{world.hops.base_url}/bare")
    info = await world.fetch(payload)
    assert Path(info.path).read_bytes() == clip.read_bytes()


async def test_an_endless_body_is_cut_at_its_announced_size_without_reading_on(
    world: World, clip: Path
) -> None:
    """The download streams: a body that never ends is cut once it passes the file's announced size.
    Mutation: the response read whole before returning (``stream`` false or left out), which
    never returns here."""
    payload = world.payload(clip, size=1000, url_private_download=f"{world.hops.base_url}/endless")
    async with asyncio.timeout(20):
        with pytest.raises(MediaError, match=r"is larger than the 1 KB it was announced as"):
            await world.fetch(payload)
    assert world.stored() == []
    # What the server got out before the connection closed: socket buffers, not the stream.
    assert world.hops.sent < 64 * 1024 * 1024


async def test_redirects_are_checked_hop_by_hop_whatever_client_is_handed_in(
    world: World, clip: Path
) -> None:
    """A client built to follow redirects (httpx's ``follow_redirects=True``) must not follow them
    here: each hop is checked before it is asked. Mutation: ``follow_redirects`` left to the client."""
    payload = world.payload(clip)
    world.hops.then = f"{world.elsewhere.base_url}/stolen.mp4"
    payload["url_private_download"] = f"{world.hops.base_url}/hop/1"
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as following:
        world.http = following
        with pytest.raises(MediaError, match="did not follow it"):
            await world.fetch(payload)
    assert world.elsewhere.requests == []


async def test_a_3xx_without_a_location_is_one_request(world: World, clip: Path) -> None:
    payload = world.payload(clip, url_private_download=f"{world.hops.base_url}/not-modified")
    with pytest.raises(MediaError, match=r"\(HTTP 304\)"):
        await world.fetch(payload)
    assert world.hops.seen == [("/not-modified", f"Bearer {world.slack.bot_token}")]
