"""What the fakes of Content-Range upload protocols (YouTube, TikTok) remember of each request."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass
class Recorded:
    method: str
    path: str
    status: int
    content_range: str | None = None
    length: int = 0

    @classmethod
    def of(cls, request: web.Request, status: int, length: int = 0) -> Recorded:
        return cls(request.method, request.path, status, request.headers.get("Content-Range"), length)
