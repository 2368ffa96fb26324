"""The processor's Prometheus metrics move with what it does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from core.config import SchedulerSettings, Settings
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.scheduler_support import worker


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _snapshot() -> dict[str, float]:
    return {
        "published": _sample("postbot_posts_processed_total", platform="youtube", outcome="published"),
        "failed": _sample("postbot_posts_processed_total", platform="instagram", outcome="failed"),
        "retried": _sample("postbot_posts_processed_total", platform="x", outcome="retried"),
        "late_count": _sample("postbot_post_lateness_seconds_count", platform="youtube"),
        "late_2s": _sample("postbot_post_lateness_seconds_bucket", platform="youtube", le="2.0"),
        "late_5s": _sample("postbot_post_lateness_seconds_bucket", platform="youtube", le="5.0"),
        "publish_count": _sample("postbot_publish_duration_seconds_count", platform="x"),
    }


async def test_counters_lateness_and_in_flight(db: Database, settings: Settings) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("instagram", Scripted(400, "invalid", "bad caption"))
    fake.script("x", Scripted(503, "down", "down", headers={"Retry-After": "60"}))
    before = _snapshot()
    sched = SchedulerSettings(lease_s=5, batch_size=10, max_in_flight=10)
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=sched) as w:
            # Three seconds late on purpose: lands in the (2, 5] lateness bucket.
            late = datetime.now(UTC) - timedelta(seconds=3)
            await seed_posts(w.sessions, count=3, run_at=late, platforms=("youtube", "instagram", "x"))
            assert await w.processor.run_due() == 3
    finally:
        await fake.stop()
    after = _snapshot()
    delta = {k: after[k] - before[k] for k in before}
    assert delta == {
        "published": 1,
        "failed": 1,
        "retried": 1,
        "late_count": 1,
        "late_2s": 0,
        "late_5s": 1,
        "publish_count": 1,
    }
    assert _sample("postbot_posts_in_flight") == 0
