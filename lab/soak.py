# SPDX-License-Identifier: GPL-2.0
"""`make soak MINUTES=n`: long races, in every profile asked for.

Each profile's kernel boots with lab.soak=<minutes>: the guest runs
lab/soak/migration_soak (workers writing and checking their pages while a
migratepages-style driver moves them back and forth and a thread forks)
and, beside it, the race selftests over and over until the time is up.
The result per profile: workload rounds, rounds that overlapped a
migration, data mismatches, fork leaks, selftest runs passed and failed,
and kernel splats - all but rounds and overlaps must be 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from . import build, pipeline, protocol
from .common import LAB, LabError, results_folder, stage
from .parse import find_splats, lab_errors
from .profile import load_profile

SOAK_SRC = LAB / "soak" / "migration_soak.c"
LINE = protocol.SOAK_PROGRESS
SELFTEST = protocol.SOAK_SELFTEST


@dataclass
class SoakResult:
    profile: str
    minutes: int = 0
    done: bool = False
    rounds: int = 0
    overlaps: int = 0
    mismatches: int = 0
    migrate_calls: int = 0
    migrate_errors: int = 0
    forks: int = 0
    fork_leaks: int = 0
    selftest_runs: int = 0
    selftest_failures: int = 0
    splats: int = 0
    guest_errors: int = 0

    @property
    def ok(self) -> bool:
        return (self.done and not self.mismatches and not self.fork_leaks and
                not self.selftest_failures and not self.splats and not self.guest_errors and
                self.overlaps > 0)


def parse(profile: str, tap: str, console: str) -> SoakResult:
    r = SoakResult(profile)
    for m in LINE.finditer(tap):
        r.done = r.done or m[1] == "done"
        (r.minutes, r.rounds, r.overlaps, r.mismatches, r.migrate_calls, r.migrate_errors,
         r.forks, r.fork_leaks) = (int(x) for x in m.groups()[1:])
    for m in SELFTEST.finditer(tap):
        r.selftest_runs += 1
        r.selftest_failures += m[3] == "FAIL"
    r.splats = len(find_splats(console))
    r.guest_errors = len(lab_errors(console))
    return r


def table(results: list[SoakResult]) -> str:
    rows = ["| profile | minutes | rounds | overlapped | mismatches | migrate_pages calls "
            "(errors) | forks (leaks) | selftest runs (failed) | splats | guest errors | verdict |",
            "| --- " * 11 + "|"]
    for r in results:
        rows.append(f"| {r.profile} | {r.minutes} | {r.rounds} | {r.overlaps} | {r.mismatches} "
                    f"| {r.migrate_calls} ({r.migrate_errors}) | {r.forks} ({r.fork_leaks}) "
                    f"| {r.selftest_runs} ({r.selftest_failures}) | {r.splats} | {r.guest_errors} "
                    f"| {'PASS' if r.ok else 'FAIL'} |")
    return "\n".join(rows)


def run(profiles: list[str], minutes: int, results_root: Path, base: bool = False) -> int:
    """Soak each profile's patched kernel, or with @base the unpatched one:
    the same workload and selftests, to tell a kernel's failure from a
    test's demand that the base does not meet either."""
    if minutes < 1:
        raise LabError(f"MINUTES must be a whole number of minutes, at least 1 (got {minutes})")
    top = results_folder(results_root, "soak")
    exe = top / "migration_soak"
    build.guest_program(SOAK_SRC, exe, top / "soak-build.log", "the soak workload")
    results = []
    for name in profiles:
        profile = load_profile(name)
        label = f"{name}-base" if base else name
        out = top / label
        out.mkdir()
        stage("soak", f"{label}: {minutes} minutes")
        _, g = pipeline.run_job(pipeline.GuestJob(
            profile, tree=pipeline.TreeKind.BASE if base else pipeline.TreeKind.PATCHED,
            files=(("soak/migration_soak", exe),),
            args=protocol.GuestArgs(soak_minutes=minutes, kunit=False),
            timeout=minutes * 60 + 900), out)
        r = parse(label, g.selftest_tap.read_text(errors="replace"),
                  g.console.read_text(errors="replace"))
        results.append(r)
        print(f"soak {label}: {'PASS' if r.ok else 'FAIL'}", flush=True)
    text = table(results)
    (top / "soak.md").write_text(text + "\n")
    (top / "soak.json").write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(text)
    print(f"soak: {top}")
    return 0 if all(r.ok for r in results) else 1
