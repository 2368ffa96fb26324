"""Mutation testing of the code that guards security and money-like limits, module by module.

    python -m tools.mutation                    # every module below, one after another
    python -m tools.mutation video-links breaker
    python -m tools.mutation --list
    python -m tools.mutation time-refusals --survivors   # print each surviving mutant's diff
    python -m tools.mutation breaker --functions admit --functions states   # only these functions

Each module's files are mutated by mutmut (https://mutmut.readthedocs.io, 3.x: it mutates inside
functions only, so SQL kept in module-level strings, e.g. core/store/buckets.py's, is not mutated;
tests/test_shared_limits.py breaks that SQL by hand instead) and each mutant is run against the
tests that guard that module, the ones mutmut saw reach the mutated function. A survivor is a
change to the code no test noticed: kill it with a test, or explain in a comment at the code why it
is equivalent. docs/testing.md keeps the last scores.

mutmut 3 reads its settings from ``[tool.mutmut]`` in the pyproject.toml of the directory it runs
in and writes its mutants next to it, so each module runs in its own scratch copy of the repository
(``--workdir``, kept between runs so a rerun retests only what changed). Not in CI: a module takes
minutes to an hour on 2 cores. It runs one test process at a time (``--children``) at low priority.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = Path(os.environ.get("TMPDIR", "/tmp")) / "postbot-mutation"


@dataclass(frozen=True)
class Module:
    name: str
    what: str
    files: tuple[str, ...]
    tests: tuple[str, ...]
    # mutmut mutant-name globs, to mutate only some functions of a larger file.
    functions: tuple[str, ...] = ()
    # Extra pytest arguments, e.g. ("-k", "not postgres") where PostgreSQL adds time but no branch.
    pytest_args: tuple[str, ...] = field(default=())


MODULES = (
    Module(
        "slack-file-hosts",
        "the bot token goes to Slack's file hosts only",
        ("adapters/slack/files.py",),
        ("tests/test_slack_file_hosts.py", "tests/test_slack_file_download.py"),
        # The host rule and the download that obeys it; the rest of the file reads messages.
        functions=(
            "adapters.slack.files.xǁFileHostsǁ*",
            "adapters.slack.files.x__origin__*",
            "adapters.slack.files.x__open__*",
            "adapters.slack.files.x__outside_slack__*",
            "adapters.slack.files.x_download__*",
            "adapters.slack.files.x_is_external__*",
        ),
    ),
    Module(
        "slack-intake",
        "/slack/events: signature headers, body cap and deadline, v0 signature, replays",
        ("adapters/slack/ingress.py",),
        ("tests/test_slack_front_door.py",),
    ),
    Module(
        "oauth-binding",
        "an account link bound to the browser that opened it",
        ("core/accounts/binding.py",),
        ("tests/test_web_linking.py",),
        pytest_args=("-k", "not postgres"),
    ),
    Module(
        "pkce",
        "PKCE verifier and S256 challenge",
        ("core/oauth/pkce.py",),
        ("tests/test_web_linking.py", "tests/test_youtube_auth.py", "tests/test_oauth_providers.py"),
        pytest_args=("-k", "not postgres"),
    ),
    Module(
        "video-links",
        "videos fetched from links: https, public addresses, redirects, size",
        ("core/media/links.py", "core/media/link_resolver.py"),
        ("tests/test_video_links.py",),
    ),
    Module(
        "token-buckets",
        "rate limits per account, in memory and shared through the database",
        ("core/store/buckets.py", "core/scheduler/limits.py"),
        ("tests/test_shared_limits.py", "tests/test_scheduler_limits.py"),
        # Under mutmut's tracing a loaded machine reserves the eight posts too slowly for any to
        # wait past max_rate_wait_s, so that test fails before a mutant is made; the deferral it
        # checks is the processor's (not mutated here), the bucket's arithmetic has tests of its own.
        pytest_args=("-k", "not defers_long_waits"),
    ),
    Module(
        "breaker",
        "the circuit breaker shared by the fleet",
        ("core/scheduler/breaker.py", "core/store/breakers.py"),
        ("tests/test_breaker.py", "tests/test_shared_breaker.py"),
        pytest_args=("-k", "not postgres"),
    ),
    Module(
        "lease-fencing",
        "a worker whose lease was taken over writes nothing",
        ("core/store/queue.py",),
        ("tests/test_scheduler_fencing.py", "tests/test_scheduler_claim.py"),
        functions=(
            "core.store.queue.x_held__*",
            "core.store.queue.x_renew__*",
            "core.store.queue.x_save_checkpoint__*",
            "core.store.queue.x_write_outcomes__*",
        ),
        pytest_args=("-k", "not postgres"),
    ),
    Module(
        "alert-gates",
        "an outage announced once by the fleet",
        ("core/store/alerts.py", "core/alerts.py"),
        ("tests/test_alerts.py", "tests/test_ops_alerts.py"),
        # The gates and the alerter's use of them; when to alert (observe) and where it goes
        # (deliver) are the rest of core/alerts.py.
        functions=(
            "core.store.alerts.*",
            "core.alerts.xǁLocalGateǁ*",
            "core.alerts.xǁAlerterǁ__init__*",
            "core.alerts.xǁAlerterǁ_gated*",
        ),
        pytest_args=("-k", "not postgres"),
    ),
    Module(
        "approvals",
        "an approval or rejection decided once, on the revision shown; expiry told once",
        ("core/store/approvals.py",),
        ("tests/test_approval_store.py", "tests/test_approval.py"),
        # The decisions and the review news; the channel's rule (who approves) is the rest.
        functions=(
            "core.store.approvals.x__seen__*",
            "core.store.approvals.x_approve__*",
            "core.store.approvals.x_reject__*",
            "core.store.approvals.x_unapprove__*",
            "core.store.approvals.x_news__*",
            "core.store.approvals.x_claim_news__*",
            "core.store.approvals.x_release_news__*",
        ),
        pytest_args=("-k", "not postgres"),
    ),
    Module(
        "slot-claims",
        "racing `/schedule next` commands take different slots",
        ("core/schedule/store.py", "core/schedule/plan.py"),
        ("tests/test_slot_claims.py", "tests/test_posting_schedule.py"),
        # The claim and what frees a slot; the weekly slots' editing and showing are the rest.
        functions=(
            "core.schedule.store.x__origin__*",
            "core.schedule.store.x_taken__*",
            "core.schedule.store.x__alive__*",
            "core.schedule.store.x__claim__*",
            "core.schedule.store.x_claim_next__*",
            "core.schedule.store.x_attach__*",
            "core.schedule.store.x_release__*",
            "core.schedule.plan.x_place_next__*",
            "core.schedule.plan.x_settle__*",
        ),
        pytest_args=("-k", "not postgres"),
    ),
    Module(
        "post-media-url",
        "each post's signed link to its video, dead once the post is over",
        ("core/media/storage/post_links.py", "core/media/storage/signing.py"),
        ("tests/test_instagram_video_links.py", "tests/test_media_storage.py"),
    ),
    Module(
        "time-refusals",
        "the dateparser fallback's refusals (words it drops, a wrong weekday, a lost time)",
        ("core/timeparse/fallback.py",),
        ("tests/test_timeparse.py", "tests/test_timeparse_corpus.py"),
    ),
)
BY_NAME = {m.name: m for m in MODULES}
_LINE = re.compile(r"^\s*(\S+): (.+)$")


def _toml_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "]"


def prepare(module: Module, workdir: Path) -> Path:
    """A scratch copy of the tracked files with mutmut's settings for ``module``."""
    where = workdir / module.name
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source, target = ROOT / name, where / name
        if source.is_file() and (not target.exists() or target.read_bytes() != source.read_bytes()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pyproject = (ROOT / "pyproject.toml").read_text()
    # -n 0: mutmut runs pytest in its own (forked) processes; the suite's xdist workers would not.
    settings = f"""

[tool.mutmut]
source_paths = ["core", "adapters", "bot"]
only_mutate = {_toml_list(module.files)}
pytest_add_cli_args_test_selection = {_toml_list(module.tests)}
pytest_add_cli_args = {_toml_list(["-n", "0", "-p", "no:cacheprovider", *module.pytest_args])}
also_copy = ["migrations", "alembic.ini", "bench", "config.example.toml", "tools"]
"""
    (where / "pyproject.toml").write_text(pyproject + settings)
    return where


def results(where: Path, module: Module) -> dict[str, str]:
    """Mutant name → status (killed, survived, no tests, timeout, ...) for the module's functions."""
    out = subprocess.run(
        ["mutmut", "results", "--all", "true"], cwd=where, capture_output=True, text=True, check=True
    ).stdout
    found = {}
    for line in out.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        name, status = match.groups()
        if module.functions and not any(_glob(name, g) for g in module.functions):
            continue
        found[name] = status.strip()
    return found


def _glob(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)


def function_globs(names: list[str]) -> tuple[str, ...]:
    """``--functions`` values as mutmut mutant-name globs: a bare function or method name
    (``admit``) matches it in any class or module; anything with a "." or "*" is taken as a glob."""
    globs: list[str] = []
    for name in names:
        if "." in name or "*" in name:
            globs.append(name)
        else:
            globs += [f"*ǁ{name}__mutmut_*", f"*.x_{name}__mutmut_*"]
    return tuple(globs)


def run(
    module: Module, workdir: Path, children: int, *, again: bool = False
) -> tuple[Counter[str], dict[str, str], float]:
    where = prepare(module, workdir)
    started = time.monotonic()
    only = list(module.functions)
    if again and (where / "mutants").exists():
        # What the last run did not kill, against the tests as they are now: its survivors, and
        # mutants of functions changed since (mutmut makes them anew, "not checked").
        done = ("killed", "timeout", "no tests")
        only = [name for name, status in results(where, module).items() if status not in done]
        # Which tests reach which function is collected once per run; tests written since the last
        # run are not in it, so it is collected again.
        (where / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        if not only:
            found = results(where, module)
            return Counter(found.values()), found, 0.0
    command = ["nice", "-n", "10", "mutmut", "run", "--max-children", str(children), *only]
    with (where / "mutmut-run.log").open("w") as log:
        subprocess.run(command, cwd=where, stdout=log, stderr=subprocess.STDOUT, check=False)
    found = results(where, module)
    return Counter(found.values()), found, time.monotonic() - started


def score(counts: Counter[str]) -> float | None:
    """Killed (a timeout is a kill: the mutant hung the test) over every mutant a test reached."""
    caught = counts["killed"] + counts["timeout"]
    reached = caught + counts["survived"] + counts["suspicious"]
    return caught / reached if reached else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", help="module names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--children", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    parser.add_argument("--again", action="store_true", help="rerun only the last run's survivors")
    parser.add_argument(
        "--functions",
        action="append",
        default=[],
        metavar="NAME",
        help="mutate only these functions (a name such as admit, or a mutmut name glob); repeatable. "
        "The score then covers only them: for a module whose whole run would take too long",
    )
    args = parser.parse_args(argv)
    if args.list:
        for m in MODULES:
            print(f"{m.name:18} {', '.join(m.files)}  ←  {', '.join(m.tests)}")
        return 0
    unknown = [n for n in args.modules if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; --list shows them")
    if shutil.which("mutmut") is None:
        parser.error("mutmut is not installed: pip install -e '.[test]' (it is in the test extra)")
    chosen = [BY_NAME[n] for n in args.modules] if args.modules else list(MODULES)
    if args.functions:
        chosen = [replace(m, functions=function_globs(args.functions)) for m in chosen]
    header = ("score", "killed", "timeout", "survived", "no tests", "minutes")
    print(f"{'module':18} " + " ".join(f"{h:>8}" for h in header), flush=True)
    for module in chosen:
        counts, found, took = run(module, args.workdir, args.children, again=args.again)
        value = score(counts)
        shown = f"{value:.0%}" if value is not None else "-"
        row = (shown, counts["killed"], counts["timeout"], counts["survived"], counts["no tests"])
        print(f"{module.name:18} " + " ".join(f"{c:>8}" for c in row) + f" {took / 60:>8.1f}", flush=True)
        other = {s: n for s, n in counts.items() if s not in ("killed", "timeout", "survived", "no tests")}
        if other:
            print(f"{'':18} also: {other}")
        if args.survivors:
            where = args.workdir / module.name
            for name, status in found.items():
                if status == "survived":
                    shown_diff = subprocess.run(
                        ["mutmut", "show", name], cwd=where, capture_output=True, text=True
                    ).stdout
                    print(shown_diff)
    return 0


if __name__ == "__main__":
    sys.exit(main())
