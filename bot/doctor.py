"""`postbot doctor`: what a running postbot would trip over, checked before it runs.

It reads the settings exactly as every process does (``load_settings``: postbot.toml or
POSTBOT_CONFIG, then POSTBOT_* variables) and prints one line per check, ✓ or ✗ with the fix; a
check that needs the network (``--online``) is skipped offline with a note. It changes nothing:
no migration, no file beyond the media store's own write probe.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from core.config import Settings

# Shorter than this, a vault secret is guessable offline by anyone holding the database: the
# PBKDF2 iterations slow each guess, they don't make a short secret long. 32 random characters from
# `postbot init` (secrets.token_urlsafe(32) gives 43) are far past it.
MIN_SECRET_CHARS = 32
ONLINE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Finding:
    """One line of the report. ``ok`` None: skipped or not applicable (said, not counted)."""

    name: str
    ok: bool | None
    text: str
    fix: str | None = None

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "·"}[self.ok]
        return f"{mark} {self.name}: {self.text}" + (f"\n    fix: {self.fix}" if self.fix else "")


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


def _env(path: str) -> str:
    return "POSTBOT_" + path.upper().replace(".", "__")


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _infrastructure(settings: Settings) -> list[Finding]:
    from sqlalchemy.engine import make_url

    from core.db.engine import make_engine, session_factory
    from core.health import infrastructure
    from core.media.storage import build_storage

    where = make_url(settings.database_url).render_as_string(hide_password=True)
    engine = make_engine(settings.database_url)
    storage = build_storage(settings)
    try:
        database, schema, media = await infrastructure(session_factory(engine), storage)
    finally:
        await engine.dispose()
    found = [
        Finding("database", True, f"reachable ({where})")
        if database.ok
        else Finding(
            "database",
            False,
            f"{database.error} ({where})",
            f"start the database, or point database_url ({_env('database_url')}) at it",
        )
    ]
    if not database.ok:
        found.append(Finding("schema", None, "not checked: the database did not answer"))
    elif schema.ok:
        found.append(Finding("schema", True, f"at the newest revision ({', '.join(schema.details['head'])})"))
    else:
        found.append(
            Finding(
                "schema",
                False,
                (schema.error or "").replace(" (run `postbot migrate`)", ""),
                "run `postbot migrate` (the processes also migrate when they start)",
            )
        )
    media_place = settings.media.s3.bucket if settings.media.backend == "s3" else str(settings.media_dir)
    found.append(
        Finding("media store", True, f"{settings.media.backend} {media_place} is writable")
        if media.ok
        else Finding(
            "media store",
            False,
            f"{media.error}: {settings.media.backend} {media_place}",
            "make data_dir a writable folder (or check media.s3's bucket, endpoint and keys)",
        )
    )
    return found


def _secret_key(settings: Settings) -> Finding:
    secret = _secret(settings.secret_key)
    if secret is None:
        return Finding(
            "secret key",
            False,
            "POSTBOT_SECRET_KEY is not set: no account can be linked and no linked account can post",
            "`postbot init` writes one into postbot.env (keeping one already there); load it with "
            "`set -a; . ./postbot.env; set +a`, the same key in every process's environment",
        )
    if len(secret) < MIN_SECRET_CHARS:
        return Finding(
            "secret key",
            False,
            f"POSTBOT_SECRET_KEY has {len(secret)} characters; it needs {MIN_SECRET_CHARS} or more",
            "`postbot init --env new.env` writes a fresh one; to replace a key in use follow the "
            "README's rotation steps",
        )
    return Finding("secret key", True, f"set, {len(secret)} characters")


def _public_url(settings: Settings) -> Finding:
    url = settings.web.public_url
    if url.startswith("https://"):
        return Finding("web.public_url", True, url)
    if is_loopback_url(url):
        from core.platforms.registry import SPECS

        linked = [s for s in SPECS if s.oauth is not None]
        loopback = " and ".join(s.label for s in linked if s.oauth and s.oauth.loopback_redirect) or "none"
        others = ", ".join(s.label for s in linked if s.oauth and not s.oauth.loopback_redirect)
        return Finding(
            "web.public_url",
            True,
            f"{url}: this machine only, fine for the console (loopback redirects: {loopback}); "
            f"{others + ', ' if others else ''}Slack's HTTP mode and platforms that download the video "
            "from postbot need a public https address",
        )
    return Finding(
        "web.public_url",
        False,
        f"{url} is not https: platforms refuse plain-http redirects outside this machine",
        f"serve postbot behind an https proxy and set web.public_url ({_env('web.public_url')})",
    )


def _chats(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    slack = settings.slack
    bot, app_token = _secret(slack.bot_token), _secret(slack.app_token)
    signing = _secret(slack.signing_secret)
    if bot or app_token or signing:
        problems: list[str] = []
        if not bot:
            problems.append("slack.bot_token is not set (POSTBOT_SLACK__BOT_TOKEN, xoxb-…)")
        elif not bot.startswith("xoxb-"):
            problems.append("slack.bot_token is not a bot token (xoxb-…)")
        mode = slack.mode.lower()
        if mode == "socket":
            if not app_token:
                problems.append("Socket Mode needs slack.app_token (POSTBOT_SLACK__APP_TOKEN, xapp-…)")
            elif not app_token.startswith("xapp-"):
                problems.append("slack.app_token is not an app-level token (xapp-…)")
        elif mode == "http":
            if not signing:
                problems.append("HTTP mode needs slack.signing_secret (POSTBOT_SLACK__SIGNING_SECRET)")
        else:
            problems.append(f"slack.mode is {slack.mode!r}; it must be 'socket' or 'http'")
        found.append(
            Finding("slack", False, "; ".join(problems), "see docs/setup/slack.md")
            if problems
            else Finding("slack", True, f"tokens set ({mode} mode)")
        )
    else:
        found.append(Finding("slack", None, "not configured (postbot slack needs POSTBOT_SLACK__BOT_TOKEN)"))
    if _secret(settings.discord.token):
        found.append(Finding("discord", True, "token set"))
    else:
        found.append(
            Finding("discord", None, "not configured (postbot discord needs POSTBOT_DISCORD__TOKEN)")
        )
    return found


def _platforms(settings: Settings) -> list[Finding]:
    from core.accounts.linking import redirect_uri
    from core.platforms.registry import SPECS

    found: list[Finding] = []
    for spec in SPECS:
        if spec.oauth is None:
            continue
        conf = settings.platforms.for_platform(spec.name)
        key = f"platforms.{spec.name}"
        has_id, has_secret = bool(conf.client_id), bool(_secret(conf.client_secret))
        guide = f"docs/setup/{spec.name}.md"
        if not has_id and not has_secret:
            found.append(Finding(spec.label, None, f"not configured (optional; {guide})"))
            continue
        if not (has_id and has_secret):
            missing = f"{key}.client_id" if not has_id else f"{key}.client_secret"
            found.append(
                Finding(spec.label, False, f"{missing} is not set", f"set {_env(missing)}; see {guide}")
            )
            continue
        uri = redirect_uri(settings, spec.platform)
        scopes = conf.oauth.scopes or list(spec.oauth.default_scopes)
        text = f"client id and secret set; redirect URI to register: {uri}; scopes: {' '.join(scopes)}"
        if not uri.startswith("https://") and not spec.oauth.loopback_redirect:
            found.append(
                Finding(
                    spec.label,
                    False,
                    f"{text}; {spec.label} accepts only https redirects",
                    f"give web.public_url a public https address; see {guide}",
                )
            )
        else:
            found.append(Finding(spec.label, True, text))
    return found


def _versions(settings: Settings, today: date) -> list[Finding]:
    """Each API version this deployment would send, against its platform's published sunsets."""
    from core.platforms.versions import VersionState, check_versions

    found: list[Finding] = []
    for checked in check_versions(settings.platforms, today, warn_days=settings.alerts.api_version_warn_days):
        if not checked.in_use:
            continue
        name = f"{checked.platform.label} API version"
        message = checked.message()
        if checked.state in (VersionState.SUPPORTED, VersionState.ENDING):
            # Ending soon still works today: said, but not counted as broken.
            found.append(Finding(name, True, message))
            continue
        text, _, fix = message.partition(" Fix: ")
        found.append(
            Finding(
                name, False, text, fix.rstrip(".") if fix else f"check {checked.setting} against the source"
            )
        )
    return found


async def _probe(name: str, call: Callable[[], Awaitable[Finding]]) -> Finding:
    try:
        return await call()
    except httpx.HTTPError as exc:
        return Finding(
            name, False, f"no answer ({type(exc).__name__}: {exc})", "check the address and the network"
        )


async def _online(settings: Settings, http: httpx.AsyncClient) -> list[Finding]:
    found: list[Finding] = []
    bot = _secret(settings.slack.bot_token)
    if bot:

        async def slack() -> Finding:
            reply = await http.post(
                settings.slack.api_base_url.rstrip("/") + "/auth.test",
                headers={"Authorization": f"Bearer {bot}"},
            )
            body: dict[str, Any] = reply.json()
            if body.get("ok"):
                return Finding("slack auth.test", True, f"bot of {body.get('team')} ({body.get('team_id')})")
            return Finding(
                "slack auth.test",
                False,
                f"Slack refused the bot token: {body.get('error')}",
                "copy the Bot User OAuth Token again (OAuth & Permissions) into POSTBOT_SLACK__BOT_TOKEN",
            )

        found.append(await _probe("slack auth.test", slack))
    token = _secret(settings.discord.token)
    if token:

        async def discord() -> Finding:
            reply = await http.get(
                settings.discord.api_base_url.rstrip("/") + "/oauth2/applications/@me",
                headers={"Authorization": f"Bot {token}"},
            )
            if reply.status_code == 200:
                app = reply.json()
                return Finding("discord application", True, f"{app.get('name')} ({app.get('id')})")
            return Finding(
                "discord application",
                False,
                f"Discord answered {reply.status_code} to the bot token",
                "reset the token (Developer Portal → Bot) and set POSTBOT_DISCORD__TOKEN",
            )

        found.append(await _probe("discord application", discord))
    url = settings.web.public_url.rstrip("/") + "/health"

    async def health() -> Finding:
        reply = await http.get(url)
        if reply.status_code == 200:
            return Finding("public /health", True, f"{url} answers 200")
        try:
            why = reply.json().get("error") or reply.reason_phrase
        except ValueError:
            why = reply.reason_phrase
        return Finding(
            "public /health",
            False,
            f"{url} answers {reply.status_code}: {why}",
            "start `postbot web` (or the bot) there, and check the proxy in front of it",
        )

    found.append(await _probe("public /health", health))
    return found


async def diagnose(
    settings: Settings, *, online: bool, http: httpx.AsyncClient | None = None, today: date | None = None
) -> list[Finding]:
    found = await _infrastructure(settings)
    found.append(_secret_key(settings))
    found.append(_public_url(settings))
    found += _chats(settings)
    found += _platforms(settings)
    found += _versions(settings, today or datetime.now(UTC).date())
    if not online:
        found.append(
            Finding(
                "online checks", None, "skipped: `postbot doctor --online` calls Slack, Discord and /health"
            )
        )
        return found
    if http is not None:
        return found + await _online(settings, http)
    async with httpx.AsyncClient(timeout=ONLINE_TIMEOUT_S) as client:
        return found + await _online(settings, client)


async def run_doctor(settings: Settings, *, online: bool) -> int:
    """Print the report; 1 when something a running postbot needs is broken, else 0."""
    found = await diagnose(settings, online=online)
    for finding in found:
        print(finding.line())
    failed = [f.name for f in found if f.ok is False]
    print(f"\n{len(failed)} problem(s): {', '.join(failed)}" if failed else "\nall good")
    return 1 if failed else 0
