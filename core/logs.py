"""Logging as one JSON object per line, with the ``extra`` fields kept as keys.

Every line is redacted as it is written, whichever library logged it: at DEBUG, slack_sdk and
bolt print request bodies and URLs, and those carry live single-use account links (``state=``) and
Slack ``response_url``s (each lets anyone post into the channel for 30 minutes).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


_REDACTIONS = (
    # OAuth link and callback states (and codes): the link in a DM is a bearer credential until used.
    (re.compile(r"([?&](?:amp;)?(?:state|code)=)[^&\s'\"\\<>]+"), r"\1[redacted]"),
    # Slack response URLs: https://hooks.slack.com/commands/T…/…/… and /actions/…
    (re.compile(r"(https?://[^\s'\"/]+(?:/hooks)?)/(?:commands|actions)/[^\s'\"\\<>,}]+"), r"\1/[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(self._json(record))

    def _json(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def setup_logging(level: str = "INFO", *, json_output: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_output else RedactingFormatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; URLs can carry signed upload parameters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # httpcore's DEBUG trace prints response headers: Location values carry OAuth codes and signed URLs.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
