"""The `postbot` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from core.config import Settings, load_settings
from core.errors import ConfigError
from core.logs import log_file, setup_logging

log = logging.getLogger("postbot")


async def _migrate(settings: Settings) -> None:
    from core.db.engine import make_engine, migrate

    engine = make_engine(settings.database_url)
    await migrate(engine)
    await engine.dispose()
    print("database is at the newest schema")


async def _worker(settings: Settings) -> None:
    from bot.runtime import run_worker

    await run_worker(settings)


async def _web(settings: Settings) -> None:
    from bot.runtime import run_web

    await run_web(settings)


async def _slack(settings: Settings) -> None:
    from bot.runtime import run_slack

    await run_slack(settings)


async def _discord(settings: Settings) -> None:
    from bot.runtime import run_discord

    await run_discord(settings)


async def _console(settings: Settings) -> None:
    from bot.runtime import run_console

    await run_console(settings)


async def _rotate_key(settings: Settings) -> None:
    from core.accounts.rotation import run_rotate_key

    await run_rotate_key(settings)


async def _media_gc(settings: Settings) -> None:
    """Delete stored videos past retention now, instead of waiting for the periodic job."""
    from bot.wiring import build_app

    app = await build_app(settings)
    try:
        done = await app.collect_media()
        left = await app.blobs.stored_bytes()
    finally:
        await app.close()
    print(
        f"deleted {len(done.keys)} video(s), {done.bytes_freed / 1e6:.1f} MB freed; "
        f"{left / 1e6:.1f} MB stored (retention {settings.media.retention_days:g} days)"
        + (f"; {done.errors} could not be deleted (see the log), retried next time" if done.errors else "")
    )


MEDIA_ACTIONS: dict[str, tuple[str, Callable[[Settings], Coroutine[Any, Any, None]]]] = {
    "gc": ("delete stored videos whose posts all finished more than media.retention_days ago", _media_gc),
}


COMMANDS: dict[str, tuple[str, Callable[[Settings], Coroutine[Any, Any, None]]]] = {
    "console": ("chat with postbot at a local prompt, scheduler included", _console),
    "worker": ("run the scheduler that publishes due posts", _worker),
    "migrate": ("upgrade the database schema", _migrate),
    "rotate-key": ("re-encrypt every stored token under the current vault secret", _rotate_key),
    "slack": ("run the Slack bot (Socket Mode or HTTP per slack.mode), scheduler included", _slack),
    "discord": ("run the Discord bot, scheduler included", _discord),
    "web": ("serve OAuth pages, /health and /metrics (and Slack, when configured)", _web),
}


def _sample_video(args: argparse.Namespace) -> int:
    """Write a short real clip (H.264/AAC MP4 that every platform takes): a newcomer's first video."""
    from core.media.sample import ClipSpec, encode_clip

    try:
        width, height = (int(n) for n in args.size.lower().split("x", 1))
    except ValueError:
        print(f"postbot: --size wants WIDTHxHEIGHT, like 1080x1920, not {args.size!r}", file=sys.stderr)
        return 2
    if not (2 <= width <= 4096 and 2 <= height <= 4096 and 0.5 <= args.seconds <= 600):
        print("postbot: sizes go up to 4096x4096 and lengths from 0.5 s to 600 s", file=sys.stderr)
        return 2
    spec = ClipSpec(duration_s=args.seconds, width=width - width % 2, height=height - height % 2)
    path = encode_clip(args.path, spec)
    print(f"wrote {path} ({spec.width}x{spec.height}, {spec.duration_s:g} s, H.264/AAC MP4)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postbot", description="Schedule video posts from chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        sub.add_parser(name, help=help_text)
    sample = sub.add_parser("sample-video", help="write a short real video to try postbot with")
    sample.add_argument("path", help="where to write it, e.g. clip.mp4")
    sample.add_argument("--seconds", type=float, default=5.0, help="length (default 5)")
    sample.add_argument("--size", default="1080x1920", help="WIDTHxHEIGHT (default 1080x1920, vertical)")
    media = sub.add_parser("media", help="manage stored videos").add_subparsers(dest="action", required=True)
    for name, (help_text, _) in MEDIA_ACTIONS.items():
        media.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    if args.command == "sample-video":
        return _sample_video(args)
    try:
        settings = load_settings()
        quiet = args.command == "console"
        setup_logging(
            "WARNING" if quiet else settings.log_level,
            json_output=settings.log_json,
            file=log_file(settings.log_file),
        )
        run = MEDIA_ACTIONS[args.action][1] if args.command == "media" else COMMANDS[args.command][1]
        asyncio.run(run(settings))
    except ConfigError as exc:
        print(f"postbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
