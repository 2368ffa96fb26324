"""A stand-in for "somewhere on the internet" that serves videos shared by link, over real TLS.

It runs on 127.0.0.1 with a certificate from a throwaway test CA (``ca_pem`` is what the fetcher is
told to trust), so the link fetcher's https-only rule is exercised as in production. Routes:

- ``/files/{name}``: a file registered with :meth:`WebHost.add_file` (streamed from disk);
- ``/generated/{name}``: a video of ``size`` bytes generated while it is sent (a real clip's bytes, then
  an ISO-BMFF ``free`` box of zeros, which every MP4 reader skips), so a 300 MB download costs
  neither memory nor disk on the serving side;
- ``/redirect``: 302 to ``?to=``, as share links do on their way to the bytes;
- ``/page``: an HTML page (what a share link that needs a sign-in answers with);
- ``/forbidden``: 403.
- ``/answer/{name}``: an answer registered with :meth:`WebHost.add_answer` (any status, headers and
  body: a redirect that sets a cookie, a 410, a 302 without ``Location``, a file without a
  ``Content-Type``).
- ``/stalled``: headers announcing 100 MB and a first piece, then nothing more until the client leaves
  (a host that stopped answering mid-download).

Every request is recorded with its headers, so a test can check that no credentials were sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import struct
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.loopback import LoopbackFake

_PIECE = 1024 * 1024
# Headers an /answer/ response goes without (on_response_prepare removes them).
_OMIT = web.ResponseKey("omit", tuple)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1 and localhost, as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("postbot test CA"))
        .issuer_name(_name("postbot test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


@dataclass
class Generated:
    head: bytes
    size: int
    # Announce the size (Content-Length) or send it chunked, as a server that doesn't know it would.
    declared: bool = True


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Headers aiohttp adds by itself (a Content-Type for any body) that this answer goes without.
    omit: tuple[str, ...] = ()


@dataclass
class WebHost(LoopbackFake):
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="postbot-webhost-")))
    files: dict[str, tuple[Path, str]] = field(default_factory=dict)
    generated: dict[str, Generated] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    sent_bytes: int = 0
    # Set by stop(): a stalled answer ends with the host (aiohttp's cleanup would wait 60 s for it).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        super().__init__()
        self.ca_pem, cert, key = make_certificates(self.folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.ssl_context = context

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/generated/{name}", self._generated)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/page", self._page)
        app.router.add_get("/forbidden", self._forbidden)
        app.router.add_get("/stalled", self._stalled)
        app.router.add_get("/answer/{name}", self._answer)
        app.on_response_prepare.append(self._omit)
        return app

    def add_file(self, path: Path, content_type: str = "video/mp4") -> str:
        self.files[path.name] = (path, content_type)
        return f"{self.base_url}/files/{path.name}"

    def add_generated(self, name: str, head: bytes, size: int, *, declared: bool = True) -> str:
        """A video of exactly ``size`` bytes: ``head`` (a complete small MP4), then a ``free`` box."""
        if size < len(head) + 16:
            raise ValueError("size must leave room for the free box header")
        self.generated[name] = Generated(head, size, declared)
        return f"{self.base_url}/generated/{name}"

    def add_answer(
        self,
        name: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        omit: tuple[str, ...] = (),
    ) -> str:
        self.answers[name] = Answer(status, dict(headers or {}), body, omit)
        return f"{self.base_url}/answer/{name}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _record(self, request: web.Request) -> None:
        self.requests.append({"path": request.path_qs, "headers": dict(request.headers)})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        entry = self.files.get(request.match_info["name"])
        if entry is None:
            raise web.HTTPNotFound()
        path, content_type = entry
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Content-Length": str(path.stat().st_size)}
        )
        await response.prepare(request)
        with path.open("rb") as fh:
            while piece := fh.read(_PIECE):
                await response.write(piece)
                self.sent_bytes += len(piece)
        await response.write_eof()
        return response

    async def _generated(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        name = request.match_info["name"]
        entry = self.generated.get(name)
        if entry is None:
            raise web.HTTPNotFound()
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
        if entry.declared:
            headers["Content-Length"] = str(entry.size)
        response = web.StreamResponse(headers=headers)
        if not entry.declared:
            response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            async for piece in _generate(entry):
                await response.write(piece)
                self.sent_bytes += len(piece)
        except ConnectionError:
            return response  # the client hung up (a fetch that stopped at its size cap)
        await response.write_eof()
        return response

    async def _stalled(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        response = web.StreamResponse(
            headers={"Content-Type": "video/mp4", "Content-Length": str(100 * 1024 * 1024)}
        )
        await response.prepare(request)
        await response.write(b"\0" * 4096)
        await self.stopping.wait()
        return response

    async def stop(self) -> None:
        self.stopping.set()
        await super().stop()

    async def _answer(self, request: web.Request) -> web.Response:
        self._record(request)
        answer = self.answers.get(request.match_info["name"])
        if answer is None:
            raise web.HTTPNotFound()
        response = web.Response(status=answer.status, headers=answer.headers, body=answer.body)
        response[_OMIT] = answer.omit
        return response

    @staticmethod
    async def _omit(request: web.Request, response: web.StreamResponse) -> None:
        # on_response_prepare runs after aiohttp has added its defaults and before they are sent.
        for header in response.get(_OMIT, ()):
            response.headers.popall(header, None)

    async def _redirect(self, request: web.Request) -> web.Response:
        self._record(request)
        raise web.HTTPFound(request.query["to"])

    async def _page(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(text="<!doctype html><title>Sign in</title>", content_type="text/html")

    async def _forbidden(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(status=403, text="Forbidden")


async def _generate(entry: Generated) -> AsyncIterator[bytes]:
    yield entry.head
    padding = entry.size - len(entry.head)
    # A 64-bit-size free box: 1, "free", then the whole box size (header included).
    yield struct.pack(">I4sQ", 1, b"free", padding)
    left = padding - 16
    zeros = bytes(_PIECE)
    while left > 0:
        n = min(_PIECE, left)
        yield zeros if n == _PIECE else zeros[:n]
        left -= n
