"""Which stored videos may go, and taking them: `postbot media gc` and the periodic job.

A video (one object in the store, shared by every post of the same content) is deleted when every
post using it has finished (published or cancelled) at least ``media.retention_days`` ago and no
chat side has referenced it since. A queued or running post keeps its video always; a failed post
keeps it too, so it can be retried. The video's converted outputs (``converted/…``, see
core/media/conversions.py) are deleted with it, in the same transaction, and never on their own.

The race with a new post reusing the same content is closed by the order of writes: a chat side
bumps the blob's ``referenced_at`` in its own committed transaction *before* it checks whether the
object exists (and skips the upload), and the collector deletes the object while holding the blob's
row (PostgreSQL row lock, SQLite's write lock) and commits the row's removal only after the object
is gone. A chat side that bumped first makes the row too young to collect; one that comes after
waits for the collector, finds the object gone, and uploads it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from core import metrics
from core.db.models import MediaAsset, MediaBlob, ScheduledPost
from core.domain import PostStatus
from core.media.names import CONVERTED, converted_prefix
from core.media.storage import MediaStorage

log = logging.getLogger(__name__)

# Statuses after which a post no longer needs its video. FAILED is not one: it may be retried.
# REJECTED is final: a changed post is scheduled again, with its video.
FINISHED = (PostStatus.PUBLISHED.value, PostStatus.CANCELLED.value, PostStatus.REJECTED.value)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Collected:
    keys: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    errors: int = 0


class MediaBlobs:
    """The media_blobs table: what the store holds, and what may be collected."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def reference(self, key: str, size_bytes: int, *, now: datetime | None = None) -> None:
        """Mark ``key`` as wanted now; committed before the caller relies on the object existing."""
        when = now or utcnow()
        async with self.sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            row = {"key": key, "size_bytes": size_bytes, "created_at": when, "referenced_at": when}
            stmt = insert(MediaBlob).values(**row)
            await session.execute(
                stmt.on_conflict_do_update(index_elements=[MediaBlob.key], set_={"referenced_at": when})
            )

    async def stored_bytes(self) -> int:
        async with self.sessions() as session:
            total = await session.scalar(select(func.coalesce(func.sum(MediaBlob.size_bytes), 0)))
        return int(total or 0)

    @staticmethod
    def _collectable(cutoff: datetime) -> ColumnElement[bool]:
        """Blobs not referenced since ``cutoff`` with no post that still needs them."""
        still_needed = exists(
            select(ScheduledPost.id)
            .join(MediaAsset, MediaAsset.id == ScheduledPost.media_id)
            .where(
                MediaAsset.path == MediaBlob.key,
                # Unfinished (queued, running, failed), or finished too recently.
                ~and_(ScheduledPost.status.in_(FINISHED), ScheduledPost.updated_at < cutoff),
            )
        )
        # Converted outputs go with their source (``collect_key``), never on their own.
        derived = MediaBlob.key.startswith(f"{CONVERTED}/", autoescape=True)
        return and_(MediaBlob.referenced_at < cutoff, ~derived, ~still_needed)

    async def candidates(self, *, retention: timedelta, now: datetime | None = None) -> list[str]:
        cutoff = (now or utcnow()) - retention
        async with self.sessions() as session:
            rows = await session.execute(select(MediaBlob.key).where(self._collectable(cutoff)))
            return [r[0] for r in rows]

    async def collect(
        self, storage: MediaStorage, *, retention: timedelta, now: datetime | None = None
    ) -> Collected:
        """Delete every collectable video, one blob per transaction."""
        when = now or utcnow()
        done = Collected()
        for key in await self.candidates(retention=retention, now=when):
            try:
                freed = await self.collect_key(storage, key, retention=retention, now=when)
            except Exception:
                log.exception("deleting a stored video failed", extra={"key": key})
                done.errors += 1
                continue
            if freed is not None:
                done.keys.append(key)
                done.bytes_freed += freed
        if done.keys:
            log.info("stored videos deleted", extra={"count": len(done.keys), "bytes": done.bytes_freed})
        metrics.MEDIA_STORED_BYTES.set(await self.stored_bytes())
        return done

    async def collect_key(
        self, storage: MediaStorage, key: str, *, retention: timedelta, now: datetime | None = None
    ) -> int | None:
        """Delete one listed candidate if it still qualifies; its size when deleted, else None."""
        cutoff = (now or utcnow()) - retention
        async with self.sessions.begin() as session:
            # Re-checked under the row's lock: a post queued since the listing keeps the video.
            size = (
                await session.execute(
                    delete(MediaBlob)
                    .where(MediaBlob.key == key, self._collectable(cutoff))
                    .returning(MediaBlob.size_bytes)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
            if size is None:
                return None
            derived = (
                await session.execute(
                    delete(MediaBlob)
                    .where(MediaBlob.key.startswith(converted_prefix(key), autoescape=True))
                    .returning(MediaBlob.key, MediaBlob.size_bytes)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            # Still inside the transaction: if this raises, the rows come back with the rollback.
            await storage.delete(key)
            for output, _ in derived:
                await storage.delete(output)
        return int(size) + sum(int(s) for _, s in derived)
