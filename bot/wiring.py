"""Building the application from settings: one place where the pieces meet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import timeparse
from core.accounts.keepalive import refresh_expiring, remind_expiring
from core.accounts.service import Accounts
from core.alerts import Alerter
from core.config import Settings
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import SocialAccount
from core.domain import ChatKind, Platform
from core.errors import ConfigError
from core.media.cache import MediaCache
from core.media.conversions import Converter
from core.media.retention import Collected, MediaBlobs
from core.media.storage import MediaStorage, build_storage
from core.media.store import MediaStore
from core.notify import NotifierRouter
from core.platforms.publishers import PublisherRegistry
from core.platforms.registry import SPECS, spec
from core.platforms.results import MetricsReader
from core.progress import ProgressRelay
from core.publishers.transport import make_client
from core.scheduler.digests import DigestJob
from core.scheduler.processor import PostProcessor
from core.scheduler.results import ResultsCollector
from core.scheduler.runner import SchedulerRunner
from core.service import Postbot, Preflight
from core.store.accounts import posting_account
from core.store.alerts import AlertGates
from core.store.buckets import SharedBuckets
from core.store.heartbeats import Heartbeats
from core.store.results import ResultReads
from core.store.wakeups import WakeListener
from core.watch import OpsWatch

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    media: MediaStore
    storage: MediaStorage
    blobs: MediaBlobs
    heartbeats: Heartbeats
    notifier: NotifierRouter
    publishers: PublisherRegistry
    postbot: Postbot
    processor: PostProcessor
    runner: SchedulerRunner
    # None until a vault secret is configured: without one no account can be linked.
    accounts: Accounts | None = None
    converter: Converter | None = None
    watch: OpsWatch | None = None
    # Each platform's results reader (core/platforms/<name>/results.py).
    readers: dict[Platform, MetricsReader] = field(default_factory=dict)
    _listener: WakeListener | None = None
    _results: ResultsCollector | None = None
    _digests: DigestJob | None = None
    _watching: asyncio.Task[None] | None = None

    def start_watch(self) -> None:
        """Check accounts and workers periodically (core/watch.py): in every process with a chat."""
        if self.watch is not None and self._watching is None:
            self._watching = asyncio.create_task(self.watch.run(), name="postbot-watch")

    async def start_scheduler(self) -> None:
        await self.runner.start()
        self.postbot.set_waker(self.runner.wake)
        if self.engine.dialect.name == "postgresql":
            # Posts queued by other processes (a separate bot, another worker) wake us at once.
            self._listener = WakeListener(self.settings.database_url, self.runner.wake)
            await self._listener.start()
        if self.accounts is not None:
            # Instagram's 60-day tokens have no refresh token: they die unless refreshed while alive.
            self.runner.add_periodic(self._keep_tokens_alive, hours=6)
            # Each post's results at its checkpoints (core/scheduler/results.py); the settled ones
            # feed the slot suggestions.
            self.runner.add_periodic(self._collect_results, seconds=self.settings.results.poll_interval_s)
        # Weekly results digests (core/scheduler/digests.py): one send per channel and week, fleet-wide.
        self.runner.add_periodic(self.send_digests, seconds=self.settings.results.digest_poll_s)
        sched = self.settings.scheduler
        self.runner.add_periodic(self._beat, seconds=sched.heartbeat_interval_s, now=True)
        # Every scheduler process collects expired videos; collecting twice is harmless.
        self.runner.add_periodic(self.collect_media, hours=self.settings.media.gc_interval_h)

    async def _beat(self) -> None:
        processor = self.processor
        try:
            await self.heartbeats.beat(
                processor.worker_id, in_flight=processor.in_flight, completed=processor.completed
            )
        except Exception:
            # A missed beat only makes /health pessimistic; the next one corrects it.
            log.warning("recording the heartbeat failed", exc_info=True)

    async def collect_media(self) -> Collected:
        """Delete videos past retention (`postbot media gc` and the periodic job)."""
        media = self.settings.media
        done = await self.blobs.collect(self.storage, retention=timedelta(days=media.retention_days))
        # This machine's copies go with the videos, and any left unused for a day go too.
        await self.media.forget_copies(done.keys)
        await self.media.trim_cache(older_than_s=24 * 3600)
        return done

    async def _collect_results(self) -> None:
        assert self.accounts is not None
        if self._results is None:
            reads = ResultReads(self.sessions, self.processor.worker_id)
            self._results = ResultsCollector(
                reads,
                self.readers,
                self.accounts.tokens,
                self.settings.results,
                self.processor,
                chat=self.notifier,
            )
        await self._results.collect()

    async def send_digests(self) -> int:
        if self._digests is None:
            self._digests = DigestJob(
                self.sessions,
                self.processor.worker_id,
                self.notifier,
                self.settings.results,
                # A digest whose channel became unreachable: if its admin can't be told, the
                # chat's admins are, the way alerts reach them.
                admins=self.processor.alerter,
            )
        return await self._digests.send_due()

    @staticmethod
    async def warm() -> None:
        """Load dateparser's data at start, not inside the first user's command."""
        await asyncio.to_thread(timeparse.warm)

    async def _keep_tokens_alive(self) -> None:
        assert self.accounts is not None
        await refresh_expiring(self.accounts.tokens)
        await remind_expiring(self.accounts.linker)

    def require_accounts(self) -> Accounts:
        if self.accounts is None:
            raise ConfigError(
                "config error: secret_key is required to link accounts (set POSTBOT_SECRET_KEY)"
            )
        return self.accounts

    async def close(self, grace_s: float = 0.0) -> None:
        """Stop everything; uploads in progress get ``grace_s`` to finish first (a signal's stop)."""
        self.postbot.set_waker(None)
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching
            self._watching = None
        if self._listener is not None:
            await self._listener.stop()
        if self.runner is not None:
            was_running = self.runner.running
            await self.runner.stop(grace_s)
            if was_running:
                try:
                    # Marked, not deleted: /health and the missing-worker alert know it left on purpose.
                    await self.heartbeats.stopped(
                        self.processor.worker_id, completed=self.processor.completed
                    )
                except Exception:
                    log.warning("marking the heartbeat stopped failed", exc_info=True)
        if self.converter is not None:
            await self.converter.close()
        await self.publishers.aclose()
        if self.accounts is not None:
            await self.accounts.oauth.aclose()
        await self.http.aclose()
        await self.engine.dispose()


async def build_app(
    settings: Settings,
    *,
    schema: str | None = None,
    worker_id: str | None = None,
) -> App:
    engine = make_engine(settings.database_url, schema=schema)
    await migrate(engine)
    sessions = session_factory(engine)
    # Room for every upload the scheduler runs at once, all kept alive: httpx's default keeps 20
    # connections and reconnects for the rest, which cost the scheduler benchmark half its rate.
    in_flight = settings.scheduler.max_in_flight
    # httpx over aiohttp's pool (core/publishers/transport.py): httpcore's own pool cost more CPU
    # per post than the rest of the worker together.
    http = make_client(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight),
    )
    storage = build_storage(settings)
    blobs = MediaBlobs(sessions)
    # One folder of video copies for the chat side and the scheduler (with a bucket; core/media/cache.py).
    cache = MediaCache(settings.media_dir / "cache", max_bytes=int(settings.media.cache_max_mb * 1e6))
    media = MediaStore(settings.media_dir, storage, blobs, cache=cache)
    notifier = NotifierRouter()
    accounts = Accounts.build(settings, sessions, http, notifier) if settings.secret_key else None
    publishers = PublisherRegistry(settings, http)
    # One pool for the whole process: the facade starts conversions, the scheduler waits for them.
    converter = Converter(
        settings.converted_dir,
        workers=settings.media.convert_workers,
        niceness=settings.media.convert_niceness,
        storage=storage,
        blobs=blobs,
    )
    postbot = Postbot(
        settings,
        sessions,
        media=media,
        linker=accounts.linker if accounts is not None else None,
        converter=converter,
    )
    alerter = Alerter(
        settings.alerts,
        notifier,
        # The console has one channel: its own screen.
        channels={
            ChatKind.SLACK: settings.alerts.slack_channel,
            ChatKind.DISCORD: settings.alerts.discord_channel,
            ChatKind.CONSOLE: "console",
        },
        admins={
            ChatKind.SLACK: list(settings.slack.admin_user_ids),
            ChatKind.DISCORD: list(settings.discord.admin_user_ids),
        },
        # Every worker watches; the database decides which one announces (once for the fleet).
        gate=AlertGates(sessions),
    )
    shared = SharedBuckets(sessions, engine.dialect.name) if settings.scheduler.shared_limits else None
    progress = (
        ProgressRelay(notifier, replies=postbot.reply_to, interval_s=settings.scheduler.progress_interval_s)
        if settings.scheduler.progress_interval_s > 0
        else None
    )
    processor = PostProcessor(
        sessions,
        publishers,
        notifier,
        settings.scheduler,
        platforms=settings.platforms,
        tokens_for=accounts.tokens if accounts is not None else None,
        worker_id=worker_id,
        # With conversions off every queued file was accepted as it is: nothing to check at publish.
        converter=converter if settings.media.convert else None,
        alerter=alerter,
        storage=storage,
        shared_buckets=shared,
        media_links=postbot.post_links,
        progress=progress,
        cache=cache,
    )
    breakers = processor.breakers

    async def breaker_states() -> dict[Platform, str]:
        # Read from the database: a chat process with no scheduler of its own shows the fleet's.
        return {Platform(p): s for p, s in (await breakers.states()).items()}

    postbot.set_breaker_states(breaker_states)
    if accounts is not None:
        postbot.set_preflight(_preflight(sessions, publishers, accounts))
    runner = SchedulerRunner(processor, poll_interval_s=settings.scheduler.poll_interval_s)
    heartbeats = Heartbeats(sessions)
    readers = {
        spec.platform: spec.results(http, settings.platforms.for_platform(spec.name))
        for spec in SPECS
        if spec.results is not None
    }
    watch = OpsWatch(
        sessions,
        heartbeats,
        alerter,
        settings.alerts,
        reaches=notifier.reaches,
        platforms=settings.platforms,
        result_scopes=relink_scopes(settings, readers),
    )
    return App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        http=http,
        media=media,
        storage=storage,
        blobs=blobs,
        heartbeats=heartbeats,
        notifier=notifier,
        publishers=publishers,
        postbot=postbot,
        processor=processor,
        runner=runner,
        accounts=accounts,
        converter=converter,
        watch=watch,
        readers=readers,
    )


def _preflight(
    sessions: async_sessionmaker[AsyncSession], publishers: PublisherRegistry, accounts: Accounts
) -> Preflight:
    """A platform's own checks of a post before it is queued (a publisher's ``preflight``, e.g.
    TikTok's creator_info), with the tokens of the account it goes out as. A check that cannot run
    (the platform is down, the token was revoked) queues the post: publishing checks again."""

    async def preflight(
        platform: Platform, account_id: int, options: Mapping[str, Any], duration_s: float | None
    ) -> list[str]:
        check = getattr(publishers.get(platform), "preflight", None)
        if check is None:
            return []
        async with sessions() as session:
            row = await session.get(SocialAccount, account_id)
        if row is None:
            return []
        try:
            return list(await check(accounts.tokens(posting_account(row)), options, duration_s))
        except Exception:
            log.warning("checking a %s post before queueing failed", platform.value, exc_info=True)
            return []

    return preflight


def relink_scopes(
    settings: Settings, readers: dict[Platform, MetricsReader]
) -> dict[Platform, tuple[str, ...]]:
    """Per platform, the scopes its reader needs when linking asks for all of them: only then does
    relinking an account that lacks them help (LinkedIn's analytics scope is asked for only by
    deployments whose app LinkedIn approved)."""
    out: dict[Platform, tuple[str, ...]] = {}
    for platform, reader in readers.items():
        provider = spec(platform).oauth
        if provider is None:
            continue
        asked = set(settings.platforms.for_platform(platform.value).oauth.scopes or provider.default_scopes)
        if set(reader.scopes) <= asked:
            out[platform] = reader.scopes
    return out
