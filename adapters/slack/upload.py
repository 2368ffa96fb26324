"""Sharing a file in a channel through Slack's external upload flow, the one Slack documents now that
``files.upload`` is retired (https://docs.slack.dev/reference/methods/files.getUploadURLExternal,
usage info):

1. ``files.getUploadURLExternal`` with the file's ``filename`` and ``length`` in bytes answers an
   ``upload_url`` and a ``file_id``;
2. the bytes are POSTed to that URL ("raw bytes or multipart form encoded"; anything but HTTP 200
   means the upload failed);
3. ``files.completeUploadExternal`` with ``files=[{"id", "title"}]``, the ``channel_id`` and an
   ``initial_comment`` finishes it and shares the file in the channel
   (https://docs.slack.dev/reference/methods/files.completeUploadExternal).

Both methods need the ``files:write`` bot scope.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient


class UploadFailed(Exception):
    """The upload URL refused the bytes (step 2)."""


async def share_file(
    client: AsyncWebClient,
    *,
    channel_id: str,
    filename: str,
    title: str,
    data: bytes,
    initial_comment: str,
) -> str:
    """Upload ``data`` and share it in ``channel_id`` with ``initial_comment``; the file's id.
    Slack's refusals raise ``SlackApiError`` as every Web API call does."""
    ticket = await client.files_getUploadURLExternal(filename=filename, length=len(data))
    upload_url, file_id = str(ticket["upload_url"]), str(ticket["file_id"])
    session = client.session
    own = session is None
    if session is None:
        session = aiohttp.ClientSession()
    try:
        timeout = aiohttp.ClientTimeout(total=client.timeout)
        async with session.post(
            upload_url,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=timeout,
        ) as response:
            if response.status != 200:
                body = (await response.text())[:200]
                raise UploadFailed(f"Slack's upload URL answered {response.status}: {body}")
    finally:
        if own:
            await session.close()
    await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}],
        channel_id=channel_id,
        initial_comment=initial_comment,
    )
    return file_id
