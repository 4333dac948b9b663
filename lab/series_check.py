# SPDX-License-Identifier: GPL-2.0
"""`make series-check`: is the series folder what a maintainer can take?

Every patch applies with `git am` to the base (and gives the same tree),
`checkpatch.pl --strict` finds nothing the plan does not justify,
`kernel-doc -none` is clean on our new C files, the mail has none of the
project's own words, every mutant still applies, and (unless told not to)
every commit compiles the objects it touches in each profile, and the
commits that add tests are booted with them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import build, kconfig, mutants, pipeline, protocol, report, tree
from .cases import Case, Status
from .common import REPO, LabError, cache_dir, info, run_logged, stage
from .profile import Profile, load_profile
from .series import (CHECK_IDENTITY, Plan, _git, _git_env, base_repo, load_plan, make_series,
                     sender)

CHECKPATCH_LINE = re.compile(r"^(ERROR|WARNING|CHECK):([A-Z0-9_]+): (.*)$")


@dataclass
class Finding:
    patch: str
    level: str
    kind: str
    text: str
    file: str = ""


FILE_LINE = re.compile(r"^#\d+: FILE: ([^:]+):")


def parse_checkpatch(patch: str, output: str) -> list[Finding]:
    """checkpatch --show-types findings, each with the file it names on its next line."""
    lines = output.splitlines()
    out = []
    for i, ln in enumerate(lines):
        m = CHECKPATCH_LINE.match(ln)
        if not m:
            continue
        f = FILE_LINE.match(lines[i + 1]) if i + 1 < len(lines) else None
        out.append(Finding(patch, m[1], m[2], m[3], f[1] if f else ""))
    return out


def unjustified(findings: list[Finding], justified: dict[str, str]) -> list[Finding]:
    """Errors always count; warnings and checks unless the plan justifies their
    type ("TYPE") or their type in that file ("TYPE@path")."""
    return [f for f in findings if f.level == "ERROR" or
            (f.kind not in justified and f"{f.kind}@{f.file}" not in justified)]


def check_am(git: Path, patches: list[Path], log: Path, env: dict[str, str]) -> None:
    """git am every patch onto the base in a scratch work tree; same tree as the series."""
    wt = git.parent / "am"
    _git(git, "worktree", "remove", "--force", str(wt), check=False)
    shutil.rmtree(wt, ignore_errors=True)
    _git(git, "worktree", "prune")
    _git(git, "worktree", "add", "-q", "--detach", str(wt), "base")
    for p in patches:
        r = run_logged(["git", "-C", str(wt), "am", "-q", "--no-3way", str(p)], log, env=env)
        if r.returncode != 0:
            run_logged(["git", "-C", str(wt), "am", "--abort"], log)
            raise LabError(f"git am: {p.name} does not apply to the base; see {log}")
    got = _git(wt, "rev-parse", "HEAD^{tree}").stdout.strip()
    want = _git(git, "rev-parse", "series^{tree}").stdout.strip()
    if got != want:
        raise LabError(f"git am of the series gives tree {got}, the series is {want}")
    info(f"git am: {len(patches)} patches apply to the base; same tree as the series")


def check_patches(git: Path, patches: list[Path], plan: Plan, log: Path) -> list[Finding]:
    env = build.build_env()
    bad: list[Finding] = []
    for p in patches:
        r = subprocess.run(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
                            "--no-summary", str(p)], cwd=git, env=env,
                           capture_output=True, text=True, check=False)
        with open(log, "a") as f:
            f.write(f"$ checkpatch.pl --strict {p.name}\n{r.stdout}{r.stderr}")
        found = parse_checkpatch(p.name, r.stdout)
        bad += unjustified(found, plan.justified)
        info(f"checkpatch {p.name}: {len(found)} findings, "
             f"{len(unjustified(found, plan.justified))} unjustified")
    return bad


NEW_FUNCTION = re.compile(r"^\+(?!\s)(?:static\s+)?(?:inline\s+)?[A-Za-z_][\w\s*]*?\b(\w+)\(")


def new_functions(patches: list[Path]) -> list[tuple[str, str]]:
    """(file, function) for each function a patch defines in a kernel C file."""
    out = []
    for p in patches:
        current = ""
        for line in p.read_text(errors="replace").splitlines():
            if line.startswith("+++ "):
                current = line[4:].split("\t")[0].removeprefix("b/")
                continue
            m = NEW_FUNCTION.match(line)
            if (m and current.endswith(".c") and not current.startswith("tools/")
                    and not line.rstrip().endswith(";") and "=" not in line.split("(")[0]):
                out.append((current, m[1]))
    return out


def check_kernel_doc(git: Path, log: Path, repo_dir: Path = REPO) -> list[str]:
    """kernel-doc -none -Wall on our new C files and headers, and a kernel-doc
    comment, clean, for each function the patches add to existing files
    (and the last one keeps)."""
    files = [rel for rel in tree.overlay_files(repo_dir) if rel.endswith((".c", ".h"))
             and not rel.startswith("tools/")]
    r = subprocess.run(["perl", "scripts/kernel-doc", "-none", "-Wall", *files], cwd=git,
                       env=build.build_env(), capture_output=True, text=True, check=False)
    with open(log, "a") as f:
        f.write(f"$ kernel-doc -none -Wall {' '.join(files)}\n{r.stdout}{r.stderr}")
    warnings = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    funcs = []
    for f, fn in dict.fromkeys(new_functions(tree.read_series(repo_dir))):
        base_text = _git(git, "show", f"base:{f}", check=False).stdout
        if f not in files and not re.search(r"\b" + re.escape(fn) + r"\(", base_text):
            funcs.append((f, fn))
    for f, fn in funcs:
        text = (git / f).read_text(errors="replace") if (git / f).is_file() else ""
        if not re.search(r"\b" + re.escape(fn) + r"\(", text):
            continue        # a later patch of the series removes it again
        if not re.search(r"/\*\*\n \* " + re.escape(fn) + r"\b", text):
            warnings.append(f"{f}: {fn}() has no kernel-doc comment")
            continue
        r = subprocess.run(["perl", "scripts/kernel-doc", "-none", "-Wall", "-function", fn, f],
                           cwd=git, env=build.build_env(), capture_output=True, text=True,
                           check=False)
        warnings += [ln for ln in (r.stdout + r.stderr).splitlines()
                     if f"'{fn}'" in ln or f" {fn}(" in ln or f" {fn} " in ln]
    info(f"kernel-doc -none -Wall on {len(files)} files and {len(funcs)} new functions: "
         f"{len(warnings)} warnings")
    return warnings


def _objects(paths: list[str]) -> list[str]:
    """Kernel objects that compile the C files among @paths."""
    return [p[:-2] + ".o" for p in paths
            if p.endswith(".c") and not p.startswith(("tools/", "Documentation/"))]


def unbuilt_objects(bdir: Path, objs: list[str], since: float) -> list[str]:
    """Those of @objs that the build in @bdir did not (re)write after @since."""
    out = []
    for o in objs:
        f = bdir / o
        if not f.is_file() or f.stat().st_mtime < since:
            out.append(o)
    return out


TEST_DIRS = ("mm/tests/", "tools/testing/selftests/migration/")


def boot_commit(n: int, subject: str, wt: Path, bdir: Path, profile: Profile, out: Path,
                timeout: float) -> None:
    """Boot commit @n's kernel with the tests it has; its tests must pass there."""
    out.mkdir(parents=True, exist_ok=True)
    has_kunit = (wt / "mm/tests").is_dir()
    st = None
    if (wt / "tools/testing/selftests/migration").is_dir():
        st = build.build_selftests(wt, bdir, cache_dir() / "selftests" / "series-check",
                                   out / "selftests-build.log")
    stage("check", f"commit {n}: booting it with its "
          + " and ".join(x for x, y in (("KUnit suites", has_kunit), ("selftests", st)) if y))
    job = pipeline.GuestJob(profile, args=protocol.GuestArgs(kunit_only=st is None),
                            timeout=timeout)
    g = pipeline.boot_job(job, bdir / "arch/x86/boot/bzImage", st, out)
    cases, _ = report.evaluate(report.Inputs(
        g.console.read_text(errors="replace"), g.selftest_tap.read_text(errors="replace"),
        g.timed_out, g.seconds, expect_kunit=has_kunit, expect_selftests=st is not None),
        profile)
    n_pass = sum(c.status is Status.PASS for c in cases)
    bad = [c for c in cases if c.status is Status.FAIL]
    if bad:
        raise LabError(f"commit {n} ({subject}): its tests fail at that commit ({out}):\n  "
                       + "\n  ".join(f"{c.suite}: {c.name}: {c.reason.splitlines()[0] if c.reason else ''}"
                                      for c in bad[:10]))
    info(f"commit {n}: {n_pass} cases pass at that commit ({g.seconds:.0f} s in the guest)")


def check_builds(git: Path, config_fragments: list[str], log: Path,
                 name: str = "series-check", boot: Profile | None = None,
                 timeout: float = 900) -> int:
    """Check out each commit, link vmlinux incrementally; return commits built.

    Each commit gets an incremental ``make vmlinux`` in one build directory,
    so it compiles what the commit changed and everything that includes it,
    and links: a symbol used by one commit but defined by a later one fails
    here, which compiling single objects would miss. Every C file a commit
    touches must have been compiled by that step (the config must build it).
    With @boot, a commit that adds or changes tests is booted in that
    profile and its tests must pass at that commit.
    """
    wt = git.parent / "build-wt"
    _git(git, "worktree", "remove", "--force", str(wt), check=False)
    shutil.rmtree(wt, ignore_errors=True)
    _git(git, "worktree", "prune")
    _git(git, "worktree", "add", "-q", "--detach", str(wt), "series")
    bdir = cache_dir() / "build" / name
    # The config of the whole series; earlier commits drop what they lack.
    kconfig.configure(wt, bdir, config_fragments, build.make_vars(), log)
    full = (bdir / ".config").read_text()
    commits = _git(git, "rev-list", "--reverse", "base..series").stdout.split()
    make = ["make", "-C", str(wt), f"O={bdir}", f"-j{build.jobs()}", *build.make_vars()]
    for n, sha in enumerate(commits, 1):
        subject = _git(git, "log", "-1", "--format=%s", sha).stdout.strip()
        _git(wt, "checkout", "-q", "--detach", sha)
        touched = _git(git, "diff", "--name-only", f"{sha}^", sha).stdout.split()
        objs = _objects(touched)
        (bdir / ".config").write_text(full)
        tests = boot is not None and any(t.startswith(TEST_DIRS) for t in touched)
        selftests = any(t.startswith(TEST_DIRS[1]) for t in touched)
        steps = [[*make, "olddefconfig"], [*make, "bzImage" if tests else "vmlinux"]]
        if tests or selftests:
            steps.append([*make, "headers_install"])
        if selftests and not tests:     # (boot_commit() builds them itself)
            steps.append(["make", "-C", str(wt / "tools/testing/selftests"), f"-j{build.jobs()}",
                          "TARGETS=migration", f"O={bdir}/selftests",
                          f"KHDR_INCLUDES=-isystem {bdir}/usr/include"])
        start = time.time()
        t0 = time.monotonic()
        for cmd in steps:
            r = run_logged(cmd, log, env=build.build_env())
            if r.returncode != 0:
                raise LabError(f"commit {n} ({subject}) does not build; errors from {log}:\n"
                               + build.error_lines(log))
        missed = unbuilt_objects(bdir, objs, start - 1)
        if missed:
            raise LabError(f"commit {n} ({subject}) changes C files the series-check config "
                           f"does not build: {', '.join(missed)} (enable them in "
                           "lab/configs/series-check.config)")
        info(f"commit {n} builds and links in {time.monotonic() - t0:.0f} s"
             + (f" ({', '.join(objs)} compiled)" if objs else "")
             + (" + selftests" if selftests else ""))
        if tests:
            boot_commit(n, subject, wt, bdir, boot, log.parent / f"series-check-boot-{n}",
                        timeout)
    return len(commits)


# Words of this project that mean nothing upstream (a random "seed" does).
PROJECT_WORDS = re.compile(r"\b(lab|labs|mutants?|mutation testing|seeds|our series)\b",
                           re.IGNORECASE)


def project_words(patches: list[Path]) -> list[str]:
    """Lines of the generated mail (cover letter included) that use them."""
    found = []
    for p in patches:
        for n, ln in enumerate(p.read_text(errors="replace").splitlines(), 1):
            m = PROJECT_WORDS.search(ln)
            if m:
                found.append(f"{p.name}:{n}: \"{m[0]}\" in: {ln.strip()[:100]}")
    return found


def check_cases(results_root: Path, do_build: bool, profiles: dict[str, list[str]],
                author: str | None = None) -> list[Case]:
    """Make the series and check it; one case per check (suite "series").

    Signed off by @author or git's identity, else by CHECK_IDENTITY: a check
    sends nothing.  With @do_build every commit is compiled in each of
    @profiles (name -> config fragments), each in a build directory of its
    own."""
    def case(name: str, problems: list[str]) -> Case:
        for p in problems:
            print(f"series-check: {name}: {p}")
        return Case("series", name, Status.FAIL if problems else Status.PASS,
                    problems[0] if problems else "")

    try:
        plan = replace(load_plan(), author=sender(author, REPO, fallback=CHECK_IDENTITY))
        out = make_series(results_root, plan=plan)
    except LabError as e:
        return [case("make_series", [str(e)])]
    cases = [case("make_series", [])]
    base = tree.base_tree()
    git = base_repo(base, plan)
    log = out.parent / f"series-check-{base.debian_version}.log"
    log.unlink(missing_ok=True)
    patches = sorted(p for p in out.glob("*.patch") if not p.name.startswith("0000-"))
    stage("check", f"git am, checkpatch --strict, kernel-doc (log: {log})")
    try:
        check_am(git, patches, log, _git_env(plan))
        cases.append(case("git_am", []))
    except LabError as e:
        cases.append(case("git_am", [str(e)]))
    bad = check_patches(git, patches, plan, log)
    for p in patches:
        cases.append(case(f"checkpatch.{p.stem}", [
            f"{f.level}:{f.kind}: {f.text}" + (f" ({f.file})" if f.file else "")
            + " (not justified in the plan)"
            for f in bad if f.patch == p.name]))
    cases.append(case("kernel_doc", check_kernel_doc(git, log)))
    cases.append(case("no_project_words", project_words(sorted(out.glob("*.patch")))))
    cases.append(case("mutants_apply", mutants.check_apply(base.path)))
    for name, fragments in profiles.items() if do_build else ():
        stage("check", f"{name}: each commit compiles the objects it touches")
        t0 = time.monotonic()
        try:
            # The swapless profile also boots the commits that add tests.
            n = check_builds(git, fragments, log, f"series-check-{name}",
                             boot=load_profile(name) if name == "swapless" else None)
            info(f"{name}: {n} commits built in {time.monotonic() - t0:.0f} s")
            cases.append(case(f"each_commit_builds.{name}", []))
        except LabError as e:
            cases.append(case(f"each_commit_builds.{name}", [str(e)]))
    return cases
