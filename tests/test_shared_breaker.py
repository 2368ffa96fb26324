"""One circuit breaker for the fleet (issue 16): two workers, each with its own engine and
connections as separate processes have, on one database, against a platform that is down.

The fleet opens the breaker once, sends at most one probe per open period, says so once in the ops
channel (not once per worker) and once more when the platform is back; and /status in a process that
runs no scheduler shows the breaker the workers opened.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.console.commands import ConsoleAdapter
from adapters.slack.notifier import SlackNotifier
from bot.wiring import build_app
from core.alerts import Alerter
from core.config import AlertSettings, SchedulerSettings, Settings
from core.db.engine import make_engine, session_factory
from core.domain import ChatKind
from core.notify import NotifierRouter
from core.scheduler.breaker import Breakers
from core.store.alerts import AlertGates
from core.store.breakers import BreakerStore
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.fakes.slack_api import FakeSlack
from tests.scheduler_support import Worker, rows, worker

OPS = "C0OPS"
THRESHOLD = 3
OPEN_S = 0.8
CACHE_S = 0.1
IN_FLIGHT = 2
SCHEDULER = SchedulerSettings(
    lease_s=10,
    batch_size=4,
    max_in_flight=IN_FLIGHT,
    # Never fail a post for good here: the outage must end in publishes, not in failures.
    max_attempts=100,
    backoff_base_s=0.02,
    backoff_max_s=0.05,
    breaker_threshold=THRESHOLD,
    breaker_open_s=OPEN_S,
    breaker_cache_s=CACHE_S,
)
FAILING = 7


async def _drive(w: Worker) -> None:
    async with asyncio.timeout(40):
        while any(r.status != "published" for r in await rows(w.sessions)):
            await w.processor.run_due()
            await asyncio.sleep(0.02)


async def test_two_workers_open_once_probe_once_per_period_and_alert_once(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.scheduler.processor")
    fake = FakePlatform()
    url = await fake.start()
    fake.script("youtube", *[Scripted(503, "backend_error", "Backend Error") for _ in range(FAILING)])
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        try:
            async with (
                worker(db, settings, url, worker_id="a", scheduler=SCHEDULER) as a,
                worker(db, settings, url, worker_id="b", scheduler=SCHEDULER) as b,
            ):
                alerters = []
                for w in (a, b):
                    # Each worker its own chat client and alerter, as separate processes have.
                    router = NotifierRouter()
                    web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
                    router.register(ChatKind.SLACK, SlackNotifier(web))
                    w.processor.alerter = Alerter(
                        AlertSettings(slack_channel=OPS, min_attempts=THRESHOLD, failure_rate=0.5),
                        router,
                        channels={ChatKind.SLACK: OPS},
                        admins={},
                        gate=AlertGates(w.sessions),
                    )
                    alerters.append(w.processor.alerter)
                await seed_posts(
                    a.sessions, count=12, run_at=datetime.now(UTC), platforms=("youtube",), chat="slack"
                )
                await asyncio.gather(_drive(a), _drive(b))
                for alerter in alerters:
                    await alerter.drain()
        finally:
            await fake.stop()
        said = [m["text"] for m in slack.posted(OPS)]

    opened = [r for r in caplog.records if r.getMessage() == "circuit breaker opened"]
    closed = [r for r in caplog.records if r.getMessage() == "circuit breaker closed"]
    # One outage, so one opening and one closing for the fleet, whichever worker made them.
    assert len(opened) == 1 and len(closed) == 1, (opened, closed)

    arrivals = fake.arrivals["youtube"]
    failed = arrivals[:FAILING]
    # Until the breaker opened and every worker had re-read it, requests already admitted may land:
    # the threshold's, each worker's other in-flight slot, and what a stale read let through.
    settled = failed[THRESHOLD - 1] + CACHE_S + 0.3
    probes = [t for t in failed if t > settled]
    assert probes, "the outage outlasted the first open period: probes were expected"
    # After that only probes reach the platform: at most one per open period, for the whole fleet.
    gaps = [later - earlier for earlier, later in zip([settled, *probes], probes, strict=False)]
    assert all(gap >= OPEN_S * 0.9 for gap in gaps[1:]), gaps
    assert len(failed) - len(probes) <= THRESHOLD + 2 * IN_FLIGHT, arrivals
    # The first request after the outage is the probe that closed it; then everything goes out.
    assert fake.stats()["created"] == 12 and fake.stats()["replays"] == 0

    warnings = [t for t in said if t.startswith(":warning:")]
    recoveries = [t for t in said if t.startswith(":white_check_mark:")]
    assert len(warnings) == 1 and warnings[0].startswith(":warning: YouTube is failing"), said
    assert recoveries == [":white_check_mark: YouTube works again: posts are going out."], said
    assert said.index(warnings[0]) < said.index(recoveries[0])


async def test_status_in_a_process_without_a_scheduler_shows_the_fleets_breaker(
    settings: Settings, db: Database
) -> None:
    app = await build_app(settings, schema=db.schema, worker_id="chat-only")
    # A worker elsewhere: its own engine, its own breakers.
    engine = make_engine(db.url, schema=db.schema)
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        elsewhere = Breakers(
            BreakerStore(session_factory(engine)),
            threshold=settings.scheduler.breaker_threshold,
            open_s=600,
        )
        before = await console.handle("/status")
        assert "breaker open" not in before
        for _ in range(settings.scheduler.breaker_threshold):
            await elsewhere.record_failure(("sandbox", None))
        text = await console.handle("/status")
        [line] = [x for x in text.splitlines() if x.startswith("Sandbox:")]
        assert "breaker open" in line, text
    finally:
        await engine.dispose()
        await app.close()
