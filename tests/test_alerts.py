"""Alerts about a failing platform, through the real processor, the real slack_sdk and the fake Slack."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from adapters.console.commands import ConsoleNotifier
from adapters.slack.notifier import SlackNotifier
from bot.wiring import build_app
from core.alerts import Alerter, AlertGate, LocalGate
from core.config import AlertSettings, SchedulerSettings, Settings
from core.db.engine import make_engine, migrate, session_factory
from core.domain import ChatKind, Platform
from core.notify import NotifierRouter
from core.store.alerts import AlertGates
from tests.conftest import Database
from tests.fakes.bench_platform import FakePlatform, Scripted, seed_posts
from tests.fakes.slack_api import FakeSlack
from tests.scheduler_support import rows, worker

OPS, ADMIN = "C0OPS", "U0ADMIN"
# Three transient failures open the breaker for a moment; enough attempts that a post never fails.
SCHEDULER = SchedulerSettings(
    lease_s=5,
    batch_size=10,
    max_in_flight=1,
    max_attempts=20,
    backoff_base_s=0.02,
    backoff_max_s=0.05,
    breaker_threshold=3,
    breaker_open_s=0.3,
)


async def _publish_all(w, fake: FakePlatform) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(20):
        while any(r.status != "published" for r in await rows(w.sessions)):
            await w.processor.run_due()
            await asyncio.sleep(0.02)


async def test_a_failing_platform_raises_one_alert_and_one_recovery(db: Database, settings: Settings) -> None:
    fake = FakePlatform()
    url = await fake.start()
    # Down for five requests: three open the breaker, a probe fails and reopens it, one more fails.
    fake.script("youtube", *[Scripted(503, "backend_error", "Backend Error") for _ in range(5)])
    async with FakeSlack() as slack:
        slack.add_channel(OPS, "ops")
        router = NotifierRouter()
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        router.register(ChatKind.SLACK, SlackNotifier(web))
        alerter = Alerter(
            AlertSettings(slack_channel=OPS, min_attempts=3, failure_rate=0.5),
            router,
            channels={ChatKind.SLACK: OPS},
            admins={},
        )
        try:
            async with worker(db, settings, url, worker_id="w", scheduler=SCHEDULER) as w:
                w.processor.alerter = alerter
                await seed_posts(
                    w.sessions, count=4, run_at=datetime.now(UTC), platforms=("youtube",), chat="slack"
                )
                await _publish_all(w, fake)
                await alerter.drain()
        finally:
            await fake.stop()
        said = [m["text"] for m in slack.posted(OPS)]
    assert len(said) == 2, said
    alert, recovery = said
    assert alert.startswith(":warning: YouTube is failing: 3 of the last 3 attempts failed")
    assert "circuit breaker is open" in alert
    assert recovery == ":white_check_mark: YouTube works again: posts are going out."
    assert fake.stats()["created"] == 4


async def test_alerts_go_to_the_admins_by_dm_without_an_ops_channel(db: Database, settings: Settings) -> None:
    fake = FakePlatform()
    url = await fake.start()
    fake.script("x", *[Scripted(502, "bad_gateway", "upstream unavailable") for _ in range(3)])
    async with FakeSlack() as slack:
        slack.add_user(ADMIN, "ops-admin")
        router = NotifierRouter()
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_base_url)
        router.register(ChatKind.SLACK, SlackNotifier(web))
        alerter = Alerter(AlertSettings(), router, channels={}, admins={ChatKind.SLACK: [ADMIN]})
        try:
            async with worker(db, settings, url, worker_id="w", scheduler=SCHEDULER) as w:
                w.processor.alerter = alerter
                await seed_posts(
                    w.sessions, count=2, run_at=datetime.now(UTC), platforms=("x",), chat="slack"
                )
                await _publish_all(w, fake)
                await alerter.drain()
        finally:
            await fake.stop()
        dms = [m["text"] for m in slack.posted(slack.ims[ADMIN])]
    assert [d.split(":")[1] for d in dms] == ["warning", "white_check_mark"], dms
    assert dms[0].startswith(":warning: X is failing")


async def test_two_wired_processes_announce_an_outage_once(db: Database, settings: Settings) -> None:
    """Two processes built by bot/wiring.py on one database both see YouTube fail: one alert and one
    recovery between them, and each process's operations watch speaks through that same gated
    alerter. Mutation (issue 29): the wiring giving the alerter a per-process gate (every worker
    announcing) passed, because every other test hands the database's gates to an alerter itself."""
    said: list[str] = []
    apps = [await build_app(settings, schema=db.schema, worker_id=f"w{i}") for i in (1, 2)]
    try:
        alerters = []
        for app in apps:
            app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(said.append))
            assert app.processor.alerter is not None and app.watch is not None
            assert app.watch.alerter is app.processor.alerter
            alerters.append(app.processor.alerter)
        for alerter in alerters:
            alerter.observe(ChatKind.CONSOLE, "T1", Platform.YOUTUBE, ok=False, breaker_open=True)
        await asyncio.gather(*(a.drain() for a in alerters))
        assert len(said) == 1 and said[0].startswith(":warning: YouTube is failing"), said
        for alerter in alerters:
            alerter.observe(ChatKind.CONSOLE, "T1", Platform.YOUTUBE, ok=True, breaker_open=False)
        await asyncio.gather(*(a.drain() for a in alerters))
        assert said[1:] == [":white_check_mark: YouTube works again: posts are going out."], said
    finally:
        for app in apps:
            await app.close()


# -- Survivors of tools/mutation.py alert-gates (issue 29): the gates and the alerter's use of them.


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_local_gate_opens_once_per_repeat_interval_and_closes_once() -> None:
    """The gate of a lone process: an alert, then none for ``repeat_s`` (counted from the last one,
    even across a recovery), then one again; a recovery only after an alert, once. Mutations: the
    repeat test at or past its edge, the alerting key not kept or not dropped."""
    clock = Clock(100.0)
    gate = LocalGate(clock)
    assert await gate.close("k") is False  # nothing was announced
    assert await gate.open("k", repeat_s=60) is True
    assert await gate.open("other", repeat_s=60) is True  # each key has its own interval
    clock.now = 159.9
    assert await gate.open("k", repeat_s=60) is False
    assert await gate.close("k") is True
    assert await gate.close("k") is False
    assert await gate.open("k", repeat_s=60) is False  # still within the interval of the last alert
    clock.now = 160.0
    assert await gate.open("k", repeat_s=60) is True
    assert await gate.close("k") is True


def _console_alerter(said: list[str], gate: AlertGate, **settings: float) -> Alerter:
    router = NotifierRouter()
    router.register(ChatKind.CONSOLE, ConsoleNotifier(said.append))
    return Alerter(
        AlertSettings(**settings),  # type: ignore[arg-type]
        router,
        channels={ChatKind.CONSOLE: "ops"},
        admins={},
        gate=gate,
    )


async def test_an_unreachable_gate_speaks_anyway_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Better the same alert twice than an outage nobody hears of. Mutations: the warning's message or
    traceback dropped."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")  # no alert_gates table
    said: list[str] = []
    try:
        alerter = _console_alerter(said, AlertGates(session_factory(engine)))
        with caplog.at_level(logging.WARNING, logger="core.alerts"):
            alerter.observe(ChatKind.CONSOLE, "T1", Platform.YOUTUBE, ok=False, breaker_open=True)
            await alerter.drain()
        assert len(said) == 1 and said[0].startswith(":warning: YouTube is failing")
        [record] = caplog.records
        assert record.getMessage() == "the alert gate is unreachable; speaking anyway"
        assert record.exc_info and record.exc_info[0] is not None  # a traceback, not just True
    finally:
        await engine.dispose()


async def test_the_database_gate_is_keyed_by_chat_team_and_platform(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes' alerters on one database: one alert and one recovery between them, the gate's
    row named ``chat:team:platform``, and another team's or platform's outage a gate of its own; once
    ``repeat_s`` has passed, a new outage is announced again. The quiet process logs that another
    speaks, with the alert it did not send. Mutations: the key built otherwise (every team sharing
    one gate, or a gate per process), the gate's ``repeat_s`` not passed (None: no second alert ever),
    the quiet path's log or its ``alert`` field."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gates.db'}")
    said: list[str] = []
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        alerters = [_console_alerter(said, AlertGates(sessions), repeat_s=0.3) for _ in range(2)]
        with caplog.at_level(logging.INFO, logger="core.alerts"):
            for alerter in alerters:
                alerter.observe(ChatKind.CONSOLE, "T1", Platform.YOUTUBE, ok=False, breaker_open=True)
                await alerter.drain()
        assert len(said) == 1
        assert [r.getMessage() for r in caplog.records] == ["another worker speaks for this platform"]
        assert caplog.records[0].alert == said[0]
        for team, platform in (("T2", Platform.YOUTUBE), ("T1", Platform.TIKTOK)):
            alerters[0].observe(ChatKind.CONSOLE, team, platform, ok=False, breaker_open=True)
            await alerters[0].drain()
        assert len(said) == 3
        for alerter in alerters:
            alerter.observe(ChatKind.CONSOLE, "T1", Platform.YOUTUBE, ok=True, breaker_open=False)
            await alerter.drain()
        assert said[3:] == [":white_check_mark: YouTube works again: posts are going out."]
        await asyncio.sleep(0.35)
        alerters[1].observe(ChatKind.CONSOLE, "T1", Platform.YOUTUBE, ok=False, breaker_open=True)
        await alerters[1].drain()
        assert len(said) == 5 and said[4].startswith(":warning: YouTube is failing")
        async with sessions() as session:
            keys = set((await session.execute(text("SELECT key FROM alert_gates"))).scalars())
        assert keys == {"console:T1:youtube", "console:T2:youtube", "console:T1:tiktok"}
    finally:
        await engine.dispose()
