"""What the local fakes of Meta's Graph API hosts share: the error envelope, the rupload error, the
request and fetch records, and Meta's downloader that fetches a video from the URL a post gives.

Graph errors use Meta's envelope ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id", ...}}`` (Handling Errors, https://developers.facebook.com/docs/graph-api/guides/
error-handling); rupload.facebook.com answers its own ``{"debug_info": {"retriable", "type",
"message"}}``.

Meta fetches a ``video_url`` (``file_url``) itself: "We cURL media used in publishing attempts so the
media must be hosted on a publicly accessible server at the time of the attempt"
(https://developers.facebook.com/docs/instagram-platform/content-publishing). The fakes really fetch
it over HTTP, in the background like Meta, and check what a careful downloader checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

# Meta accepts MOV or MP4 (https://developers.facebook.com/docs/instagram-platform/reference/
# instagram-media#reels-specifications); anything else served at the URL is not a video to it.
VIDEO_TYPES = ("video/mp4", "video/quicktime")
FETCH_PIECE = 1024 * 1024


def graph_error(
    status: int, code: int, message: str, *, subcode: int | None = None, **extra: Any
) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return web.json_response({"error": error}, status=status)


def rupload_error(status: int, kind: str, message: str, *, retriable: bool = False) -> web.Response:
    return web.json_response(
        {"debug_info": {"retriable": retriable, "type": kind, "message": message}}, status=status
    )


@dataclass
class Recorded:
    method: str
    path: str
    status: int


@dataclass
class Fetch:
    """One request Meta's downloader made to a video_url."""

    method: str
    url: str
    range: str | None
    status: int


class MetaDownloader:
    """Meta's fetches of a post's video, for a fake that sets ``_client`` (None), ``_downloads`` (an
    empty set) and ``fetches`` (an empty list) in its ``__init__`` and starts each download with
    ``_start``."""

    _client: aiohttp.ClientSession | None
    _downloads: set[asyncio.Task[None]]
    fetches: list[Fetch]

    def _start(self, download: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(download)
        self._downloads.add(task)
        task.add_done_callback(self._downloads.discard)

    async def downloads_done(self) -> None:
        """Wait for every video download started so far."""
        await asyncio.gather(*list(self._downloads), return_exceptions=True)

    async def _stop_downloads(self) -> None:
        for task in list(self._downloads):
            task.cancel()
        await asyncio.gather(*self._downloads, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._client

    async def _fetch(self, url: str) -> tuple[int, str]:
        """HEAD for the size and type, then the bytes in ranges, each checked against its headers;
        the size and sha256 of what came."""
        client = self._session()
        async with client.head(url, allow_redirects=False) as head:
            self.fetches.append(Fetch("HEAD", url, None, head.status))
            if head.status != 200:
                raise ValueError(f"HEAD answered {head.status}")
            kind = head.headers.get("Content-Type", "").split(";")[0].strip()
            if kind not in VIDEO_TYPES:
                raise ValueError(f"Content-Type {kind!r} is not a video")
            size = int(head.headers.get("Content-Length", "-1"))
            if size <= 0:
                raise ValueError("no Content-Length")
        digest = hashlib.sha256()
        for start in range(0, size, FETCH_PIECE):
            end = min(start + FETCH_PIECE, size) - 1
            wanted = f"bytes={start}-{end}"
            async with client.get(url, headers={"Range": wanted}, allow_redirects=False) as part:
                self.fetches.append(Fetch("GET", url, wanted, part.status))
                if part.status != 206:
                    raise ValueError(f"Range {wanted} answered {part.status}")
                if part.headers.get("Content-Range") != f"bytes {start}-{end}/{size}":
                    raise ValueError(f"Content-Range {part.headers.get('Content-Range')!r} for {wanted}")
                length = 0
                async for data in part.content.iter_chunked(256 * 1024):
                    digest.update(data)
                    length += len(data)
                if length != end - start + 1 or int(part.headers.get("Content-Length", "-1")) != length:
                    raise ValueError(f"{length} bytes for {wanted}")
        return size, digest.hexdigest()
