"""The shape of a platform's results reader (views, likes, comments of a published post); a
platform that has one keeps it in ``core/platforms/<name>/results.py``."""

from __future__ import annotations

import re
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
    # The OAuth scopes an account must have granted for ``read``: an account linked without them is
    # not asked (its posts' results are "not available") and, when relinking would grant them, its
    # team is asked once to relink (core/watch.py).
    scopes: tuple[str, ...]

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        """Metrics per remote id; ids the platform no longer knows are simply absent."""
        ...


def granted(scopes: str | None) -> frozenset[str] | None:
    """The scopes an account's token carries, as stored at linking; None when the platform did not
    say (such an account is simply asked, and a refusal says the rest)."""
    if not scopes:
        return None
    return frozenset(s for s in re.split(r"[\s,]+", scopes) if s)


def missing_scopes(reader: MetricsReader, scopes: str | None) -> tuple[str, ...]:
    have = granted(scopes)
    if have is None:
        return ()
    return tuple(s for s in reader.scopes if s not in have)


def count(value: object) -> int | None:
    # APIs send counts as strings (the YouTube Data API does), or leave one out when it is hidden.
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def batches(ids: Sequence[str], size: int) -> list[list[str]]:
    """``ids`` in the runs of at most ``size`` that one metrics call takes (itertools.batched is 3.12)."""
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]
