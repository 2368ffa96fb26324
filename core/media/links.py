"""Videos shared as links: too big to attach in chat (on Discord 10 MiB unless the member has Nitro or
the server is boosted), so people paste a Google Drive, Dropbox or OneDrive share link, or a direct https URL.

A link is untrusted input that makes this process open a connection, so the fetch is held to:
- https only, no user name or password in the URL, no cookies or tokens of ours sent;
- public addresses only: every address the host resolves to must be global, checked when the
  connection is opened (so a name that resolves to a public address for a check and to 127.0.0.1 a
  moment later, DNS rebinding, still cannot reach loopback or a private range) and again for every
  redirect, which is followed by hand, at most ``max_redirects`` times;
- the size capped by the chosen platforms: refused from ``Content-Length`` before a byte is read,
  and cut off while streaming if the server sends more;
- the content checked as video: an HTML answer is a sign-in or preview page (refused saying the
  link needs a sign-in), anything else must start like a video container; the media store then
  probes the whole file as it does for every upload.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import ssl
from dataclasses import dataclass
from email.message import Message
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import certifi
import httpx

from core.config import LinkSettings
from core.domain import MediaInfo, Platform
from core.errors import MediaError
from core.media import validation
from core.media.store import MediaStore
from core.publishers.transport import AiohttpTransport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CHUNK = 1024 * 1024
# `--url <link>` in a command; Slack may send a pasted link as <https://…> or <https://…|label>.
_URL_FLAG = re.compile(r"(?:^|\s)--url\s+<?(\S+?)(?:\|[^>\s]*)?>?(?=\s|$)")
_LINK = re.compile(r"<?(https?://[^\s<>|]+)(?:\|[^>]*)?>?")
# Where the drives send a visitor who has to sign in first: a redirect there means "not public".
_SIGN_IN_HOSTS = (
    "accounts.google.com",
    "login.microsoftonline.com",
    "login.live.com",
)
_SIGN_IN_PATHS = {"www.dropbox.com": ("/login",)}


class LinkRefused(MediaError):
    """A link postbot will not fetch (scheme, address, credentials): says why, never fetches."""


def split_url_flag(text: str) -> tuple[str, str | None]:
    """``tomorrow 6pm yt,ig --url https://… Launch`` → (``tomorrow 6pm yt,ig Launch``, the link)."""
    match = _URL_FLAG.search(text)
    if match is None:
        return text, None
    rest = (text[: match.start()] + " " + text[match.end() :]).split()
    return " ".join(rest), match.group(1)


def first_link(text: str) -> str | None:
    """The first http(s) link in a chat message (Slack wraps links in <…>, with an optional |label)."""
    # Equivalent mutant: any other text without a link in place of "" finds none either.
    match = _LINK.search(text or "")
    return match.group(1) if match else None


def _onedrive_share_token(url: str) -> str:
    # https://learn.microsoft.com/en-us/onedrive/developer/rest-api/api/shares_get#encoding-sharing-urls
    # "u!" + the sharing URL in unpadded base64url.
    return "u!" + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def direct_download_url(url: str) -> str:
    """A drive's share link turned into the URL that answers with the file's bytes; other links as
    they are. Every result is fetched under the same rules, so a rewrite can't widen what's reached."""
    parts = urlsplit(url.strip())
    # Equivalent mutant: any other string that is not a drive's host in place of "".
    host = (parts.hostname or "").lower()
    query = parse_qs(parts.query)
    if host in ("drive.google.com", "docs.google.com"):
        # Share links look like /file/d/<id>/view or /open?id=<id> or /uc?id=<id>; the bytes come from
        # drive.usercontent.google.com, where confirm=t skips the "can't scan large files" page that
        # Drive shows instead of files over 100 MB (https://support.google.com/drive/answer/2423485).
        found = re.search(r"/file/d/([A-Za-z0-9_-]+)", parts.path)
        file_id = found.group(1) if found else next(iter(query.get("id") or []), None)
        if file_id:
            params = urlencode({"id": file_id, "export": "download", "confirm": "t"})
            return f"https://drive.usercontent.google.com/download?{params}"
    if host in ("www.dropbox.com", "dropbox.com"):
        # dl=1 makes a shared link download instead of showing a preview page:
        # https://help.dropbox.com/share/force-download
        query["dl"] = ["1"]
        return urlunsplit(("https", "www.dropbox.com", parts.path, urlencode(query, doseq=True), ""))
    if host == "1drv.ms" or host == "onedrive.live.com":
        # The shares API resolves any OneDrive sharing link to its item; /root/content redirects to a
        # pre-authenticated download URL:
        # https://learn.microsoft.com/en-us/onedrive/developer/rest-api/api/shares_get
        return f"https://api.onedrive.com/v1.0/shares/{_onedrive_share_token(url.strip())}/root/content"
    if host.endswith(".sharepoint.com"):
        # OneDrive for work or school and SharePoint links download with download=1:
        # https://learn.microsoft.com/en-us/sharepoint/dev/spfx/web-parts/guidance/download-files
        query["download"] = ["1"]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, doseq=True), ""))
    return url.strip()


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a link may reach: global unicast ones, plus ``allowed`` (tests only)."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: LinkSettings) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in settings.allow_networks))

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return True
        return address.is_global and not address.is_multicast


def _refused_address(host: str) -> LinkRefused:
    return LinkRefused(
        f"The link points to {host}, which is not a public internet address.",
        hint="Share a link anyone on the internet can open (Google Drive, Dropbox, OneDrive, or https).",
    )


def _checked_transport(policy: AddressPolicy, ssl_context: ssl.SSLContext) -> AiohttpTransport:
    # Imported here: it is built on aiohttp, which a process that fetches no link need not load.
    from core.media.link_resolver import CheckedResolver

    # No trust_env or limits: with ``verify`` a context of ours, the transport's trust_env has nothing
    # to choose (it picks SSL_CERT_FILE only for verify=True; test_the_environments_ca_bundle_is_not_
    # trusted), proxies are the client's to mount (trust_env=False there), and a fetch sends one
    # request at a time on a client of its own, so no connection limit is ever reached (mutations of
    # both were equivalent).
    return AiohttpTransport(verify=ssl_context, resolver=CheckedResolver(policy.permits, _refused_address))


def _check_url(url: httpx.URL, policy: AddressPolicy) -> None:
    if url.scheme != "https":
        raise LinkRefused(
            "Only https links can be used for a video.", hint="Share the video with an https:// link."
        )
    if url.userinfo:
        raise LinkRefused("Links with a user name or password in them are not fetched.")
    host = url.host
    if not host:
        # "https:host/path" or "https:///path": httpx parses no host, and would refuse it only as
        # it sent the request, in its own words.
        raise LinkRefused(
            "That link has no host name, so there is nothing to download.",
            hint="Share the video with an https:// link.",
        )
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: its addresses are checked when the connection is opened
    if not policy.permits(literal):
        raise _refused_address(host)


def _needs_sign_in(url: httpx.URL) -> bool:
    host = url.host.lower()
    return host in _SIGN_IN_HOSTS or any(url.path.startswith(p) for p in _SIGN_IN_PATHS.get(host, ()))


def _sign_in_error(original: str) -> MediaError:
    return MediaError(
        f"That link needs a sign-in: {_shown(original)} is not shared publicly.",
        hint="Share it as “anyone with the link can view”, then try again.",
    )


def _shown(url: str) -> str:
    parts = urlsplit(url)
    # Equivalent mutant: "the link" in other words. Unreachable since _check_url refuses a link
    # without a host before any message that shows it.
    return f"{parts.hostname or 'the link'}{parts.path[:60]}"


def looks_like_video_bytes(head: bytes) -> bool:
    """MP4/MOV (ISO-BMFF boxes), Matroska/WebM (EBML), AVI (RIFF…AVI)."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return True
    # Equivalent mutant: the same bytes with upper-case hex digits.
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return True
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


def _filename(response: httpx.Response) -> str:
    """The server's name for the file (Content-Disposition), else the URL's path. The store keeps
    only its last part, made safe and short (core/media/names.py's safe_filename), or "video.mp4"."""
    # Equivalent mutants: the header's name in capitals here and in the Message (both are read
    # without regard to case).
    disposition = response.headers.get("content-disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        name = message.get_filename()
        if name:
            return name
    return unquote(response.url.path)


class LinkFetcher:
    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self.policy = AddressPolicy.from_settings(settings)
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        if settings.ca_file is not None:
            self._ssl.load_verify_locations(cafile=str(settings.ca_file))

    def _client(self) -> httpx.AsyncClient:
        # Equivalent mutants: the header names in another case (HTTP's are case-insensitive, and so
        # are httpx's Headers); follow_redirects dropped or None (False is httpx's default; it is
        # written here because the loop in fetch depends on it); trust_env True, None or dropped:
        # httpx mounts no proxy from the environment in front of a transport given to it (its
        # ``allow_env_proxies = trust_env and transport is None``), so the flag only matters if
        # the checked transport is ever dropped (test_a_proxy_from_the_environment_is_not_used).
        return httpx.AsyncClient(
            transport=_checked_transport(self.policy, self._ssl),
            # No proxy from the environment (it would connect for us, past the address check).
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(self.settings.timeout_s),
            headers={"User-Agent": "postbot (video link fetch)", "Accept": "video/*, */*;q=0.5"},
        )

    def limit_for(self, platforms: tuple[Platform, ...]) -> int:
        caps = [validation.max_upload_bytes(platforms), self.settings.max_bytes]
        return min(c for c in caps if c is not None)

    async def fetch(self, store: MediaStore, link: str, platforms: tuple[Platform, ...]) -> MediaInfo:
        """Stream the video behind ``link`` into ``store``; a ``MediaError`` says why not."""
        url = httpx.URL(direct_download_url(link))
        async with self._client() as client:
            for _ in range(self.settings.max_redirects + 1):
                _check_url(url, self.policy)
                # Cookies a site set on an earlier hop are not ours to send on.
                client.cookies.clear()
                try:
                    # Equivalent mutants: "get" (httpx upper-cases the method) and "LOCATION"
                    # (headers are read without regard to case).
                    async with client.stream("GET", url) as response:
                        # Not ``is_redirect``, which is every 3xx: a 304 or a 300 without a
                        # ``Location`` leads nowhere and is refused as an answer that is no video.
                        if response.has_redirect_location:
                            url = response.url.join(response.headers["location"])
                            if _needs_sign_in(url):
                                raise _sign_in_error(link)
                            continue
                        return await self._receive(store, link, response, platforms)
                except httpx.HTTPError as exc:
                    raise MediaError(
                        f"I couldn't download {_shown(link)} ({type(exc).__name__}).",
                        hint="Check that the link opens in a private browser window, then try again.",
                    ) from exc
        raise MediaError(f"{_shown(link)} redirects too many times.", hint="Share a direct link to the file.")

    async def _receive(
        self, store: MediaStore, link: str, response: httpx.Response, platforms: tuple[Platform, ...]
    ) -> MediaInfo:
        if response.status_code in (401, 403):
            raise _sign_in_error(link)
        if response.status_code in (404, 410):
            raise MediaError(f"There is no file at {_shown(link)} (HTTP {response.status_code}).")
        if response.status_code != 200:
            raise MediaError(
                f"{_shown(link)} answered HTTP {response.status_code} instead of the video.",
                hint="Try again later, or share it from another place.",
            )
        # Equivalent mutants: "CONTENT-TYPE" and "CONTENT-LENGTH" (headers are read without regard
        # to case).
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in ("text/html", "application/xhtml+xml"):
            # A share page, a sign-in form or a "request access" page: not the file.
            raise _sign_in_error(link)
        length = response.headers.get("content-length")
        if length is not None and length.isdigit():
            problem = validation.oversize_message(int(length), platforms)
            if problem is not None:
                raise MediaError(problem)
        limit = self.limit_for(platforms)
        if length is not None and length.isdigit() and int(length) > limit:
            # Sized as every size message is (decimal, never rounded down to "0 GiB" under a GiB).
            raise MediaError(
                f"The video is {validation.size_text(int(length))}, more than the "
                f"{validation.size_text(limit)} postbot takes from a link."
            )
        name = _filename(response)
        async with store.receive(name, max_bytes=limit) as sink:
            # Equivalent mutants: the chunk size None (pieces as they arrive; the head is gathered
            # across them), and in the head check ``<= 12``, ``< 13``, ``chunk[:13]``, ``head =``
            # for ``head +=``: aiter_bytes(_CHUNK) hands over whole _CHUNKs but the last, so the
            # first 12 bytes come in one chunk, and looks_like_video_bytes reads no further than
            # the twelfth, so checking 13 bytes, or the same 12 twice, answers the same.
            head = b""
            async for chunk in response.aiter_bytes(_CHUNK):
                if len(head) < 12:
                    head += chunk[:12]
                    if len(head) >= 12 and not looks_like_video_bytes(head):
                        raise MediaError(
                            f"{_shown(link)} is not a video (it starts like a {content_type or 'file'}).",
                            hint="Link to the video file itself (MP4 or MOV).",
                        )
                await sink.write(chunk)
        assert sink.info is not None
        return sink.info
