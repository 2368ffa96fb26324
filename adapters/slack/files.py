"""Slack files: which ones a message carries, and streaming one into the core media store.

Private Slack files are fetched from ``url_private_download`` with the bot token as a bearer token.
Without a valid token (or without the ``files:read`` scope) Slack answers with its HTML sign-in page
instead of an error, so anything but a 200 with a non-HTML body is treated as "not handed over".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from core.domain import MediaInfo, Platform, platform_from_alias
from core.errors import MediaError
from core.media import validation
from core.media.recent import SharedFile, looks_like_video
from core.media.store import MediaStore

_CHUNK = 1024 * 1024


def _share_root(file: dict[str, Any], channel_id: str) -> str | None:
    """The message that shared the file in the channel, from the ``shares`` map files.info returns."""
    shares = file.get("shares") or {}
    for kind in ("public", "private"):
        entries = (shares.get(kind) or {}).get(channel_id) or []
        if entries:
            root = entries[0].get("thread_ts") or entries[0].get("ts")
            return str(root) if root else None
    return None


def shared_file(file: dict[str, Any], *, channel_id: str, user_id: str, message_ts: str | None) -> SharedFile:
    """A Slack file object (from a message event, a shortcut payload or files.info) as the core sees it."""
    message_ts = message_ts or _share_root(file, channel_id)
    created = file.get("created") or file.get("timestamp")
    return SharedFile(
        file_id=file["id"],
        channel_id=channel_id,
        user_id=file.get("user") or user_id,
        name=file.get("name") or file.get("title"),
        mimetype=file.get("mimetype"),
        size_bytes=file.get("size"),
        download_url=file.get("url_private_download") or file.get("url_private"),
        message_ts=message_ts,
        shared_at=datetime.fromtimestamp(created, UTC) if created else datetime.now(UTC),
    )


def thread_root(message: dict[str, Any]) -> str | None:
    """Replies about a message go in its thread: the thread it is in, or a new one under it."""
    root = message.get("thread_ts") or message.get("ts")
    return str(root) if root else None


def videos_in(message: dict[str, Any], *, channel_id: str, user_id: str) -> list[SharedFile]:
    files = [f for f in message.get("files") or [] if isinstance(f, dict) and f.get("id")]
    return [
        shared_file(f, channel_id=channel_id, user_id=user_id, message_ts=thread_root(message))
        for f in files
        if f.get("mode") != "tombstone" and looks_like_video(f.get("mimetype"), f.get("name"))
    ]


def platforms_named(text: str) -> tuple[Platform, ...]:
    """Platforms named in a command, read loosely: only to refuse an oversize file before fetching it
    (the core reads the command properly and validates again)."""
    found: dict[Platform, None] = {}
    for token in text.replace(",", " ").split():
        platform = platform_from_alias(token)
        if platform is not None:
            found.setdefault(platform, None)
    return tuple(found)


async def complete(client: AsyncWebClient, file: SharedFile) -> SharedFile:
    """Fill in a file known only by id (file_shared events, or files with ``file_access`` to check)."""
    if file.download_url and file.size_bytes is not None and file.name:
        return file
    info = (await client.files_info(file=file.file_id))["file"]
    full = shared_file(info, channel_id=file.channel_id, user_id=file.user_id, message_ts=file.message_ts)
    return SharedFile(**{**full.__dict__, "shared_at": file.shared_at})


async def download(
    http: httpx.AsyncClient,
    store: MediaStore,
    *,
    bot_token: str,
    file: SharedFile,
    platforms: tuple[Platform, ...],
) -> MediaInfo:
    name = file.name or file.file_id
    if file.size_bytes is not None:
        problem = validation.oversize_message(file.size_bytes, platforms)
        if problem is not None:
            raise MediaError(problem)
    if not file.download_url:
        raise MediaError(f"Slack gave no download link for {name}.", hint="Upload the video again.")
    caps = [file.size_bytes, validation.max_upload_bytes(platforms)]
    limit = min((c for c in caps if c is not None), default=None)
    headers = {"Authorization": f"Bearer {bot_token}"}
    # Redirects are followed: Slack may hand the bytes over from elsewhere (httpx drops the token on a
    # redirect to another host); an unauthorized request ends on the HTML sign-in page, caught below.
    async with http.stream("GET", file.download_url, headers=headers, follow_redirects=True) as response:
        content_type = response.headers.get("content-type", "")
        if response.status_code != 200 or content_type.startswith("text/html"):
            raise MediaError(
                f"Slack did not hand over {name} (HTTP {response.status_code}).",
                hint="Check that postbot is in this channel and has the files:read scope "
                "(reinstall the app from its manifest), then try again.",
            )
        async with store.receive(name, max_bytes=limit) as sink:
            async for chunk in response.aiter_bytes(_CHUNK):
                await sink.write(chunk)
    assert sink.info is not None
    return sink.info
