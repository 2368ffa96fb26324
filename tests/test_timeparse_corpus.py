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
