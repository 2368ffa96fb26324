"""The address check of video links (core/media/links.py) as an aiohttp resolver: it resolves the
host itself and hands aiohttp's connector only addresses the policy permits, so the connector
connects to exactly what was checked (no second lookup for an attacker's DNS to answer differently).
Its own module so that aiohttp is imported when a link is first fetched, not by importing links."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from aiohttp import ThreadedResolver
from aiohttp.abc import AbstractResolver, ResolveResult


class CheckedResolver(AbstractResolver):
    def __init__(
        self,
        permits: Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool],
        refused: Callable[[str], Exception],
    ) -> None:
        self._permits = permits
        self._refused = refused
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # Equivalent mutant: another default port (aiohttp's connector always passes the port).
        # An unknown name raises OSError here: aiohttp reports it as a connection error.
        found = await self._inner.resolve(host, port, family)
        # The zone of a scoped IPv6 address ("fe80::1%eth0") is no part of what the policy judges.
        # Equivalent mutants: splitting on whitespace or on "XX%XX" instead, which keeps the zone:
        # ip_address reads "fe80::1%eth0" too (Python 3.9+) and judges it as fe80::1.
        addresses = list(dict.fromkeys(ipaddress.ip_address(r["host"].split("%")[0]) for r in found))
        # All of them, not the first: a name with one public and one private address is refused.
        if not addresses or not all(self._permits(a) for a in addresses):
            raise self._refused(host)
        return found

    async def close(self) -> None:
        await self._inner.close()
