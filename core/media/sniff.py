"""Recognising a video container from its first bytes, not from its name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Kind:
    mime: str
    extension: str


MP4 = Kind("video/mp4", ".mp4")
QUICKTIME = Kind("video/quicktime", ".mov")
WEBM = Kind("video/webm", ".webm")

# ISO-BMFF major brands: QuickTime's own versus the MP4 family.
_QUICKTIME_BRANDS = {b"qt  "}


def sniff_bytes(head: bytes) -> Kind | None:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return QUICKTIME if head[8:12] in _QUICKTIME_BRANDS else MP4
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return WEBM
    # QuickTime files written without an ftyp box start straight with a moov/mdat/wide atom.
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return QUICKTIME
    return None


def sniff(path: Path) -> Kind | None:
    with path.open("rb") as fh:
        return sniff_bytes(fh.read(64))
