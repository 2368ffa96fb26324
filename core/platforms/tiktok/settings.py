"""TikTok's [platforms.tiktok] section: the keys every platform has, bigger upload chunks, and the
prefixes TikTok may pull videos from."""

from __future__ import annotations

from pydantic import Field

from core.platforms.settings import PlatformSettings


class TikTokSettings(PlatformSettings):
    # Bigger pieces mean fewer round trips for a resumable protocol that allows them.
    chunk_size_bytes: int = 32 * 1024 * 1024
    # URL prefixes (https://host/path/) whose ownership postbot's TikTok app has verified in the
    # developer portal. A video whose link (the bucket's presigned URL, or postbot's /media/ link)
    # lies under one is pulled by TikTok (PULL_FROM_URL) instead of uploaded in chunks.
    pull_from_url_prefixes: list[str] = Field(default_factory=list)


SETTINGS = TikTokSettings
