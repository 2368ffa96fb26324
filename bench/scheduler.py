"""Scheduler benchmark: N posts due at once across 5 platforms, published over real HTTP on loopback.

    python -m bench.scheduler                  # 10,000 posts: PostgreSQL 1 worker (and its no-HTTP
                                               # floor), 2 workers; SQLite 1
    python -m bench.scheduler --only pg1 floor # the HTTP client's cost per post, and nothing else
    python -m bench.scheduler --posts 2000 --only pg1 --profile /tmp/w.prof

The fake platform (tests/fakes/bench_platform.py) runs in its own process and answers each create
call after --latency seconds; it dedupes by idempotency key and counts re-sent keys as duplicates.
Workers are separate processes running the real SchedulerRunner + PostProcessor. Posts are queued
due a few seconds ahead (after the workers are up and the bulk insert has committed), so the
workers' wake-up job fires them; figures come from the rows (run_at, published_at).

Lateness is published_at - run_at: the moment the platform confirmed the post, 50 ms of platform
latency included. With every post due at the same instant, lateness of the last post is the whole
backlog divided by throughput, so the backlog's p99 measures throughput; the --paced run (posts due
evenly over time below capacity) measures the scheduler's own lateness.

--transport picks how the bench publisher talks to the fake: httpx (the project's client, as
bot/wiring.py builds it: httpx over aiohttp's pool, core.publishers.transport; the default),
httpx-aiohttp (httpx-aiohttp's stock transport, for comparison), httpx-pool (httpx's stock transport
and httpcore's connection pool, for comparison), or none (no HTTP at all: the publisher just waits
out the latency, which isolates the scheduler's and the database's own cost). Every run also runs
the one-worker PostgreSQL scenario with no HTTP ("floor") and with each transport of --compare
(default: the other two), and prints each one's rate, its ratio to the floor and the worker CPU per
post, so every HTTP client's cost per post is measured beside the floor in the same run. The CPU line
splits the scenario's CPU seconds between workers, the fake platform and PostgreSQL, and shows how busy the
whole (shared) machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import SchedulerSettings, Settings  # noqa: E402
from core.db.engine import make_engine, migrate, session_factory  # noqa: E402
from core.db.models import ScheduledPost  # noqa: E402
from core.domain import Platform, PostView  # noqa: E402
from core.platforms.publishers import PublisherRegistry  # noqa: E402
from core.publishers.base import PublishJob, PublishResult  # noqa: E402
from core.publishers.transport import make_client  # noqa: E402
from core.scheduler.processor import PostProcessor  # noqa: E402
from core.scheduler.runner import SchedulerRunner  # noqa: E402
from tests.fakes.bench_platform import PLATFORMS, BenchPublisher, seed_posts  # noqa: E402

PG_URL = os.environ.get("POSTBOT_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


# -- worker process -------------------------------------------------------------------------------


class CountingNotifier:
    def __init__(self) -> None:
        self.results = 0
        self.dms = 0

    async def post_result(self, post: PostView) -> None:
        self.results += 1

    async def dm_failure(self, post: PostView) -> None:
        self.dms += 1


def _client(transport: str, limits: httpx.Limits) -> httpx.AsyncClient:
    if transport == "httpx":
        # What the app's publishers use (bot/wiring.py): httpx over core.publishers.transport.
        return make_client(limits=limits, timeout=30.0)
    if transport == "httpx-aiohttp":
        # httpx-aiohttp's own transport over the same aiohttp pool (it requotes URLs, which is why
        # the app does not use it: core/publishers/transport.py).
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(timeout=30.0, transport=AiohttpTransport(limits=limits))
    # httpx-pool: httpx's stock transport (httpcore's connection pool), for comparison.
    return httpx.AsyncClient(timeout=30.0, limits=limits)


class SleepPublisher:
    """--transport none: waits out the platform latency without HTTP, to isolate the scheduler's and
    the database's cost from the HTTP client's. Not a platform: nothing is posted anywhere."""

    requires_account = False

    def __init__(self, platform: Platform, latency_s: float) -> None:
        self.platform = platform
        self.latency_s = latency_s

    async def publish(self, job: PublishJob) -> PublishResult:
        await asyncio.sleep(self.latency_s)
        return PublishResult(remote_id=f"{self.platform.value}-{job.idempotency_key}")


async def run_worker(args: argparse.Namespace) -> None:
    engine = make_engine(args.db, schema=args.schema or None)
    sessions = session_factory(engine)
    settings = Settings(database_url=args.db)
    sched = SchedulerSettings(
        poll_interval_s=args.poll,
        lease_s=60,
        batch_size=args.batch,
        max_in_flight=args.in_flight,
        worker_id=args.worker_id,
    )
    per_platform = args.connections or max(8, args.in_flight // len(PLATFORMS) * 2)
    # Keep-alive for every connection: httpx's default keeps only 20 and reconnects for the rest.
    limits = httpx.Limits(max_connections=per_platform, max_keepalive_connections=per_platform)
    clients = [_client(args.transport, limits) for _ in PLATFORMS]
    registry = PublisherRegistry(settings, clients[0])
    for name, client in zip(PLATFORMS, clients, strict=True):
        if args.transport == "none":
            registry.register(SleepPublisher(Platform(name), args.latency))
        else:
            registry.register(BenchPublisher(Platform(name), args.platform_url, client))
    notifier = CountingNotifier()
    processor = PostProcessor(sessions, registry, notifier, sched, worker_id=args.worker_id)
    runner = SchedulerRunner(processor, poll_interval_s=args.poll)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # Warm the pool so the first claim doesn't pay for connecting.
    async with sessions() as session:
        await session.execute(select(1))
    await runner.start()
    print("READY", flush=True)
    cpu0 = time.process_time()
    await stop.wait()
    cpu = time.process_time() - cpu0
    await runner.stop()
    for client in clients:
        await client.aclose()
    await engine.dispose()
    print(
        "STATS "
        + json.dumps(
            {
                "worker": args.worker_id,
                "processed": processor.completed,
                "notified": notifier.results,
                "failed": notifier.dms,
                "flushes": processor.outcomes.flushes,
                "cpu_s": round(cpu, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        ),
        flush=True,
    )


def worker_main(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.profile:
        import cProfile

        cProfile.runctx("asyncio.run(run_worker(args))", globals(), {"args": args}, args.profile)
    else:
        asyncio.run(run_worker(args))


# -- orchestration ----------------------------------------------------------------------------------


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _postgres_cpu() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += _proc_cpu(int(entry.name))
            except OSError:
                continue
    return total


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICK, sum(values) / _TICK


@dataclass
class Result:
    name: str
    workers: int
    posts: int
    published: int
    seconds: float
    lateness: list[float]
    duplicates: int
    worker_stats: list[dict[str, Any]]
    load: tuple[float, float, float]
    # CPU seconds over the scenario: the fake platform, PostgreSQL, and the machine busy share.
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    machine_busy: float = 0.0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_post_ms(self) -> float:
        cpu = sum(w.get("cpu_s", 0) for w in self.worker_stats)
        return 1000 * cpu / self.published if self.published else float("nan")

    def pct(self, q: float) -> float:
        if not self.lateness:
            return float("nan")
        return statistics.quantiles(self.lateness, n=1000, method="inclusive")[int(q * 1000) - 1]

    def line(self) -> str:
        rss = max((w.get("peak_rss_mb", 0) for w in self.worker_stats), default=0)
        cpu = sum(w.get("cpu_s", 0) for w in self.worker_stats)
        return (
            f"{self.name:<22} workers={self.workers} posts={self.published}/{self.posts} "
            f"time={self.seconds:.2f}s rate={self.rate:.0f} posts/s "
            f"lateness p50={self.pct(0.5):.3f}s p99={self.pct(0.99):.3f}s "
            f"duplicates={self.duplicates} peak_rss={rss:.0f}MB\n"
            f"    cpu: workers={cpu:.1f}s fake_platform={self.server_cpu:.1f}s "
            f"postgres={self.postgres_cpu:.1f}s machine_busy={self.machine_busy:.0%} "
            f"load1={self.load[0]:.2f}"
        )


class FakeServer:
    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.bench_platform", "--port", "0", "--latency", str(latency)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise SystemExit("fake platform did not start")
        self.url = f"http://127.0.0.1:{line[1]}"

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = httpx.get(f"{self.url}/_stats").json()
        return stats

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


async def _database(kind: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="postbot-bench-")) / "bench.db"
        return f"sqlite+aiosqlite:///{path}", None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return PG_URL, schema


async def _drop(url: str, schema: str | None) -> None:
    if schema is None:
        # The database, its WAL and shared-memory files: the whole temporary folder.
        shutil.rmtree(Path(url.split(":///", 1)[1]).parent, ignore_errors=True)
        return
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


def _spawn(
    url: str, schema: str | None, server: FakeServer, wid: str, args: argparse.Namespace, transport: str
) -> Any:
    cmd = [
        sys.executable,
        "-m",
        "bench.scheduler",
        "worker",
        "--db",
        url,
        "--schema",
        schema or "",
        "--platform-url",
        server.url,
        "--worker-id",
        wid,
        "--in-flight",
        str(args.in_flight),
        "--batch",
        str(args.batch),
        "--poll",
        str(args.poll),
        "--transport",
        transport,
        "--connections",
        str(args.connections),
        "--latency",
        str(args.latency),
    ]
    if args.profile:
        cmd += ["--profile", f"{args.profile}.{wid}"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)


async def scenario(
    name: str,
    kind: str,
    workers: int,
    server: FakeServer,
    args: argparse.Namespace,
    *,
    paced_rate: float = 0,
    transport: str | None = None,
) -> Result:
    transport = transport or args.transport
    url, schema = await _database(kind)
    engine = make_engine(url, schema=schema)
    await migrate(engine)
    sessions = session_factory(engine)
    procs = [_spawn(url, schema, server, f"{name}-w{i + 1}", args, transport) for i in range(workers)]
    try:
        for proc in procs:
            ready = await asyncio.to_thread(proc.stdout.readline)
            if ready.strip() != "READY":
                raise SystemExit(f"worker did not start: {ready!r}")
        before = server.stats()
        start = datetime.now(UTC) + timedelta(seconds=args.lead)
        if paced_rate:
            # Due evenly from ``start`` on, in chunks, so the queue never holds a backlog.
            per = 50
            for i in range(0, args.posts, per):
                await seed_posts(sessions, count=per, run_at=start + timedelta(seconds=i / paced_rate))
        else:
            await seed_posts(sessions, count=args.posts, run_at=start)
        if datetime.now(UTC) > start:
            print(f"  note: queueing took longer than the {args.lead}s lead", flush=True)
        await asyncio.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
        cpu0 = (_proc_cpu(server.proc.pid), _postgres_cpu(), _machine())
        deadline = time.monotonic() + args.timeout
        published = 0
        while time.monotonic() < deadline:
            async with sessions() as session:
                published = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(ScheduledPost)
                        .where(ScheduledPost.status == "published")
                    )
                    or 0
                )
            if published >= args.posts:
                break
            await asyncio.sleep(0.25)
        load = os.getloadavg()
        cpu1 = (_proc_cpu(server.proc.pid), _postgres_cpu(), _machine())
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(ScheduledPost.run_at, ScheduledPost.published_at).where(
                        ScheduledPost.published_at.is_not(None)
                    )
                )
            ).all()
        after = server.stats()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        stats = []
        for proc in procs:
            try:
                out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out = ""
            for line in out.splitlines():
                if line.startswith("STATS "):
                    stats.append(json.loads(line[6:]))
        await engine.dispose()
        await _drop(url, schema)
    done = [(r, p) for r, p in rows if p is not None]
    if args.dump:
        with open(f"{args.dump}.{name.replace(' ', '_').replace('/', '')}.csv", "w") as out:  # noqa: ASYNC230
            out.writelines(f"{r.timestamp():.6f},{p.timestamp():.6f}\n" for r, p in sorted(done))
    lateness = [(p - r).total_seconds() for r, p in done]
    last = max((p for _, p in done), default=start)
    first_due = min((r for r, _ in done), default=start)
    if transport == "none":
        # No platform to count at: a post handled twice would be announced twice.
        duplicates = sum(w.get("notified", 0) for w in stats) - len(done)
    else:
        duplicates = (after["replays"] - before["replays"]) + (
            (after["requests"] - before["requests"]) - (after["created"] - before["created"])
        )
    return Result(
        name=name,
        workers=workers,
        posts=args.posts,
        published=len(rows),
        seconds=(last - first_due).total_seconds(),
        lateness=lateness,
        duplicates=duplicates,
        worker_stats=stats,
        load=load,
        server_cpu=cpu1[0] - cpu0[0],
        postgres_cpu=cpu1[1] - cpu0[1],
        machine_busy=(cpu1[2][0] - cpu0[2][0]) / max(1e-9, cpu1[2][1] - cpu0[2][1]),
    )


async def orchestrate(args: argparse.Namespace) -> None:
    server = FakeServer(args.latency)
    print(
        f"scheduler bench: {args.posts} posts over {len(PLATFORMS)} platforms, platform latency "
        f"{args.latency * 1000:.0f} ms on {server.url}, in-flight {args.in_flight}/worker, "
        f"client transport {args.transport}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results: dict[str, Result] = {}
    # "floor": the same worker with HTTP taken out (--transport none), run here so that the HTTP
    # client's share of a worker's cost is measured on the same machine in the same minute.
    compare = [t for t in args.compare if t not in (args.transport, "none")]
    plan = [
        ("pg1", "postgres", 1, args.transport),
        ("floor", "postgres", 1, "none"),
        *((f"pg1 {t}", "postgres", 1, t) for t in compare),
        ("pg2", "postgres", 2, args.transport),
        ("sqlite1", "sqlite", 1, args.transport),
    ]
    try:
        for key, kind, workers, transport in plan:
            if args.only and key.split()[0] not in args.only:
                continue
            if key == "floor" and args.transport == "none":
                continue
            label = f"{kind} x{workers} backlog " + ("no-HTTP" if transport == "none" else transport)
            result = await scenario(label, kind, workers, server, args, transport=transport)
            results[key] = result
            print(result.line(), flush=True)
            for w in result.worker_stats:
                print(f"    {json.dumps(w)}", flush=True)
        if args.paced and (not args.only or "paced" in args.only):
            result = await scenario(
                f"postgres x1 paced {args.paced:.0f}/s", "postgres", 1, server, args, paced_rate=args.paced
            )
            results["paced"] = result
            print(result.line(), flush=True)
    finally:
        server.close()
    ratio = None
    if "pg1" in results and "pg2" in results and results["pg1"].rate:
        ratio = results["pg2"].rate / results["pg1"].rate
        print(f"2-worker/1-worker ratio (PostgreSQL): {ratio:.2f}x")
    http_ratio = None
    if "floor" in results and results["floor"].rate:
        floor = results["floor"]
        print(f"cost per post, one worker (PostgreSQL), against {floor.rate:.0f} posts/s with no HTTP:")
        for key, label in [("pg1", args.transport), *((f"pg1 {t}", t) for t in compare)]:
            if key not in results:
                continue
            through = results[key]
            ratio_to_floor = through.rate / floor.rate
            if key == "pg1":
                http_ratio = ratio_to_floor
            cpu, bare = through.cpu_per_post_ms, floor.cpu_per_post_ms
            print(
                f"  {label:<14} {through.rate:6.0f} posts/s, ratio {ratio_to_floor:.2f}; worker CPU "
                f"{cpu:.2f} ms/post vs {bare:.2f} (HTTP client {max(0.0, cpu - bare) / cpu:.0%} of it)"
            )
    print("targets:")
    if "pg1" in results:
        rate = results["pg1"].rate
        print(f"  >= 500 posts/s on one worker (PostgreSQL): {rate:.0f} {_ok(rate >= 500)}")
    if http_ratio is not None:
        print(f"  through HTTP >= 0.5x the no-HTTP floor: {http_ratio:.2f}x {_ok(http_ratio >= 0.5)}")
    if "paced" in results:
        p99 = results["paced"].pct(0.99)
        print(f"  lateness p99 < 1 s (paced {args.paced:.0f}/s): {p99:.3f}s {_ok(p99 < 1)}")
    if ratio is not None:
        print(f"  2 workers >= 1.8x one worker: {ratio:.2f}x {_ok(ratio >= 1.8)}")
    dups = sum(r.duplicates for r in results.values())
    print(f"  duplicates 0: {dups} {_ok(dups == 0)}")


TRANSPORTS = ["httpx", "httpx-aiohttp", "httpx-pool", "none"]


def _ok(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description="postbot scheduler benchmark")
    sub = parser.add_subparsers(dest="mode")
    w = sub.add_parser("worker")
    w.add_argument("--db", required=True)
    w.add_argument("--schema", default="")
    w.add_argument("--platform-url", required=True)
    w.add_argument("--worker-id", required=True)
    w.add_argument("--in-flight", type=int, default=SchedulerSettings().max_in_flight)
    w.add_argument("--batch", type=int, default=100)
    w.add_argument("--poll", type=float, default=0.5)
    w.add_argument("--profile", default="")
    w.add_argument("--transport", default="httpx")
    w.add_argument("--connections", type=int, default=0)
    w.add_argument("--latency", type=float, default=0.05)
    for p in (parser,):
        p.add_argument("--posts", type=int, default=10_000)
        p.add_argument("--latency", type=float, default=0.05)
        p.add_argument("--in-flight", type=int, default=SchedulerSettings().max_in_flight)
        p.add_argument("--batch", type=int, default=100)
        p.add_argument("--poll", type=float, default=0.5)
        p.add_argument("--lead", type=float, default=4.0, help="seconds between queueing and due time")
        p.add_argument("--timeout", type=float, default=120.0, help="per scenario")
        p.add_argument("--paced", type=float, default=0.0, help="also: 1 worker, posts due at this rate")
        p.add_argument("--connections", type=int, default=0, help="per platform client (0: auto)")
        p.add_argument("--dump", default="", help="write run_at,published_at per post to PREFIX.<run>.csv")
        p.add_argument("--only", nargs="*", default=[], help="pg1 floor pg2 sqlite1 paced")
        p.add_argument("--profile", default="", help="cProfile each worker into PREFIX.<worker>")
        p.add_argument(
            "--transport",
            choices=TRANSPORTS,
            default="httpx",
            help="publisher transport",
        )
        p.add_argument(
            "--compare",
            nargs="*",
            choices=TRANSPORTS,
            default=["httpx-aiohttp", "httpx-pool"],
            help="also run the one-worker PostgreSQL backlog through these (none: only --transport)",
        )
    args = parser.parse_args()
    if args.mode == "worker":
        worker_main(args)
    else:
        asyncio.run(orchestrate(args))


if __name__ == "__main__":
    main()
