"""Reading media from disk in fixed-size pieces so memory does not grow with the file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

DEFAULT_CHUNK = 8 * 1024 * 1024


def _read_at(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(size)


async def read_range(path: str | Path, offset: int, size: int) -> bytes:
    """One piece of the file; disk reads run in a thread so the event loop keeps serving."""
    return await asyncio.to_thread(_read_at, Path(path), offset, size)


async def iter_chunks(
    path: str | Path, *, chunk_size: int = DEFAULT_CHUNK, start: int = 0, end: int | None = None
) -> AsyncIterator[tuple[int, bytes]]:
    """Yield ``(offset, bytes)`` pieces of ``[start, end)``; ``end`` defaults to the file size."""
    p = Path(path)
    stop = (await asyncio.to_thread(lambda: p.stat().st_size)) if end is None else end
    offset = start
    while offset < stop:
        data = await read_range(p, offset, min(chunk_size, stop - offset))
        if not data:
            break
        yield offset, data
        offset += len(data)
