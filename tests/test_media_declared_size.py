"""Issue 11 point 14: a download that runs past its announced size is cut there, and the message says
the real figure (it used to read "larger than 0 MB")."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from aiohttp import web

from adapters.discord.attachments import download_attachment
from core.config import Settings
from core.db.engine import make_engine, session_factory
from core.domain import Platform
from core.errors import MediaError
from core.media.store import MediaStore
from core.service import Postbot
from tests.fakes.loopback import LoopbackFake

DECLARED = 1_000_000
SERVED = 8 * 1024 * 1024


class LyingCdn(LoopbackFake):
    """Serves far more bytes than the attachment's declared size (chunked: no Content-Length)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/attachments/clip.mp4", self._serve)
        return app

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        piece = b"\0" * 65536
        try:
            while self.sent < SERVED:
                await response.write(piece)
                self.sent += len(piece)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/attachments/clip.mp4"


async def test_a_stream_longer_than_declared_is_cut_with_the_declared_size_in_the_message(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")  # never queried here
    postbot = Postbot(
        Settings(data_dir=tmp_path), session_factory(engine), media=MediaStore(tmp_path / "media")
    )
    async with LyingCdn() as cdn:
        with pytest.raises(MediaError) as info:
            await download_attachment(
                http,
                postbot,
                url=cdn.url,
                filename="clip.mp4",
                size=DECLARED,
                discord_limit=25 * 1024 * 1024,
                platforms=(Platform.X, Platform.INSTAGRAM),
            )
    message = str(info.value)
    assert "than 0 MB" not in message
    assert message.startswith(
        "clip.mp4 is larger than the 1.0 MB it was announced as, so postbot stopped reading it."
    )
    assert list((tmp_path / "media" / "incoming").iterdir()) == []  # the partial file is gone
    await engine.dispose()


async def test_the_platform_limit_is_named_in_full_when_the_stream_passes_it(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    with pytest.raises(MediaError) as info:
        async with store.receive("clip.mp4", max_bytes=300_000) as sink:
            for _ in range(10):
                await sink.write(b"\0" * 65536)
    assert str(info.value).startswith("The file is larger than 300 KB, the most the chosen platforms accept.")
