"""The `postbot` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import DEFAULT_CONFIG_FILE, Settings, load_settings
from core.errors import ConfigError
from core.logs import log_file, setup_logging

log = logging.getLogger("postbot")


async def _migrate(settings: Settings) -> None:
    from core.db.engine import make_engine, migrate, schema_state

    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            before = await schema_state(conn)
        await migrate(engine)
        async with engine.connect() as conn:
            after = await schema_state(conn)
    finally:
        await engine.dispose()
    head = ", ".join(after.current)
    if set(before.current) == set(after.current):
        print(f"the database was already at the newest schema ({head}); nothing to do")
    else:
        print(f"migrated the database from {', '.join(before.current) or 'empty'} to {head}")


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


@dataclass(frozen=True)
class Command:
    summary: str
    run: Callable[[Settings], Coroutine[Any, Any, None]]
    # What --help says beyond the summary: what it needs to run, and an example.
    needs: str
    example: str


# Stands for the platform that needs no account in the help texts below; _parser() puts its name in
# (the registry knows which one it is).
_TRY = "<no-account platform>"
_DB = "database_url (SQLite postbot.db unless set; PostgreSQL when several processes share the queue)"
COMMANDS: dict[str, Command] = {
    "console": Command(
        "chat with postbot at a local prompt, with the scheduler in the same process",
        _console,
        f"nothing to try it (SQLite, the {_TRY} platform). To link accounts: POSTBOT_SECRET_KEY and "
        f"a platform's client id and secret; the callback comes to web.host:web.port. {_DB}",
        f"postbot console   then:  /post {_TRY} Hello --file clip.mp4",
    ),
    "worker": Command(
        "run the scheduler alone: publish due posts and report them to the chats",
        _worker,
        f"{_DB}; POSTBOT_SECRET_KEY to post to linked accounts; the chats' tokens to report results",
        "postbot worker",
    ),
    "migrate": Command(
        "bring the database schema to this version's newest (the processes also do it at start)",
        _migrate,
        _DB,
        "POSTBOT_DATABASE_URL=postgresql+asyncpg://postbot@db/postbot postbot migrate",
    ),
    "rotate-key": Command(
        "re-encrypt every stored token under the current vault secret",
        _rotate_key,
        "POSTBOT_SECRET_KEY (the new secret) and POSTBOT_VAULT__PREVIOUS_SECRET_KEYS (the old ones)",
        "POSTBOT_VAULT__PREVIOUS_SECRET_KEYS='[\"old\"]' postbot rotate-key",
    ),
    "slack": Command(
        "run the Slack bot (Socket Mode or HTTP per slack.mode) with the scheduler",
        _slack,
        "POSTBOT_SLACK__BOT_TOKEN and, in Socket Mode, POSTBOT_SLACK__APP_TOKEN (HTTP mode: "
        "POSTBOT_SLACK__SIGNING_SECRET); docs/setup/slack.md",
        "POSTBOT_SLACK__BOT_TOKEN=xoxb-… POSTBOT_SLACK__APP_TOKEN=xapp-… postbot slack",
    ),
    "discord": Command(
        "run the Discord bot with the scheduler",
        _discord,
        "POSTBOT_DISCORD__TOKEN; docs/setup/discord.md",
        "POSTBOT_DISCORD__TOKEN=… postbot discord",
    ),
    "web": Command(
        "serve the OAuth pages, /health and /metrics (and Slack's events, when Slack is configured)",
        _web,
        "POSTBOT_SECRET_KEY; web.public_url, the public https address the platforms redirect to",
        "POSTBOT_WEB__PUBLIC_URL=https://postbot.example.com postbot web",
    ),
}


def _sample_video(args: argparse.Namespace) -> int:
    """Write a short real clip (H.264/AAC MP4 that every platform takes): a newcomer's first video."""
    from core.media.sample import ClipSpec, encode_clip

    path = Path(args.path)
    if path.suffix.lower() != ".mp4":
        print(
            f"postbot: sample-video writes an MP4; name the file .mp4 (e.g. {path.with_suffix('.mp4').name})",
            file=sys.stderr,
        )
        return 2
    if not path.parent.is_dir():
        print(f"postbot: no folder {path.parent}/ to write {path.name} into", file=sys.stderr)
        return 2
    try:
        width, height = (int(n) for n in args.size.lower().split("x", 1))
    except ValueError:
        print(f"postbot: --size wants WIDTHxHEIGHT, like 1080x1920, not {args.size!r}", file=sys.stderr)
        return 2
    if not (2 <= width <= 4096 and 2 <= height <= 4096 and 0.5 <= args.seconds <= 600):
        print("postbot: sizes go up to 4096x4096 and lengths from 0.5 s to 600 s", file=sys.stderr)
        return 2
    spec = ClipSpec(duration_s=args.seconds, width=width - width % 2, height=height - height % 2)
    try:
        written = encode_clip(path, spec)
    except OSError as exc:
        print(f"postbot: can't write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {written} ({spec.width}x{spec.height}, {spec.duration_s:g} s, H.264/AAC MP4)")
    return 0


def _init(args: argparse.Namespace) -> int:
    """postbot.toml from config.example.toml, and a fresh vault secret in postbot.env; never overwrites."""
    import secrets

    # bot/config.example.toml links to the clone's copy and is shipped in the package, so init works
    # after `pip install .` as well as in a clone.
    example = Path(__file__).resolve().parent / "config.example.toml"
    config, env = Path(args.config), Path(args.env)
    if not example.is_file():
        print(f"postbot: {example} is missing: reinstall postbot from a clone", file=sys.stderr)
        return 2
    wrote: list[str] = []
    if config.exists():
        print(f"{config} exists: left as it is")
    else:
        config.write_text(example.read_text())
        wrote.append(str(config))
        print(f"wrote {config} (every setting, with the defaults the code uses; edit what you need)")
    if env.exists():
        print(f"{env} exists: left as it is (it holds your secret key)")
    else:
        # Secrets never go in postbot.toml (it is refused there): a file only its owner reads.
        line = f"POSTBOT_SECRET_KEY={secrets.token_urlsafe(32)}\n"
        fd = os.open(env, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(line)
        wrote.append(str(env))
        print(f"wrote {env} with a fresh POSTBOT_SECRET_KEY (readable by you only); load it with:")
        print(f"    set -a; . ./{env}; set +a")
        print("  keep it: the tokens of linked accounts are encrypted under it")
    if wrote:
        print("next: postbot doctor")
    return 0


def _parser() -> argparse.ArgumentParser:
    from core.platforms import registry
    from core.render import linkable_labels, no_account_platform

    infos = registry.infos()
    parser = argparse.ArgumentParser(
        prog="postbot",
        description=f"Schedule and publish video posts to {linkable_labels(infos)} from Slack, Discord or a "
        "local console.",
        epilog="Settings: postbot.toml (or POSTBOT_CONFIG) and POSTBOT_* variables; `postbot init` starts "
        "one, `postbot doctor` checks it. Each command's --help says what it needs.",
    )
    parser.add_argument("--version", action="version", version=f"postbot {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def add(name: str, summary: str, needs: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=f"needs: {needs}\nexample: {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    trial = no_account_platform(infos) or _TRY
    for name, command in COMMANDS.items():
        add(name, command.summary, command.needs.replace(_TRY, trial), command.example.replace(_TRY, trial))
    doctor = add(
        "doctor",
        "check the configuration a running postbot would use, one line per check with the fix",
        "the same settings as the processes (postbot.toml, POSTBOT_*); --online also reaches Slack, "
        "Discord and web.public_url. Exit status 1 when something is broken",
        "postbot doctor --online",
    )
    doctor.add_argument(
        "--online", action="store_true", help="also call Slack, Discord and the public /health"
    )
    init = add(
        "init",
        "write postbot.toml from config.example.toml and a fresh secret key into postbot.env",
        "nothing: it copies the config.example.toml installed with postbot; it never overwrites a file",
        "postbot init && set -a && . ./postbot.env && set +a && postbot doctor",
    )
    init.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="where to write the settings")
    init.add_argument("--env", default="postbot.env", help="where to write the secret key")
    sample = add(
        "sample-video",
        "write a short real video (H.264/AAC MP4) that every platform takes, to try postbot with",
        "a folder that exists; the name must end in .mp4",
        "postbot sample-video clip.mp4 --seconds 5 --size 1080x1920",
    )
    sample.add_argument("path", help="where to write it, e.g. clip.mp4")
    sample.add_argument("--seconds", type=float, default=5.0, help="length (default 5)")
    sample.add_argument("--size", default="1080x1920", help="WIDTHxHEIGHT (default 1080x1920, vertical)")
    media_needs = "the settings of the processes (database_url, media.*)"
    media = add("media", "manage stored videos", media_needs, "postbot media gc").add_subparsers(
        dest="action", required=True, metavar="action"
    )
    for name, (help_text, _) in MEDIA_ACTIONS.items():
        media.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            epilog=f"needs: {media_needs}\nexample: postbot media {name}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    return parser


def _version() -> str:
    """The version of the code running: a clone's pyproject.toml (which an editable install of
    another checkout would misreport), else the installed package's."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    project = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if project.is_file():
        return str(tomllib.loads(project.read_text())["project"]["version"])
    try:
        return version("postbot")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    try:
        status = _main(argv)
        # Flushed here, not at exit: a pipe that broke under the buffered tail would otherwise raise
        # while the interpreter shuts down, past any handler.
        sys.stdout.flush()
    except BrokenPipeError:
        # `postbot doctor | head -3`: the reader is gone, which is not an error worth a traceback.
        # Python's documented idiom (docs.python.org/3/library/signal.html#note-on-sigpipe): point
        # stdout at devnull so the final flush cannot raise again, and exit as a SIGPIPE'd writer
        # would (128 + 13), which is what shells report for `cmd | head`.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return status


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sample-video":
        return _sample_video(args)
    if args.command == "init":
        return _init(args)
    try:
        settings = load_settings()
        quiet = args.command in ("console", "doctor")
        setup_logging(
            "WARNING" if quiet else settings.log_level,
            json_output=settings.log_json,
            file=log_file(settings.log_file),
        )
        # Alembic announces each of its plugins at INFO on every start: noise. `migrate` says what it
        # did itself, so the migration lines are quiet there too.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        if args.command == "migrate":
            logging.getLogger("alembic").setLevel(logging.WARNING)
        if args.command == "doctor":
            from bot.doctor import run_doctor

            return asyncio.run(run_doctor(settings, online=args.online))
        run = MEDIA_ACTIONS[args.action][1] if args.command == "media" else COMMANDS[args.command].run
        asyncio.run(run(settings))
    except ConfigError as exc:
        print(f"postbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
