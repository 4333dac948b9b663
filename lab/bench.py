# SPDX-License-Identifier: GPL-2.0
"""`make bench`: move_pages() on the unpatched and the patched kernel.

Each kernel is built from the same tree and profile (the patched one
without the debug checker, unless asked), booted in the 1cpu-memnode
topology (one vCPU on node 0, node 1 memory only) under
`-icount shift=0,sleep=off`, so the guest's nanoseconds are instructions
and each figure is deterministic.  The guest runs lab/bench/move_pages_bench
instead of the tests; every pattern checks data and nodes after its calls.
The result is a table of guest ns per page and patched/base ratios, with
bench.json, bench.md and (with gnuplot) bench.png in results/bench-<time>/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import build, guest, pipeline, protocol
from .common import LAB, LabError, results_folder, stage
from .parse import errors_reported, lab_errors
from .profile import Profile, load_profile, with_topology

BENCH_SRC = LAB / "bench" / "move_pages_bench.c"
LINE = protocol.BENCH_RESULT
PROFILE_FN = protocol.BENCH_PROFILE_FN
PROFILE_END = protocol.BENCH_PROFILE_END
EVENTS = protocol.BENCH_EVENTS

# The kernels a bench run can compare: tree kind and extra config fragments.
KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "base": ("base", ()),
    "patched": ("patched", ("nochecker",)),
    "patched-checker": ("patched", ()),
}


@dataclass(frozen=True)
class Result:
    pattern: str
    run: int
    pages: int
    calls: int
    ns: int
    ok: bool
    inexact: int
    migrated: int = -1      # /proc/vmstat deltas over the timed calls
    thp_moved: int = -1     # (-1: an older benchmark that did not print them)
    thp_split: int = -1


@dataclass(frozen=True)
class Events:
    pattern: str
    pages: int
    rounds: int
    remote_flushes: int
    ok: bool


def parse_events(text: str) -> dict[str, Events]:
    """The events lines of a guest's output (the 4-vCPU run), by pattern."""
    return {m[1]: Events(m[1], int(m[2]), int(m[3]), int(m[4]), m[5] == "1")
            for m in EVENTS.finditer(text)}


def events_table(by_kernel: dict[str, dict[str, Events]], reference: str) -> str:
    """Markdown: migrate_pages() rounds and remote TLB flushes per page, and the ratio."""
    kernels = list(by_kernel)
    patterns = list(dict.fromkeys(p for k in kernels for p in by_kernel[k]))
    head = "| pattern | " + " | ".join(f"{k} rounds | {k} remote flushes/page" for k in kernels)
    head += " | " + " | ".join(f"flushes {k}/{reference}" for k in kernels if k != reference)
    rows = [head + " |", "| --- " * (1 + 2 * len(kernels) + len(kernels) - 1) + "|"]
    for p in patterns:
        cells, ref = [], by_kernel.get(reference, {}).get(p)
        for k in kernels:
            e = by_kernel[k].get(p)
            if e is None or e.rounds < 0:
                cells += ["-", "-"]
                continue
            cells += [str(e.rounds), f"{e.remote_flushes / e.pages:.4f}"
                      + ("" if e.ok else " **WRONG**")]
        for k in kernels:
            if k == reference:
                continue
            e = by_kernel[k].get(p)
            cells.append(f"{e.remote_flushes / ref.remote_flushes:.4f}"
                         if e and ref and ref.remote_flushes > 0 and e.remote_flushes >= 0
                         else "-")
        rows.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def parse(text: str) -> list[Result]:
    """The bench lines of a guest's output."""
    return [Result(m[1], int(m[2]), int(m[3]), int(m[4]), int(m[5]), m[6] == "1", int(m[7]),
                   *(int(m[i]) if m[i] is not None else -1 for i in (8, 9, 10)))
            for m in LINE.finditer(text)]


def counters_table(by_kernel: dict[str, dict[str, Result]]) -> str:
    """Markdown: pages migrated, THPs moved whole and THPs split, per kernel."""
    kernels = list(by_kernel)
    patterns = list(dict.fromkeys(p for k in kernels for p in by_kernel[k]))
    head = "| pattern | " + " | ".join(
        f"{k} pgmigrate_success | {k} thp_migration_success | {k} thp_migration_split"
        for k in kernels) + " |"
    rows = [head, "| --- " * (1 + 3 * len(kernels)) + "|"]
    for p in patterns:
        cells = []
        for k in kernels:
            r = by_kernel[k].get(p)
            cells += (["-"] * 3 if r is None or r.migrated < 0 else
                      [str(r.migrated), str(r.thp_moved), str(r.thp_split)])
        rows.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


@dataclass(frozen=True)
class FuncProfile:
    pattern: str
    pages: int
    migrated: int
    ns: int
    ok: bool
    funcs: dict[str, tuple[int, int]]   # symbol -> (hits, own ns)


def parse_profile(text: str) -> dict[str, FuncProfile]:
    """The --profile lines of a guest's output, by pattern."""
    funcs: dict[str, dict[str, tuple[int, int]]] = {}
    for m in PROFILE_FN.finditer(text):
        funcs.setdefault(m[1], {})[m[2]] = (int(m[3]), int(m[4]))
    return {m[1]: FuncProfile(m[1], int(m[2]), int(m[3]), int(m[4]), m[5] == "1",
                          funcs.get(m[1], {}))
            for m in PROFILE_END.finditer(text)}


def profile_table(by_kernel: dict[str, dict[str, FuncProfile]], reference: str,
                  top: int = 20) -> str:
    """Markdown per pattern: each function's own guest ns per listed page, per kernel.

    Shares, not timings: the profiler's own cost is in every function's time.
    The functions are the @top largest of any kernel, largest first.
    """
    kernels = list(by_kernel)
    patterns = list(dict.fromkeys(p for k in kernels for p in by_kernel[k]))
    out = []
    for p in patterns:
        profs = {k: by_kernel[k].get(p) for k in kernels}
        names: dict[str, int] = {}
        for pr in profs.values():
            for f, (_, ns) in (pr.funcs if pr else {}).items():
                names[f] = max(names.get(f, 0), ns)
        order = sorted(names, key=lambda f: -names[f])[:top]
        summary = ", ".join(
            f"{k}: {pr.ns / pr.pages:.0f} ns/page profiled, {pr.migrated} migrated"
            + ("" if pr.ok else " **WRONG**")
            for k, pr in profs.items() if pr)
        out.append(f"### {p}\n\n{summary}\n")
        head = "| function | " + " | ".join(f"{k} ns/page | {k} calls/page" for k in kernels)
        head += " | " + " | ".join(f"{k}-{reference}" for k in kernels if k != reference) + " |"
        rows = [head, "| --- " * (1 + 2 * len(kernels) + len(kernels) - 1) + "|"]
        for f in order:
            cells = []
            for k in kernels:
                pr = profs[k]
                if pr is None or f not in pr.funcs:
                    cells += ["-", "-"]
                    continue
                hits, ns = pr.funcs[f]
                cells += [f"{ns / pr.pages:.1f}", f"{hits / pr.pages:.3f}"]
            ref = profs.get(reference)
            for k in kernels:
                if k == reference:
                    continue
                pr = profs[k]
                # "-": not among the functions that kernel printed.
                if pr is None or ref is None or f not in pr.funcs or f not in ref.funcs:
                    cells.append("-")
                    continue
                a = pr.funcs[f][1] / pr.pages
                b = ref.funcs[f][1] / ref.pages
                cells.append(f"{a - b:+.1f}")
            rows.append(f"| {f} | " + " | ".join(cells) + " |")
        out.append("\n".join(rows) + "\n")
    return "\n".join(out)


def last_runs(results: list[Result]) -> dict[str, Result]:
    """Per pattern, its last run (the first one warms the allocator up)."""
    out: dict[str, Result] = {}
    for r in results:
        if r.pattern not in out or r.run >= out[r.pattern].run:
            out[r.pattern] = r
    return out


def table(by_kernel: dict[str, dict[str, Result]], reference: str) -> str:
    """Markdown: guest ns per page for each kernel, and its ratio to @reference."""
    kernels = list(by_kernel)
    patterns = list(dict.fromkeys(p for k in kernels for p in by_kernel[k]))
    head = "| pattern | " + " | ".join(f"{k} ns/page" for k in kernels)
    head += " | " + " | ".join(f"{k}/{reference}" for k in kernels if k != reference) + " |"
    rows = [head, "| --- " * (1 + len(kernels) + len(kernels) - 1) + "|"]
    for p in patterns:
        cells, ref = [], by_kernel.get(reference, {}).get(p)
        for k in kernels:
            r = by_kernel[k].get(p)
            cells.append("-" if r is None else
                         f"{r.ns / r.pages:.0f}" + ("" if r.ok else " **WRONG**") +
                         (f" ({r.inexact} inexact)" if r.inexact else ""))
        for k in kernels:
            if k == reference:
                continue
            r = by_kernel[k].get(p)
            cells.append(f"{r.ns / ref.ns:.3f}" if r and ref and ref.ns else "-")
        rows.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def compile_bench(out: Path) -> Path:
    exe = out / "move_pages_bench"
    return build.guest_program(BENCH_SRC, exe, out / "bench-build.log", "the benchmark")


def plot_script(by_kernel: dict[str, dict[str, Result]], reference: str, out: Path
                ) -> str | None:
    """The gnuplot script of bench.png (its data in bench.dat), or None."""
    kernels = list(by_kernel)
    ref = by_kernel.get(reference, {})
    patterns = [p for p in ref if all(by_kernel[k].get(p) for k in kernels)]
    if len(kernels) < 2 or not patterns:
        return None
    data = out / "bench.dat"
    # One row per pattern: guest instructions per page of each kernel.
    lines = ["# pattern " + " ".join(kernels)]
    for p in patterns:
        lines.append(f"{p} " + " ".join(f"{by_kernel[k][p].ns / by_kernel[k][p].pages:.1f}"
                                         for k in kernels))
    data.write_text("\n".join(lines) + "\n")
    n = len(kernels)
    width = 0.8 / n
    cols = " , ".join(f"'{data}' using {i + 2}:xtic(1) title '{k}'" for i, k in enumerate(kernels))
    # The ratio to the reference above each other kernel's bar.
    labels = " , ".join(
        f"'{data}' using ($0 - 0.4 + {width * (i + 0.5):.3f}):(${i + 2}):"
        f"(sprintf('%.2fx', ${i + 2} / $2)) with labels offset 0,0.7 notitle"
        for i, k in enumerate(kernels) if k != reference)
    return (f"set terminal pngcairo size 1000,560 noenhanced\n"
            f"set output '{out / 'bench.png'}'\n"
            "set style data histograms\nset style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
            "set key above horizontal\n"
            "set ylabel 'guest instructions per page (-icount)'\n"
            "set yrange [0:*]\nset offsets 0,0,graph 0.1,0\nset grid ytics\n"
            "set xtics nomirror\n"
            f"set title 'move_pages(): cost per page, and ratio to {reference} (lower is better)'\n"
            f"plot {cols}" + (f" , {labels}" if labels else "") + "\n")


def plot(by_kernel: dict[str, dict[str, Result]], reference: str, out: Path) -> Path | None:
    """bench.png: per pattern, each kernel's cost per page, when gnuplot is installed."""
    gnuplot = shutil.which("gnuplot")
    script = plot_script(by_kernel, reference, out)
    if not gnuplot or script is None:
        return None
    (out / "bench.gp").write_text(script)
    subprocess.run([gnuplot, str(out / "bench.gp")], check=False, capture_output=True)
    return out / "bench.png" if (out / "bench.png").exists() else None


def bench_job(profile: Profile, kind: str, frags: tuple[str, ...], exe: Path, mode: str,
              timeout: float, icount: bool = True) -> pipeline.GuestJob:
    """A guest that runs the benchmark in @mode (protocol.BENCH_MODES) on kernel @kind."""
    return pipeline.GuestJob(profile, pipeline.TreeKind(kind), fragments=frags,
                             files=(("bench/move_pages_bench", exe),),
                             args=protocol.GuestArgs(bench=mode, kunit=False),
                             timeout=timeout, icount=icount)


def check_guest(k: str, what: str, g: guest.GuestRun, text: str, parsed: object) -> None:
    """A bench guest that hung, printed nothing usable or had a step of /init fail."""
    errors = lab_errors(g.console.read_text(errors="replace"))
    if errors:
        raise LabError(f"{k}: the {what}: {errors_reported(errors)} (see {g.console})")
    if g.timed_out or not parsed or "bench: done" not in text:
        raise LabError(f"{k}: the {what} did not complete (see {g.selftest_tap})")


def profile_run(k: str, kind: str, frags: tuple[str, ...], profile: Profile, out: Path,
                exe: Path, timeout: float) -> dict[str, FuncProfile]:
    """Kernel @k again with the function profiler: where each pattern's instructions go."""
    stage("bench", f"{k}: function profile ({profile.name}, fprofile, -icount)")
    pout = out / "profile"
    pout.mkdir()
    _, g = pipeline.run_job(
        bench_job(profile, kind, (*frags, "fprofile"), exe, "profile", timeout), pout)
    text = g.selftest_tap.read_text(errors="replace")
    res = parse_profile(text)
    check_guest(k, "profile run", g, text, res)
    return res


def run(kernels: list[str], profile_name: str, timeout: float, results_root: Path,
        functions: bool = False) -> int:
    unknown = [k for k in kernels if k not in KERNELS]
    if unknown or not kernels:
        raise LabError(f"unknown bench kernel(s) {', '.join(unknown) or '(none)'} "
                       f"(known: {', '.join(KERNELS)})")
    profile = with_topology(load_profile(profile_name), "1cpu-memnode")
    top = results_folder(results_root, "bench")
    exe = compile_bench(top)
    by_kernel: dict[str, dict[str, Result]] = {}
    by_kernel_events: dict[str, dict[str, Events]] = {}
    by_kernel_profile: dict[str, dict[str, FuncProfile]] = {}
    failed = 0
    for k in kernels:
        kind, frags = KERNELS[k]
        stage("bench", f"{k}: {profile.name}, 1cpu-memnode, -icount")
        out = top / k
        out.mkdir()
        built, g = pipeline.run_job(bench_job(profile, kind, frags, exe, "1", timeout), out)
        text = g.selftest_tap.read_text(errors="replace")
        results = parse(text)
        check_guest(k, "benchmark", g, text, results)
        failed += sum(not r.ok for r in results)
        by_kernel[k] = last_runs(results)
        # Rounds and remote TLB flushes: 4 vCPUs, a thread on each other CPU.
        stage("bench", f"{k}: events in the 2node topology (4 vCPUs)")
        ev_out = out / "events"
        ev_out.mkdir()
        # The same kernel, booted again.
        _, ge = pipeline.run_job(bench_job(with_topology(profile, "2node"), kind, frags, exe,
                                           "events", timeout, icount=False), ev_out, built)
        ev_text = ge.selftest_tap.read_text(errors="replace")
        by_kernel_events[k] = parse_events(ev_text)
        check_guest(k, "events run", ge, ev_text, by_kernel_events[k])
        failed += sum(not e.ok for e in by_kernel_events[k].values())
        if functions:
            by_kernel_profile[k] = profile_run(k, kind, frags, profile, out, exe, timeout)
            failed += sum(not p.ok for p in by_kernel_profile[k].values())
    reference = "base" if "base" in by_kernel else kernels[0]
    text = (table(by_kernel, reference) + "\n\n" + events_table(by_kernel_events, reference)
            + "\n\nMigration counters (/proc/vmstat deltas over the timed calls):\n\n"
            + counters_table(by_kernel))
    (top / "bench.md").write_text(text + "\n")
    if by_kernel_profile:
        prof = profile_table(by_kernel_profile, reference)
        (top / "profile.md").write_text(
            "Own guest ns (= guest instructions) per listed page of each function, "
            "ftrace function profiler, -icount, one vCPU; the profiler's cost is in "
            "every figure.\n\n" + prof)
        print(f"bench: per-function profile in {top / 'profile.md'}")
    (top / "bench.json").write_text(json.dumps(
        {"instructions": {k: {p: r.__dict__ for p, r in v.items()} for k, v in by_kernel.items()},
         "events": {k: {p: e.__dict__ for p, e in v.items()}
                    for k, v in by_kernel_events.items()},
         "profile": {k: {p: e.__dict__ for p, e in v.items()}
                     for k, v in by_kernel_profile.items()}}, indent=2) + "\n")
    png = plot(by_kernel, reference, top)
    print(text)
    print(f"bench: {top}" + (f" (plot: {png})" if png else " (no gnuplot: no plot)"))
    if failed:
        print(f"bench: {failed} pattern runs moved pages wrongly or not at all")
    return 1 if failed else 0
