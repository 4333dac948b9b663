# SPDX-License-Identifier: GPL-2.0
"""Stage 7: turn one guest run into cases, summary.json and a verdict.

Besides the KUnit and selftest cases, every run has the lab's own checks as
cases of the "lab" suite, so a hang, a panic or a WARNING is a failure that
is counted like any other.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .cases import Case, Status
from .parse import (errors_reported, find_splats, kunit_cases, lab_errors, lab_lines,
                    lab_node_lines, selftest_cases)
from .profile import Profile


@dataclass(frozen=True)
class Inputs:
    console: str
    selftest_tap: str
    timed_out: bool
    seconds: float
    expect_kunit: bool = True
    expect_selftests: bool = True


def cpulist(ids: list[int] | tuple[int, ...]) -> str:
    """Contiguous ids as the kernel prints them: (), (0,), (2, 3) -> "", "0", "2-3"."""
    if not ids:
        return ""
    return str(ids[0]) if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"


def expected_topology(profile: Profile) -> tuple[str, str, dict[int, str]]:
    t = profile.topology
    return (cpulist(list(range(len(t.nodes)))), cpulist(list(range(t.vcpus))),
            {i: cpulist(n.cpus) for i, n in enumerate(t.nodes)})


def evaluate(inp: Inputs, profile: Profile) -> tuple[list[Case], dict[str, object]]:
    cases: list[Case] = []
    notes = lab_lines(inp.console)
    lab = "lab"

    def check(name: str, ok: bool, reason: str) -> None:
        cases.append(Case(lab, name, Status.PASS if ok else Status.FAIL, "" if ok else reason))

    tail = "\n".join(inp.console.splitlines()[-15:])
    if inp.timed_out:
        check("guest_completed", False,
              f"guest hung: killed after {inp.seconds:.0f}s; last lines:\n{tail}")
    else:
        check("guest_completed", "done" in notes,
              f"guest stopped before /init finished (panic or crash?); last lines:\n{tail}")
    # A step of /init that failed (a mount, swapon, the selftest runner)
    # would otherwise only turn the cases that need it into SKIPs.
    errors = lab_errors(inp.console)
    check("guest_errors", not errors,
          errors_reported(errors))
    splats = find_splats(inp.console)
    check("no_splats", not splats,
          "\n".join(f"console line {s.line_no}:\n    " + "\n    ".join(s.first_lines)
                    for s in splats[:3]) + (f"\n(+{len(splats) - 3} more)" if len(splats) > 3 else ""))
    want_nodes, want_cpus, want_node_cpus = expected_topology(profile)
    got = notes.get("nodes-online", "")
    got_cpus = notes.get("cpus-online", "")
    got_node_cpus = lab_node_lines(inp.console)
    if "nodes-online" in notes or "done" in notes:
        check("numa_topology",
              (got, got_cpus, got_node_cpus) == (want_nodes, want_cpus, want_node_cpus),
              f"guest has nodes {got or '(none)'} with cpus {got_node_cpus} ({got_cpus or 'none'} "
              f"online); topology {profile.topology.name} asks for nodes {want_nodes} "
              f"with cpus {want_node_cpus}")

    kc, kproblems = kunit_cases(inp.console)
    if inp.expect_kunit:
        check("kunit_stream", bool(kc) and not kproblems, "; ".join(kproblems) or "no KUnit results")
    cases += kc
    sc, sproblems = selftest_cases(inp.selftest_tap)
    if inp.expect_selftests or sc:
        check("selftest_stream", bool(sc) and not sproblems,
              "; ".join(sproblems) or "no selftest results")
    cases += sc
    extra = {
        "guest_kernel": notes.get("kernel", ""),
        "nodes_online": got,
        "cpus_online": got_cpus,
        "node_cpus": {str(k): v for k, v in got_node_cpus.items()},
        "guest_seconds": round(inp.seconds, 1),
        "timed_out": inp.timed_out,
        "splats": [list(s.first_lines) for s in splats],
    }
    return cases, extra


def counts(cases: list[Case]) -> dict[str, int]:
    c = Counter(x.status for x in cases)
    n = {"passed": c[Status.PASS], "failed": c[Status.FAIL], "skipped": c[Status.SKIP]}
    if c[Status.XFAIL]:
        n["xfailed"] = c[Status.XFAIL]
    return n


def write_summary(path: Path, meta: dict[str, object], cases: list[Case],
                  extra: dict[str, object]) -> dict[str, object]:
    n = counts(cases)
    summary = {**meta, **extra, "counts": n,
               "verdict": "PASS" if n["failed"] == 0 else "FAIL",
               "cases": [c.to_json() for c in cases]}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def table(cases: list[Case]) -> str:
    """One row per suite, then the failures and skips with their reasons."""
    suites: dict[str, Counter[Status]] = {}
    for c in cases:
        suites.setdefault(c.suite, Counter())[c.status] += 1
    xfail = any(n[Status.XFAIL] for n in suites.values())
    rows = [f"  {'suite':<12} {'pass':>5} {'fail':>5} {'skip':>5}"
            + (f" {'xfail':>5}" if xfail else "")]
    for s, n in suites.items():
        rows.append(f"  {s:<12} {n[Status.PASS]:>5} {n[Status.FAIL]:>5} {n[Status.SKIP]:>5}"
                    + (f" {n[Status.XFAIL]:>5}" if xfail else ""))
    for c in cases:
        if c.status is not Status.PASS:
            reason = c.reason.replace("\n", "\n      ")
            tag = c.status.value.upper()
            rows.append(f"  {tag} {c.suite}: {c.name}" + (f": {reason}" if reason else ""))
    return "\n".join(rows)


def closing_line(cases: list[Case]) -> str:
    n = counts(cases)
    return (f"{n['passed']} passed, {n['failed']} failed, {n['skipped']} skipped"
            + (f", {n['xfailed']} xfailed (known bugs, as expected)" if "xfailed" in n else ""))
