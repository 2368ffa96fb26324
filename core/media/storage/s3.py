"""S3-compatible object storage (AWS S3, Cloudflare R2, MinIO, GCS's S3 interoperability) via obstore.

Why obstore: its S3 client is the Rust ``object_store`` crate (the one Apache Arrow and DataFusion
use) behind a native asyncio API, with no botocore underneath: a put from a file is a multipart upload
read in Rust without holding the GIL, a ranged GET streams back in pieces, and presigned URLs are one
call. aioboto3 would pin aiobotocore's exact botocore range into everyone's environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import obstore
from obstore.store import S3Store

from core.media.storage.base import STREAM_PIECE

if TYPE_CHECKING:
    from core.config import S3Settings

# S3's smallest multipart part is 5 MiB (all but the last):
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
MIN_PART = 5 * 1024 * 1024


class S3Storage:
    name = "s3"

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.prefix = settings.prefix.strip("/")
        secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
        endpoint = settings.endpoint_url
        self._store = S3Store(
            settings.bucket,
            region=settings.region,
            endpoint=endpoint,
            access_key_id=settings.access_key_id,
            secret_access_key=secret,
            # MinIO, moto and most self-hosted servers want path-style URLs; AWS takes both.
            virtual_hosted_style_request=settings.virtual_hosted_style,
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        )
        self.part_size = max(MIN_PART, settings.part_size_bytes)

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def local_path(self, key: str) -> Path | None:
        return None

    async def put_file(self, key: str, path: Path) -> None:
        # Files larger than one part go up as a multipart upload, ``max_concurrency`` parts at once.
        await obstore.put_async(
            self._store,
            self._path(key),
            path,
            chunk_size=self.part_size,
            max_concurrency=self.settings.upload_concurrency,
        )

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self._store, self._path(key))
        except FileNotFoundError:
            return False
        return True

    async def size(self, key: str) -> int:
        meta = await obstore.head_async(self._store, self._path(key))
        return int(meta["size"])

    async def stream(
        self, key: str, start: int, end: int, *, piece: int = STREAM_PIECE
    ) -> AsyncIterator[bytes]:
        if start >= end:
            return
        result = await obstore.get_async(self._store, self._path(key), options={"range": (start, end)})
        async for data in result.stream(min_chunk_size=piece):
            yield bytes(data)

    async def url(self, key: str, *, expires: timedelta) -> str:
        # SigV4 query-string auth; S3 refuses more than 7 days:
        # https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
        return await obstore.sign_async(self._store, "GET", self._path(key), min(expires, timedelta(days=7)))

    async def check(self) -> None:
        # The first ListObjectsV2 page under the prefix: a missing bucket (NoSuchBucket), wrong
        # credentials or an unreachable endpoint raise. A HEAD on some key could not tell a missing
        # bucket from a missing key (both are a 404 without a body).
        stream = obstore.list(self._store, self.prefix or None, chunk_size=1)
        await anext(aiter(stream), None)

    async def delete(self, key: str) -> None:
        # DeleteObject on a missing key succeeds (204), so a repeated collection is harmless.
        await obstore.delete_async(self._store, self._path(key))
