"""Times as people type them in chat (issue 27, "Times people type"): each case below was refused or
misread before, and is now read, or refused with a message that says why (except the last test's,
nearby forms that were read right already). The zone and "now" are
fixed; `note` is the whole note the reply carries (None: the reading needs no note)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import TimeParseError
from core.timeparse import ParsedWhen, parse_when

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
# Tue 1 Dec 2026, 14:20 in Berlin; 08:20 in New York.
TUESDAY = datetime(2026, 12, 1, 13, 20, tzinfo=UTC)
# Fri 4 Dec 2026, 17:00 in Berlin.
FRIDAY = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
NO_TIME = "No time given: using 09:00"


def local(when: ParsedWhen) -> str:
    assert when.instant is not None
    moment = when.instant.astimezone(ZoneInfo(when.tz))
    return f"{moment:%a %d %b %H:%M}" + (f":{moment.second:02d}" if moment.second else "")


def read(text: str, tz: str = BERLIN, now: datetime = TUESDAY) -> tuple[str, str | None]:
    when = parse_when(text, tz, now)
    return local(when), when.note


@pytest.mark.parametrize(
    ("text", "wall", "note"),
    [
        # Clock times with seconds: the seconds are kept, not dropped.
        ("14:05:30", "Wed 02 Dec 14:05:30", None),
        ("9:01:10 am", "Wed 02 Dec 09:01:10", None),
        ("9:01:10am friday", "Fri 04 Dec 09:01:10", None),
        ("tomorrow at 23:15:45", "Wed 02 Dec 23:15:45", None),
        ("2026-12-01T18:00:30Z", "Tue 01 Dec 18:00:30", None),
        # Quarters and halves, with "a" as people say them.
        ("a quarter past 2pm", "Wed 02 Dec 14:15", None),
        ("a quarter to noon", "Wed 02 Dec 11:45", None),
        ("a quarter to 5pm", "Tue 01 Dec 16:45", None),
    ],
)
def test_clock_times_with_seconds_and_quarters(text: str, wall: str, note: str | None) -> None:
    assert read(text) == (wall, note)


@pytest.mark.parametrize(
    ("text", "wall", "note"),
    [
        ("3 days hence", "Fri 04 Dec 14:20", None),
        ("a fortnight hence", "Tue 15 Dec 14:20", None),
        ("an hour hence", "Tue 01 Dec 15:20", None),
        ("3 days hence at 5pm", "Fri 04 Dec 17:00", None),
        ("15 minutes out", "Tue 01 Dec 14:35", None),
        ("3 days out", "Fri 04 Dec 14:20", None),
        ("now + 25 minutes", "Tue 01 Dec 14:45", None),
        ("now+25min", "Tue 01 Dec 14:45", None),
        ("now plus 2h", "Tue 01 Dec 16:20", None),
        ("next hour", "Tue 01 Dec 15:20", "'next hour' read as in 1 hour"),
        ("in 15 minutes' time", "Tue 01 Dec 14:35", None),
    ],
)
def test_spans_counted_from_now(text: str, wall: str, note: str | None) -> None:
    assert read(text) == (wall, note)


@pytest.mark.parametrize(
    ("text", "wall"),
    [
        ("in 1/2h", "Tue 01 Dec 14:50"),
        ("in 1/4h", "Tue 01 Dec 14:35"),
        ("in ½h", "Tue 01 Dec 14:50"),  # dateparser read this as two hours
        ("in 2½ hours", "Tue 01 Dec 16:50"),
        ("in an hour and a quarter", "Tue 01 Dec 15:35"),
        ("in 3 and a quarter hours", "Tue 01 Dec 17:35"),
        ("in three quarters of an hour", "Tue 01 Dec 15:05"),
        ("in three-quarters of an hour", "Tue 01 Dec 15:05"),
        ("in 1 and 1/2 hours", "Tue 01 Dec 15:50"),
    ],
)
def test_fractions_and_words_in_durations(text: str, wall: str) -> None:
    assert read(text) == (wall, None)


@pytest.mark.parametrize(
    ("text", "wall"),
    [
        ("nine o five pm", "Tue 01 Dec 21:05"),
        ("six o'clock pm", "Tue 01 Dec 18:00"),
        ("twelve noon", "Wed 02 Dec 12:00"),  # dateparser read the 12th of December
        ("twelve midnight", "Wed 02 Dec 00:00"),
    ],
)
def test_clock_times_in_words(text: str, wall: str) -> None:
    assert read(text) == (wall, None)


@pytest.mark.parametrize(
    ("text", "wall", "note"),
    [
        ("14 of this month", "Mon 14 Dec 09:00", NO_TIME),
        ("14 of next month 5pm", "Thu 14 Jan 17:00", None),
        ("the 5th of the following month", "Tue 05 Jan 09:00", NO_TIME),
        ("second day of march", "Tue 02 Mar 09:00", NO_TIME),
        ("the first day of next month at 10am", "Fri 01 Jan 10:00", None),
        ("the third day of march 2027 9am", "Wed 03 Mar 09:00", None),
        # Counted back from the month's last day: was the last day itself, silently.
        ("fourth last day of june", "Sun 27 Jun 09:00", NO_TIME),
        ("the second last day of june 5pm", "Tue 29 Jun 17:00", None),
        ("second to last day of the month", "Wed 30 Dec 09:00", NO_TIME),
        ("penultimate day of june", "Tue 29 Jun 09:00", NO_TIME),
        ("fourth from last day of june", "Sun 27 Jun 09:00", NO_TIME),
        ("the 4th last day of february 2027", "Thu 25 Feb 09:00", NO_TIME),
        ("last day of april 2027", "Fri 30 Apr 09:00", NO_TIME),
        # Counted back from the month's last Friday: was the 2nd/4th of this month, silently.
        ("2nd last friday of the month", "Fri 18 Dec 09:00", NO_TIME),
        ("the second last friday of next month 3pm", "Fri 22 Jan 15:00", None),
        ("fourth last friday of june", "Fri 04 Jun 09:00", NO_TIME),
    ],
)
def test_days_of_the_month(text: str, wall: str, note: str | None) -> None:
    assert read(text) == (wall, note)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("the 3rd the last day of june", "names two different days of the month"),
        ("next weekday friday", "names the next weekday and another day"),
        ("fifth last friday of february", "There is no fifth last Friday in February 2027"),
        ("31st last day of february", "February 2027 has no 31st last day"),
        # A span from now and a day that is not where it ends: was the span, the day dropped silently.
        ("3 days hence tomorrow", "Counted from today that is Fri 4 Dec, not Wed 2 Dec"),
        ("in 2 weeks friday", "Tue 15 Dec is a Tuesday, not a Friday"),
        # A fraction of an hour with no "in": dateparser read 1 Feb, and two hours.
        ("1/2h", "couldn't read '1/2h'"),
        ("½h", "couldn't read '½h'"),
        # An hour outside the part of the day said: was 13:00 and 21:00, silently.
        ("evening at 1", "'evening at 1' would be 13:00, which is no evening time"),
        ("tomorrow afternoon @ 9", "'afternoon at 9' would be 21:00, which is no afternoon time"),
        ("14:05:61", "isn't a time of day"),
    ],
)
def test_forms_that_would_be_guesses_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(TimeParseError) as info:
        parse_when(text, BERLIN, TUESDAY)
    assert message in info.value.message
    assert info.value.hint


@pytest.mark.parametrize(
    ("text", "tz", "wall"),
    [
        ("around 5 p.m", BERLIN, "Tue 01 Dec 17:00"),
        ("18.15h", BERLIN, "Tue 01 Dec 18:15"),
        ("18.15 hrs", BERLIN, "Tue 01 Dec 18:15"),
        ("friday 1730 hrs", BERLIN, "Fri 04 Dec 17:30"),
        # The h says clock time, so 12.05 is not the 12th of May here (that was refused as no Friday).
        ("friday 12.05h", BERLIN, "Fri 04 Dec 12:05"),
        ("at 10.10 hrs", BERLIN, "Wed 02 Dec 10:10"),
    ],
)
def test_hedged_and_european_clock_times(text: str, tz: str, wall: str) -> None:
    assert read(text, tz) == (wall, None)


@pytest.mark.parametrize(
    ("text", "now", "wall", "note"),
    [
        ("the following monday", TUESDAY, "Mon 07 Dec 09:00", NO_TIME),
        ("following monday 10am", TUESDAY, "Mon 07 Dec 10:00", None),
        # Said on a Tuesday, the coming Friday is in this week: the week after is a fair reading too.
        (
            "the following friday 3pm",
            TUESDAY,
            "Fri 04 Dec 15:00",
            "the following Friday read as the coming one, 4 Dec",
        ),
        ("wednesday the following week 9am", TUESDAY, "Wed 09 Dec 09:00", None),
        (
            "next weekday 9am",
            TUESDAY,
            "Wed 02 Dec 09:00",
            "next weekday read as Wed 2 Dec (public holidays not counted)",
        ),
        (
            "next business day 9am",
            FRIDAY,
            "Mon 07 Dec 09:00",
            "next weekday read as Mon 7 Dec (public holidays not counted)",
        ),
        ("mid day tomorrow", TUESDAY, "Wed 02 Dec 12:00", None),
        ("friday mid day", TUESDAY, "Fri 04 Dec 12:00", None),
    ],
)
def test_following_weekdays_and_midday(text: str, now: datetime, wall: str, note: str | None) -> None:
    assert read(text, BERLIN, now) == (wall, note)


@pytest.mark.parametrize(
    ("text", "wall", "note"),
    [
        # "@ N" after a part of the day is that hour on that side of noon.
        ("late evening @ 9", "Tue 01 Dec 21:00", None),
        ("tomorrow late evening at 9:30", "Wed 02 Dec 21:30", None),
        ("early morning @ 6", "Wed 02 Dec 06:00", None),
        ("late afternoon @ 4", "Tue 01 Dec 16:00", None),
        # Alone, a narrowed part of the day names no agreed time: the reply says which was used.
        ("late evening", "Tue 01 Dec 21:00", "late evening read as 21:00"),
        ("late in the evening", "Tue 01 Dec 21:00", "late evening read as 21:00"),
        ("in the late evening @ 9", "Tue 01 Dec 21:00", None),
        ("friday early morning", "Fri 04 Dec 07:00", "early morning read as 07:00"),
        # A night runs past midnight: "tonight at 1" was 13:00, silently.
        ("tonight at 1", "Wed 02 Dec 01:00", "tonight at 1 read as 01:00 after midnight"),
        ("friday night @ 2", "Sat 05 Dec 02:00", "night at 2 read as 02:00 after midnight"),
        # With "am" it was 01:00 this morning, refused as past.
        ("tonight 1am", "Wed 02 Dec 01:00", "tonight at 1am read as 01:00 after midnight"),
        ("tonight at 12am", "Wed 02 Dec 00:00", "tonight at 12am read as 00:00 after midnight"),
        ("late night @ 11", "Tue 01 Dec 23:00", None),
    ],
)
def test_parts_of_the_day_with_an_hour(text: str, wall: str, note: str | None) -> None:
    assert read(text) == (wall, note)


@pytest.mark.parametrize(
    ("text", "tz", "wall"),
    [
        # Nearby forms that were already read right (some by dateparser): they must stay so.
        ("half past 7 tonight", BERLIN, "Tue 01 Dec 19:30"),
        ("in a couple of minutes", BERLIN, "Tue 01 Dec 14:22"),
        ("in 3 and a half hours", BERLIN, "Tue 01 Dec 17:50"),
        ("nine fifty pm", BERLIN, "Tue 01 Dec 21:50"),
        ("seven thirty tomorrow evening", BERLIN, "Wed 02 Dec 19:30"),
        ("around 17.30 tomorrow", BERLIN, "Wed 02 Dec 17:30"),
        ("approximately 6.30 p.m.", NEW_YORK, "Tue 01 Dec 18:30"),
        ("at 18:15h", NEW_YORK, "Tue 01 Dec 18:15"),
        ("friday at 18.15 h", BERLIN, "Fri 04 Dec 18:15"),
        ("in 3 days on friday", BERLIN, "Fri 04 Dec 14:20"),  # the day said is the day counted
    ],
)
def test_nearby_forms_already_read_stay_read(text: str, tz: str, wall: str) -> None:
    assert read(text, tz) == (wall, None)
