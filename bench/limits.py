"""Limits shared by a fleet: 4 workers publish to a fake platform that allows 5 requests/s.

    python -m bench.limits                 # 60 posts, shared buckets (PostgreSQL), then per-worker
    python -m bench.limits --posts 100 --workers 4 --allow 5

Each worker is a real PostProcessor with its own database engine (its own connections, as a
separate process has), all four claiming from one PostgreSQL queue; they run in one process
beside the fake platform (tests/fakes/bench_platform.py), which enforces its allowance with a token
bucket and answers 429 with Retry-After past it. postbot is configured with the platform's real
allowance (platforms.youtube.rate_per_s = --allow, burst = --allow). The run prints, for the shared
buckets (scheduler.shared_limits, the default) and for per-worker buckets (the old behaviour):
requests the platform saw, the rate over the run, the busiest 1 s window, and the 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import PlatformSettings, PlatformsSettings, SchedulerSettings, Settings  # noqa: E402
from core.db.engine import make_engine, migrate, session_factory  # noqa: E402
from core.db.models import ScheduledPost  # noqa: E402
from core.domain import Platform, PostView  # noqa: E402
from core.platforms.publishers import PublisherRegistry  # noqa: E402
from core.scheduler.processor import PostProcessor  # noqa: E402
from core.store.buckets import SharedBuckets  # noqa: E402
from tests.fakes.bench_platform import BenchPublisher, FakePlatform, seed_posts  # noqa: E402

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


class Quiet:
    async def post_result(self, post: PostView) -> None:
        pass

    async def dm_failure(self, post: PostView) -> None:
        pass


async def scenario(*, shared: bool, posts: int, workers: int, allow: float, url: str) -> dict[str, float]:
    schema = f"bench_limits_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    fake = FakePlatform(latency_s=0.02, allow_per_s=allow, burst=int(allow))
    base = await fake.start()
    platforms = PlatformsSettings(
        youtube=PlatformSettings(rate_per_s=allow, burst=int(allow), max_attempts=20)
    )
    # Small claims, so the posts spread over the workers as they do in a busy fleet.
    sched = SchedulerSettings(
        batch_size=5, max_in_flight=5, max_rate_wait_s=2.0, backoff_base_s=0.2, backoff_max_s=2.0, lease_s=60
    )
    settings = Settings(database_url=url, platforms=platforms, scheduler=sched)
    engines, procs, clients = [], [], []
    try:
        for i in range(workers):
            engine = make_engine(url, schema=schema)
            await migrate(engine)
            sessions = session_factory(engine)
            http = httpx.AsyncClient(timeout=20)
            registry = PublisherRegistry(settings, http)
            registry.register(BenchPublisher(Platform.YOUTUBE, base, http))
            procs.append(
                PostProcessor(
                    sessions,
                    registry,
                    Quiet(),
                    sched,
                    platforms=platforms,
                    worker_id=f"bench-{i}",
                    shared_buckets=SharedBuckets(sessions, "postgresql") if shared else None,
                )
            )
            engines.append(engine)
            clients.append(http)
        await seed_posts(
            session_factory(engines[0]), count=posts, run_at=datetime.now(UTC), platforms=("youtube",)
        )
        started = time.monotonic()
        done = 0
        while done < posts and time.monotonic() - started < 300:
            await asyncio.gather(*(p.run_due() for p in procs))
            async with session_factory(engines[0])() as session:
                done = int(
                    await session.scalar(
                        select(func.count()).where(ScheduledPost.status.in_(["published", "failed"]))
                    )
                    or 0
                )
            await asyncio.sleep(0.05)
        arrivals = sorted(fake.arrivals["youtube"])
        span = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 1.0
        peak = max(sum(1 for b in arrivals if a <= b < a + 1.0) for a in arrivals)
        return {
            "published": float(len(fake.posts)),
            "requests": float(len(arrivals)),
            "rate": (len(arrivals) - 1) / span if span > 0 else 0.0,
            "peak_1s": float(peak),
            "429s": float(fake.rejected),
            "seconds": time.monotonic() - started,
        }
    finally:
        for http in clients:
            await http.aclose()
        for engine in engines:
            await engine.dispose()
        await fake.stop()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def main() -> None:
    # Retries after a 429 are logged as warnings; the figures below count them.
    logging.getLogger("core").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--allow", type=float, default=5.0, help="requests/s the fake platform allows")
    parser.add_argument("--pg", default=PG_URL)
    args = parser.parse_args()
    print(
        f"postbot limits benchmark: {args.workers} workers, {args.posts} posts to one account, "
        f"platform allows {args.allow:g} req/s (burst {int(args.allow)}); postbot set to the same allowance"
    )
    for shared in (True, False):
        r = await scenario(
            shared=shared, posts=args.posts, workers=args.workers, allow=args.allow, url=args.pg
        )
        name = "shared buckets (PostgreSQL)" if shared else "per-worker buckets       "
        print(
            f"{name}: {r['published']:.0f}/{args.posts} published, {r['requests']:.0f} requests, "
            f"{r['rate']:.2f} req/s overall, busiest second {r['peak_1s']:.0f} requests, "
            f"{r['429s']:.0f} x 429, {r['seconds']:.1f} s"
        )


if __name__ == "__main__":
    asyncio.run(main())
