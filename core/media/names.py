"""File names that come from chat, made safe to use as a path component (issue 11 point 11).

A chat user names the file they share (Slack's ``name``, Discord's ``filename``, the console's
``--file``). Wherever such a name becomes part of a path (the sandbox's copy of the video) or is
stored (``media_assets.original_name``), it goes through ``safe_filename``: no directory parts, no
NUL or control characters, never ``.``/``..``/empty, and short enough for every file system.
"""

from __future__ import annotations

import re
import unicodedata

# Most file systems allow 255 bytes per name; stay well inside it (and inside the 300-character
# original_name column) with room for a suffix.
MAX_NAME_BYTES = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def safe_filename(name: str | None, fallback: str = "video.mp4") -> str:
    if not name:
        return fallback
    # Only the last component of either separator, then nothing a shell or file system reads specially.
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"})
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base or set(base) <= {"."}:
        return fallback
    if len(base.encode()) > MAX_NAME_BYTES:
        stem, dot, ext = base.rpartition(".")
        ext = ext if dot and 0 < len(ext.encode()) <= 10 else ""
        room = MAX_NAME_BYTES - len(ext.encode()) - (1 if ext else 0)
        stem = (stem if ext else base).encode()[:room].decode("utf-8", "ignore")
        base = f"{stem}.{ext}" if ext else stem
    return base


# Converted outputs (core/media/conversions.py) are stored under this folder, named after the source.
CONVERTED = "converted"


def converted_key(source_sha256: str, target_key: str) -> str:
    """The storage key of ``source_sha256``'s output for ``target_key``."""
    return f"{CONVERTED}/{source_sha256[:2]}/{source_sha256}.{target_key}.mp4"


def converted_prefix(source_key: str) -> str:
    """What every converted output of the video stored at ``source_key`` starts with.

    Stored videos are named ``<aa>/<sha256>.<container>`` (core/media/store.py); rows from before
    keys were relative hold an absolute path ending the same way."""
    sha256 = source_key.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    return f"{CONVERTED}/{sha256[:2]}/{sha256}."
