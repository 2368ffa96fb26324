"""YouTube's [platforms.youtube] section: the keys every platform has, with bigger upload chunks."""

from __future__ import annotations

from core.platforms.settings import PlatformSettings


class YouTubeSettings(PlatformSettings):
    # Bigger pieces mean fewer round trips for a resumable protocol that allows them.
    chunk_size_bytes: int = 32 * 1024 * 1024


SETTINGS = YouTubeSettings
