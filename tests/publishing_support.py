"""What the publisher tests share: fixed token sources and a real linked account behind fake servers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from adapters.web.app import media_route
from adapters.web.server import WebServer
from core.accounts.tokens import StoredTokenSource, TokenSources
from core.config import PlatformSettings, PlatformsSettings, Settings
from core.crypto import Vault, derive_key
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import SocialAccount
from core.domain import MediaInfo, Platform
from core.media.storage import LocalStorage, UrlSigner
from core.media.storage.post_links import PostMediaLinks
from core.oauth import OAuthClients
from core.publishers.base import PublishJob, TokenSource
from core.publishers.transport import make_client
from tests.clips import sized_clip
from tests.fakes.oauth_provider import FakeOAuthProvider, SeededAccount, seed_linked_account

VAULT = Vault(derive_key("publisher tests", iterations=MIN_ITERATIONS))


class StaticTokens:
    """A TokenSource with fixed tokens: a refresh hands out ``refreshed`` (the same token unless given).

    The real refresh flow is tested with the vault-backed source (see :func:`linked_account`).
    """

    def __init__(self, token: str, account: str, *, refreshed: str | None = None) -> None:
        self.token = token
        self.account = account
        self.refreshed = refreshed or token
        self.refreshes = 0
        self.rejections = 0

    async def access_token(self) -> str:
        return self.token

    async def refresh(self) -> str:
        self.refreshes += 1
        self.token = self.refreshed
        return self.token

    async def rejected(self) -> None:
        self.rejections += 1

    @property
    def account_id(self) -> str:
        return self.account


def video_job(
    video: Path,
    saved: list[dict[str, Any]],
    *,
    post_id: int,
    platform: Platform,
    caption: str,
    title: str | None,
    tokens: TokenSource,
) -> PublishJob:
    """A first attempt at posting ``video``; upload-state snapshots the publisher saves go to ``saved``."""

    async def save(state: dict[str, Any]) -> None:
        saved.append(state)

    return PublishJob(
        post_id=post_id,
        platform=platform,
        idempotency_key=f"post-{post_id}",
        caption=caption,
        title=title,
        media=MediaInfo(
            path=str(video),
            sha256="",
            size_bytes=video.stat().st_size,
            mime="video/mp4",
            original_name=video.name,
        ),
        tokens=tokens,
        save_state=save,
    )


class PlatformFake(Protocol):
    """A fake platform API that asks the fake OAuth provider which tokens are live."""

    token_check: Callable[[str], str | None] | None

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...


Api = TypeVar("Api", bound=PlatformFake)


@dataclass
class Linked(Generic[Api]):
    oauth: FakeOAuthProvider
    api: Api
    sessions: async_sessionmaker[AsyncSession]
    sources: TokenSources
    seeded: SeededAccount
    http: httpx.AsyncClient

    async def row(self) -> SocialAccount:
        async with self.sessions() as session:
            account = await session.get(SocialAccount, self.seeded.account_row_id)
            assert account is not None
            return account

    async def tokens(self) -> StoredTokenSource:
        return self.sources(await self.row())

    async def job_for(
        self,
        video: Path,
        *,
        caption: str = "Refreshed and posted",
        title: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> PublishJob:
        """A first attempt at posting ``video`` to the linked platform with the account's stored tokens."""
        return PublishJob(
            post_id=1,
            platform=Platform(self.oauth.platform),
            idempotency_key="post-1",
            caption=caption,
            title=title,
            media=MediaInfo(
                path=str(video),
                sha256=hashlib.sha256(video.read_bytes()).hexdigest(),
                size_bytes=video.stat().st_size,
                mime="video/mp4",
            ),
            tokens=await self.tokens(),
            options=dict(options or {}),
        )

    async def clip_job(self, tmp_path: Path) -> PublishJob:
        """A short clip posted to the linked platform with the account's stored tokens."""
        return await self.job_for(sized_clip(tmp_path / "clip.mp4", duration_s=8, size_bytes=150_000))


@asynccontextmanager
async def linked_account(
    tmp_path: Path, platform: Platform, api: Api, *, http_timeout: float
) -> AsyncIterator[Linked[Api]]:
    """An encrypted social_accounts row whose tokens the fake OAuth provider issued and ``api`` accepts."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'postbot.db'}"
    engine = make_engine(url)
    await migrate(engine)
    sessions = session_factory(engine)
    async with (
        FakeOAuthProvider(platform.value) as oauth,
        api,
        make_client(timeout=http_timeout) as http,
    ):
        api.token_check = oauth.account_for
        platforms = PlatformsSettings(**{platform.value: PlatformSettings(**oauth.platform_settings())})
        settings = Settings(database_url=url, data_dir=tmp_path / "data", platforms=platforms)
        sources = TokenSources(sessions, VAULT, OAuthClients(settings, http), skew=timedelta(seconds=60))
        seeded = await seed_linked_account(sessions, VAULT, oauth)
        yield Linked(oauth, api, sessions, sources, seeded, http)
    await engine.dispose()


class VideoHost:
    """postbot's own ``/media/`` route (adapters/web/app.py ``media_route``) on a loopback server, as
    ``web.public_url`` is in production: platforms that fetch the video by URL (Instagram) download it
    from here through each post's link (core/media/storage/post_links.py). The test says which posts
    are over (``finish``); their links then answer 403, as the database's post status makes them do."""

    def __init__(self) -> None:
        self.server = WebServer()
        self.storage = LocalStorage(Path("/"))
        self.finished: set[int] = set()
        self.links: PostMediaLinks | None = None

    async def __aenter__(self) -> Self:
        async def open_video(key: str, expires: str | None, sig: str | None, post: str | None) -> Any:
            assert self.links is not None
            return await self.links.open(key, expires, sig, post)

        async def unfinished(post_id: int) -> bool:
            return post_id not in self.finished

        await self.server.start(Starlette(routes=[media_route(open_video)]))
        signer = UrlSigner(self.server.url, b"video host secret")
        self.links = PostMediaLinks(signer, self.storage, unfinished)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()

    def finish(self, post_id: int) -> None:
        self.finished.add(post_id)

    def attach(self, job: PublishJob) -> PublishJob:
        """Serve ``job``'s video from here: the job reads it from this storage and links to it."""
        assert self.links is not None
        key = str(Path(job.media.path).absolute()).lstrip("/")
        job.media = replace(job.media, key=key)
        job.storage = self.storage
        job.media_link = self.links.for_post(job.post_id, key)
        return job
