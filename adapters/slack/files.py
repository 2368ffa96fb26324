"""Slack files: which ones a message carries, and streaming one into the core media store.

Private Slack files are fetched from ``url_private_download`` with the bot token as a bearer token.
Without a valid token (or without the ``files:read`` scope) Slack answers with its HTML sign-in page
instead of an error, so anything but a 200 with a non-HTML body is treated as "not handed over".

The token is a credential for the whole workspace, and a file's URL comes from chat: a remote
("external") file added with ``files.remote.add`` carries whatever ``external_url`` its creator gave,
as its ``url_private`` (https://docs.slack.dev/reference/methods/files.remote.add; the file object's
``is_external`` / ``mode: external``: https://docs.slack.dev/reference/objects/file-object). So the
token goes only to Slack's own file hosts over HTTPS (``slack.com`` / ``slack-gov.com`` and their
subdomains, as slack-go's GetFile does since GHSA-3q3v-34v2-g88f), plus origins an operator lists in
``slack.file_origins`` (a test fake, a proxy). Any other URL is not fetched at all, with or without the
token, so a file also cannot make postbot request addresses inside its network (SSRF). Redirects are
followed by hand, each hop checked the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from core.domain import MediaInfo, Platform, SharedFile, looks_like_video
from core.errors import MediaError
from core.service import Postbot

log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024
# Slack's commercial and GovSlack domains: files-pri downloads are served from files.slack.com (and
# files.slack-gov.com), sign-in pages from <workspace>.slack.com.
SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")
_MAX_REDIRECTS = 3


class FileHosts:
    """Where the bot token may be sent: Slack's own domains over HTTPS, and ``extra_origins``
    (``scheme://host[:port]``, matched exactly) that an operator trusts explicitly."""

    def __init__(self, extra_origins: Iterable[str] = ()) -> None:
        self._extra = {_origin(o) for o in extra_origins if o}

    def trusted(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            # Equivalent mutants: ``or "XXXX"`` (a URL with no host is refused either way: it is on
            # no Slack domain, and settings refuse a listed origin without a host), ``rstrip("XX.XX")``
            # (the name is lower-cased first, so there is never an "X" to strip).
            host = (parts.hostname or "").lower().rstrip(".")
            origin = _origin(url)
        except ValueError:
            return False
        if not host or parts.username is not None or parts.password is not None:
            return False
        if origin in self._extra:
            return True
        on_slack = any(host == d or host.endswith("." + d) for d in SLACK_FILE_DOMAINS)
        return parts.scheme == "https" and on_slack and parts.port in (None, 443)


def _origin(url: str) -> str:
    # Equivalent mutants: the scheme or host upper-cased (listed origins and URLs pass through here
    # alike, so they still compare equal), ``or 'XXXX'`` and ``rstrip('XX.XX')`` (as in ``trusted``).
    parts = urlsplit(url.strip())
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = parts.port if parts.port is not None else default
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower().rstrip('.')}:{port}"


def is_external(file: dict[str, Any]) -> bool:
    """A remote file (Google Drive, Dropbox, an app's files.remote.add): its bytes are not Slack's."""
    return bool(file.get("is_external")) or file.get("mode") == "external"


def _outside_slack(name: str) -> MediaError:
    return MediaError(
        f"{name} is stored outside Slack (a remote or linked file), and postbot only fetches videos "
        "uploaded to Slack itself.",
        hint="Download the video and upload it into this channel, then try again.",
    )


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
        external=is_external(file),
    )


def thread_root(message: dict[str, Any]) -> str | None:
    """Replies about a message go in its thread: the thread it is in, or a new one under it."""
    root = message.get("thread_ts") or message.get("ts")
    return str(root) if root else None


def existing_thread(message: dict[str, Any]) -> str | None:
    """The thread a message is in or heads, if there is one. Ephemeral messages go there and nowhere
    else: Slack shows an ephemeral in a thread "only if there is already an active thread"
    (https://api.slack.com/methods/chat.postEphemeral), so one aimed at a thread that doesn't exist
    yet is accepted and never seen."""
    root = message.get("thread_ts")
    return str(root) if root else None


def _needs_lookup(entry: dict[str, Any]) -> bool:
    # Slack Connect: a file from another organisation arrives as a stub, {"mode": "file_access",
    # "file_access": "check_file_info"}, to be looked up with files.info
    # (https://docs.slack.dev/reference/events/message/file_share, "Slack Connect files").
    return entry.get("file_access") == "check_file_info" or entry.get("mode") == "file_access"


async def videos_in_message(
    client: AsyncWebClient, message: dict[str, Any], *, channel_id: str, user_id: str
) -> list[SharedFile]:
    """The videos a message carries, Slack Connect stubs included (each looked up with files.info)."""
    found: list[SharedFile] = []
    for entry in message.get("files") or []:
        if not isinstance(entry, dict) or not entry.get("id") or entry.get("mode") == "tombstone":
            continue
        if _needs_lookup(entry):
            entry = (await client.files_info(file=entry["id"]))["file"]
        if looks_like_video(entry.get("mimetype"), entry.get("name")):
            found.append(
                shared_file(entry, channel_id=channel_id, user_id=user_id, message_ts=thread_root(message))
            )
    return found


async def complete(client: AsyncWebClient, file: SharedFile) -> SharedFile:
    """Fill in a file known only by id (file_shared events, or files with ``file_access`` to check)."""
    if file.download_url and file.size_bytes is not None and file.name:
        return file
    info = (await client.files_info(file=file.file_id))["file"]
    full = shared_file(info, channel_id=file.channel_id, user_id=file.user_id, message_ts=file.message_ts)
    return SharedFile(**{**full.__dict__, "shared_at": file.shared_at})


async def _open(
    http: httpx.AsyncClient, url: str, *, name: str, bot_token: str, hosts: FileHosts
) -> httpx.Response:
    """GET ``url`` with the token, following redirects only while they stay on trusted hosts."""
    for hop in range(_MAX_REDIRECTS + 1):
        if not hosts.trusted(url):
            if hop == 0:
                raise _outside_slack(name)
            log.warning(
                "slack file download redirected off Slack's hosts", extra={"host": urlsplit(url).hostname}
            )
            raise MediaError(
                f"Slack did not hand over {name}: the download was sent to a host that is not Slack's, "
                "and postbot did not follow it.",
                hint="Upload the video again.",
            )
        # Equivalent mutants: "get" (httpx upper-cases methods), the header's name in another case,
        # here and for "location" below (httpx's Headers ignore case).
        request = http.build_request("GET", url, headers={"Authorization": f"Bearer {bot_token}"})
        # Equivalent mutant: ``follow_redirects=None`` (httpx reads it as false; left out, it would be
        # the client's default, which a test sets to true).
        response = await http.send(request, stream=True, follow_redirects=False)
        # Not ``is_redirect``, which is every 3xx: one without a Location leads nowhere, and is
        # refused by the caller as an answer that is not the file.
        if not response.has_redirect_location:
            return response
        await response.aclose()
        url = urljoin(url, response.headers["location"])
    raise MediaError(f"Slack did not hand over {name} (too many redirects).", hint="Try again later.")


async def download(
    http: httpx.AsyncClient,
    postbot: Postbot,
    *,
    bot_token: str,
    file: SharedFile,
    platforms: tuple[Platform, ...],
    hosts: FileHosts,
) -> MediaInfo:
    name = file.name or file.file_id
    if file.external:
        raise _outside_slack(name)
    if file.size_bytes is not None:
        postbot.check_size(file.size_bytes, platforms)
    if not file.download_url:
        raise MediaError(f"Slack gave no download link for {name}.", hint="Upload the video again.")
    limit = postbot.upload_limit(platforms)
    # An unauthorized request ends on the HTML sign-in page (a redirect on Slack's hosts), caught below.
    response = await _open(http, file.download_url, name=name, bot_token=bot_token, hosts=hosts)
    try:
        # Equivalent mutants: the header's name in another case, a default other than None that is
        # not HTML; and below, ``aiter_bytes(None)`` (chunks as they arrive: only their size differs).
        content_type = response.headers.get("content-type", "")
        if response.status_code != 200 or content_type.startswith("text/html"):
            raise MediaError(
                f"Slack did not hand over {name} (HTTP {response.status_code}).",
                hint="Check that postbot is in this channel and has the files:read scope "
                "(reinstall the app from its manifest), then try again.",
            )
        async with postbot.receive(name, max_bytes=limit, declared_bytes=file.size_bytes) as sink:
            async for chunk in response.aiter_bytes(_CHUNK):
                await sink.write(chunk)
    finally:
        await response.aclose()
    assert sink.info is not None
    return sink.info


class SeenReplies:
    """Thread replies as their ``message`` events carried them, kept briefly for an ``app_mention`` of
    the same reply that came without its ``files``: a bot token can't read a reply in a channel back
    (conversations.replies is for DMs only, https://docs.slack.dev/reference/methods/conversations.replies),
    and the two events come in no promised order (https://docs.slack.dev/apis/events-api/)."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self._seen: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}

    def _slot(self, channel: str, ts: str) -> asyncio.Future[dict[str, Any]]:
        key = (channel, ts)
        slot = self._seen.get(key)
        if slot is None:
            slot = self._seen[key] = asyncio.get_running_loop().create_future()
            while len(self._seen) > self.keep:
                del self._seen[next(iter(self._seen))]
        return slot

    def saw(self, channel: str, message: dict[str, Any]) -> None:
        slot = self._slot(channel, str(message["ts"]))
        if not slot.done():
            slot.set_result(message)

    async def wait(self, channel: str, ts: str, timeout_s: float) -> dict[str, Any] | None:
        slot = self._slot(channel, ts)
        try:
            return await asyncio.wait_for(asyncio.shield(slot), timeout_s)
        except TimeoutError:
            return None
