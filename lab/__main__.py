# SPDX-License-Identifier: GPL-2.0
"""python3 -m lab {run,test,unit,build,parse,profiles} [options]

  run     build, boot and test each profile; print the tables and verdict
  test    the lab's own unit tests, then `run` (what .ci/run calls)
  unit    only the lab's own unit tests
  build   only prepare the tree, configure and build (no guest)
  kunit   run our KUnit suites through the kernel's own kunit.py, with the
          two-node command line mm/tests/.kunitconfig documents
  mutants re-inject the bugs in mutants/ one at a time; each must be killed
  bench   move_pages() patterns on the base and the patched kernel under
          -icount, one vCPU: guest ns per page and ratios (lab/bench.py)
  parse   re-read a results folder's logs and print its verdict again
  profiles  list profiles and topologies
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import unittest
from pathlib import Path
from typing import Callable

from . import bench, build, mutants, pipeline, report, series, series_check, soak, tree
from .common import LAB, REPO, LabError, cache_dir, clean_env, elapsed, quote, stage
from .cases import Case, Status
from .profile import PROFILE_DIR, TOPOLOGIES, load_profile, with_topology

DEFAULT_PROFILES = "swapless,swap,debug"
DEFAULT_TIMEOUT = 900.0


def _profiles(args: argparse.Namespace) -> list[str]:
    names = [p for p in args.profiles.replace(" ", ",").split(",") if p]
    if not names:
        raise LabError("no profile given")
    return names


def run_profile(name: str, args: argparse.Namespace) -> list[Case]:
    profile = with_topology(load_profile(name), args.topology)
    kernel = getattr(args, "kernel", None)
    src = getattr(args, "src", None)
    tree_kind = "prebuilt" if kernel else "src" if src else "base" if args.base else "patched"
    out = pipeline.results_dir(profile, tree_kind, Path(args.results))
    stage("profile", f"{profile.name} ({profile.description}); results in {out}")
    cases, summary = pipeline.run_one(pipeline.GuestJob(
        profile, pipeline.TreeKind(tree_kind), append=args.append, timeout=args.timeout,
        icount=args.icount, kernel=Path(kernel).expanduser() if kernel else None,
        src=Path(src).expanduser() if src else None), out)
    print(f"\n== {profile.name} ({tree_kind}, {profile.topology.name}): {summary['verdict']}")
    print(report.table(cases))
    print(f"  {report.closing_line(cases)}; results: {out}\n", flush=True)
    return cases


def run_profiles(args: argparse.Namespace) -> list[Case]:
    """Every profile asked for; a profile whose pipeline stops is one failure."""
    cases: list[Case] = []
    kernel, src = getattr(args, "kernel", None), getattr(args, "src", None)
    if sum(bool(x) for x in (kernel, src, args.base)) > 1:
        raise LabError("KERNEL=, SRC= and BASE=1 each say which kernel to boot: give one")
    if kernel:
        pipeline.check_bzimage(Path(kernel).expanduser())
    if src:
        pipeline.check_src(Path(src).expanduser())
    note = series.drift_note(tree.debian_version())
    if note:
        stage("drift", note)
    for name in _profiles(args):
        try:
            cases += run_profile(name, args)
        except LabError as e:
            print(f"lab: error: profile {name}: {e}", file=sys.stderr, flush=True)
            cases.append(Case("lab", f"{name}.pipeline", Status.FAIL, str(e).splitlines()[0]))
    return cases


def cmd_run(args: argparse.Namespace) -> int:
    return _finish(run_profiles(args))


def _finish(cases: list[Case]) -> int:
    if any(c.suite not in ("lab-unit", "series") for c in cases):
        note = series.drift_note(tree.debian_version())
        if note:
            print(note)
    n = report.counts(cases)
    verdict = "PASS" if n["failed"] == 0 and cases else "FAIL"
    print(f"verdict: {verdict} after {elapsed()}; results in {REPO / 'results'}")
    print(report.closing_line(cases), flush=True)
    return 0 if verdict == "PASS" else 1


def unit_tests() -> list[Case]:
    stage("unit", "the lab's own tests (lab/tests)")
    suite = unittest.defaultTestLoader.discover(str(LAB / "tests"), top_level_dir=str(REPO))
    ids = _test_ids(suite)   # the suite forgets its tests as it runs them
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
    failed = {t.id() for t, _ in result.failures + result.errors}
    skipped = {t.id(): why for t, why in result.skipped}
    cases = [Case("lab-unit", t, Status.FAIL, "see above") for t in sorted(failed)]
    cases += [Case("lab-unit", t, Status.SKIP, why) for t, why in sorted(skipped.items())]
    cases += [Case("lab-unit", t, Status.PASS) for t in sorted(ids)
              if t not in failed and t not in skipped]
    print(f"lab unit tests: {report.closing_line(cases)}", flush=True)
    return cases


def _test_ids(suite: unittest.TestSuite) -> set[str]:
    ids = set()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            ids |= _test_ids(t)
        else:
            ids.add(t.id())
    return ids


def cmd_unit(args: argparse.Namespace) -> int:
    return _finish(unit_tests())


def cmd_test(args: argparse.Namespace) -> int:
    cases = unit_tests()
    if any(c.status is Status.FAIL for c in cases):
        print("lab: the lab's own tests fail; not booting the guest", file=sys.stderr)
        return _finish(cases)
    # The series' checks that fit CI's time (each commit's compile does not).
    cases += series_cases(args, do_build=False)
    return _finish(cases + run_profiles(args))


def cmd_build(args: argparse.Namespace) -> int:
    for name in _profiles(args):
        profile = load_profile(name)
        out = pipeline.results_dir(profile, "base" if args.base else "patched", Path(args.results))
        pipeline.build_all(profile, "base" if args.base else "patched", out)
    return 0


# The kunit.py options mm/tests/.kunitconfig gives its readers for two NUMA
# nodes (a lab test checks that its comment shows each of them).
KUNIT_NUMA_OPTIONS = (
    "--arch=x86_64",
    "--kconfig_add", "CONFIG_PCI=y", "--kconfig_add", "CONFIG_ACPI=y",
    "--kconfig_add", "CONFIG_ACPI_NUMA=y", "--kconfig_add", "CONFIG_X86_64_ACPI_NUMA=y",
    "--qemu_args=-smp 4,sockets=2,cores=2 -m 2G "
    "-object memory-backend-ram,id=m0,size=1G -numa node,nodeid=0,cpus=0-1,memdev=m0 "
    "-object memory-backend-ram,id=m1,size=1G -numa node,nodeid=1,cpus=2-3,memdev=m1",
)


def kunit_command(src: Path, build_dir: Path, timeout: float) -> list[str]:
    return ["/usr/bin/python3", "-B", str(src / "tools/testing/kunit/kunit.py"), "run",
            f"--kunitconfig={src / 'mm/tests'}", *KUNIT_NUMA_OPTIONS,
            # A Linux guest dies at boot under KVM on these machines.
            "--qemu_args=-accel tcg",
            f"--build_dir={build_dir}", f"--jobs={build.jobs()}",
            f"--timeout={int(timeout)}", f"--make_options={build.make_vars()[0]}"]


def cmd_kunit(args: argparse.Namespace) -> int:
    src = tree.patched_tree(tree.base_tree())
    build_dir = cache_dir() / "build" / "kunit-py"
    cmd = kunit_command(src, build_dir, args.timeout)
    stage("kunit.py", quote(cmd))
    return subprocess.run(cmd, cwd=src, env=clean_env(build.build_env()), check=False).returncode


def cmd_parse(args: argparse.Namespace) -> int:
    out = Path(args.dir).resolve()
    summary = json.loads((out / "summary.json").read_text())
    profile = with_topology(load_profile(summary["profile"]), summary["topology"]["name"])
    cases, _ = report.evaluate(
        report.Inputs((out / "console.log").read_text(errors="replace"),
                      (out / "selftests.tap").read_text(errors="replace"),
                      bool(summary.get("timed_out")), float(summary.get("guest_seconds", 0)),
                      expect_kunit=summary.get("tree") == "patched"), profile)
    print(report.table(cases))
    return _finish(cases)


def cmd_mutants(args: argparse.Namespace) -> int:
    return mutants.run(args.only, args.timeout, Path(args.results), args.quick)


def cmd_bench(args: argparse.Namespace) -> int:
    names = _profiles(args)
    if len(names) != 1:
        raise LabError("bench takes one profile")
    kernels = [k for k in args.kernels.replace(" ", ",").split(",") if k]
    return bench.run(kernels, names[0], args.timeout, Path(args.results), args.functions,
                     Path(args.src) if args.src else None, not args.no_sweeps)


def cmd_series(args: argparse.Namespace) -> int:
    series.make_series(Path(args.results), author=args.author)
    return 0


def series_cases(args: argparse.Namespace, do_build: bool) -> list[Case]:
    stage("series", "make series, git am, checkpatch --strict, kernel-doc"
          + (", each commit compiled" if do_build else ""))
    # Every commit in every profile: CONFIG_SWAP and lockdep change what
    # compiles.
    names = _profiles(args)
    profiles = {name: [*load_profile(name).fragments, "series", "series-check"]
                for name in names}
    cases = series_check.check_cases(Path(args.results), do_build, profiles, author=args.author)
    print(report.table(cases))
    return cases


def cmd_series_check(args: argparse.Namespace) -> int:
    return _finish(series_cases(args, not args.no_build))


def cmd_soak(args: argparse.Namespace) -> int:
    return soak.run(_profiles(args), args.minutes, Path(args.results), args.base)


def cmd_profiles(args: argparse.Namespace) -> int:
    for p in sorted(PROFILE_DIR.glob("*.toml")):
        prof = load_profile(p.stem)
        print(f"{prof.name:<12} {prof.topology.name:<14} {' '.join(prof.fragments):<24} {prof.description}")
    print("topologies: " + ", ".join(f"{t.name} ({t.vcpus} vCPUs, {len(t.nodes)} nodes)"
                                      for t in TOPOLOGIES.values()))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run, "test": cmd_test, "unit": cmd_unit, "build": cmd_build,
    "parse": cmd_parse, "profiles": cmd_profiles, "kunit": cmd_kunit,
    "mutants": cmd_mutants, "bench": cmd_bench,
    "series": cmd_series, "series-check": cmd_series_check, "soak": cmd_soak,
}


def _parser() -> argparse.ArgumentParser:
    """One subparser per command, each with only the options it uses."""
    ap = argparse.ArgumentParser(prog="python3 -m lab", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="command")

    def cmd(name: str, help_: str, *opts: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        for o in opts:
            OPTIONS[o](p)
        return p

    p = cmd("run", "build, boot and test each profile", "profiles", "base", "topology",
            "timeout", "icount", "append", "results")
    p.add_argument("--kernel", default=None,
                   help="boot this bzImage (built elsewhere) instead of building one")
    p.add_argument("--src", default=None,
                   help="configure and build this kernel tree (as it is) instead of ours")
    cmd("test", "the lab's own tests, the series checks, then run", "profiles", "base",
        "topology", "timeout", "icount", "append", "results", "author")
    cmd("unit", "only the lab's own unit tests")
    cmd("build", "prepare, configure and build (no guest)", "profiles", "base", "results")
    cmd("kunit", "our KUnit suites through kunit.py", "timeout")
    p = cmd("parse", "re-read a results folder and print its verdict")
    p.add_argument("dir", help="results folder")
    cmd("profiles", "list profiles and topologies")
    p = cmd("mutants", "re-inject each bug of mutants/; each must be killed", "timeout", "results")
    p.add_argument("--only", default=None, help="only these mutants (comma-separated)")
    p.add_argument("--quick", action="store_true",
                   help="run KUnit and only the selftest binaries each mutant expects")
    p = cmd("bench", "move_pages() on the base and the patched kernel", "profiles", "timeout",
            "results")
    p.add_argument("--kernels", default="base,patched",
                   help=f"kernels to compare ({', '.join(bench.KERNELS)})")
    p.add_argument("--functions", action="store_true",
                   help="also profile each kernel's functions (ftrace profiler)")
    p.add_argument("--src", default=None,
                   help="the kernel tree of bench kernel \"src\" (e.g. a commit of the "
                        "series), built as it is")
    p.add_argument("--no-sweeps", action="store_true",
                   help="only the patterns and their events: no CPU, size or sharing sweep")
    p = cmd("soak", "long races in each profile", "profiles", "base", "results")
    p.add_argument("--minutes", type=int, default=10, help="minutes per profile")
    cmd("series", "the mail-ready series", "results", "author")
    p = cmd("series-check", "make series, then check every patch and commit", "results",
            "author", "profiles")
    p.add_argument("--no-build", action="store_true", help="skip compiling each commit")
    return ap


def _positive(text: str) -> float:
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive (got {text})")
    return v


OPTIONS: dict[str, Callable[[argparse.ArgumentParser], object]] = {
    "profiles": lambda p: p.add_argument(
        "--profiles", default=os.environ.get("PROFILES", DEFAULT_PROFILES),
        help=f"comma-separated profiles (default {DEFAULT_PROFILES})"),
    "base": lambda p: p.add_argument("--base", action="store_true",
                                     help="build the unpatched base tree"),
    "topology": lambda p: p.add_argument("--topology", default=None,
                                         help="override the profile's topology"),
    "timeout": lambda p: p.add_argument("--timeout", type=_positive, default=DEFAULT_TIMEOUT,
                                        help="hard guest timeout in seconds"),
    "icount": lambda p: p.add_argument("--icount", action="store_true",
                                       help="deterministic -icount shift=0,sleep=off"),
    "append": lambda p: p.add_argument("--append", default="", help="extra kernel command line"),
    "results": lambda p: p.add_argument("--results", default=str(REPO / "results"),
                                        help="results root"),
    "author": lambda p: p.add_argument(
        "--author", default=os.environ.get("AUTHOR"),
        help='the series\' sender, "Name <user@host>" (default: git config)'),
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LabError as e:
        print(f"lab: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
