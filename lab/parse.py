# SPDX-License-Identifier: GPL-2.0
"""Stage 6: read the guest's streams.

- (K)TAP: KUnit's nested KTAP (nesting by four-space indentation) on the
  console and kselftest's TAP (nesting by "# " prefixes) on ttyS1 are read
  by one parser.  A result line closes the results one level deeper that
  came before it: those are its subtests.  Leaves become cases; a failing
  parent none of whose subtests failed (a crash, a timeout, missing
  results) becomes a failing case of its own.
- Splats: panic, oops, BUG, WARNING, lockdep, KASAN/UBSAN, stalls.
- The lab's own "lab:" lines from the guest's /init.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .cases import Case, Status
from .protocol import LAB_ERROR, LAB_NODE

_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
_RESULT = re.compile(
    r"^(?P<prefix>(?:    |# )*)(?P<not>not )?ok (?P<num>\d+)(?: -)?(?: (?P<desc>.*?))?"
    r"(?:\s+#\s*(?P<directive>SKIP|skip|XFAIL|xfail|XPASS|xpass|TODO|TIMEOUT)\b:?\s*(?P<reason>.*))?\s*$")
_PLAN = re.compile(r"^(?P<prefix>(?:    |# )*)1\.\.(?P<n>\d+)\s*$")
_VERSION = re.compile(r"^(?:    |# )*K?TAP version \d+\s*$")
_SUBTEST = re.compile(r"^(?P<prefix>(?:    |# )*)# Subtest: (?P<name>.+?)\s*$")
# kselftest's runner announces a binary one level above its results.
_KSELFTEST_BINARY = re.compile(r"^(?P<prefix>(?:    |# )*)# (?P<name>selftests: \S+: \S+)\s*$")


@dataclass
class _Result:
    depth: int
    ok: bool
    desc: str
    directive: str
    reason: str
    children: list["_Result"] = field(default_factory=list)
    missing: int = 0   # results the plan announced but never came


def _depth(prefix: str) -> int:
    d = 0
    i = 0
    while i < len(prefix):
        d += 1
        i += 4 if prefix.startswith("    ", i) else 2
    return d


def strip_timestamps(text: str) -> list[str]:
    return [_TIMESTAMP.sub("", ln.rstrip("\r")) for ln in text.splitlines()]


def parse_tap(text: str) -> tuple[list[_Result], list[str]]:
    """Parse a (K)TAP stream; return the top-level results and problems."""
    lines = strip_timestamps(text)
    start = next((i for i, ln in enumerate(lines) if _VERSION.match(ln)), None)
    if start is None:
        return [], ["no TAP/KTAP stream found"]
    pending: dict[int, list[_Result]] = {}
    plans: dict[int, int] = {}
    problems: list[str] = []
    names: dict[int, str] = {}
    for ln in lines[start:]:
        m = _SUBTEST.match(ln)
        if m:
            names[_depth(m.group("prefix"))] = m.group("name")
            continue
        m = _KSELFTEST_BINARY.match(ln)
        if m:
            names[_depth(m.group("prefix")) + 1] = m.group("name")
            continue
        m = _PLAN.match(ln)
        if m:
            d = _depth(m.group("prefix"))
            plans[d] = int(m.group("n"))
            continue
        m = _RESULT.match(ln)
        if not m:
            continue
        d = _depth(m.group("prefix"))
        desc = (m.group("desc") or "").strip()
        reason = (m.group("reason") or "").strip()
        if not m.group("directive") and " # " in desc:
            # e.g. "not ok 1 selftests: migration: x # exit=139"
            desc, _, reason = desc.partition(" # ")
        r = _Result(d, m.group("not") is None, desc.strip(),
                    (m.group("directive") or "").upper(), reason.strip())
        kids = pending.pop(d + 1, [])
        want = plans.pop(d + 1, None)
        for deeper in [k for k in pending if k > d + 1]:
            # Results two levels deeper with no parent: a truncated subtest.
            kids = pending.pop(deeper) + kids
        r.children = kids
        if want is not None and len(kids) < want:
            r.missing = want - len(kids)
        pending.setdefault(d, []).append(r)
    # Subtests that never got their closing result line (a crash, a
    # truncated log): close them, deepest first, as failed results named
    # by their "# Subtest:" line, so their cases keep their full names.
    while any(k > 0 for k in pending):
        d = max(pending)
        kids = pending.pop(d)
        name = names.get(d, "(unnamed subtest)")
        problems.append(f"stream ends inside subtest {name} ({len(kids)} results, "
                        "no closing result)")
        parent = _Result(d - 1, False, name, "", "stream ended before this subtest finished",
                         kids)
        pending.setdefault(d - 1, []).append(parent)
    top = pending.pop(0, [])
    want = plans.get(0)
    if want is not None and len(top) < want:
        problems.append(f"plan announced {want} results, got {len(top)}")
    return top, problems


def _status(r: _Result) -> Status:
    """kselftest: "ok # XFAIL" is a known bug seen as expected (XFAIL, with
    its reason); "ok # XPASS" is a known bug that did not show: the XFAIL
    is stale, which fails until the test is updated."""
    if r.directive == "SKIP":
        return Status.SKIP
    if r.directive == "XPASS":
        return Status.FAIL
    if r.directive == "XFAIL" and r.ok:
        return Status.XFAIL
    return Status.PASS if r.ok else Status.FAIL


_KSELFTEST_NAME = re.compile(r"^selftests: (\S+): (\S+)$")


def flatten(results: list[_Result], suite: str) -> list[Case]:
    """Leaves become cases named by their path; see the module comment.

    kselftest's "selftests: migration: move_pages_data" becomes
    "migration/move_pages_data", so case names have no spaces.
    """
    out: list[Case] = []

    def walk(r: _Result, path: list[str]) -> bool:
        name = _KSELFTEST_NAME.sub(r"\1/\2", r.desc)
        here = [*path, name]
        if not r.children:
            reason = r.reason
            if r.directive == "XPASS":
                reason = f"XPASS: {reason}"
            out.append(Case(suite, ".".join(here), _status(r), reason))
            return out[-1].status is Status.FAIL
        failed_below = False
        for c in r.children:
            failed_below |= walk(c, here)
        st = _status(r)
        if r.missing:
            out.append(Case(suite, ".".join(here), Status.FAIL,
                            f"{r.missing} announced results missing (crash or timeout?)"))
            failed_below = True
        elif st is Status.FAIL and not failed_below:
            out.append(Case(suite, ".".join(here), Status.FAIL,
                            r.reason or "failed without a failing subtest (crash, timeout or exit code)"))
            failed_below = True
        return failed_below

    for r in results:
        walk(r, [])
    return out


def kunit_cases(console: str) -> tuple[list[Case], list[str]]:
    top, problems = parse_tap(console)
    return flatten(top, "kunit"), problems


def selftest_cases(tap: str) -> tuple[list[Case], list[str]]:
    top, problems = parse_tap(tap)
    return flatten(top, "selftests"), problems


# --- splats --------------------------------------------------------------

_SPLAT = re.compile(
    r"(Kernel panic - not syncing|\bOops\b|\bBUG: |kernel BUG at|WARNING: |"
    r"general protection fault|Unable to handle kernel|UBSAN: |KASAN: |KFENCE: |"
    r"possible circular locking|possible recursive locking|"
    r"rcu: INFO: rcu_\w+ (self-)?detected stall|INFO: task .* blocked for more than|"
    r"list_(add|del) corruption|Out of memory: Killed process)")


@dataclass(frozen=True)
class Splat:
    line_no: int
    first_lines: tuple[str, ...]

    @property
    def title(self) -> str:
        return self.first_lines[0]


def find_splats(console: str, context: int = 12) -> list[Splat]:
    lines = strip_timestamps(console)
    out = []
    i = 0
    while i < len(lines):
        if _SPLAT.search(lines[i]):
            out.append(Splat(i + 1, tuple(lines[i:i + context])))
            i += context
            continue
        i += 1
    return out


# --- the lab's own lines from /init ----------------------------------------

def lab_node_lines(console: str) -> dict[int, str]:
    """'lab: node N <memory> cpus <cpulist>' -> {N: cpulist}."""
    out = {}
    for ln in strip_timestamps(console):
        m = LAB_NODE.match(ln)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def lab_errors(console: str) -> list[str]:
    """The messages of every 'lab: error: ...' line /init printed, in order."""
    return [m[1] for m in map(LAB_ERROR.match, strip_timestamps(console)) if m]


def errors_reported(errors: list[str]) -> str:
    """lab_errors() as one line for a case's reason or a LabError."""
    return "/init reported: " + "; ".join(f"lab: error: {e}" for e in errors)


def lab_lines(console: str) -> dict[str, str]:
    """'lab: key rest' lines -> {key: rest} (the last one wins)."""
    out = {}
    for ln in strip_timestamps(console):
        if ln.startswith("lab: "):
            key, _, rest = ln[5:].partition(" ")
            out[key] = rest.strip()
    return out
