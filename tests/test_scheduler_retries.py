"""What the processor does with each kind of platform failure, seen through a real HTTP exchange."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.config import PlatformSettings, PlatformsSettings, SchedulerSettings, Settings
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.scheduler_support import rows, worker

FAST = SchedulerSettings(lease_s=5, batch_size=10, max_in_flight=10, backoff_base_s=0.05, backoff_max_s=0.2)


async def test_429_retry_after_sets_the_next_attempt_no_earlier_than_asked(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("x", Scripted(429, "rate_limited", "Too Many Requests", headers={"Retry-After": "30"}))
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=FAST) as w:
            await seed_posts(w.sessions, count=1, run_at=datetime.now(UTC), platforms=("x",))
            before = datetime.now(UTC)
            assert await w.processor.run_due() == 1
            after = datetime.now(UTC)
            [post] = await rows(w.sessions)
            assert await w.processor.run_due() == 0  # not due again for 30 s
    finally:
        await fake.stop()
    assert (post.status, post.attempts, post.claimed_by) == ("queued", 1, None)
    assert post.last_error == "Too Many Requests"
    # Full jitter on this attempt is at most 0.1 s, so the platform's 30 s decides.
    assert before + timedelta(seconds=30) <= post.due_at <= after + timedelta(seconds=30)
    assert w.notifier.results == [] and w.notifier.dms == []


async def test_5xx_is_retried_with_backoff_and_then_publishes_once(db: Database, settings: Settings) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("youtube", Scripted(503, "backend_error", "Backend Error"))
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=FAST) as w:
            await seed_posts(w.sessions, count=1, run_at=datetime.now(UTC), platforms=("youtube",))
            async with asyncio.timeout(5):
                while (await rows(w.sessions))[0].status != "published":
                    await w.processor.run_due()
                    await asyncio.sleep(0.02)
            [final] = await rows(w.sessions)
    finally:
        await fake.stop()
    assert (final.status, final.attempts, final.last_error) == ("published", 2, None)
    assert fake.stats() == {"requests": 2, "created": 1, "replays": 0}
    assert [v.status for v in w.notifier.results] == ["published"]


async def test_attempts_are_bounded_per_platform_and_the_last_error_is_kept(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script(
        "linkedin",
        Scripted(502, "bad_gateway", "upstream unavailable"),
        Scripted(500, "internal", "Internal Server Error (trace 8812)"),
    )
    platforms = PlatformsSettings(linkedin=PlatformSettings(max_attempts=2))
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=FAST, platforms=platforms) as w:
            await seed_posts(w.sessions, count=1, run_at=datetime.now(UTC), platforms=("linkedin",))
            async with asyncio.timeout(5):
                while (await rows(w.sessions))[0].status != "failed":
                    await w.processor.run_due()
                    await asyncio.sleep(0.02)
            [final] = await rows(w.sessions)
    finally:
        await fake.stop()
    assert (final.attempts, final.last_error) == (2, "Internal Server Error (trace 8812)")
    assert fake.stats()["requests"] == 2
    [dm] = w.notifier.dms
    assert dm.last_error == "Internal Server Error (trace 8812)"


async def test_permanent_errors_fail_at_once_with_the_platforms_message(
    db: Database, settings: Settings
) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("instagram", Scripted(400, "invalid_parameter", "The video aspect ratio is not supported"))
    fake.script("tiktok", Scripted(401, "access_token_invalid", "The access token is invalid or expired"))
    fake.script("x", Scripted(403, "forbidden", "You are not permitted to perform this action"))
    try:
        async with worker(db, settings, url, worker_id="w", scheduler=FAST) as w:
            await seed_posts(
                w.sessions, count=3, run_at=datetime.now(UTC), platforms=("instagram", "tiktok", "x")
            )
            assert await w.processor.run_due() == 3
            final = {p.platform: p for p in await rows(w.sessions)}
    finally:
        await fake.stop()
    assert {p: (r.status, r.attempts) for p, r in final.items()} == {
        "instagram": ("failed", 1),
        "tiktok": ("failed", 1),
        "x": ("failed", 1),
    }
    assert final["instagram"].last_error == "The video aspect ratio is not supported"
    assert final["instagram"].error_hint is None
    assert final["tiktok"].last_error == "The access token is invalid or expired"
    assert final["tiktok"].error_hint is not None and "/link" in final["tiktok"].error_hint
    assert final["x"].error_hint is not None and "/link" in final["x"].error_hint
    assert sorted(v.platform.value for v in w.notifier.dms) == ["instagram", "tiktok", "x"]
    assert fake.stats() == {"requests": 3, "created": 0, "replays": 0}


async def test_a_timeout_is_transient(db: Database, settings: Settings) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("tiktok", Scripted(hold=True), Scripted(hold=True))
    platforms = PlatformsSettings(tiktok=PlatformSettings(max_attempts=2))
    try:
        async with worker(
            db, settings, url, worker_id="w", scheduler=FAST, platforms=platforms, http_timeout=0.3
        ) as w:
            await seed_posts(w.sessions, count=1, run_at=datetime.now(UTC), platforms=("tiktok",))
            async with asyncio.timeout(5):
                while (await rows(w.sessions))[0].status != "failed":
                    await w.processor.run_due()
                    await asyncio.sleep(0.02)
            [post] = await rows(w.sessions)
    finally:
        await fake.stop()
    # Retried (a second attempt was made) and only then given up on.
    assert post.attempts == 2 and fake.stats()["requests"] == 2
    assert post.last_error == "network error talking to the platform (ReadTimeout)"
