"""A slash command's attachment, streamed from Discord's CDN into the core media store.

The declared size is checked against Discord's limit for the interaction and against every chosen
platform's limit before a byte is fetched; the store re-checks while streaming, in case the CDN
serves more than was declared. Discord's limit is the member's own: the larger of their Nitro's and
the server's boost tier's (``attachment_size_limit`` on the interaction, discord.py's
``Interaction.filesize_limit``: https://discord.com/developers/docs/reference#uploading-files), so a
member with Nitro attaches what a boosted server would take, and only a file over it needs a link.
"""

from __future__ import annotations

import httpx

from core.domain import AttachedImage, MediaInfo, Platform
from core.errors import MediaError
from core.service import Postbot, image_read_cap

_CHUNK = 1024 * 1024


def _size(n: int) -> str:
    if n >= 1000 * 1000:
        return f"{n / (1000 * 1000):.1f} MB"
    return f"{n / 1000:.0f} KB"


def check_size(size: int, *, discord_limit: int | None, platforms: tuple[Platform, ...], name: str) -> None:
    if discord_limit is not None and size > discord_limit:
        raise MediaError(
            f"{name} is {_size(size)}, more than the {_size(discord_limit)} Discord lets you attach here.",
            hint="Give a link to it as `url` instead of `video` (Google Drive, Dropbox, OneDrive or any "
            "https link).",
        )
    Postbot.check_size(size, platforms)


async def download_attachment(
    http: httpx.AsyncClient,
    postbot: Postbot,
    *,
    url: str,
    filename: str,
    size: int,
    discord_limit: int | None,
    platforms: tuple[Platform, ...],
) -> MediaInfo:
    check_size(size, discord_limit=discord_limit, platforms=platforms, name=filename)
    caps = [discord_limit, postbot.upload_limit(platforms)]
    limit = min((c for c in caps if c is not None), default=None)
    async with http.stream("GET", url) as response:
        if response.status_code != 200:
            # Attachment links are signed and expire: an old interaction's link is gone for good.
            raise MediaError(
                f"Discord no longer serves {filename} (HTTP {response.status_code}).",
                hint="Attach the video again.",
            )
        async with postbot.receive(filename, max_bytes=limit, declared_bytes=size) as sink:
            async for chunk in response.aiter_bytes(_CHUNK):
                await sink.write(chunk)
    assert sink.info is not None
    return sink.info


async def download_image(http: httpx.AsyncClient, *, url: str, filename: str) -> AttachedImage:
    """An attached image (a YouTube thumbnail), read up to a byte past the largest a platform takes:
    the core checks its type and size and says what is wrong."""
    cap = image_read_cap()
    data = bytearray()
    async with http.stream("GET", url) as response:
        if response.status_code != 200:
            raise MediaError(
                f"Discord no longer serves {filename} (HTTP {response.status_code}).",
                hint="Attach the image again.",
            )
        async for chunk in response.aiter_bytes(_CHUNK):
            data.extend(chunk[: cap - len(data)])
            if len(data) >= cap:
                break
    return AttachedImage(name=filename, data=bytes(data))
