"""The sandbox platform: "publishes" by writing the video and a JSON record into a local folder.

It exercises the whole path (queue, scheduler, retries, notifications) with no credentials, and it
is idempotent like a real publisher: a second call for the same post finds the record and returns it.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from core.domain import Platform
from core.media.names import safe_filename
from core.publishers.base import PublishJob, PublishResult


class SandboxPublisher:
    platform = Platform.SANDBOX
    requires_account = False

    def __init__(self, root: Path) -> None:
        self.root = root

    async def publish(self, job: PublishJob) -> PublishResult:
        folder = self.root / job.idempotency_key
        record = folder / "post.json"
        if await asyncio.to_thread(record.exists):
            data = json.loads(await asyncio.to_thread(record.read_text))
            return PublishResult(remote_id=data["remote_id"], url=data["url"])
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        # The name came from chat: ".." or "/" would make the copy target a directory (issue 11 point 11).
        video = folder / safe_filename(job.media.original_name or Path(job.media.storage_key).name)
        # Read from the media storage like any publisher: the worker may hold no copy of its own.
        job.uploaded(0, job.media.size_bytes)
        await job.source.copy_to(video, job.uploaded)
        return await asyncio.to_thread(self._record, job, folder, record, video)

    def _record(self, job: PublishJob, folder: Path, record: Path, video: Path) -> PublishResult:
        remote_id = f"sandbox-{job.post_id}"
        url = record.resolve().as_uri()
        data = {
            "remote_id": remote_id,
            "url": url,
            "post_id": job.post_id,
            "caption": job.caption,
            "title": job.title,
            "video": video.name,
            "sha256": job.media.sha256,
            "published_at": datetime.now(UTC).isoformat(),
        }
        # Write then rename, so a crash never leaves a half record that looks published.
        tmp = folder / "post.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, record)
        return PublishResult(remote_id=remote_id, url=url)
