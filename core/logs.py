"""Logging: JSON lines (python-json-logger) for machines, plain text when a person watches stderr,
and an optional rotating file.

Every record logged while a post is being processed carries that post's id, platform, team,
attempt and how long its processing has run (``post_context``), whichever module logs it: the
processor, a publisher, or the HTTP client underneath. Secrets are scrubbed from every record
before any handler formats it (``Redactor``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import logging.handlers
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

if TYPE_CHECKING:
    from core.config import LogFileSettings

# What a record carries beyond python-json-logger's own fields, renamed to short keys.
_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
_RENAME = {"asctime": "ts", "levelname": "level", "name": "logger", "message": "msg", "exc_info": "exc"}


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line: ts, level, logger, msg, then every ``extra`` field as a key."""

    def __init__(self) -> None:
        super().__init__(_FIELDS, rename_fields=_RENAME, json_default=str, timestamp=False)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}+00:00"

    def formatException(self, ei: Any) -> str:
        # Exception texts quote URLs and response bodies: scrubbed like the message.
        return scrub(str(super().formatException(ei)))

    def format(self, record: logging.LogRecord) -> str:
        # Last line of defence: whatever a field held, the written line is scrubbed once more.
        return scrub(super().format(record))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        log_data["level"] = str(log_data.get("level", "")).lower()
        return log_data


class RedactingFormatter(logging.Formatter):
    """A plain ``logging.Formatter`` whose lines (traceback included) are scrubbed of secrets."""

    def formatException(self, ei: Any) -> str:
        return scrub(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class TextFormatter(RedactingFormatter):
    """``12:00:01 WARNING core.scheduler.processor publish failed [post_id=12 platform=x …]``."""

    _STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
        "message",
        "asctime",
        "taskName",
    }

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {
            k: v for k, v in record.__dict__.items() if k not in self._STANDARD and not k.startswith("_")
        }
        if not extra:
            return line
        head, _, tail = line.partition("\n")
        fields = " ".join(f"{k}={v}" for k, v in extra.items())
        return scrub(f"{head} [{fields}]" + (f"\n{tail}" if tail else ""))


# -- the post a record is about --------------------------------------------------------------------


@dataclass(frozen=True)
class PostLogContext:
    post_id: int
    platform: str
    team: str
    attempt: int
    started: float


_POST: contextvars.ContextVar[PostLogContext | None] = contextvars.ContextVar("postbot_post", default=None)


@contextlib.contextmanager
def post_context(*, post_id: int, platform: str, team: str, attempt: int) -> Iterator[None]:
    """Records logged inside this block (in this task and the tasks it starts) are about this post."""
    token = _POST.set(PostLogContext(post_id, platform, team, attempt, time.monotonic()))
    try:
        yield
    finally:
        _POST.reset(token)


class PostContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        post = _POST.get()
        if post is not None:
            fields = record.__dict__
            fields.setdefault("post_id", post.post_id)
            fields.setdefault("platform", post.platform)
            fields.setdefault("team", post.team)
            fields.setdefault("attempt", post.attempt)
            fields.setdefault("duration_s", round(time.monotonic() - post.started, 3))
        return True


# -- secrets ---------------------------------------------------------------------------------------

REDACTED = "[redacted]"
# An ``extra`` key named like one of these holds a secret whatever its value looks like.
_SECRET_KEY = re.compile(r"token|secret|password|authorization|cookie|api_key|apikey|signature", re.I)
_R = rf"\1{REDACTED}"
_SECRET_VALUES = (
    # Authorization headers as printed by clients.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), _R),
    (re.compile(r"\b(Basic\s+)[A-Za-z0-9+/=]{12,}"), _R),
    # Slack tokens: https://api.slack.com/authentication/token-types
    (re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{8,}"), REDACTED),
    # OAuth parameters in URLs and form bodies (RFC 6749 sections 4.1.2, 5.1, 6) and signed URLs; the
    # single-use link states are bearer credentials until used. ``&amp;``: as HTML or Slack escape it.
    (
        re.compile(
            r"(?i)([?&#](?:amp;)?(?:access_token|refresh_token|id_token|client_secret|code|state|"
            r"code_verifier|oauth_token|oauth_verifier|signature|sig|x-amz-signature|x-amz-credential)=)"
            r"[^&\s'\"\\<>#]+"
        ),
        _R,
    ),
    # The same fields in a JSON body.
    (re.compile(r'(?i)("(?:access_token|refresh_token|id_token|client_secret)"\s*:\s*")[^"]+'), _R),
    # Slack response URLs (https://hooks.slack.com/commands/T…/…/…, /actions/…): each lets anyone
    # post into the channel for 30 minutes.
    (
        re.compile(r"(https?://[^\s'\"/]+(?:/hooks)?)/(?:commands|actions)/[^\s'\"\\<>,}]+"),
        rf"\1/{REDACTED}",
    ),
)


def scrub(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``[redacted]``."""
    for pattern, replacement in _SECRET_VALUES:
        text = pattern.sub(replacement, text)
    return text


# The name issue 11's log redaction gave it.
redact = scrub


class Redactor(logging.Filter):
    """Scrubs a record's message, arguments and ``extra`` fields in place, before any handler runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for key, value in list(record.__dict__.items()):
            if key in TextFormatter._STANDARD or key.startswith("_"):
                continue
            if _SECRET_KEY.search(key) and value is not None:
                record.__dict__[key] = REDACTED
            elif isinstance(value, str):
                record.__dict__[key] = scrub(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


# -- setup -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFile:
    """Where ``setup_logging`` also writes (always JSON), and how it rotates."""

    path: Path
    # Rotate when the file would pass this size (0: never by size) ...
    max_bytes: int = 10 * 1024 * 1024
    # ... or at a time instead (TimedRotatingFileHandler's ``when``: "midnight", "H", "W0"...).
    when: str | None = None
    backup_count: int = 7


def log_file(settings: LogFileSettings) -> LogFile | None:
    """The ``[log_file]`` settings as a LogFile, or None when no path is set."""
    if settings.path is None:
        return None
    return LogFile(settings.path, settings.max_bytes, settings.when, settings.backup_count)


def _file_handler(file: LogFile) -> logging.Handler:
    file.path.parent.mkdir(parents=True, exist_ok=True)
    if file.when:
        return logging.handlers.TimedRotatingFileHandler(
            file.path, when=file.when, backupCount=file.backup_count, encoding="utf-8", utc=True
        )
    return logging.handlers.RotatingFileHandler(
        file.path, maxBytes=file.max_bytes, backupCount=file.backup_count, encoding="utf-8"
    )


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def setup_logging(
    level: str = "INFO",
    *,
    json_output: bool | None = None,
    file: LogFile | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Route every record through the post context and the redactor to stderr (and ``file``).

    ``json_output`` None: JSON unless stderr is a terminal, where a person reads plain text.
    """
    out = stream if stream is not None else sys.stderr
    as_json = not _is_terminal(out) if json_output is None else json_output
    handlers: list[logging.Handler] = [logging.StreamHandler(out)]
    handlers[0].setFormatter(JsonFormatter() if as_json else TextFormatter())
    if file is not None:
        handlers.append(_file_handler(file))
        handlers[-1].setFormatter(JsonFormatter())
    for handler in handlers:
        # On the handlers (not a logger) so records propagated from any logger pass through them.
        handler.addFilter(PostContextFilter())
        handler.addFilter(Redactor())
    root = logging.getLogger()
    for old in root.handlers:
        if getattr(old, "_postbot", False):
            old.close()
    for handler in handlers:
        handler._postbot = True  # type: ignore[attr-defined]
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; URLs can carry signed upload parameters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # httpcore's DEBUG trace prints response headers: Location values carry OAuth codes and signed URLs.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
