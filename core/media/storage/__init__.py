"""Media storage backends; ``build_storage`` picks one from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.media.storage.base import STREAM_PIECE, MediaStorage, StoredMedia
from core.media.storage.local import LocalStorage
from core.media.storage.signing import UrlSigner

if TYPE_CHECKING:
    from core.config import Settings

__all__ = ["STREAM_PIECE", "LocalStorage", "MediaStorage", "StoredMedia", "UrlSigner", "build_storage"]


def url_signer(settings: Settings) -> UrlSigner | None:
    if settings.secret_key is None:
        return None
    return UrlSigner(settings.web.public_url, settings.secret_key.get_secret_value().encode())


def build_storage(settings: Settings) -> MediaStorage:
    media = settings.media
    if media.backend == "s3":
        from core.media.storage.s3 import S3Storage

        return S3Storage(media.s3)
    return LocalStorage(settings.media_dir, signer=url_signer(settings))
