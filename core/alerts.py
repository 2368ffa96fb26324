"""Telling the team's operators when a platform is in trouble, once, and once when it is over.

The processor reports every publish attempt's outcome with the state of the platform's circuit
breaker. Per (chat, team, platform) a platform is *in trouble* while its breaker is open or its
failure rate over the last ``window_s`` (with at least ``min_attempts`` attempts) reaches
``failure_rate``. Entering trouble sends one alert, leaving it one recovery message; a new alert for
the same platform waits ``repeat_s`` after the last one, so a flapping platform cannot flood the
channel. Messages go to the chat's configured ops channel, or else to its admins by DM.

Each worker watches its own attempts, so several may find the same platform in trouble at once. An
:class:`AlertGate` decides who speaks: in a fleet it is the database's (core/store/alerts.py), so an
outage is announced once and its end once, whichever workers saw it; the default is this process's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from core.config import AlertSettings
from core.domain import ChatKind, Platform
from core.notify import NoNotifier

log = logging.getLogger(__name__)


class AlertGate(Protocol):
    """Who announces a (chat, team, platform)'s trouble and its end: one caller per change."""

    async def open(self, key: str, *, repeat_s: float) -> bool: ...

    async def close(self, key: str) -> bool: ...


class LocalGate:
    """The gate of a process that is the only one watching (embedded, tests)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self._last: dict[str, float] = {}
        self._alerting: set[str] = set()

    async def open(self, key: str, *, repeat_s: float) -> bool:
        now = self.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < repeat_s:
            return False
        self._last[key] = now
        self._alerting.add(key)
        return True

    async def close(self, key: str) -> bool:
        if key not in self._alerting:
            return False
        self._alerting.discard(key)
        return True


class AlertSink(Protocol):
    """Where alerts go: core.notify.NotifierRouter in the bot."""

    async def say(self, chat: ChatKind, team_id: str, channel_id: str, text: str) -> None: ...

    async def dm(self, chat: ChatKind, team_id: str, user_id: str, text: str) -> None: ...


@dataclass
class _Watch:
    outcomes: deque[tuple[float, bool]] = field(default_factory=deque)
    breaker_open: bool = False
    alerting: bool = False
    last_alert: float | None = None


AlertKey = tuple[ChatKind, str, Platform]


class Alerter:
    def __init__(
        self,
        settings: AlertSettings,
        sink: AlertSink,
        *,
        channels: dict[ChatKind, str | None],
        admins: dict[ChatKind, list[str]],
        monotonic: Callable[[], float] = time.monotonic,
        gate: AlertGate | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate if gate is not None else LocalGate(monotonic)
        # One change at a time per key, in the order observed: an alert's gate is flipped before the
        # recovery that follows it tries to flip it back.
        self._order: dict[str, asyncio.Lock] = {}
        self.sink = sink
        self.channels = channels
        self.admins = admins
        self.monotonic = monotonic
        self._watches: dict[AlertKey, _Watch] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def observe(
        self, chat: ChatKind, team_id: str, platform: Platform, *, ok: bool | None, breaker_open: bool
    ) -> None:
        """One attempt's outcome (``ok`` None: held back, no attempt made) and the breaker after it."""
        if not self.settings.enabled:
            return
        now = self.monotonic()
        watch = self._watches.setdefault((chat, team_id, platform), _Watch())
        if ok is not None:
            watch.outcomes.append((now, ok))
        while watch.outcomes and watch.outcomes[0][0] < now - self.settings.window_s:
            watch.outcomes.popleft()
        watch.breaker_open = breaker_open
        failures = sum(1 for _, good in watch.outcomes if not good)
        attempts = len(watch.outcomes)
        rate = failures / attempts if attempts else 0.0
        high = attempts >= self.settings.min_attempts and rate >= self.settings.failure_rate
        trouble = breaker_open or high
        if trouble and not watch.alerting:
            if watch.last_alert is not None and now - watch.last_alert < self.settings.repeat_s:
                return
            watch.alerting = True
            watch.last_alert = now
            why = []
            if high:
                why.append(f"{failures} of the last {attempts} attempts failed")
            if breaker_open:
                why.append("its circuit breaker is open: posts are held back, not failed")
            text = (
                f":warning: {platform.label} is failing: {'; '.join(why)}. "
                "I'll say when it works again. (/status for details)"
            )
            self._send(chat, team_id, platform, text, opening=True)
        elif watch.alerting and ok and not breaker_open:
            # A publish went through with the breaker closed: it works. The failures before it
            # are history now, or they would keep the rate high and the next alert would be stale.
            watch.alerting = False
            watch.outcomes.clear()
            text = f":white_check_mark: {platform.label} works again: posts are going out."
            self._send(chat, team_id, platform, text, opening=False)

    def _send(self, chat: ChatKind, team_id: str, platform: Platform, text: str, *, opening: bool) -> None:
        # Off the publishing path: a slow chat API (or gate) must not hold up the post that tripped it.
        task = asyncio.create_task(self._gated(chat, team_id, platform, text, opening), name="postbot-alert")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _gated(
        self, chat: ChatKind, team_id: str, platform: Platform, text: str, opening: bool
    ) -> None:
        key = f"{chat.value}:{team_id}:{platform.value}"
        # Equivalent mutant: one lock for every key (``setdefault(None, …)``) keeps each key's order
        # too, only waiting on other keys' changes as well.
        async with self._order.setdefault(key, asyncio.Lock()):
            try:
                ours = (
                    await self.gate.open(key, repeat_s=self.settings.repeat_s)
                    if opening
                    else await self.gate.close(key)
                )
            except Exception:
                # Better the same alert twice than an outage nobody hears of.
                log.warning("the alert gate is unreachable; speaking anyway", exc_info=True)
                ours = True
            if not ours:
                log.info("another worker speaks for this platform", extra={"alert": text})
                return
            # Equivalent mutant: ``None`` for the team: no notifier routes say/dm by team today (one
            # workspace or guild per process).
            await self.deliver(chat, team_id, text)

    async def deliver(self, chat: ChatKind, team_id: str, text: str) -> bool:
        """Send ``text`` to the chat's ops channel, or its admins by DM; failures are logged.
        True: it reached the channel or at least one admin."""
        channel = self.channels.get(chat)
        reached = False
        try:
            if channel:
                await self.sink.say(chat, team_id, channel, text)
                return True
            admins = self.admins.get(chat) or []
            if not admins:
                log.warning("alert with no ops channel or admin to send it to", extra={"alert": text})
            for user in admins:
                await self.sink.dm(chat, team_id, user, text)
                reached = True
        except NoNotifier:
            log.info("no chat to send the alert to in this process", extra={"alert": text})
        except Exception:
            log.exception("sending an alert failed", extra={"alert": text})
        return reached

    async def drain(self) -> None:
        """Wait for alerts being sent (tests, and a graceful stop)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)
