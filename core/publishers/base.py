"""The contract between the scheduler and each platform's publisher.

A publisher turns one queued post into one remote post. It must be safe to call again for the same
post (after a crash, a lease expiry or a retry): it consults ``job.upload_state`` and the remote id it
saved there so that a retried post resumes or is recognised as done, never published twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.domain import MediaInfo, Platform
from core.media.storage import LocalStorage, MediaStorage, StoredMedia
from core.progress import Progress, ProgressCallback, Stage


class PublishError(Exception):
    """A failed publish. ``transient`` errors are retried with backoff; the others fail the post."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status_code = status_code
        # Seconds the platform asked us to wait (Retry-After, x-rate-limit-reset, ...).
        self.retry_after = retry_after


class TransientError(PublishError):
    """Timeouts, connection resets, 5xx: worth retrying."""

    transient = True


class RateLimited(TransientError):
    """429 or a platform quota; ``retry_after`` says when to come back."""


class PermanentError(PublishError):
    """400-style validation errors: retrying the same request cannot succeed."""


class AuthError(PermanentError):
    """The token was revoked or lacks a scope: an admin has to link the account again."""


class TokenSource(Protocol):
    """Gives a publisher a valid access token for the post's account.

    ``refresh`` forces a refresh_token grant (publishers call it on a 401) and persists the new
    tokens encrypted; it raises ``AuthError`` when the refresh token itself is revoked.
    """

    async def access_token(self) -> str: ...

    async def refresh(self) -> str: ...

    async def rejected(self) -> None:
        """The platform refused a token just refreshed: the grant itself is gone. The account is
        marked revoked, which is what tells the admins to link it again (core/watch.py)."""
        ...

    @property
    def account_id(self) -> str:
        """The platform's id of the linked account (channel id, ig-user-id, person URN, open_id...)."""
        ...


@dataclass
class PublishJob:
    post_id: int
    platform: Platform
    idempotency_key: str
    caption: str
    title: str | None
    media: MediaInfo
    tokens: TokenSource | None
    # Progress the publisher saved on an earlier attempt (upload session URL, bytes sent, container
    # id, remote id, ...). Publishers read it to resume and update it through ``save_state``.
    upload_state: dict[str, Any] = field(default_factory=dict)
    save_state: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    scheduled_for: datetime | None = None
    # Where the video's bytes are read from; None: the file at ``media.path`` on this machine.
    storage: MediaStorage | None = None
    # This post's own link to its video (core/media/storage/post_links.py), for platforms that
    # fetch the video themselves; None: the storage's plain expiring URL.
    media_link: Callable[[timedelta], Awaitable[str]] | None = None
    # Live progress for chat (core/progress.py): a plain call that never waits, never raises.
    progress: ProgressCallback | None = None

    def uploaded(self, sent: int, total: int) -> None:
        """``sent`` of ``total`` bytes are with the platform (acknowledged, not merely written)."""
        if self.progress is not None:
            self.progress(Progress(Stage.UPLOADING, sent=sent, total=total))

    def processing(self, detail: str | None = None) -> None:
        """The bytes are in; the platform is processing the video (or fetching it itself)."""
        if self.progress is not None:
            self.progress(Progress(Stage.PROCESSING, detail=detail))

    async def video_url(self, *, expires: timedelta) -> str:
        """A URL a platform can fetch the video from until ``expires`` or the post is over."""
        if self.media_link is not None:
            return await self.media_link(expires)
        return await self.source.url(expires=expires)

    @property
    def source(self) -> StoredMedia:
        """The video in the media storage, read in ranges (no full copy on this machine)."""
        if self.storage is None or self.media.key is None:
            return StoredMedia(LocalStorage(Path("/")), str(Path(self.media.path).absolute()))
        return StoredMedia(self.storage, self.media.storage_key)

    def require_tokens(self) -> TokenSource:
        """The linked account's tokens; every platform but the sandbox needs them."""
        if self.tokens is None:
            raise AuthError(
                f"no {self.platform.label} account is linked",
                hint=f"An admin can link one with /link {self.platform.value}, then schedule again.",
            )
        return self.tokens

    async def checkpoint(self, **changes: Any) -> None:
        """Merge ``changes`` into the upload state and persist it before going on."""
        self.upload_state.update(changes)
        if self.save_state is not None:
            await self.save_state(dict(self.upload_state))


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    url: str | None = None
    # Something the author should know about the published post (e.g. YouTube locked it private).
    note: str | None = None


class Publisher(Protocol):
    platform: Platform
    # False only for publishers that need no linked account (the sandbox).
    requires_account: bool

    async def publish(self, job: PublishJob) -> PublishResult: ...


@runtime_checkable
class HoldsConnections(Protocol):
    """A publisher with connections of its own besides the shared client (Bluesky's checked client
    for the PDS each account names), closed at shutdown."""

    async def aclose(self) -> None: ...
