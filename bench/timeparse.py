"""Corpus accuracy and parse latency of core.timeparse.

    python -m bench.timeparse            # accuracy, then latency p50/p99 (cold and warm cache)

The corpus (tests/data/timeparse_corpus.json) is hand-written: expected instants come from a person
reading the expression, not from the parser. Groups marked written_before_parser were written and
committed before the parser ran on them; their accuracy is printed on its own line, as is the count
of plain misreads (a time other than the expected one, with no note saying what was assumed).
tests/test_timeparse_corpus.py runs the same checks.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import TimeParseError
from core.timeparse import parse_when, warm
from core.timeparse.reader import scan

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "timeparse_corpus.json"

# What each expected error category requires of the message.
_ERROR_WORDS = {
    "!past": ("past", "passed"),
    "!horizon": ("days ahead",),
    "!unreadable": ("couldn't read",),
    "!vague": ("names a",),
    "!invalid": ("",),
}


@dataclass(frozen=True)
class Case:
    group: str
    text: str
    tz: str
    now: datetime
    expected: str
    note: str | None
    # Written (and committed) before the parser was run on it: the fair check. The other cases are
    # ones the parser has been tuned on.
    before: bool = False


@dataclass(frozen=True)
class Outcome:
    case: Case
    ok: bool
    got: str
    # A time came back that is not the expected one (or none was expected) and no note told the
    # user what was assumed: the worst failure, a video posted at a moment nobody asked for.
    plain_misread: bool = False


def load_cases(path: Path = CORPUS) -> list[Case]:
    data = json.loads(path.read_text())
    cases: list[Case] = []
    for group in data["groups"]:
        tz = group["tz"]
        before = bool(group.get("written_before_parser", False))
        now = datetime.fromisoformat(group["now"]).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
        for row in group["cases"]:
            note = row[2] if len(row) > 2 else None
            cases.append(Case(group["name"], row[0], tz, now, row[1], note, before))
    return cases


def expected_instant(expected: str, tz: str) -> datetime:
    if expected.endswith("Z"):
        return datetime.fromisoformat(expected[:-1]).replace(tzinfo=UTC)
    parts = expected.split(" ")
    wall = f"{parts[0]} {parts[1]}"
    zone = parts[2] if len(parts) > 2 else tz
    # fold=0: where DST repeats a wall time the corpus means the first occurrence.
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def check(case: Case) -> Outcome:
    try:
        when = parse_when(case.text, case.tz, case.now)
    except TimeParseError as exc:
        words = _ERROR_WORDS.get(case.expected)
        ok = words is not None and any(w in exc.message for w in words)
        return Outcome(case, ok, f"error: {exc.message}")
    if case.expected == "!auto":
        return Outcome(case, when.auto, f"auto={when.auto}")
    if when.instant is None or case.expected.startswith("!"):
        return Outcome(case, False, f"{when.instant} note={when.note}", plain_misread=when.note is None)
    got = f"{when.instant:%Y-%m-%dT%H:%MZ} ({when.tz}) note={when.note}"
    right_time = when.instant == expected_instant(case.expected, case.tz)
    ok = right_time
    if case.note is not None:
        ok = ok and when.note is not None and case.note in when.note
    return Outcome(case, ok, got, plain_misread=not right_time and when.note is None)


def accuracy(cases: list[Case]) -> tuple[float, list[Outcome]]:
    outcomes = [check(c) for c in cases]
    failures = [o for o in outcomes if not o.ok]
    return 1 - len(failures) / len(outcomes), failures


def _timed(cases: list[Case], *, jitter: bool = False) -> list[float]:
    """Per-call latency. With `jitter` every call has its own `now` (one second apart), as in
    production, so nothing keyed on the reference time can be reused."""
    samples = []
    for i, c in enumerate(cases):
        now = c.now + timedelta(seconds=i) if jitter else c.now
        start = time.perf_counter()
        try:
            parse_when(c.text, c.tz, now)
        except TimeParseError:
            pass
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _floor(cases: list[Case]) -> float:
    """p50 of the least any parser does per call (time it, split the text into words): the figure
    the parse p50 is read against."""
    samples = []
    for c in cases:
        start = time.perf_counter()
        " ".join(c.text.split()).lower().split()
        samples.append((time.perf_counter() - start) * 1000)
    return _percentile(samples, 0.5)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _fast(case: Case) -> bool:
    """Whether the hand-written reader settled this text (a reading or a definite error)."""
    try:
        return scan(case.text.strip().lower(), case.tz).reading is not None
    except TimeParseError:
        return True


def main() -> int:
    cases = load_cases()
    start = time.perf_counter()
    warm()
    warm_ms = (time.perf_counter() - start) * 1000

    scan.cache_clear()
    cold = _timed(cases, jitter=True)  # first sight of each text, each with its own `now`
    warm_runs = [s for _ in range(5) for s in _timed(cases)]
    score, failures = accuracy(cases)
    fast = sum(_fast(c) for c in cases)
    before = [c for c in cases if c.before]
    before_score, before_failures = accuracy(before)
    misreads = [o for o in failures if o.plain_misread]

    print(f"corpus: {len(cases)} expressions, {len(cases) - len(failures)} correct → accuracy {score:.1%}")
    print(
        f"written before the parser ran on them: {len(before)} expressions, "
        f"{len(before) - len(before_failures)} correct → accuracy {before_score:.1%} (target ≥ 90 %)"
    )
    print(
        f"plain misreads (a different time with no note): {len(misreads)} "
        f"({sum(o.case.before for o in misreads)} in the written-before part; target ≤ 1)"
    )
    print(f"fast reader handled {fast}/{len(cases)} ({fast / len(cases):.0%}); the rest went to dateparser")
    print(f"dateparser warm-up (once per process): {warm_ms:.0f} ms")
    floor = _floor(cases)
    print(
        f"parse latency, first parse of each text: p50 {_percentile(cold, 0.5):.3f} ms (target < 1 ms; "
        f"floor {floor:.4f} ms: the timer plus splitting the text into words), "
        f"p99 {_percentile(cold, 0.99):.3f} ms, mean {statistics.fmean(cold):.3f} ms"
    )
    print(
        f"parse latency, repeated texts (cached reading): p50 {_percentile(warm_runs, 0.5):.3f} ms, "
        f"p99 {_percentile(warm_runs, 0.99):.3f} ms"
    )
    for o in failures:
        print(
            f"  {'MISREAD' if o.plain_misread else 'MISS'} [{o.case.group[:20]}] {o.case.text!r}: "
            f"expected {o.case.expected}"
            f"{' / ' + o.case.note if o.case.note else ''}; got {o.got}"
        )
    ok = before_score >= 0.90 and len(misreads) <= 1 and _percentile(cold, 0.5) < 1.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
