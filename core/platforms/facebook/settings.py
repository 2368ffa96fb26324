"""Facebook's [platforms.facebook] section: the keys every platform has, with their defaults
(``base_url`` is the Graph API, ``upload_base_url`` rupload.facebook.com for reels' bytes,
``chunk_size_bytes`` the size of each resumable piece)."""

from __future__ import annotations

from core.platforms.settings import PlatformSettings

SETTINGS = PlatformSettings
