"""Scale benchmark: what the reads every chat command and worker makes cost as the tables grow.

    python -m bench.scale                                  # PostgreSQL 10k, 100k, 1M posts; SQLite 100k
    python -m bench.scale --pg 10000 100000 --sqlite       # fewer sizes, no SQLite

A deployment that has published for a year holds hundreds of thousands of post rows, almost all of
them finished. Each size is loaded as one: posts over the past year across many teams (one per
thousand posts, at least 20), 97 % published, 2 % failed, 1 % cancelled; 2,000 queued posts due now
across the teams and 200 running (the claim's work); one team with 1,000 queued posts over the next
month (the one /queue, /status and the Home tab are asked for) and a twentieth of the history; one
video per two posts, the videos of the last 31 days still stored (retention's pass a day ago).

Timed round-robin over the sizes (so a shared machine's load falls on all of them alike), p50 and
p99 printed:
- claim: a worker's claim of 100 due posts and its read of them (core/store/queue.claim_batch),
  rolled back so every round claims the same;
- /queue, /status, Home: the facade's calls (core.service.Postbot) for that team's admin;
- retention: the listing pass of media retention (core/media/retention.MediaBlobs.candidates).

Targets (issue 28): the claim's p99 at 1M within 2x of 10k; /queue < 50 ms and /status < 100 ms at
1M. PostgreSQL loads with COPY into a schema of its own, dropped after; SQLite into a temporary file.
The machine is shared: the 1M load takes a few minutes of one core (COPY and its indexes), so run it
once, not in a loop; --keep keeps each PostgreSQL schema for EXPLAIN and reruns (drop them after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.db.engine import make_engine, migrate, session_factory  # noqa: E402
from core.db.models import MediaAsset, MediaBlob, ScheduledPost, Team, User  # noqa: E402
from core.domain import ChatContext, ChatKind  # noqa: E402
from core.media.retention import MediaBlobs  # noqa: E402
from core.service import Postbot  # noqa: E402
from core.store.queue import claim_batch  # noqa: E402

PG_URL = os.environ.get("POSTBOT_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PLATFORMS = ("youtube", "instagram", "x", "linkedin", "tiktok")
QUEUED_FOR_TEAM = 1_000
DUE_NOW = 2_000
RUNNING = 200
USERS_PER_TEAM = 5
# Retention (30 days) ran a day ago: the videos of the last 31 days are still stored.
STORED_DAYS = 31
CLAIM_LIMIT = 100


@dataclass
class Dataset:
    teams: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)
    blobs: list[dict[str, Any]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)


def build(n: int, now: datetime, seed: int = 28) -> Dataset:
    rng = random.Random(seed)
    teams = max(20, n // 1000)
    data = Dataset()
    for t in range(1, teams + 1):
        data.teams.append(
            {
                "id": t,
                "chat": "slack",
                "external_id": f"T{t}",
                "name": f"team {t}",
                "timezone": "UTC",
                "created_at": now,
            }
        )
        for u in range(USERS_PER_TEAM):
            data.users.append(
                {
                    "id": (t - 1) * USERS_PER_TEAM + u + 1,
                    "team_id": t,
                    "external_id": f"U{t}-{u}",
                    "display_name": None,
                    "timezone": None,
                    "is_admin": u == 0,
                    "created_at": now,
                }
            )
    year = timedelta(days=365).total_seconds()
    history = n - QUEUED_FOR_TEAM - DUE_NOW - RUNNING
    for i in range(1, n + 1):
        k = i - 1
        if k < QUEUED_FOR_TEAM:
            team, status = 1, "queued"
            run_at = now + timedelta(seconds=60 + k * 30 * 86400 / QUEUED_FOR_TEAM)
        elif k < QUEUED_FOR_TEAM + DUE_NOW:
            team, status = rng.randint(1, teams), "queued"
            run_at = now - timedelta(seconds=rng.uniform(0, 600))
        elif k < QUEUED_FOR_TEAM + DUE_NOW + RUNNING:
            team, status = rng.randint(1, teams), "running"
            run_at = now - timedelta(seconds=rng.uniform(0, 60))
        else:
            h = k - QUEUED_FOR_TEAM - DUE_NOW - RUNNING
            team = 1 if h % 20 == 0 else rng.randint(2, teams)
            draw = rng.random()
            status = "failed" if draw < 0.02 else "cancelled" if draw < 0.03 else "published"
            run_at = now - timedelta(seconds=60 + (history - h) * year / history)
        finished = status in ("published", "failed", "cancelled")
        published_at = run_at + timedelta(seconds=30) if status == "published" else None
        media_id = k // 2 + 1
        user = (team - 1) * USERS_PER_TEAM + rng.randrange(USERS_PER_TEAM) + 1
        data.posts.append(
            {
                "id": i,
                "team_id": team,
                "author_id": user,
                "account_id": None,
                "media_id": media_id,
                "batch_id": f"b{media_id}",
                "platform": PLATFORMS[k % len(PLATFORMS)],
                "caption": f"post {i} #scale",
                "title": None,
                "run_at": run_at,
                "due_at": run_at,
                "status": status,
                "attempts": 1 if finished or status == "running" else 0,
                "last_error": "the platform refused the video" if status == "failed" else None,
                "error_hint": None,
                "remote_id": f"r{i}" if published_at else None,
                "remote_url": None,
                "idempotency_key": f"scale-{i}",
                "upload_state": None,
                "options": None,
                "origin_channel": f"C{team}-{k % 3}",
                "origin_thread": None,
                "reply_channel": None,
                "reply_message": None,
                "claimed_by": "w-old" if status == "running" else None,
                "lease_until": now + timedelta(minutes=10) if status == "running" else None,
                "lease_version": 1 if finished or status == "running" else 0,
                "published_at": published_at,
                "notified_at": published_at,
                "views": None,
                "likes": None,
                "comments": None,
                "metrics_fetched_at": None,
                "created_at": run_at - timedelta(hours=1),
                "updated_at": (published_at or run_at + timedelta(seconds=30)) if finished else run_at,
            }
        )
        if k % 2 == 0:
            key = f"{media_id % 256:02x}/{uuid.UUID(int=media_id).hex}.mp4"
            data.media.append(
                {
                    "id": media_id,
                    "team_id": team,
                    "path": key,
                    "sha256": uuid.UUID(int=media_id).hex * 2,
                    "size_bytes": 50_000_000,
                    "mime": "video/mp4",
                    "original_name": f"clip{media_id}.mp4",
                    "duration_s": 30.0,
                    "width": 1080,
                    "height": 1920,
                    "created_at": run_at - timedelta(hours=1),
                }
            )
            if run_at > now - timedelta(days=STORED_DAYS):
                data.blobs.append(
                    {
                        "key": key,
                        "size_bytes": 50_000_000,
                        "created_at": run_at - timedelta(hours=1),
                        "referenced_at": run_at - timedelta(hours=1),
                    }
                )
    return data


def _chunks(rows: list[dict[str, Any]], size: int = 20_000) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


TABLES = [
    (Team, "teams"),
    (User, "users"),
    (MediaAsset, "media"),
    (MediaBlob, "blobs"),
    (ScheduledPost, "posts"),
]


async def load(engine: AsyncEngine, data: Dataset, *, schema: str | None) -> None:
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            apg: Any = raw.driver_connection
            for model, attr in TABLES:
                rows = getattr(data, attr)
                columns = list(rows[0])
                await apg.copy_records_to_table(
                    model.__tablename__,
                    records=[tuple(r[c] for c in columns) for r in rows],
                    columns=columns,
                    schema_name=schema,
                )
            for seq_table in ("teams", "users", "media_assets", "scheduled_posts"):
                sequence = f"pg_get_serial_sequence('{seq_table}', 'id')"
                await apg.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM {seq_table}))")
            # What autovacuum would have done by the time a deployment holds this much.
            await apg.execute("VACUUM ANALYZE")
        return
    async with engine.begin() as conn:
        for model, attr in TABLES:
            for chunk in _chunks(getattr(data, attr)):
                await conn.execute(insert(model.__table__), chunk)  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


Call = Callable[[], Awaitable[float | None]]
METRICS = ("claim", "/queue", "/status", "home week", "retention")


@dataclass
class Target:
    """One loaded database and the calls timed on it."""

    label: str
    n: int
    engine: AsyncEngine
    calls: dict[str, Call]
    drop: str | None
    times: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})

    async def close(self) -> None:
        if self.drop:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.drop}" CASCADE'))
        await self.engine.dispose()


async def prepare(label: str, url: str, n: int, *, schema: str | None, keep: bool) -> Target:
    now = datetime.now(UTC).replace(microsecond=0)
    engine = make_engine(url, schema=schema)
    await migrate(engine)
    async with engine.connect() as conn:
        loaded = bool(await conn.scalar(text("SELECT count(*) FROM scheduled_posts")))
    if not loaded:
        started = time.perf_counter()
        data = build(n, now)
        built = time.perf_counter() - started
        await load(engine, data, schema=schema)
        print(
            f"{label}: loaded {n:,} posts ({len(data.teams):,} teams, {len(data.blobs):,} stored videos): "
            f"built {built:.1f}s, loaded {time.perf_counter() - started - built:.1f}s",
            flush=True,
        )
        del data
    else:
        print(f"{label}: reusing {n:,} posts in schema {schema}", flush=True)
    sessions = session_factory(engine)
    settings = Settings(database_url=url)
    postbot = Postbot(settings, sessions, clock=lambda: now)
    admin = ChatContext(
        chat=ChatKind.SLACK, team_id="T1", user_id="U1-0", channel_id="C1-0", is_admin=True,
        channels=frozenset({"C1-1", "C1-2"}),
    )  # fmt: skip
    blobs = MediaBlobs(sessions)

    async def claim() -> float:
        async with sessions() as session:
            transaction = await session.begin()
            started = time.perf_counter()
            claimed = await claim_batch(
                session, worker_id="bench", now=now, lease=timedelta(minutes=5), limit=CLAIM_LIMIT
            )
            elapsed = (time.perf_counter() - started) * 1000
            assert len(claimed) == CLAIM_LIMIT, len(claimed)
            await transaction.rollback()
        # Python's sqlite3 opens no transaction before a statement starting with WITH, so on
        # SQLite the claim committed on its own: put the posts back for the next round.
        async with sessions.begin() as session:
            await session.execute(
                text(
                    "UPDATE scheduled_posts SET status = 'queued', claimed_by = NULL,"
                    " lease_until = NULL, attempts = attempts - 1, lease_version = lease_version - 1"
                    " WHERE claimed_by = 'bench'"
                )
            )
        return elapsed

    async def queue() -> None:
        assert len(await postbot.list_queue(admin)) == 50

    async def status() -> None:
        await postbot.status(admin)

    async def home() -> None:
        await postbot.home(admin)

    async def retention() -> None:
        await blobs.candidates(retention=timedelta(days=settings.media.retention_days), now=now)

    calls: dict[str, Call] = {
        "claim": claim, "/queue": queue, "/status": status, "home week": home, "retention": retention,
    }  # fmt: skip
    for call in calls.values():
        await call()  # warm: first-use costs (statement cache, imports) are not what scales
    return Target(label, n, engine, calls, None if keep else schema)


async def pg_target(n: int, keep: bool) -> Target:
    # --keep: a schema named for the size, kept for EXPLAIN and later runs (which reuse it).
    schema = f"scale_bench_{n}" if keep else f"scale_bench_{os.getpid()}_{n}"
    admin = create_async_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        await admin.dispose()
    return await prepare(f"PostgreSQL {n:,}", PG_URL, n, schema=schema, keep=keep)


async def run_rounds(targets: list[Target], rounds: int) -> None:
    """Round-robin over databases and calls, so that load from other processes on a shared machine
    falls on every size alike (the ratios are what this bench is for)."""
    for r in range(rounds):
        for name in METRICS:
            if name == "retention" and r % 5:
                continue  # a pass is the slowest call and runs rarely in production
            for target in targets:
                started = time.perf_counter()
                own = await target.calls[name]()
                target.times[name].append(own if own is not None else (time.perf_counter() - started) * 1000)


async def main_async(args: argparse.Namespace) -> None:
    print(f"scale bench: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="postbot-scale-") as tmp:
        try:
            for n in args.pg:
                targets.append(await pg_target(n, args.keep))
            for n in args.sqlite:
                url = f"sqlite+aiosqlite:///{tmp}/scale-{n}.db"
                targets.append(await prepare(f"SQLite {n:,}", url, n, schema=None, keep=False))
            print(f"{args.rounds} rounds, load {os.getloadavg()[0]:.2f}", flush=True)
            await run_rounds(targets, args.rounds)
        finally:
            for target in targets:
                await target.close()
    print(f"{'ms':<16}" + "".join(f"{t.label:>24}" for t in targets))
    for name in METRICS:
        cells = "".join(
            f"{pct(t.times[name], 0.5):>11.2f} /{pct(t.times[name], 0.99):>9.2f}  " for t in targets
        )
        print(f"{name + ' p50/p99':<16}{cells}")
    pg = {t.n: t.times for t in targets if t.label.startswith("PostgreSQL")}
    if len(pg) >= 2:
        small, large = min(pg), max(pg)
        print(f"PostgreSQL ratio {large:,} / {small:,} posts (p50, p99):")
        for name in METRICS:
            a, b = pg[small][name], pg[large][name]
            print(f"    {name:<10} {pct(b, 0.5) / pct(a, 0.5):6.2f}x {pct(b, 0.99) / pct(a, 0.99):6.2f}x")
        big = pg[large]
        claim_ratio = pct(big["claim"], 0.99) / pct(pg[small]["claim"], 0.99)
        print("targets:")
        print(
            f"  claim p99 within 2x from {small:,} to {large:,}: {claim_ratio:.2f}x {_ok(claim_ratio <= 2)}"
        )
        queue_p99, status_p99 = pct(big["/queue"], 0.99), pct(big["/status"], 0.99)
        print(f"  /queue p99 < 50 ms at {large:,}: {queue_p99:.1f} {_ok(queue_p99 < 50)}")
        print(f"  /status p99 < 100 ms at {large:,}: {status_p99:.1f} {_ok(status_p99 < 100)}")


def _ok(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--sqlite", type=int, nargs="*", default=[100_000])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each PostgreSQL schema (scale_bench_<n>) and reuse it next time",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
