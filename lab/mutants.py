# SPDX-License-Identifier: GPL-2.0
"""`make mutants`: re-inject known migration bugs and prove the tests see them.

A mutant is a small -p1 patch in mutants/ applied on top of the patched
tree, with a header of "Key: value" lines before the diff:

    Mutant: rollback-leaves-entries
    Breaks: migrate_folio_undo_src() does not remove the migration entries
    Origin: seeds 000 (orphaned migration entry after a fork race)
    Expect: kunit:migrate_folio.migrate_folio_rollback
    Profile: swap            (optional; swapless when absent)

Each mutant is built incrementally in its profile's build directory (only
the touched objects recompile), booted, and judged: killed when any case
fails (a test, or the lab's own checks: WARNING/BUG/panic/hang), survived
otherwise.  The tree is restored afterwards.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import pipeline, protocol, tree
from .common import REPO, LabError, info, results_folder, stage
from .cases import Status
from .profile import load_profile

MUTANT_DIR = REPO / "mutants"
HEADER_KEYS = ("Mutant", "Breaks", "Origin", "Expect")
OPTIONAL_KEYS = ("Profile",)


@dataclass(frozen=True)
class Mutant:
    name: str
    path: Path
    breaks: str
    origin: str
    expect: tuple[str, ...]
    profile: str = "swapless"


@dataclass
class Outcome:
    mutant: Mutant
    killed: bool
    killed_by: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    results: str = ""

    @property
    def expected_seen(self) -> bool:
        """Every case the header expects to fail did fail."""
        return all(any(k == e or k.startswith(e + ".") for k in self.killed_by)
                   for e in self.mutant.expect)


def parse_header(path: Path) -> Mutant:
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith(("--- ", "diff ")):
            break
        key, sep, value = line.partition(":")
        if sep and key in HEADER_KEYS + OPTIONAL_KEYS:
            fields[key] = (fields.get(key, "") + " " + value.strip()).strip()
    missing = [k for k in HEADER_KEYS if k not in fields]
    if missing:
        raise LabError(f"{path.name}: header lacks {', '.join(missing)}")
    if fields["Mutant"] != path.stem:
        raise LabError(f"{path.name}: 'Mutant: {fields['Mutant']}' does not match the file name")
    expect = tuple(e for e in fields["Expect"].replace(",", " ").split() if e)
    profile = fields.get("Profile", "swapless")
    load_profile(profile)   # an unknown profile is an error in the header, not at boot
    return Mutant(path.stem, path, fields["Breaks"], fields["Origin"], expect, profile)


def catalogue(only: str | None = None) -> list[Mutant]:
    found = [parse_header(p) for p in sorted(MUTANT_DIR.glob("*.patch"))]
    if only:
        names = {n for n in only.replace(",", " ").split() if n}
        unknown = names - {m.name for m in found}
        if unknown:
            raise LabError(f"unknown mutant(s) {', '.join(sorted(unknown))} "
                           f"(known: {', '.join(m.name for m in found)})")
        found = [m for m in found if m.name in names]
    if not found:
        raise LabError(f"no mutants in {MUTANT_DIR}")
    return found


def table(outcomes: list[Outcome]) -> str:
    rows = ["| mutant | breaks | origin | verdict | killed by | time |",
            "| --- | --- | --- | --- | --- | --- |"]
    for o in outcomes:
        verdict = ("error: " + o.error) if o.error else ("killed" if o.killed else "**SURVIVED**")
        if o.killed and not o.expected_seen:
            verdict += " (not by the expected case)"
        by = ", ".join(o.killed_by[:4]) + (f" (+{len(o.killed_by) - 4})" if len(o.killed_by) > 4 else "")
        rows.append(f"| {o.mutant.name} | {o.mutant.breaks} | {o.mutant.origin} | {verdict} "
                    f"| {by} | {o.seconds:.0f}s |")
    return "\n".join(rows)


def tests_table(outcomes: list[Outcome], seen: set[str]) -> str:
    """Each test case against the mutants that made it fail ("-": none did)."""
    rows = ["| test | mutants it kills |", "| --- | --- |"]
    for t in sorted(seen | {k for o in outcomes for k in o.killed_by
                            if k.startswith(("kunit:", "selftests:"))}):
        names = [o.mutant.name for o in outcomes if t in o.killed_by]
        rows.append(f"| {t} | {', '.join(names) if names else '-'} |")
    return "\n".join(rows)


def focus_binaries(m: Mutant) -> list[str]:
    """The selftest binaries a mutant's Expect lines name (quick mode runs only these).

    KUnit always runs at boot; a mutant that expects only KUnit cases still
    runs migration_bits, so that the selftest stream is there to judge.  One
    that expects a lab check (a splat, a hang) gets every binary: [].
    """
    if any(e.startswith("lab:") for e in m.expect):
        return []
    names = []
    for e in m.expect:
        if e.startswith("selftests:migration/"):
            b = e.split("/", 1)[1].split(".", 1)[0]
            if b not in names:
                names.append(b)
    return names or ["migration_bits"]


def run(only: str | None, timeout: float, results_root: Path, quick: bool = False) -> int:
    mutants = catalogue(only)
    top = results_folder(results_root, "mutants")
    outcomes: list[Outcome] = []
    seen: set[str] = set()     # every KUnit and selftest case the runs reported
    try:
        for m in mutants:
            stage("mutant", f"{m.name} ({m.profile}): {m.breaks}")
            out = top / m.name
            out.mkdir()
            t0 = time.monotonic()
            focus = focus_binaries(m) if quick else []
            job = pipeline.GuestJob(load_profile(m.profile), patches=(m.path,),
                                    args=protocol.GuestArgs(selftests=tuple(focus)),
                                    timeout=timeout)
            try:
                cases, _ = pipeline.run_one(job, out)
            except LabError as e:
                outcomes.append(Outcome(m, False, error=str(e).splitlines()[0],
                                        seconds=time.monotonic() - t0, results=str(out)))
                continue
            seen.update(f"{c.suite}:{c.name}" for c in cases if c.suite in ("kunit", "selftests"))
            failed = [f"{c.suite}:{c.name}" for c in cases if c.status is Status.FAIL]
            outcomes.append(Outcome(m, bool(failed), failed, time.monotonic() - t0, results=str(out)))
    finally:
        stage("restore", "patched tree without mutants")
        tree.patched_tree(tree.base_tree())
    text = table(outcomes)
    (top / "mutants.md").write_text(text + "\n")
    per_test = tests_table(outcomes, seen)
    (top / "tests.md").write_text(per_test + "\n")
    (top / "mutants.json").write_text(json.dumps([{
        "mutant": o.mutant.name, "breaks": o.mutant.breaks, "origin": o.mutant.origin,
        "expect": list(o.mutant.expect), "killed": o.killed, "killed_by": o.killed_by,
        "expected_seen": o.expected_seen, "error": o.error, "seconds": round(o.seconds, 1),
        "results": o.results} for o in outcomes], indent=2) + "\n")
    print(text)
    killed = sum(o.killed for o in outcomes)
    survived = len(outcomes) - killed
    print(f"mutants: {killed} killed, {survived} survived or failed to build; table: {top / 'mutants.md'}")
    print(f"{killed} passed, {survived} failed")
    return 0 if survived == 0 else 1


def check_apply(pristine: Path, repo_dir: Path = REPO) -> list[str]:
    """Every mutant still applies on top of the series (else make mutants would stop)."""
    final = tree.staged_contents(pristine, repo_dir)
    problems = []
    for m in sorted((repo_dir / "mutants").glob("*.patch")):
        with tempfile.TemporaryDirectory(prefix="lab-mutant-") as tmp:
            scratch = Path(tmp) / "t"
            for rel in tree.patch_targets(m):
                src = final.get(rel)
                dst = scratch / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src:
                    dst.write_bytes(src[0])
                elif (pristine / rel).is_file():
                    shutil.copy2(pristine / rel, dst)
            try:
                tree.apply_patches(scratch, pristine, [m.resolve()], Path(tmp))
            except LabError as e:
                problems.append(f"{m.name}: " + " ".join(str(e).split())[:200])
    info(f"mutants: {len(list((repo_dir / 'mutants').glob('*.patch')))} checked, "
         f"{len(problems)} do not apply")
    return problems
