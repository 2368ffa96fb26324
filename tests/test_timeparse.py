"""The command grammar, errors, notes and DST handling of core.timeparse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain import Platform
from core.errors import PlatformParseError, TimeParseError, UserError
from core.timeparse import ParsedWhen, fallback, parse_command, parse_when, preview

BERLIN = "Europe/Berlin"
YT, SANDBOX = Platform.YOUTUBE, Platform.SANDBOX
# Wed 25 Nov 2026, 10:00 in Berlin.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def local(when: ParsedWhen) -> datetime:
    assert when.instant is not None
    return when.instant.astimezone(ZoneInfo(when.tz))


@pytest.mark.parametrize(
    ("text", "platforms", "caption", "wall", "zone"),
    [
        (
            "tomorrow 6pm yt,ig caption",
            (Platform.YOUTUBE, Platform.INSTAGRAM),
            "caption",
            "11-26 18:00",
            BERLIN,
        ),
        ("next fri at noon youtube", (Platform.YOUTUBE,), "", "11-27 12:00", BERLIN),
        ("in 2h x launch", (Platform.X,), "launch", "11-25 12:00", BERLIN),
        ("dec 3 9:30am PST tiktok", (Platform.TIKTOK,), "", "12-03 09:30", "America/Los_Angeles"),
        ("tonight ig", (Platform.INSTAGRAM,), "", "11-25 20:00", BERLIN),
        ("monday morning li", (Platform.LINKEDIN,), "", "11-30 09:00", BERLIN),
        ("2026-12-01T18:00Z yt", (Platform.YOUTUBE,), "", "12-01 18:00", "UTC"),
        (
            "friday 6pm twitter,tt,sandbox Hi",
            (Platform.X, Platform.TIKTOK, Platform.SANDBOX),
            "Hi",
            "11-27 18:00",
            BERLIN,
        ),
    ],
)
def test_issue_examples(
    text: str, platforms: tuple[Platform, ...], caption: str, wall: str, zone: str
) -> None:
    cmd = parse_command(text, BERLIN, NOW)
    assert cmd.platforms == platforms
    assert cmd.caption == caption
    assert cmd.when is not None and cmd.when.tz == zone
    assert f"{local(cmd.when):%m-%d %H:%M}" == wall
    assert cmd.when.instant is not None and cmd.when.instant.tzinfo == UTC


def test_platform_lists_with_spaces_are_joined_and_deduplicated() -> None:
    cmd = parse_command("tomorrow 6pm yt, ig , youtube and li Launch day", BERLIN, NOW)
    assert cmd.platforms == (Platform.YOUTUBE, Platform.INSTAGRAM, Platform.LINKEDIN)
    assert cmd.caption == "Launch day"
    assert cmd.when_text == "tomorrow 6pm"


def test_and_stays_in_the_caption_when_no_platform_follows() -> None:
    cmd = parse_command("tomorrow 6pm yt and friends", BERLIN, NOW)
    assert cmd.platforms == (Platform.YOUTUBE,)
    assert cmd.caption == "and friends"


def test_caption_keeps_its_line_breaks_and_spacing() -> None:
    cmd = parse_command("tomorrow 6pm yt First line\n\n  second  line #tag", BERLIN, NOW)
    assert cmd.caption == "First line\n\n  second  line #tag"


def test_post_grammar_has_no_time() -> None:
    cmd = parse_command("ig,tt New video!", BERLIN, NOW, require_when=False)
    assert cmd.when is None and cmd.when_text == ""
    assert cmd.platforms == (Platform.INSTAGRAM, Platform.TIKTOK)
    assert cmd.caption == "New video!"
    with pytest.raises(PlatformParseError, match="Unknown platform 'friendster'"):
        parse_command("friendster New video!", BERLIN, NOW, require_when=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorrow 6pm friendster hi", "Unknown platform 'friendster'."),
        ("tomorrow 6pm yt,foo hi", "Unknown platform 'foo'."),
        ("next fri at noon myspace", "Unknown platform 'myspace'."),
        ("tomorrow 6pm", "Which platforms? None named."),
        ("", "Which platforms? None named."),
    ],
)
def test_platform_errors_name_the_word_and_list_the_choices(text: str, message: str) -> None:
    with pytest.raises(PlatformParseError) as info:
        parse_command(text, BERLIN, NOW)
    assert info.value.message == message
    assert info.value.hint is not None
    assert "youtube (yt), instagram (ig), x (twitter), linkedin (li), tiktok (tt)" in info.value.hint


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("yesterday 5pm yt", "in the past"),
        ("nov 25 9am yt", "in the past"),
        ("in 2 years yt", "days ahead"),
        ("flibbertigibbet yt", "couldn't read"),
        ("tomorrow 25pm yt", "'25pm' isn't a time of day"),
        ("14:75 yt", "isn't a time of day"),
        ("now yt", "isn't a schedule time"),
        ("next week yt", "names a week"),
        ("feb 30 yt", "no 30 Feb"),
        ("yt caption", "No time given"),
        ("tomorrow before noon yt", "is a range"),
        ("2030 yt", "names a year"),
    ],
)
def test_time_errors_are_clear_and_carry_an_example(text: str, fragment: str) -> None:
    with pytest.raises(TimeParseError) as info:
        parse_command(text, BERLIN, NOW)
    assert fragment in info.value.message
    assert info.value.hint
    assert isinstance(info.value, UserError)


def test_horizon_is_configurable() -> None:
    assert parse_when("in 2 months", BERLIN, NOW).instant is not None
    with pytest.raises(TimeParseError, match="at most 30 days ahead"):
        parse_when("in 2 months", BERLIN, NOW, horizon=timedelta(days=30))


@pytest.mark.parametrize("word", ["best", "auto", "BEST", "best time"])
def test_best_and_auto_leave_the_choice_to_the_slot_suggester(word: str) -> None:
    when = parse_when(word, BERLIN, NOW)
    assert when.auto and when.instant is None and when.tz == BERLIN
    cmd = parse_command(f"{word} yt,ig Launch", BERLIN, NOW)
    assert cmd.when is not None and cmd.when.auto
    assert cmd.platforms == (Platform.YOUTUBE, Platform.INSTAGRAM)


def test_date_without_time_uses_the_default_and_says_so() -> None:
    when = parse_when("friday", BERLIN, NOW)
    assert f"{local(when):%a %H:%M}" == "Fri 09:00"
    assert when.note == "No time given: using 09:00"


def test_today_without_a_time_is_the_rest_of_today_not_refused() -> None:
    # docs/times.md: a day without a time goes to that day's best free slot; said at 10:00 that
    # must not be refused for 09:00 having passed. The fallback time is the next half hour.
    when = parse_when("today", BERLIN, NOW)
    assert when.date_only and f"{local(when):%d %H:%M}" == "25 10:30"
    assert when.note == "No time given: using 10:30"
    late = NOW.replace(hour=22, minute=45)  # 23:45 in Berlin: nothing of today is left
    with pytest.raises(TimeParseError, match="with no time means 09:00, which has passed"):
        parse_when("today", BERLIN, late)


def test_ambiguous_abbreviation_follows_the_users_zone_and_is_reported() -> None:
    chicago = parse_when("9am CST", "America/New_York", NOW)
    shanghai = parse_when("9am CST", "Asia/Shanghai", NOW)
    assert chicago.tz == "America/Chicago" and chicago.note == "CST read as America/Chicago"
    assert shanghai.tz == "Asia/Shanghai" and shanghai.note == "CST read as Asia/Shanghai"
    assert f"{local(chicago):%H:%M}" == f"{local(shanghai):%H:%M}" == "09:00"


def test_spring_forward_gap_moves_later_and_autumn_overlap_takes_the_first() -> None:
    ny_now = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)
    gap = parse_when("sunday 2:30am", "America/New_York", ny_now)
    assert gap.instant == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert gap.note is not None and "doesn't exist" in gap.note
    berlin_now = datetime(2026, 10, 23, 10, 0, tzinfo=UTC)
    overlap = parse_when("sunday 2:30", BERLIN, berlin_now)
    assert overlap.instant == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first one
    assert overlap.note is not None and "happens twice" in overlap.note


def test_days_keep_the_wall_clock_across_dst_but_hours_are_elapsed_time() -> None:
    ny_now = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)  # 10:30 EST
    days = parse_when("in 3 days", "America/New_York", ny_now)
    hours = parse_when("in 72 hours", "America/New_York", ny_now)
    assert f"{local(days):%H:%M %Z}" == "10:30 EDT"
    assert hours.instant == ny_now + timedelta(hours=72)


def test_cached_readings_are_placed_against_the_new_now() -> None:
    first = parse_when("in 2h", BERLIN, NOW)
    later = parse_when("in 2h", BERLIN, NOW + timedelta(minutes=7))
    assert first.instant is not None and later.instant is not None
    assert later.instant - first.instant == timedelta(minutes=7)


def test_preview_shows_the_local_time_and_any_note() -> None:
    assert preview("tomorrow 6pm", BERLIN, NOW) == "tomorrow 6pm → Thu 26 Nov, 18:00 Europe/Berlin"
    assert preview("friday", BERLIN, NOW) == "friday → Fri 27 Nov, best free slot that day (Europe/Berlin)"
    assert preview("2026-12-01 9:30 CST", BERLIN, NOW) == (
        "2026-12-01 9:30 CST → Tue 1 Dec, 09:30 America/Chicago (CST read as America/Chicago)"
    )
    assert preview("best", BERLIN, NOW) == "best → best suggested slot"
    with pytest.raises(TimeParseError):
        preview("blah", BERLIN, NOW)


_FUZZ_WORDS = [
    *"in next this coming tomorrow today tonight midnight noon and half past quarter to from now".split(),
    *"later week end of day at on the friday dec 3rd 31st feb 29 pst cst ist utc+2 +05:30 -0800".split(),
    *"6pm 9:30am 18:00 1730 2026-12-01 2026-12-01T18:00Z 12/3 3.12. +2h 1h30m 0 25 13pm 0am".split(),
    *"24:00 23:60 Europe/Berlin o'clock a.m. @ , . yt ig,tt x foo,yt 2h 14h 18h30 2027".split(),
    "9999999999999999999",
    "9999999999999999999 hours",
    "in 99999999 weeks",
    "日本",
    "😀",
    "\u200b",
]


def test_any_word_salad_is_a_user_error_never_a_crash() -> None:
    import random

    rng = random.Random(7)
    zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"]
    for _ in range(600):
        text = " ".join(rng.choice(_FUZZ_WORDS) for _ in range(rng.randint(0, 6)))
        tz = rng.choice(zones)
        now = NOW + timedelta(minutes=rng.randint(0, 525_600))
        for require_when in (True, False):
            try:
                parse_command(text, tz, now, require_when=require_when)
            except UserError:
                pass
        try:
            parse_when(text, tz, now)
        except UserError:
            pass


# Issue 15: every word of <when> is read, or the command is refused naming the word. Each of these
# came back from the dateparser fallback as a different time (mostly without a note).
BERLIN_TUESDAY = datetime(2026, 12, 1, 13, 20, tzinfo=UTC)  # Tue 1 Dec 2026, 14:20 in Berlin


@pytest.mark.parametrize(
    ("text", "wall", "note"),
    [
        ("7 tomorrow evening", "12-02 19:00", None),  # was tomorrow at the current clock time
        ("3 days after tomorrow 6pm", "12-05 18:00", None),  # was tomorrow
        ("in 20", "12-01 14:40", "in 20 read as 20 minutes"),  # was the 20th
        ("tomorrow 9 30", "12-02 09:30", "24-hour"),  # was tomorrow, 09:00
        ("ten to noon tmrw", "12-02 11:50", None),
        ("25 minutes before 3pm on friday", "12-04 14:35", None),  # was refused as a range
        ("monday of next week 8am", "12-07 08:00", None),
        ("second monday in january 9am", "01-11 09:00", None),
        ("fri 4 dec 1745", "12-04 17:45", None),
        ("2 mondays from now 10am", "12-14 10:00", None),
        ("thrusday 3pm", "12-03 15:00", "read 'thrusday' as 'thursday'"),
        ("ten to twelve tonight", "12-01 23:50", None),  # twelve tonight is midnight, not noon
        ("the last day of the month 5pm", "12-31 17:00", None),
        ("5 to 6pm", "12-01 17:55", "read as 5 minutes before 6pm, not a range"),
    ],
)
def test_every_word_is_read(text: str, wall: str, note: str | None) -> None:
    when = parse_when(text, BERLIN, BERLIN_TUESDAY)
    assert f"{local(when):%m-%d %H:%M}" == wall
    if note is not None:
        assert when.note is not None and note in when.note


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tomorrow blorp 6pm", "couldn't read 'blorp'"),
        ("monday the 9th", "is a Wednesday, not a Monday"),
        ("thu 2 dec 10am", "is a Wednesday, not a Thursday"),
        ("tomorrow 3 dec 10am", "Tomorrow is Wed 2 Dec, not Thu 3 Dec"),
        ("Fri, 27 Nov 2027 18:00", "is a Saturday"),  # through dateparser: its weekday is checked too
        ("4th friday", "couldn't read '4th friday'"),  # of which month? dateparser read the 4th
        ("ten", "couldn't read"),  # dateparser read the 10th
        ("in 2", "2 what?"),
        ("tomorrow after the standup", "is a range"),
    ],
)
def test_words_that_cannot_be_read_are_refused_by_name(text: str, fragment: str) -> None:
    with pytest.raises(TimeParseError) as info:
        parse_when(text, BERLIN, BERLIN_TUESDAY)
    assert fragment in info.value.message
    assert info.value.hint


def test_the_dateparser_fallback_checks_the_weekday_said() -> None:
    """Mutation (issue 29): the weekday check in the dateparser fallback removed
    (core/timeparse/fallback.py). "Fri, 27 Nov 2027" above is refused by the main reader before the
    fallback is asked; a slashed date is a form only dateparser reads, so only the fallback's own
    check stands between "Fri 2027/11/27 18:00" and a post on Saturday."""
    with pytest.raises(TimeParseError) as info:
        parse_when("Fri 2027/11/27 18:00", BERLIN, BERLIN_TUESDAY)
    assert info.value.message == "'Fri 2027/11/27 18:00': Sat 27 Nov 2027 is a Saturday, not a Friday."
    assert info.value.hint
    # The day that agrees with the date is read, through the same path.
    assert f"{local(parse_when('Sat 2027/11/27 18:00', BERLIN, BERLIN_TUESDAY)):%Y-%m-%d %H:%M}" == (
        "2027-11-27 18:00"
    )


@pytest.mark.parametrize(
    "text", ["christmas eve 6pm", "easter sunday 10am", "north 5pm", "tomorrow 7 wake", "midway 3pm tomorrow"]
)
def test_words_that_merely_name_a_tz_database_zone_are_not_read_as_one(text: str) -> None:
    # Christmas Island, Easter Island, Wake, Midway and Australia's legacy "North" are zones, but in chat
    # these are holidays and ordinary words: "christmas eve 6pm" once came back as tomorrow 18:00
    # Indian/Christmas with no note. Refused is right; a wrong zone is the worst answer there is.
    with pytest.raises(TimeParseError):
        parse_when(text, BERLIN, BERLIN_TUESDAY)


def test_a_city_names_its_zone_and_an_impossible_month_day_order_is_turned_round() -> None:
    london = parse_when("tomorrow 9am london time", BERLIN, BERLIN_TUESDAY)
    assert london.tz == "Europe/London" and f"{local(london):%m-%d %H:%M}" == "12-02 09:00"
    assert parse_when("noon new york", BERLIN, BERLIN_TUESDAY).tz == "America/New_York"
    swapped = parse_when("26/4 10am", "America/Toronto", BERLIN_TUESDAY)
    assert f"{local(swapped):%m-%d %H:%M}" == "04-26 10:00"
    assert swapped.note is not None and "read as day/month" in swapped.note


# What the dateparser fallback (core/timeparse/fallback.py) answers, asked directly: the forms only it
# reads, so each of its rules is seen. `python -m tools.mutation time-refusals` found these rules
# unguarded (a date-only answer, the number check's 12-hour clock and two-digit year, the zone
# written in the text, a DST gap's note, the weekday after a comma or a dot, each refusal's hint).
FALLBACK_NOW = datetime(2026, 12, 1, 13, 20, 0, 123456, tzinfo=UTC)  # Tue 14:20:00.123456 in Berlin


@pytest.mark.parametrize(
    ("text", "tz", "instant", "notes", "date_only"),
    [
        ("2026/12/12", BERLIN, "2026-12-12 08:00", ("No time given: using 09:00",), True),
        (
            "2026/12/12 EST",
            BERLIN,
            "2026-12-12 14:00",
            ("No time given: using 09:00", "read as UTC-0500"),
            True,
        ),
        ("2026/12/12 20:00 EST", BERLIN, "2026-12-13 01:00", ("read as UTC-0500",), False),
        # Every number written shows in the answer: 12 in 12:30am (hour 0), 26 in a two-digit year.
        ("2026/11/27 12:30am", BERLIN, "2026-11-26 23:30", (), False),
        ("12/12/26 20:00", BERLIN, "2026-12-12 19:00", (), False),
        ("2026/12/12 1pm", BERLIN, "2026-12-12 12:00", (), False),
        # Relative to the wall clock in the user's zone, to the second (no microseconds carried).
        ("in 1 hour", BERLIN, "2026-12-01 14:20", (), False),
        # Slashed dates are day first, except in the Americas' zones.
        ("12/11/2026 20:00", BERLIN, "2026-11-12 19:00", (), False),
        ("12/11/2026 20:00", "America/New_York", "2026-12-12 01:00", (), False),
        (
            "2026/03/29 02:30",
            BERLIN,
            "2026-03-29 01:30",
            ("02:30 doesn't exist on Sun 29 Mar (clocks go forward): using 03:30",),
            False,
        ),
    ],
)
def test_the_dateparser_fallback_reads(
    text: str, tz: str, instant: str, notes: tuple[str, ...], date_only: bool
) -> None:
    placed = fallback.parse(text, tz, FALLBACK_NOW)
    assert placed is not None
    assert placed.instant.tzinfo is UTC
    assert f"{placed.instant:%Y-%m-%d %H:%M:%S.%f}" == f"{instant}:00.000000"
    assert placed.notes == notes
    assert placed.date_only is date_only


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            "Fri, 2027/11/27 18:00",
            "'Fri, 2027/11/27 18:00': Sat 27 Nov 2027 is a Saturday, not a Friday.",
            "Check the day and date, e.g. `fri 4 dec 6pm`.",
        ),
        (
            "Fri. 2027/11/27 18:00",
            "'Fri. 2027/11/27 18:00': Sat 27 Nov 2027 is a Saturday, not a Friday.",
            "Check the day and date, e.g. `fri 4 dec 6pm`.",
        ),
        (
            "next month",
            "'next month' names a month, not a day and time.",
            "Say which day, e.g. `monday 10am` or `dec 3 9:30am`.",
        ),
    ],
)
def test_the_dateparser_fallback_refuses(text: str, message: str, hint: str) -> None:
    with pytest.raises(TimeParseError) as info:
        fallback.parse(text, BERLIN, FALLBACK_NOW)
    assert (info.value.message, info.value.hint) == (message, hint)


def test_a_year_first_date_the_fallback_loses_is_refused_not_moved() -> None:
    """dateparser answered "2026/12/12 noon" with today at noon, and every number still showed in
    that answer (12 as the month, 12 as the hour), so the reply was "is in the past (Tue 1 Dec)"."""
    assert fallback.parse("2026/12/12 noon", BERLIN, FALLBACK_NOW) is None
    with pytest.raises(TimeParseError, match="couldn't read '2026/12/12 noon'"):
        parse_when("2026/12/12 noon", BERLIN, FALLBACK_NOW)
    assert f"{local(parse_when('2026/12/25 noon', BERLIN, FALLBACK_NOW)):%m-%d %H:%M}" == "12-25 12:00"


def test_the_fallback_gives_no_answer_when_dateparser_answers_with_the_clock() -> None:
    """dateparser's answer when it lost the time written is the clock time of `now`, which is also its
    answer to "now" itself: the fallback takes neither (the main reader answers "now" with its own
    message). Survivor of tools/mutation.py time-refusals: the lost-time rule was never reached."""
    assert fallback.parse("now", BERLIN, FALLBACK_NOW) is None
    with pytest.raises(TimeParseError, match="Use /post to publish right away"):
        parse_when("now", BERLIN, FALLBACK_NOW)
