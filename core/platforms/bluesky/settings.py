"""Bluesky's [platforms.bluesky] section: the keys every platform has, with their defaults.

``client_id`` is the URL of the client metadata postbot serves (docs/setup/bluesky.md),
``client_secret`` the client's P-256 key in PEM form; ``upload_base_url`` is the video service,
``base_url`` the AppView results are read from, and ``oauth.authorize_url`` names the server a link
starts at (its origin; the endpoints come from its metadata).
"""

from __future__ import annotations

from core.platforms.settings import PlatformSettings

SETTINGS = PlatformSettings
