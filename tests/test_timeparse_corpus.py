"""The hand-written corpus (tests/data/timeparse_corpus.json): the cases the parser was tuned on must be
read correctly at ≥ 97 %."""

from __future__ import annotations

from bench.timeparse import accuracy, check, load_cases


def test_corpus_is_big_and_covers_dst_changes() -> None:
    cases = load_cases()
    assert len(cases) >= 300
    groups = {c.group for c in cases}
    assert any("DST starts" in g and c.tz == "America/New_York" for c in cases for g in [c.group])
    assert any("DST ends" in g for g in groups)
    assert {"America/New_York", "Europe/Berlin"} <= {c.tz for c in cases}


def test_tuned_corpus_accuracy_at_least_97_percent() -> None:
    score, failures = accuracy([c for c in load_cases() if not c.before])
    report = "\n".join(f"{o.case.text!r}: expected {o.case.expected}, got {o.got}" for o in failures)
    print(f"\ncorpus accuracy {score:.1%}\n{report}")
    assert score >= 0.97, report


def test_checker_rejects_a_wrong_expectation() -> None:
    # The corpus check itself must be able to fail: a case with a deliberately wrong answer.
    case = load_cases()[0]
    wrong = type(case)(case.group, case.text, case.tz, case.now, "2030-01-01 00:00", None)
    assert not check(wrong).ok


def test_written_before_set_meets_issue_15() -> None:
    # The fair check: cases written and committed before the parser ran on them.
    before = [c for c in load_cases() if c.before]
    assert len(before) >= 300
    score, failures = accuracy(before)
    report = "\n".join(f"{o.case.text!r}: expected {o.case.expected}, got {o.got}" for o in failures)
    assert score >= 0.90, report


def test_no_plain_misreads_anywhere_in_the_corpus() -> None:
    # A different time with no note is the worst failure: at most one is tolerated (issue 15).
    _, failures = accuracy(load_cases())
    misreads = [
        f"{o.case.text!r}: expected {o.case.expected}, got {o.got}" for o in failures if o.plain_misread
    ]
    assert len(misreads) <= 1, "\n".join(misreads)


def test_checker_counts_a_silent_wrong_time_as_a_plain_misread() -> None:
    case = next(c for c in load_cases() if c.text == "tomorrow 6pm")
    wrong = type(case)(case.group, case.text, case.tz, case.now, "2026-03-06 19:00", None)
    outcome = check(wrong)
    assert not outcome.ok and outcome.plain_misread
