# SPDX-License-Identifier: GPL-2.0
"""`make bench`: move_pages() on the unpatched and the patched kernel.

Each kernel is built from the same tree and profile (the patched one
without the debug checker, unless asked), booted in the 1cpu-memnode
topology (one vCPU on node 0, node 1 memory only) under
`-icount shift=0,sleep=off`, so the guest's nanoseconds are instructions
and each figure is deterministic.  The guest runs lab/bench/move_pages_bench
instead of the tests; every pattern checks data and nodes after its calls.
Every kernel carries the ftrace function profiler, off while timed (its
call sites are one nop per function, in both kernels alike): a third run
of each pattern profiles folio_mc_copy() alone, the copy of the pages,
and the rest of the timed figure is the bookkeeping - what real hardware
pays for, where the copy is 20-35% of a migrated page, not the half that
TCG's one instruction per byte of `rep movsb` makes it.
The result is a table of guest ns per page split into copy and
bookkeeping, the patched/base ratios, with bench.json, bench.md and (with
gnuplot) bench.png in results/bench-<time>/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
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
COPY = protocol.BENCH_COPY
SWEEP = protocol.BENCH_SWEEP
SIZE = protocol.BENCH_SIZE
SHARE = protocol.BENCH_SHARE
LATENCY = protocol.BENCH_LATENCY
# The CPU sweep: vCPUs of the guest (all on node 0, idle but the mover's).
SWEEP_CPUS = (1, 2, 4, 8)

# The kernels a bench run can compare: tree kind and extra config fragments.
# Each has the function profiler, for the copy pass and FUNCTIONS=1.
KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "base": ("base", ("fprofile",)),
    "patched": ("patched", ("nochecker", "fprofile")),
    "patched-checker": ("patched", ("fprofile",)),
    # Another kernel tree built as it is (SRC=), e.g. a commit of the series.
    "src": ("src", ("fprofile",)),
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
class Copy:
    """The copy pass of a pattern: folio_mc_copy() alone under the profiler."""
    pattern: str
    pages: int
    migrated: int
    hits: int
    ns: int
    ok: bool
    total: int = -1     # the calls' time in the copy run (-1: not printed)


def parse_copy(text: str) -> dict[str, Copy]:
    return {m[1]: Copy(m[1], int(m[2]), int(m[3]), int(m[4]), int(m[5]), m[7] == "1",
                       int(m[6]) if m[6] is not None else -1)
            for m in COPY.finditer(text)}


def copy_ns(r: Result, c: Copy | None) -> int | None:
    """The copy's guest ns in @r's calls, or 0 when nothing moved.

    Measured in the copy run, less the profiler's own cost there: what that
    run took over the timed run (@r).  Part of the profiler's cost falls
    outside the function's timestamps, so this is a little under the copy,
    and the bookkeeping a little over: the same way in every kernel.
    """
    if c is not None and c.ok:
        return c.ns - max(0, c.total - r.ns) if c.total >= 0 else c.ns
    return 0 if r.migrated == 0 else None


def split_table(by_kernel: dict[str, dict[str, Result]],
                copies: dict[str, dict[str, Copy]], reference: str) -> str:
    """Markdown, the headline: per listed page, each kernel's total, the copy
    and the bookkeeping (total - copy), bookkeeping per migrated page, and
    the ratios of bookkeeping and of total to @reference."""
    kernels = list(by_kernel)
    patterns = [p for p in dict.fromkeys(p for k in kernels for p in by_kernel[k])
                if p != "memcpy"]
    head = "| pattern | " + " | ".join(
        f"{k} total | {k} copy | {k} bookkeeping | {k} bookkeeping/migrated page"
        for k in kernels)
    others = [k for k in kernels if k != reference]
    head += "".join(f" | bookkeeping {k}/{reference} | total {k}/{reference}"
                    for k in others) + " |"
    rows = [head, "| --- " * (1 + 4 * len(kernels) + 2 * len(others)) + "|"]

    def split(k: str, p: str) -> tuple[Result, int | None] | None:
        r = by_kernel[k].get(p)
        return None if r is None else (r, copy_ns(r, copies.get(k, {}).get(p)))
    for p in patterns:
        cells = []
        for k in kernels:
            sp = split(k, p)
            if sp is None:
                cells += ["-"] * 4
                continue
            r, c = sp
            mark = "" if r.ok else " **WRONG**"
            cells.append(f"{r.ns / r.pages:.0f}{mark}")
            if c is None:
                cells += ["-", "-", "-"]
                continue
            cells += [f"{c / r.pages:.0f}", f"{(r.ns - c) / r.pages:.0f}",
                      f"{(r.ns - c) / r.migrated:.0f}" if r.migrated > 0 else "-"]
        ref = split(reference, p)
        for k in others:
            sp = split(k, p)
            if sp is None or ref is None:
                cells += ["-", "-"]
                continue
            (r, c), (rr, rc) = sp, ref
            cells.append(f"{(r.ns - c) / (rr.ns - rc):.3f}"
                         if c is not None and rc is not None and rr.ns > rc else "-")
            cells.append(f"{r.ns / rr.ns:.3f}" if rr.ns else "-")
        rows.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Sweep:
    """One size of the CPU sweep: calls of @pages_per_call pages."""
    cpus: int
    run: int
    pages_per_call: int
    calls: int
    ns: int
    call_ipis: int
    tlb_ipis: int
    ok: bool

    @property
    def per_call(self) -> float:
        return self.ns / self.calls

    @property
    def ipis_per_call(self) -> float:
        return (self.call_ipis + self.tlb_ipis) / self.calls


def parse_sweep(text: str) -> dict[tuple[int, int], Sweep]:
    """The sweep lines, by (vCPUs, pages per call): the last run of each."""
    out: dict[tuple[int, int], Sweep] = {}
    for m in SWEEP.finditer(text):
        s = Sweep(*(int(m[i]) for i in range(1, 8)), m[8] == "1")
        key = (s.cpus, s.pages_per_call)
        if key not in out or s.run >= out[key].run:
            out[key] = s
    return out


def sweep_table(by_kernel: dict[str, dict[tuple[int, int], Sweep]], reference: str) -> str:
    """Markdown: per size and vCPU count, guest ns per call and cross-CPU
    interrupts per call of each kernel, and the ratio of ns to @reference."""
    kernels = list(by_kernel)
    others = [k for k in kernels if k != reference]
    keys = sorted({key for k in kernels for key in by_kernel[k]}, key=lambda x: (x[1], x[0]))
    head = ("| pages per call | vCPUs | " + " | ".join(f"{k} ns/call" for k in kernels)
            + "".join(f" | {k}/{reference}" for k in others) + " | "
            + " | ".join(f"{k} IPIs/call" for k in kernels) + " |")
    rows = [head, "| --- " * (2 + 2 * len(kernels) + len(others)) + "|"]
    for key in keys:
        cells = [str(key[1]), str(key[0])]
        got = {k: by_kernel[k].get(key) for k in kernels}
        for k in kernels:
            s = got[k]
            cells.append("-" if s is None else f"{s.per_call:.0f}"
                         + ("" if s.ok else " **WRONG**"))
        ref = got.get(reference)
        for k in others:
            s = got[k]
            cells.append(f"{s.per_call / ref.per_call:.3f}" if s and ref and ref.ns else "-")
        for k in kernels:
            s = got[k]
            cells.append("-" if s is None or s.call_ipis < 0 or s.tlb_ipis < 0
                         else f"{s.ipis_per_call:.2f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def sweep_plot_script(by_kernel: dict[str, dict[tuple[int, int], Sweep]], out: Path
                      ) -> str | None:
    """bench-cpus.png: guest ns per call against vCPUs, a line per kernel and size."""
    series = []
    for k, res in by_kernel.items():
        for size in sorted({key[1] for key in res}):
            pts = sorted((c, s.per_call) for (c, sz), s in res.items() if sz == size)
            if len(pts) > 1:
                series.append((f"{k}, {size} page{'s' if size > 1 else ''} per call", pts))
    if not series:
        return None
    data = out / "bench-cpus.dat"
    blocks = []
    for title, pts in series:
        blocks.append(f"# {title}\n" + "\n".join(f"{c} {v:.1f}" for c, v in pts))
    data.write_text("\n\n\n".join(blocks) + "\n")
    plots = " , ".join(f"'{data}' index {i} with linespoints title '{t}'"
                       for i, (t, _) in enumerate(series))
    return (f"set terminal pngcairo size 1000,600 noenhanced\n"
            f"set output '{out / 'bench-cpus.png'}'\n"
            "set key outside right top\nset logscale y\nset grid\n"
            "set xlabel 'vCPUs (all idle but the caller)'\n"
            "set ylabel 'guest instructions per move_pages() call (-icount)'\n"
            f"set xtics ({', '.join(str(c) for c in SWEEP_CPUS)})\n"
            "set title 'move_pages() of 1, 8 and 64 pages per call as CPUs are added "
            "(lower is better)'\n"
            f"plot {plots}\n")


def run_gnuplot(script: str | None, out: Path, name: str) -> Path | None:
    """Render @script (written to @out/@name.gp) when gnuplot is installed."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot or script is None:
        return None
    (out / f"{name}.gp").write_text(script)
    subprocess.run([gnuplot, str(out / f"{name}.gp")], check=False, capture_output=True)
    return out / f"{name}.png" if (out / f"{name}.png").exists() else None


@dataclass(frozen=True)
class Scale:
    """One point of the size sweep (@procs 1) or the sharing sweep."""
    kind: str           # "size" or "share"
    procs: int          # processes mapping the pages
    pages: int
    run: int
    ns: int
    migrated: int
    ok: bool

    @property
    def per_page(self) -> float:
        return self.ns / self.pages


def parse_scale(text: str) -> dict[tuple[str, int], Scale]:
    """The size and share lines, by (kind, pages or processes): the last run of each."""
    got = [Scale("size", 1, int(m[1]), int(m[2]), int(m[3]), int(m[4]), m[5] == "1")
           for m in SIZE.finditer(text)]
    got += [Scale("share", int(m[1]), int(m[3]), int(m[2]), int(m[4]), int(m[5]), m[6] == "1")
            for m in SHARE.finditer(text)]
    out: dict[tuple[str, int], Scale] = {}
    for s in got:
        key = (s.kind, s.pages if s.kind == "size" else s.procs)
        if key not in out or s.run >= out[key].run:
            out[key] = s
    return out


def scale_table(by_kernel: dict[str, dict[tuple[str, int], Scale]], kind: str,
                reference: str) -> str:
    """Markdown for the size (@kind "size") or sharing ("share") sweep: guest
    ns per page of each kernel, its ratio to the kernel's own first point
    (flat is 1.000; for sharing, per mapping too), and the ratio to @reference."""
    kernels = list(by_kernel)
    others = [k for k in kernels if k != reference]
    keys = sorted({key[1] for k in kernels for key in by_kernel[k] if key[0] == kind})
    what = "pages in the call" if kind == "size" else "processes mapping the pages"
    scaled = "vs first" if kind == "size" else "per mapping"
    head = (f"| {what} | " + " | ".join(f"{k} ns/page | {k} {scaled}" for k in kernels)
            + "".join(f" | {k}/{reference}" for k in others) + " |")
    rows = [head, "| --- " * (1 + 2 * len(kernels) + len(others)) + "|"]
    for key in keys:
        cells = [str(key)]
        for k in kernels:
            s = by_kernel[k].get((kind, key))
            first = by_kernel[k].get((kind, keys[0]))
            if s is None:
                cells += ["-", "-"]
                continue
            cells.append(f"{s.per_page:.0f}" + ("" if s.ok else " **WRONG**"))
            if kind == "size":
                cells.append(f"{s.per_page / first.per_page:.3f}" if first and first.ns else "-")
            else:
                cells.append(f"{s.per_page / s.procs:.0f}")
        ref = by_kernel.get(reference, {}).get((kind, key))
        for k in others:
            s = by_kernel[k].get((kind, key))
            cells.append(f"{s.ns / ref.ns:.3f}" if s and ref and ref.ns else "-")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Latency:
    """How long the pages of @pattern stayed behind their migration entries
    (set to removed, from the tracepoints, in guest us): the longest a fault
    on one of them could wait."""
    pattern: str
    pages: int
    migrated: int
    entries: int
    max_us: int
    sum_us: int
    ok: bool

    @property
    def mean_us(self) -> float:
        return self.sum_us / self.entries if self.entries else 0.0


def parse_latency(text: str) -> dict[str, Latency]:
    """The latency lines, by pattern (one run each; a later line replaces an earlier)."""
    return {m[1]: Latency(m[1], int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]),
                          m[7] == "1")
            for m in LATENCY.finditer(text)}


def latency_table(by_kernel: dict[str, dict[str, Latency]], reference: str) -> str:
    """Markdown: per pattern, each kernel's longest and mean time behind an entry,
    and the ratios to @reference."""
    kernels = list(by_kernel)
    others = [k for k in kernels if k != reference]
    patterns = list(dict.fromkeys(p for k in kernels for p in by_kernel[k]))
    head = ("| pattern | " + " | ".join(f"{k} entries | {k} longest (us) | {k} mean (us)"
                                        for k in kernels)
            + "".join(f" | longest {k}/{reference} | mean {k}/{reference}" for k in others)
            + " |")
    rows = [head, "| --- " * (1 + 3 * len(kernels) + 2 * len(others)) + "|"]
    for p in patterns:
        cells = []
        for k in kernels:
            lat = by_kernel[k].get(p)
            cells += (["-", "-", "-"] if lat is None else
                      [str(lat.entries), f"{lat.max_us}" + ("" if lat.ok else " **WRONG**"),
                       f"{lat.mean_us:.1f}"])
        ref = by_kernel.get(reference, {}).get(p)
        for k in others:
            lat = by_kernel[k].get(p)
            cells.append(f"{lat.max_us / ref.max_us:.3f}" if lat and ref and ref.max_us else "-")
            cells.append(f"{lat.mean_us / ref.mean_us:.3f}"
                         if lat and ref and ref.mean_us else "-")
        rows.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


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
    head += "".join(f" | flushes {k}/{reference}" for k in kernels if k != reference)
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
        head += "".join(f" | {k}-{reference}" for k in kernels if k != reference) + " |"
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


def growth_table(profs: dict[str, FuncProfile], small: str, large: str, top: int = 15) -> str:
    """Markdown for one kernel: the functions whose own ns per page grew the
    most from profile @small to profile @large (the same pattern in a small
    and a large call), with their calls per page: what makes large calls
    dearer.  A function missing from one profile (below its cut) counts 0."""
    a, b = profs.get(small), profs.get(large)
    if a is None or b is None:
        return f"(no profile of {small} and {large})"

    def per_page(pr: FuncProfile, f: str, i: int) -> float:
        return pr.funcs.get(f, (0, 0))[i] / pr.pages

    names = set(a.funcs) | set(b.funcs)
    order = sorted(names, key=lambda f: per_page(a, f, 1) - per_page(b, f, 1))[:top]
    rows = [f"{small}: {a.ns / a.pages:.0f} ns/page profiled; {large}: "
            f"{b.ns / b.pages:.0f}" + ("" if a.ok and b.ok else " **WRONG**") + "\n",
            f"| function | {small} calls/page | {large} calls/page | {small} ns/page "
            f"| {large} ns/page | growth ns/page |",
            "| --- " * 6 + "|"]
    for f in order:
        rows.append(f"| {f} | {per_page(a, f, 0):.3f} | {per_page(b, f, 0):.3f} "
                    f"| {per_page(a, f, 1):.1f} | {per_page(b, f, 1):.1f} "
                    f"| {per_page(b, f, 1) - per_page(a, f, 1):+.1f} |")
    return "\n".join(rows)


def last_runs(results: list[Result]) -> dict[str, Result]:
    """Per pattern, its last run (the first one warms the allocator up)."""
    out: dict[str, Result] = {}
    for r in results:
        if r.pattern not in out or r.run >= out[r.pattern].run:
            out[r.pattern] = r
    return out


def compile_bench(out: Path) -> Path:
    exe = out / "move_pages_bench"
    return build.guest_program(BENCH_SRC, exe, out / "bench-build.log", "the benchmark")


def plot_script(by_kernel: dict[str, dict[str, Result]], copies: dict[str, dict[str, Copy]],
                reference: str, out: Path) -> str | None:
    """The gnuplot script of bench.png (its data in bench.dat), or None.

    One bar per kernel and pattern, the copy and the bookkeeping stacked,
    the patterns apart; over each other kernel's bar its bookkeeping's
    ratio to @reference.  Only the patterns whose copy every kernel measured.
    """
    kernels = list(by_kernel)
    patterns = []
    for p in by_kernel.get(reference, {}):
        parts = [(by_kernel[k].get(p), copies.get(k, {}).get(p)) for k in kernels]
        if p != "memcpy" and all(r is not None and copy_ns(r, c) is not None
                                 for r, c in parts):
            patterns.append(p)
    if len(kernels) < 2 or not patterns:
        return None
    data = out / "bench.dat"
    lines = ["# bar copy bookkeeping label (guest instructions per listed page)"]
    for n, p in enumerate(patterns):
        if n:
            lines.append('"" 0 0 ""')
        rr = by_kernel[reference][p]
        ref_bk = rr.ns - (copy_ns(rr, copies.get(reference, {}).get(p)) or 0)
        for k in kernels:
            r = by_kernel[k][p]
            c = copy_ns(r, copies.get(k, {}).get(p)) or 0
            label = (f"{(r.ns - c) / ref_bk:.2f}x" if k != reference and ref_bk > 0 else "")
            lines.append(f'"{p} {k}" {c / r.pages:.1f} {(r.ns - c) / r.pages:.1f} "{label}"')
    data.write_text("\n".join(lines) + "\n")
    return (f"set terminal pngcairo size 1100,600 noenhanced\n"
            f"set output '{out / 'bench.png'}'\n"
            "set style data histograms\nset style histogram rowstacked\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.8\n"
            "set key above horizontal\n"
            "set ylabel 'guest instructions per listed page (-icount)'\n"
            "set yrange [0:*]\nset offsets 0,0,graph 0.1,0\nset grid ytics\n"
            "set xtics nomirror rotate by -35 left\nset bmargin 8\nset rmargin 10\n"
            "set title 'move_pages(): the page copy and the bookkeeping per page; over each "
            f"bar its bookkeeping / {reference} (lower is better)'\n"
            f"plot '{data}' using 2:xtic(1) title 'copy (folio_mc_copy)' lc rgb '#9ecae1', "
            "'' using 3 title 'bookkeeping (the rest)' lc rgb '#3182bd', "
            "'' using 0:($2 + $3):4 with labels offset 0,0.8 notitle\n")


def bench_job(profile: Profile, kind: str, frags: tuple[str, ...], exe: Path, mode: str,
              timeout: float, icount: bool = True, src: Path | None = None
              ) -> pipeline.GuestJob:
    """A guest that runs the benchmark in @mode (protocol.BENCH_MODES) on kernel @kind
    (the tree @src for kind "src")."""
    return pipeline.GuestJob(profile, pipeline.TreeKind(kind), fragments=frags,
                             files=(("bench/move_pages_bench", exe),),
                             args=protocol.GuestArgs(bench=mode, kunit=False),
                             timeout=timeout, icount=icount,
                             src=src if kind == "src" else None)


def check_guest(k: str, what: str, g: guest.GuestRun, text: str, parsed: object) -> None:
    """A bench guest that hung, printed nothing usable or had a step of /init fail."""
    errors = lab_errors(g.console.read_text(errors="replace"))
    if errors:
        raise LabError(f"{k}: the {what}: {errors_reported(errors)} (see {g.console})")
    if g.timed_out or not parsed or "bench: done" not in text:
        raise LabError(f"{k}: the {what} did not complete (see {g.selftest_tap})")


def boot_again(k: str, what: str, job: pipeline.GuestJob, out: Path, built: pipeline.Built,
               parser: Callable[[str], dict]) -> dict:
    """Kernel @k, built already, booted once more for @job in the new folder
    @out; its output parsed by @parser and checked (check_guest())."""
    out.mkdir()
    _, g = pipeline.run_job(job, out, built)
    text = g.selftest_tap.read_text(errors="replace")
    res = parser(text)
    check_guest(k, what, g, text, res)
    return res


def check_kernels(kernels: list[str], src: Path | None) -> None:
    """Clear errors for an unknown kernel name and for "src" without SRC= (or
    SRC= that no kernel uses)."""
    unknown = [k for k in kernels if k not in KERNELS]
    if unknown or not kernels:
        raise LabError(f"unknown bench kernel(s) {', '.join(unknown) or '(none)'} "
                       f"(known: {', '.join(KERNELS)})")
    if len(set(kernels)) != len(kernels):
        raise LabError(f"bench kernel named twice: {', '.join(kernels)}")
    if "src" in kernels and src is None:
        raise LabError("bench kernel \"src\" needs the tree: SRC=<kernel tree>")
    if src is not None and "src" not in kernels:
        raise LabError(f"SRC={src} is given but no bench kernel is \"src\" "
                       "(e.g. BENCH=base,src)")
    if src is not None:
        pipeline.check_src(src)


def run(kernels: list[str], profile_name: str, timeout: float, results_root: Path,
        functions: bool = False, src: Path | None = None,
        sweeps_too: bool = True) -> int:
    check_kernels(kernels, src)
    profile = with_topology(load_profile(profile_name), "1cpu-memnode")
    top = results_folder(results_root, "bench")
    exe = compile_bench(top)
    by_kernel: dict[str, dict[str, Result]] = {}
    by_kernel_events: dict[str, dict[str, Events]] = {}
    by_kernel_profile: dict[str, dict[str, FuncProfile]] = {}
    copies: dict[str, dict[str, Copy]] = {}
    sweeps: dict[str, dict[tuple[int, int], Sweep]] = {}
    scales: dict[str, dict[tuple[str, int], Scale]] = {}
    latencies: dict[str, dict[str, Latency]] = {}
    scale_profiles: dict[str, dict[str, FuncProfile]] = {}
    failed = 0
    for k in kernels:
        kind, frags = KERNELS[k]
        stage("bench", f"{k}: {profile.name}, 1cpu-memnode, -icount")
        out = top / k
        out.mkdir()
        def job(prof: Profile, mode: str, icount: bool = True) -> pipeline.GuestJob:
            return bench_job(prof, kind, frags, exe, mode, timeout, icount=icount, src=src)

        built, g = pipeline.run_job(job(profile, "1"), out)
        text = g.selftest_tap.read_text(errors="replace")
        results = parse(text)
        check_guest(k, "benchmark", g, text, results)
        failed += sum(not r.ok for r in results)
        by_kernel[k] = last_runs(results)
        copies[k] = parse_copy(text)
        failed += sum(not c.ok for c in copies[k].values())
        unmeasured = [p for p, r in by_kernel[k].items()
                      if r.migrated != 0 and p != "memcpy" and p not in copies[k]]
        if unmeasured:
            raise LabError(f"{k}: no copy pass for {', '.join(unmeasured)} "
                           f"(is the function profiler in the kernel? see {g.selftest_tap})")
        # Rounds and remote TLB flushes: 4 vCPUs, a thread on each other CPU.
        stage("bench", f"{k}: events in the 2node topology (4 vCPUs)")
        by_kernel_events[k] = boot_again(
            k, "events run", job(with_topology(profile, "2node"), "events", icount=False),
            out / "events", built, parse_events)
        failed += sum(not e.ok for e in by_kernel_events[k].values())
        sweeps[k] = {}
        for n in SWEEP_CPUS if sweeps_too else ():
            stage("bench", f"{k}: CPU sweep, {n} vCPU{'s' if n > 1 else ''}, -icount")
            got = boot_again(k, f"CPU sweep ({n} vCPUs)",
                             job(with_topology(profile, f"{n}cpu-memnode"), "sweep"),
                             out / f"sweep-{n}cpu", built, parse_sweep)
            failed += sum(not s.ok for s in got.values())
            sweeps[k].update(got)
        # Call sizes up to 1 GiB and shared mappings: one vCPU, big nodes.
        if sweeps_too:
            stage("bench", f"{k}: size and sharing sweeps (1cpu-bignode, -icount)")
            def scale_and_profile(text: str) -> dict[tuple[str, int], Scale]:
                scale_profiles[k] = parse_profile(text)
                return parse_scale(text)

            scales[k] = boot_again(k, "size and sharing sweeps",
                                   job(with_topology(profile, "1cpu-bignode"), "scale"),
                                   out / "scale", built, scale_and_profile)
            failed += sum(not x.ok for x in scales[k].values())
            failed += sum(not x.ok for x in scale_profiles[k].values())
        # How long each page stays behind its migration entry: one vCPU.
        stage("bench", f"{k}: migration entry lifetimes (1cpu-memnode, -icount)")
        latencies[k] = boot_again(k, "latency run", job(profile, "latency"),
                                  out / "latency", built, parse_latency)
        failed += sum(not x.ok for x in latencies[k].values())
        if functions:
            stage("bench", f"{k}: function profile ({profile.name}, -icount)")
            by_kernel_profile[k] = boot_again(k, "profile run", job(profile, "profile"),
                                              out / "profile", built, parse_profile)
            failed += sum(not p.ok for p in by_kernel_profile[k].values())
    reference = "base" if "base" in by_kernel else kernels[0]
    text = ("Guest ns (= instructions) per listed page: the total, the copy (folio_mc_copy, "
            "measured in a run of its own) and the bookkeeping (total - copy):\n\n"
            + split_table(by_kernel, copies, reference) + "\n\n"
            + events_table(by_kernel_events, reference)
            + ("\n\nCalls of 1, 8 and 64 pages with 1 to 8 vCPUs (idle but the caller's, "
               "-icount): guest ns per call and cross-CPU interrupts per call "
               "(function-call and TLB-shootdown IPIs):\n\n"
               + sweep_table(sweeps, reference)
               + "\n\nall_to_one in one call of 1 Ki to 256 Ki pages (one vCPU, -icount): "
               "guest ns per page:\n\n" + scale_table(scales, "size", reference)
               + "\n\n1 Ki pages mapped by 1 to 32 processes (forked, copy-on-write), moved "
               "with MPOL_MF_MOVE_ALL: guest ns per page:\n\n"
               + scale_table(scales, "share", reference)
               if sweeps_too else "\n\n(CPU, size and sharing sweeps not run: SWEEPS=0)")
            + "\n\nHow long a page stays behind its migration entry (set_migration_pte/pmd to "
            "remove_migration_pte/pmd, one vCPU, -icount, guest us): the longest a fault on "
            "it can wait:\n\n" + latency_table(latencies, reference)
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
    if scale_profiles:
        sizes = [f"size_{n}" for n in sorted({s.pages for v in scale_profiles.values()
                                             for s in v.values()})]
        (top / "scale-profile.md").write_text(
            "all_to_one in its smallest and its largest call, ftrace function profiler "
            "(-icount, one vCPU, the profiler's cost in every figure): the functions whose "
            "own guest ns per page grew most.\n\n"
            + "\n\n".join(f"### {k}\n\n" + growth_table(v, sizes[0], sizes[-1])
                          for k, v in scale_profiles.items()) + "\n")
        print(f"bench: where large calls cost more per page: {top / 'scale-profile.md'}")
    (top / "bench.json").write_text(json.dumps(
        {"instructions": {k: {p: r.__dict__ for p, r in v.items()} for k, v in by_kernel.items()},
         "copy": {k: {p: c.__dict__ for p, c in v.items()} for k, v in copies.items()},
         "sweep": {k: [s.__dict__ for s in v.values()] for k, v in sweeps.items()},
         "scale": {k: [x.__dict__ for x in v.values()] for k, v in scales.items()},
         "latency": {k: {p: x.__dict__ for p, x in v.items()} for k, v in latencies.items()},
         "events": {k: {p: e.__dict__ for p, e in v.items()}
                    for k, v in by_kernel_events.items()},
         "profile": {k: {p: e.__dict__ for p, e in v.items()}
                     for k, v in by_kernel_profile.items()}}, indent=2) + "\n")
    png = run_gnuplot(plot_script(by_kernel, copies, reference, top), top, "bench")
    cpus_png = run_gnuplot(sweep_plot_script(sweeps, top), top, "bench-cpus")
    print(text)
    plots = [str(p) for p in (png, cpus_png) if p]
    print(f"bench: {top}" + (f" (plots: {', '.join(plots)})" if plots
                             else " (no plot: it needs two kernels and their copy figures)"
                             if shutil.which("gnuplot")
                             else " (no gnuplot: no plot)"))
    if failed:
        print(f"bench: {failed} pattern runs moved pages wrongly or not at all")
    return 1 if failed else 0
