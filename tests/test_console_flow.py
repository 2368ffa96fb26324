"""End to end through the console adapter: typed command → queue → scheduler → sandbox post → reply."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from adapters.console.commands import ConsoleAdapter, ConsoleNotifier, split_file_option
from bot.wiring import App, build_app
from core.config import Settings
from core.db.models import ScheduledPost
from core.domain import ChatKind
from core.store.queue import next_due_at
from tests.conftest import Database


async def _app(settings: Settings, db: Database, out: list[str], worker: str = "w1") -> App:
    app = await build_app(settings, schema=db.schema, worker_id=worker)
    app.notifier.register(ChatKind.CONSOLE, ConsoleNotifier(out.append))
    return app


async def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def _count_posts(app: App) -> int:
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ScheduledPost)) or 0)


def _sandbox_records(settings: Settings) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(settings.platform_dir("sandbox").glob("*/post.json"))]


async def test_schedule_a_second_ahead_publishes_to_sandbox(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    # Polling once a minute: a post out within the wait below was sent by the wake-up at its time.
    scheduler = settings.scheduler.model_copy(update={"poll_interval_s": 60.0})
    app = await _app(settings.model_copy(update={"scheduler": scheduler}), db, out)
    try:
        await app.start_scheduler()
        # The answer is worded on the console's clock when it is written, and a loaded machine can
        # take longer than the second to import, check and queue the video: by then the post is
        # due and the answer rightly says "Publishing … now". Read as of the moment it was typed.
        typed = datetime.now(UTC)
        console = ConsoleAdapter(app.postbot, user="ana", clock=lambda: typed)
        reply = await console.handle(f"/schedule in 1 second sandbox Hello world #launch --file {clip}")
        assert reply.startswith("Scheduled clip.mp4 for Sandbox at "), reply
        assert "#1 Sandbox" in reply

        await _wait_for(lambda: any(line.startswith("Published #1") for line in out))
        records = _sandbox_records(settings)
        assert len(records) == 1
        assert records[0]["caption"] == "Hello world #launch"
        folder = next(settings.platform_dir("sandbox").iterdir())
        assert (folder / "clip.mp4").read_bytes() == clip.read_bytes()

        async with app.sessions() as session:
            post = (await session.execute(select(ScheduledPost))).scalar_one()
        assert post.status == "published"
        assert post.remote_id == "sandbox-1"
        # Not early, and woken for (the poll would have taken a minute). How soon after its time
        # is not asked: under load the import, publish and bookkeeping alone took 4 s.
        assert post.published_at is not None and post.published_at >= post.run_at
        assert (post.published_at - max(post.run_at, post.created_at)).total_seconds() < 60
        assert "The queue is empty." in await console.handle("/queue")
    finally:
        await app.close()


async def test_queue_and_cancel(settings: Settings, db: Database, clip: Path) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        await app.start_scheduler()
        console = ConsoleAdapter(app.postbot, user="ana")
        reply = await console.handle(f"/schedule tomorrow 6pm sandbox Launch day --file {clip}")
        # The reply offers the core's three best alternative slots, in the user's zone, with reasons.
        offered = reply.split("Suggested slots (move with /reschedule <id> <when>):\n", 1)[1].splitlines()
        assert len(offered) == 3 and all(line.startswith("Sandbox: ") for line in offered), reply
        assert all("Europe/Berlin · " in line for line in offered), reply
        queue = await console.handle("/queue")
        assert "#1 Sandbox" in queue and "18:00 Europe/Berlin" in queue and "Launch day" in queue
        suggested = (await console.handle("/suggest sandbox")).splitlines()
        assert len(suggested) == 3 and all(line.startswith("Sandbox: ") for line in suggested), suggested
        assert await console.handle("/cancel 1") == "Cancelled #1 (Sandbox)."
        assert "already cancelled" in await console.handle("/cancel 1")
        assert "no post #7" in await console.handle("/cancel 7")
        assert await console.handle("/queue") == "The queue is empty."
    finally:
        await app.close()


async def test_post_now_publishes_immediately(settings: Settings, db: Database, clip: Path) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        await app.start_scheduler()
        console = ConsoleAdapter(app.postbot, user="ana")
        await console.handle(f"/post sandbox Right now --file {clip}")
        await _wait_for(lambda: any(line.startswith("Published #1") for line in out), timeout=5)
        assert _sandbox_records(settings)[0]["caption"] == "Right now"
    finally:
        await app.close()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/schedule blorp glorp sandbox Hi --file {clip}", "couldn't read 'blorp glorp' as a time"),
        ("/schedule yesterday 6pm sandbox Hi --file {clip}", "in the past"),
        ("/schedule tomorrow 6pm myspace,yt Hi --file {clip}", "Unknown platform 'myspace'"),
        ("/schedule tomorrow 6pm Hi there --file {clip}", "Unknown platform 'Hi'"),
        (
            "/schedule tomorrow 6pm sandbox Hi --file /nonexistent/clip.mp4",
            "No file at /nonexistent/clip.mp4",
        ),
        ("/schedule tomorrow 6pm sandbox Hi", "No video to post."),
        # The console has no channel to share a video in: it names its own flags.
        ("/post sandbox Hi", "Give it with --file <path> or --url <link>"),
        ("/post sandbox Hi --file", "Give it with --file <path> or --url <link>"),
        ("/cancel", "Which post? Use the number shown by /queue"),
        ("/post sandbox Hi --file {folder}", "is a folder, not a video file"),
        ("/reschedule", "Which post? Use the number shown by /queue"),
        ("/schedule tomorrow 6pm sandbox Hi --file {text}", "is not a video"),
        ("/schedule tomorrow 6pm youtube Hi --file {clip}", "no YouTube account linked"),
    ],
)
async def test_bad_input_is_explained_and_queues_nothing(
    settings: Settings, db: Database, clip: Path, tmp_path: Path, command: str, expected: str
) -> None:
    text_file = tmp_path / "notes.mp4"
    text_file.write_text("not a video at all")
    app = await _app(settings, db, [])
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        reply = await console.handle(command.format(clip=clip, text=text_file, folder=tmp_path))
        assert reply.startswith("✗ "), reply
        assert expected in reply, reply
        assert await _count_posts(app) == 0
    finally:
        await app.close()


def test_file_option_is_split_from_the_caption() -> None:
    assert split_file_option("tomorrow yt Hello --file clip.mp4") == ("tomorrow yt Hello", "clip.mp4")
    assert split_file_option("yt a --file 'my clip.mp4' b") == ("yt a b", "my clip.mp4")
    assert split_file_option("yt no file") == ("yt no file", None)


async def test_timezone_sets_how_times_are_read(settings: Settings, db: Database, clip: Path) -> None:
    app = await _app(settings, db, [])
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        assert (
            await console.handle("/timezone new york") == "Times are now read and shown in America/New_York."
        )
        assert "I don't know the time zone 'Mars'" in await console.handle("/timezone Mars")
        reply = await console.handle(f"/schedule tomorrow 6pm sandbox Hi --file {clip}")
        assert "18:00 America/New_York" in reply, reply
        async with app.sessions() as session:
            post = (await session.execute(select(ScheduledPost))).scalar_one()
        assert post.run_at.astimezone(ZoneInfo("America/New_York")).hour == 18
    finally:
        await app.close()


async def test_a_post_id_that_is_not_plain_digits_gets_a_message(settings: Settings, db: Database) -> None:
    """'²' and '٣' pass str.isdigit(); the one post-id reader takes ASCII digits only and says so."""
    app = await _app(settings, db, [])
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        for typed in ("²", "٣", "##4", "4x"):
            reply = await console.handle(f"/cancel {typed}")
            assert reply.startswith(f"✗ '{typed}' is not a post id."), reply
        assert "not a post id" not in await console.handle("/cancel #4")
    finally:
        await app.close()


async def test_pause_holds_due_posts_queued_and_resume_publishes_them(
    settings: Settings, db: Database, clip: Path
) -> None:
    out: list[str] = []
    app = await _app(settings, db, out)
    try:
        await app.start_scheduler()
        console = ConsoleAdapter(app.postbot, user="ana")
        paused = await console.handle("/pause sandbox")
        assert paused.startswith("Publishing to Sandbox is paused."), paused
        reply = await console.handle(f"/post sandbox Held back --file {clip}")
        assert "#1 Sandbox" in reply
        # Due at once, and several scheduler rounds (wake-up and polls) pass over it.
        await app.runner.tick()
        await asyncio.sleep(0.5)
        await app.runner.tick()
        async with app.sessions() as session:
            post = (await session.execute(select(ScheduledPost))).scalar_one()
        assert (post.status, post.attempts, post.last_error) == ("queued", 0, None)
        assert out == [] and _sandbox_records(settings) == []
        assert "#1 Sandbox" in (queue := await console.handle("/queue")) and "paused" in queue, queue
        # The scheduler is not woken for a held post (a past due time would wake it again at once).
        async with app.sessions() as session:
            assert await next_due_at(session) is None

        assert "was already paused" in await console.handle("/pause sandbox")
        resumed = await console.handle("/resume")
        assert resumed == "Publishing to all platforms resumed. 1 due post(s) start now.", resumed
        await _wait_for(lambda: any(line.startswith("Published #1") for line in out))
        assert len(_sandbox_records(settings)) == 1
        assert "was not paused" in await console.handle("/resume")
    finally:
        await app.close()


async def test_pause_and_resume_are_for_admins(settings: Settings, db: Database) -> None:
    from dataclasses import replace

    app = await _app(settings, db, [])
    try:
        console = ConsoleAdapter(app.postbot, user="ana")
        console.ctx = replace(console.ctx, is_admin=False)
        assert (await console.handle("/pause")).startswith("✗ Only an admin can pause publishing.")
        assert (await console.handle("/resume")).startswith("✗ Only an admin can resume publishing.")
        console.ctx = replace(console.ctx, is_admin=True)
        assert (await console.handle("/pause tiktok")).startswith("Publishing to TikTok is paused.")
        assert (await console.handle("/pause myspace")).startswith("✗ I don't know the platform 'myspace'.")
    finally:
        await app.close()


async def test_status_shows_each_platform_queue_success_rate_breaker_and_last_errors(
    settings: Settings, db: Database, clip: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    app = await _app(settings, db, [])
    try:
        await app.start_scheduler()
        console = ConsoleAdapter(app.postbot, user="ana")
        assert "Nothing queued" in await console.handle("/status")
        for when in ("tomorrow 6pm", "in 2 days", "in 3 days", "in 4 days"):
            await console.handle(f"/schedule {when} sandbox Launch --file {clip}")
        # Two of them ended in the last day (one published, one failed), one long ago.
        async with app.sessions.begin() as session:
            now = datetime.now(UTC)
            ended = {2: ("published", None, now), 3: ("failed", "Sandbox folder is full", now)}
            ended[4] = ("failed", "an old failure", now - timedelta(days=2))
            for post_id, (status, error, at) in ended.items():
                await session.execute(
                    update(ScheduledPost)
                    .where(ScheduledPost.id == post_id)
                    .values(status=status, last_error=error, updated_at=at)
                )
        for _ in range(settings.scheduler.breaker_threshold):
            await app.processor.breakers.record_failure(("sandbox", None))
        await console.handle("/pause sandbox")
        text = await console.handle("/status")
        [line] = [x for x in text.splitlines() if x.startswith("Sandbox:")]
        assert "1 queued · 0 in flight · next " in line, line
        assert "24 h: 50% of 2 succeeded" in line and "breaker open" in line and "PAUSED" in line
        assert "Last errors:" in text
        assert "#3 Sandbox" in text and "Sandbox folder is full" in text
        assert text.index("  Sandbox:") < text.index("#3 Sandbox") < text.index("#4 Sandbox")
        # This process's scheduler beats: one worker alive. No YouTube upload yet today.
        assert "Workers: 1 alive, 0 post(s) in flight: " in text
        assert "YouTube quota today: 0 of 100 uploads (0%; resets at midnight Pacific time" in text

        # An upload that reached YouTube today is one of the project's 100 videos.insert calls a day
        # (their own bucket since Google's quota change), whichever team made it; a failure before
        # any attempt costs nothing. The failure is listed under its own platform.
        async with app.sessions.begin() as session:
            await session.execute(
                update(ScheduledPost)
                .where(ScheduledPost.id == 2)
                .values(platform="youtube", published_at=now, run_at=now - timedelta(minutes=1))
            )
            await session.execute(
                update(ScheduledPost)
                .where(ScheduledPost.id == 4)
                .values(platform="youtube", updated_at=now, attempts=0, run_at=now - timedelta(minutes=1))
            )
        text = await console.handle("/status")
        assert "YouTube quota today: 1 of 100 uploads (1%" in text
        errors = text[text.index("Last errors:") :].splitlines()
        assert (
            errors[1:]
            == [
                "  YouTube:",
                errors[2],
                "  Sandbox:",
                errors[4],
            ]
            and "#4 YouTube" in errors[2]
            and "#3 Sandbox" in errors[4]
        )

        # With no scheduler anywhere, status says nothing is publishing.
        await app.heartbeats.stopped(app.processor.worker_id, completed=0)
        await app.runner.stop()
        assert "Workers: none seen in the last" in await console.handle("/status")
    finally:
        await app.close()
