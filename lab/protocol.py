# SPDX-License-Identifier: GPL-2.0
"""The guest protocol, both directions, in one place.

Host -> guest: a job's options travel on the kernel command line as
lab.<key>=<value>; lab/guest-init.sh (the guest's /init) reads each key
with one sed and has its own defaults.  GuestArgs is the typed form, and
GUEST_KEYS/GUEST_DEFAULTS list what /init reads (a lab test checks both
against the script).

Guest -> host: what /init and the guest programs print.  "lab: ..." lines
on the console (ttyS0) are /init's; "bench: ..." and "soak: ..." lines on
ttyS1 are the benchmark's and the soak workload's; the selftests' TAP is
parsed by lab.parse.  Every line format is one regex here (a lab test
renders each echo of /init and each printf of the programs and matches it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .common import LabError

# --- host -> guest -----------------------------------------------------------

# The lab.<key>= options /init reads, and the defaults it applies.
GUEST_KEYS = ("bench", "soak", "kunit_only", "fuzz_calls", "fuzz_seed", "selftests",
              "selftest_timeout")
GUEST_DEFAULTS = {"fuzz_calls": 3000, "fuzz_seed": 20261130}
BENCH_MODES = ("1", "events", "profile", "sweep", "scale", "latency")
_SELFTEST_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class GuestArgs:
    """What one guest boot is asked to do; cmdline() is its command line."""
    bench: str | None = None            # one of BENCH_MODES: the benchmark instead of tests
    soak_minutes: int | None = None     # the soak workload instead of tests
    kunit_only: bool = False            # KUnit (at boot) and nothing else
    kunit: bool = True                  # False: kunit.enable=0
    selftests: tuple[str, ...] = ()     # only these binaries of the target
    selftest_timeout: int | None = None  # each binary's kselftest timeout (s)
    fuzz_calls: int | None = None       # None: /init's default
    fuzz_seed: int | None = None

    def __post_init__(self) -> None:
        if self.bench is not None and self.bench not in BENCH_MODES:
            raise LabError(f"lab.bench={self.bench}: not one of {', '.join(BENCH_MODES)}")
        if sum((self.bench is not None, self.soak_minutes is not None, self.kunit_only)) > 1:
            raise LabError("a guest runs one of the benchmark, the soak or KUnit only")
        for name in self.selftests:
            if not _SELFTEST_NAME.match(name):
                raise LabError(f"lab.selftests: {name!r} is not a selftest binary name")
        for key in ("soak_minutes", "selftest_timeout", "fuzz_calls", "fuzz_seed"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise LabError(f"{key} must be at least 1 (got {v})")

    def cmdline(self) -> str:
        opts = []
        if self.bench is not None:
            opts.append(f"lab.bench={self.bench}")
        if self.soak_minutes is not None:
            opts.append(f"lab.soak={self.soak_minutes}")
        if self.kunit_only:
            opts.append("lab.kunit_only=1")
        if self.selftests:
            opts.append("lab.selftests=" + ",".join(self.selftests))
        if self.selftest_timeout is not None:
            opts.append(f"lab.selftest_timeout={self.selftest_timeout}")
        if self.fuzz_calls is not None:
            opts.append(f"lab.fuzz_calls={self.fuzz_calls}")
        if self.fuzz_seed is not None:
            opts.append(f"lab.fuzz_seed={self.fuzz_seed}")
        if not self.kunit:
            opts.append("kunit.enable=0")
        return " ".join(opts)


# --- guest -> host -----------------------------------------------------------

# /init's console lines.
LAB_NODE = re.compile(r"^lab: node (\d+) \S+ cpus ?(\S*)\s*$")
LAB_ERROR = re.compile(r"^lab: error: (.*?)\s*$")
LAB_LINES = (
    re.compile(r"^lab: kernel \S+$"),
    re.compile(r"^lab: nodes-online \S*$"),
    re.compile(r"^lab: cpus-online \S*$"),
    LAB_NODE,
    re.compile(r"^lab: ext4 /\S+$"),
    re.compile(r"^lab: swap \S+$"),
    LAB_ERROR,
    re.compile(r"^lab: (bench|soak|selftests) start.*$"),
    re.compile(r"^lab: (bench|soak|selftests) exit -?\d+$"),
    re.compile(r"^lab: selftests skipped .*$"),
    re.compile(r"^lab: done$"),
)

# The benchmark's lines (lab/bench/move_pages_bench.c).
BENCH_RESULT = re.compile(r"bench: pattern=(\S+) run=(\d+) pages=(\d+) calls=(\d+) ns=(\d+) "
                          r"ok=([01]) inexact=(\d+)"
                          r"(?: migrated=(-?\d+) thp_moved=(-?\d+) thp_split=(-?\d+))?")
BENCH_PROFILE_FN = re.compile(r"bench: profile pattern=(\S+) func=(\S+) hits=(\d+) ns=(\d+)")
BENCH_PROFILE_END = re.compile(r"bench: profile pattern=(\S+) pages=(\d+) migrated=(-?\d+) "
                               r"ns=(\d+) ok=([01])")
BENCH_COPY = re.compile(r"bench: copy pattern=(\S+) pages=(\d+) migrated=(-?\d+) hits=(\d+) "
                        r"ns=(\d+)(?: total=(\d+))? ok=([01])")
BENCH_EVENTS = re.compile(r"bench: events pattern=(\S+) pages=(\d+) rounds=(-?\d+) "
                          r"remote_flushes=(-?\d+) ok=([01])")
BENCH_SWEEP = re.compile(r"bench: sweep cpus=(\d+) run=(\d+) pages_per_call=(\d+) calls=(\d+) "
                         r"ns=(\d+) call_ipis=(-?\d+) tlb_ipis=(-?\d+) ok=([01])")
BENCH_SIZE = re.compile(r"bench: size pages=(\d+) run=(\d+) ns=(\d+) migrated=(-?\d+) ok=([01])")
BENCH_SHARE = re.compile(r"bench: share procs=(\d+) run=(\d+) pages=(\d+) ns=(\d+) "
                         r"migrated=(-?\d+) ok=([01])")
BENCH_LATENCY = re.compile(r"bench: latency pattern=(\S+) pages=(\d+) migrated=(-?\d+) "
                           r"entries=(\d+) max_us=(\d+) sum_us=(\d+) ok=([01])")
BENCH_START = re.compile(r"bench: (?:events |profile |sweep |scale |latency )?start pages=\d+ "
                         r"node_a=\d+ node_b=\d+")
BENCH_DONE = re.compile(r"bench: done failed=(\d+)")
# Its stderr: "bench: <why it cannot run>".
BENCH_LINES = (BENCH_RESULT, BENCH_PROFILE_FN, BENCH_PROFILE_END, BENCH_COPY, BENCH_EVENTS,
               BENCH_SWEEP, BENCH_SIZE, BENCH_SHARE, BENCH_LATENCY, BENCH_START, BENCH_DONE)

# The soak workload's lines (lab/soak/migration_soak.c) and /init's per run.
SOAK_PROGRESS = re.compile(r"soak: (progress|done) minute=(\d+) rounds=(\d+) overlaps=(\d+) "
                           r"mismatches=(\d+) migrate_calls=(\d+) migrate_errors=(\d+) "
                           r"forks=(\d+) fork_leaks=(\d+)")
SOAK_SELFTEST = re.compile(r"soak: selftest (\S+) run=(\d+) (ok|FAIL)")
SOAK_START = re.compile(r"soak: start minutes=\d+ .*")
SOAK_LINES = (SOAK_PROGRESS, SOAK_SELFTEST, SOAK_START)


def lab_line_known(line: str) -> bool:
    return any(p.match(line) for p in LAB_LINES)
