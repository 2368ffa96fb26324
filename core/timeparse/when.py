"""parse_when: text → a checked instant (future, within the horizon) with its notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import TimeParseError
from core.timeparse import fallback
from core.timeparse.reader import scan
from core.timeparse.resolve import Placed, place


def example(now: datetime) -> str:
    """Times to try, the dated one two weeks after ``now``: an example must never be in the past."""
    dated = f"{now + timedelta(days=14):%Y-%m-%d} 18:00"
    return f"Try e.g. `tomorrow 6pm`, `next fri at noon`, `in 2h` or `{dated}`."


def day_text(moment: datetime, now: datetime) -> str:
    """ "Mon 7 Dec", with the year when it is not ``now``'s ("Mon 6 Dec 2027")."""
    text = f"{moment:%a} {moment.day} {moment:%b}"
    return text if moment.year == now.year else f"{text} {moment.year}"


# dateparser silently drops these ("tomorrow before noon" → 11:00): refuse rather than guess. The
# reader itself reads them where they name one time ("ten till noon", "25 minutes before 3pm").
_RANGE_WORDS = frozenset({"before", "after", "until", "till", "between", "or", "latest", "earliest"})
AUTO_WORDS = frozenset({"best", "auto", "best time", "auto slot", "best slot"})
# The channel's posting schedule (core/schedule): each platform's next free weekly slot.
NEXT_WORDS = frozenset({"next", "next slot", "next free slot", "queue"})


@dataclass(frozen=True)
class ParsedWhen:
    instant: datetime | None  # aware, UTC; None only when auto
    tz: str  # IANA zone the text was read in
    auto: bool = False  # best/auto: the service picks the top suggested slot
    note: str | None = None  # an assumption the user should see ("No time given: using 09:00")
    # Only a day was given ("friday"): `instant` is that day at the default time; the service may
    # pick the day's best suggested slot instead (and say so).
    date_only: bool = False
    # next: each platform's next free slot of the channel's posting schedule (no instant here).
    next_slot: bool = False


def _format_local(placed: Placed, now: datetime) -> str:
    try:
        zone = ZoneInfo(placed.tz)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{day_text(placed.instant, now)}, {placed.instant:%H:%M} UTC"
    local = placed.instant.astimezone(zone)
    return f"{day_text(local, now.astimezone(zone))}, {local:%H:%M} {placed.tz}"


def place_text(text: str, tz: str, now: datetime) -> Placed | None:
    """Read `text` without judging it (past/horizon); None when it is not a time at all."""
    return _place(text, tz, now)[0]


def _place(text: str, tz: str, now: datetime) -> tuple[Placed | None, str | None]:
    """(placed, the word to name when nothing could read the text). A range is refused before
    dateparser may try: it would drop the word ("tomorrow before noon" → 11:00)."""
    try:
        scanned = scan(text.strip().lower(), tz)
        if scanned.reading is not None:
            return place(scanned.reading, tz, now), None
        if scanned.stuck in _RANGE_WORDS:
            raise TimeParseError(f"'{text}' is a range; postbot needs one time.", hint=example(now))
        return fallback.parse(text, tz, now), scanned.stuck if scanned.read_before else None
    except OverflowError:
        # "in 999…9 years": more than a date can hold, so far beyond any horizon (issue 11 point 15).
        raise TimeParseError(f"'{text[:60]}' is too far away to be a time.", hint=example(now)) from None


def parse_when(text: str, tz: str, now: datetime, *, horizon: timedelta = timedelta(days=365)) -> ParsedWhen:
    text = " ".join(text.split())
    if not text:
        raise TimeParseError("When should this be posted? No time given.", hint=example(now))
    lowered = text.lower()
    if lowered in AUTO_WORDS:
        return ParsedWhen(instant=None, tz=tz, auto=True)
    if lowered in NEXT_WORDS:
        return ParsedWhen(instant=None, tz=tz, next_slot=True)
    if lowered in {"now", "right now", "immediately", "asap"}:
        raise TimeParseError(f"'{text}' isn't a schedule time.", hint="Use /post to publish right away.")
    placed, stuck = _place(text, tz, now)
    if placed is None:
        if stuck is not None:
            raise TimeParseError(
                f"I couldn't read '{stuck}' in '{text}' as part of a time.", hint=example(now)
            )
        raise TimeParseError(f"I couldn't read '{text}' as a time.", hint=example(now))
    if placed.instant <= now:
        if placed.date_only:
            shown = _format_local(placed, now)
            raise TimeParseError(
                f"'{text}' with no time means {shown.split(', ')[1][:5]}, which has passed ({shown}).",
                hint="Add a time, e.g. `today 5pm`.",
            )
        raise TimeParseError(f"'{text}' is in the past ({_format_local(placed, now)}).", hint=example(now))
    if placed.instant > now + horizon:
        raise TimeParseError(
            f"'{text}' is {(placed.instant - now).days} days ahead; postbot schedules at most "
            f"{horizon.days} days ahead ({_format_local(placed, now)}).",
            hint=example(now),
        )
    note = "; ".join(placed.notes) or None
    return ParsedWhen(instant=placed.instant, tz=placed.tz, note=note, date_only=placed.date_only)


def describe(when: ParsedWhen, now: datetime) -> str:
    """ "Wed 25 Nov, 18:00 Europe/Berlin" (with the year when it isn't ``now``'s) — how a parsed time
    is shown back to the user."""
    if when.next_slot:
        return "the next free slot of the channel's schedule"
    if when.auto or when.instant is None:
        return "best suggested slot"
    return _format_local(Placed(when.instant, when.tz, ()), now)
