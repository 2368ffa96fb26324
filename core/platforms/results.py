"""The shape of a platform's results reader (views, likes, comments of a published post); a
platform that has one keeps it in ``core/platforms/<name>/results.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.domain import Platform
from core.publishers.base import TokenSource


@dataclass(frozen=True)
class Metrics:
    views: int | None
    likes: int | None
    comments: int | None


class MetricsReader(Protocol):
    platform: Platform

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        """Metrics per remote id; ids the platform no longer knows are simply absent."""
        ...


def count(value: object) -> int | None:
    # APIs send counts as strings (the YouTube Data API does), or leave one out when it is hidden.
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
