# SPDX-License-Identifier: GPL-2.0
"""The benchmark's output parser, table and kernel list."""

import tempfile
import unittest
from pathlib import Path

from lab import bench
from lab.common import LabError
from lab.guest import GuestRun

OUTPUT = """bench: start pages=8192 node_a=0 node_b=1 runs=2
bench: pattern=all_to_one run=1 pages=8192 calls=1 ns=90000000 ok=1 inexact=0
bench: pattern=all_to_one run=2 pages=8192 calls=1 ns=81920000 ok=1 inexact=0 migrated=4096 thp_moved=0 thp_split=0
noise from the console
bench: pattern=thp_listed run=2 pages=8192 calls=1 ns=16384000 ok=0 inexact=8176
bench: done failed=1
"""
COPY = """bench: copy pattern=all_to_one pages=8192 migrated=4096 hits=4096 ns=32768000 ok=1
"""
# The same with the run's total: 1 ns per hit over the 81920000 of the timed run.
COPY_TOTAL = COPY.replace("ok=1", "total=81924096 ok=1")


class BenchTest(unittest.TestCase):
    def test_plot_script_is_legible(self) -> None:
        """Underscores stay underscores, the legend sits above the plot, per
        pattern one bar per kernel with the copy and the bookkeeping stacked,
        the bookkeeping's ratio over the patched bar."""
        base = bench.last_runs(bench.parse(OUTPUT))
        patched = bench.last_runs(bench.parse(OUTPUT.replace("ns=81920000", "ns=40960000")))
        copies = {k: bench.parse_copy(COPY) for k in ("base", "patched")}
        with tempfile.TemporaryDirectory() as d:
            script = bench.plot_script({"base": base, "patched": patched}, copies, "base",
                                       Path(d))
            data = (Path(d) / "bench.dat").read_text().splitlines()
        self.assertIn("noenhanced", script)
        self.assertIn("set key above", script)
        self.assertIn("rowstacked", script)
        # all_to_one: 10000 = 4000 copy + 6000; patched 5000 = 4000 + 1000.
        self.assertEqual(data[1:], ['"all_to_one base" 4000.0 6000.0 ""',
                                    '"all_to_one patched" 4000.0 1000.0 "0.17x"'])
        self.assertIsNone(bench.plot_script({"base": base}, copies, "base", Path("/nonexistent")))
        # No copy measured: no bar that would call the whole the bookkeeping.
        self.assertIsNone(bench.plot_script({"base": base, "patched": patched}, {}, "base",
                                            Path("/nonexistent")))

    def test_split_table(self) -> None:
        base = bench.last_runs(bench.parse(OUTPUT))
        patched = bench.last_runs(bench.parse(OUTPUT.replace("ns=81920000", "ns=40960000")))
        copies = {k: bench.parse_copy(COPY) for k in ("base", "patched")}
        text = bench.split_table({"base": base, "patched": patched}, copies, "base")
        # total, copy, bookkeeping per listed page, bookkeeping per migrated
        # page (4096 of 8192 migrated), then the ratios.
        self.assertIn("| all_to_one | 10000 | 4000 | 6000 | 12000 | 5000 | 4000 | 1000 | 2000 "
                      "| 0.167 | 0.500 |", text)
        self.assertIn("**WRONG**", text)
        # thp_listed has no copy line: its copy and bookkeeping are unknown.
        self.assertIn("| thp_listed | 2000 **WRONG** | - | - | - |", text)
        self.assertEqual(bench.parse_copy(COPY.replace("ok=1", "ok=0"))["all_to_one"].ok, False)
        # The profiler's cost in the copy run comes off the copy.
        c = bench.parse_copy(COPY_TOTAL)["all_to_one"]
        self.assertEqual((c.total, bench.copy_ns(base["all_to_one"], c)),
                         (81924096, 32768000 - 4096))

    def test_sweep(self) -> None:
        """The last run per (vCPUs, size); ns and IPIs per call; the ratio;
        a line per kernel and size against vCPUs."""
        def line(k: str, cpus: int, run: int, size: int, ns: int, ipis: int, ok: int = 1) -> str:
            return (f"bench: sweep cpus={cpus} run={run} pages_per_call={size} "
                    f"calls={512 // size} ns={ns} call_ipis={ipis} tlb_ipis=0 ok={ok}\n")
        base = bench.parse_sweep(line("b", 1, 1, 1, 9_999_999, 7) + line("b", 1, 2, 1, 5_120_000, 512)
                                 + line("b", 8, 2, 1, 10_240_000, 1024))
        patched = bench.parse_sweep(line("p", 1, 2, 1, 2_560_000, 0)
                                    + line("p", 8, 2, 1, 2_560_000, 0, ok=0))
        self.assertEqual(base[(1, 1)].per_call, 10000)
        text = bench.sweep_table({"base": base, "patched": patched}, "base")
        self.assertIn("| 1 | 1 | 10000 | 5000 | 0.500 | 1.00 | 0.00 |", text)
        self.assertIn("| 1 | 8 | 20000 | 5000 **WRONG** | 0.250 | 2.00 | 0.00 |", text)
        with tempfile.TemporaryDirectory() as d:
            script = bench.sweep_plot_script({"base": base, "patched": patched}, Path(d))
            data = (Path(d) / "bench-cpus.dat").read_text()
        self.assertIn("index 1 with linespoints title 'patched, 1 page per call'", script)
        self.assertIn("noenhanced", script)
        self.assertEqual(data.split("\n\n\n")[0], "# base, 1 page per call\n1 10000.0\n8 20000.0")
        self.assertIsNone(bench.sweep_plot_script({"base": {}}, Path("/nonexistent")))

    def test_scale_sweeps(self) -> None:
        text = ("bench: scale start pages=1024 node_a=0 node_b=1\n"
                "bench: size pages=1024 run=1 ns=99999999 migrated=1024 ok=1\n"
                "bench: size pages=1024 run=2 ns=8192000 migrated=1024 ok=1\n"
                "bench: size pages=262144 run=2 ns=2228224000 migrated=262144 ok=1\n"
                "bench: share procs=1 run=2 pages=1024 ns=8192000 migrated=1024 ok=1\n"
                "bench: share procs=8 run=2 pages=1024 ns=40960000 migrated=1024 ok=0\n")
        base = bench.parse_scale(text)
        # The last run of each point counts (the first warms up).
        self.assertEqual(base[("size", 1024)].ns, 8192000)
        self.assertEqual(base[("share", 8)].procs, 8)
        patched = bench.parse_scale("bench: size pages=1024 run=2 ns=4096000 migrated=1024 "
                                    "ok=1\n")
        size = bench.scale_table({"base": base, "patched": patched}, "size", "base")
        self.assertIn("| 1024 | 8000 | 1.000 | 4000 | 1.000 | 0.500 |", size)
        # 8500 per page at 256 Ki against 8000 at 1 Ki: 1.062, not flat.
        self.assertIn("| 262144 | 8500 | 1.062 | - | - | - |", size)
        share = bench.scale_table({"base": base}, "share", "base")
        self.assertIn("| 8 | 40000 **WRONG** | 5000 |", share)
        self.assertNotIn("262144", share)

    def test_latency(self) -> None:
        def line(p: str, entries: int, max_us: int, sum_us: int, ok: int = 1) -> str:
            return (f"bench: latency pattern={p} pages=8192 migrated={entries} "
                    f"entries={entries} max_us={max_us} sum_us={sum_us} ok={ok}\n")
        base = bench.parse_latency(line("alternating", 4096, 20, 40960)
                                   + line("one_per_call", 8192, 9, 8192 * 5))
        self.assertEqual(base["alternating"].mean_us, 10.0)
        patched = bench.parse_latency(line("alternating", 4096, 2000, 4096 * 1000, 0))
        self.assertFalse(patched["alternating"].ok)
        text = bench.latency_table({"base": base, "patched": patched}, "base")
        # Longest 2000/20, mean 1000/10.
        self.assertIn("| alternating | 4096 | 20 | 10.0 | 4096 | 2000 **WRONG** | 1000.0 "
                      "| 100.000 | 100.000 |", text)
        self.assertIn("| one_per_call | 8192 | 9 | 5.0 | - | - | - | - | - |", text)
        # No entry at all (a kernel that moved nothing): no division by zero.
        empty = bench.parse_latency(line("half_placed", 0, 0, 0, 0))
        self.assertEqual(empty["half_placed"].mean_us, 0.0)
        self.assertIn("| half_placed | 0 | 0 **WRONG** | 0.0 |",
                      bench.latency_table({"base": empty}, "base"))

    def test_guest_checks(self) -> None:
        """A bench guest is used only when it completed and /init reported no error."""
        with tempfile.TemporaryDirectory() as d:
            console, tap = Path(d) / "console.log", Path(d) / "tap.log"
            tap.write_text(OUTPUT)

            def g(console_text: str, timed_out: bool = False) -> GuestRun:
                console.write_text(console_text)
                return GuestRun(console, tap, 0, timed_out, 1.0, ())
            res = bench.parse(OUTPUT)
            bench.check_guest("base", "benchmark", g("lab: done\n"), OUTPUT, res)
            with self.assertRaisesRegex(LabError, "lab: error: cannot mount /dev/vda"):
                bench.check_guest("base", "benchmark",
                                  g("lab: error: cannot mount /dev/vda as ext4\n"), OUTPUT, res)
            with self.assertRaisesRegex(LabError, "did not complete"):
                bench.check_guest("base", "benchmark", g("", timed_out=True), OUTPUT, res)
            with self.assertRaisesRegex(LabError, "did not complete"):
                bench.check_guest("base", "benchmark", g(""), OUTPUT.replace("bench: done", ""),
                                  res)

    def test_parse_and_last_run(self) -> None:
        res = bench.parse(OUTPUT)
        self.assertEqual([r.pattern for r in res], ["all_to_one", "all_to_one", "thp_listed"])
        last = bench.last_runs(res)
        self.assertEqual(last["all_to_one"].run, 2)
        self.assertEqual(last["all_to_one"].ns, 81920000)
        self.assertFalse(last["thp_listed"].ok)
        self.assertEqual(last["thp_listed"].inexact, 8176)

    def test_events_table(self) -> None:
        base = bench.parse_events(
            "bench: events pattern=alternating pages=8192 rounds=8192 remote_flushes=8192 ok=1\n"
            "bench: events pattern=query pages=8192 rounds=0 remote_flushes=0 ok=1\n")
        patched = bench.parse_events(
            "bench: events pattern=alternating pages=8192 rounds=32 remote_flushes=64 ok=1\n"
            "bench: events pattern=query pages=8192 rounds=0 remote_flushes=0 ok=0\n")
        self.assertEqual(patched["alternating"].rounds, 32)
        text = bench.events_table({"base": base, "patched": patched}, "base")
        self.assertIn("| alternating | 8192 | 1.0000 | 32 | 0.0078 | 0.0078 |", text)
        # No flushes on the base: no ratio; a wrong result is marked.
        self.assertIn("| query | 0 | 0.0000 | 0 | 0.0000 **WRONG** | - |", text)

    def test_counters_parsed_and_tabled(self) -> None:
        line = ("bench: pattern=thp_listed run=2 pages=8192 calls=1 ns=16384000 ok=1 inexact=0 "
                "migrated=8192 thp_moved=0 thp_split=16\n")
        res = bench.last_runs(bench.parse(line))
        self.assertEqual((res["thp_listed"].migrated, res["thp_listed"].thp_moved,
                          res["thp_listed"].thp_split), (8192, 0, 16))
        old = bench.last_runs(bench.parse(OUTPUT.replace(" migrated=4096 thp_moved=0 "
                                                         "thp_split=0", "")))
        self.assertEqual(old["all_to_one"].migrated, -1)
        text = bench.counters_table({"base": old, "patched": res})
        self.assertIn("| thp_listed | - | - | - | 8192 | 0 | 16 |", text)
        self.assertIn("| all_to_one | - | - | - | - | - | - |", text)

    def test_growth_table(self) -> None:
        """The functions that cost more per page in the large call, largest growth first."""
        profs = bench.parse_profile(
            "bench: profile pattern=size_1024 func=copy_page hits=1024 ns=1024000\n"
            "bench: profile pattern=size_1024 func=rmqueue_bulk hits=16 ns=16000\n"
            "bench: profile pattern=size_1024 pages=1024 migrated=1024 ns=2048000 ok=1\n"
            "bench: profile pattern=size_4096 func=copy_page hits=4096 ns=4096000\n"
            "bench: profile pattern=size_4096 func=rmqueue_bulk hits=128 ns=409600\n"
            "bench: profile pattern=size_4096 func=kswapd hits=1 ns=40960\n"
            "bench: profile pattern=size_4096 pages=4096 migrated=4096 ns=9000000 ok=1\n")
        text = bench.growth_table(profs, "size_1024", "size_4096")
        lines = text.splitlines()
        rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
        # rmqueue_bulk: 15.6 -> 100 ns/page; kswapd only in the large one; copy flat.
        self.assertEqual(rows[0], "| rmqueue_bulk | 0.016 | 0.031 | 15.6 | 100.0 | +84.4 |")
        self.assertEqual(rows[1], "| kswapd | 0.000 | 0.000 | 0.0 | 10.0 | +10.0 |")
        self.assertEqual(rows[2], "| copy_page | 1.000 | 1.000 | 1000.0 | 1000.0 | +0.0 |")
        self.assertIn("size_1024: 2000 ns/page profiled; size_4096: 2197", text)
        self.assertIn("no profile", bench.growth_table(profs, "size_1024", "size_9"))

    def test_profile_parsed_and_compared(self) -> None:
        base = bench.parse_profile(
            "bench: profile pattern=all_to_one func=copy_page hits=8192 ns=8192000\n"
            "bench: profile pattern=all_to_one func=try_to_migrate hits=8192 ns=4096000\n"
            "bench: profile pattern=all_to_one pages=8192 migrated=8192 ns=99999999 ok=1\n")
        patched = bench.parse_profile(
            "bench: profile pattern=all_to_one func=copy_page hits=8192 ns=8192000\n"
            "bench: profile pattern=all_to_one func=move_pages_fetch hits=64 ns=819200\n"
            "bench: profile pattern=all_to_one pages=8192 migrated=8000 ns=88888888 ok=0\n")
        self.assertEqual(base["all_to_one"].funcs["try_to_migrate"], (8192, 4096000))
        text = bench.profile_table({"base": base, "patched": patched}, "base")
        self.assertIn("| copy_page | 1000.0 | 1.000 | 1000.0 | 1.000 | +0.0 |", text)
        # Only in one kernel's list: no difference is claimed.
        self.assertIn("| try_to_migrate | 500.0 | 1.000 | - | - | - |", text)
        self.assertIn("| move_pages_fetch | - | - | 100.0 | 0.008 | - |", text)
        self.assertIn("8000 migrated **WRONG**", text)
        # Largest first.
        self.assertLess(text.index("copy_page"), text.index("try_to_migrate"))

    def test_unknown_kernel(self) -> None:
        with self.assertRaisesRegex(LabError, "unknown bench kernel"):
            bench.run(["nosuch"], "swapless", 10, __import__("pathlib").Path("/nonexistent"))

    def test_one_kernel_tables_have_no_empty_column(self) -> None:
        # make bench BENCH=src: no ratio columns, the header as wide as the rows.
        res = {"src": bench.last_runs(bench.parse(OUTPUT))}
        sweep = {"src": {(1, 1): bench.Sweep(1, 1, 1, 8, 80000, 0, 0, True)}}
        for table in (bench.split_table(res, {}, "src"), bench.sweep_table(sweep, "src")):
            lines = table.splitlines()
            self.assertNotIn("|  |", lines[0])
            self.assertEqual({ln.count("|") for ln in lines}, {lines[0].count("|")})

    def test_src_kernel_needs_its_tree(self) -> None:
        with self.assertRaisesRegex(LabError, "needs the tree: SRC="):
            bench.check_kernels(["base", "src"], None)
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(LabError, "no bench kernel is \"src\""):
                bench.check_kernels(["base", "patched"], Path(d))
            # A folder that is no kernel tree: the same error as make run SRC=.
            with self.assertRaisesRegex(LabError, "not a Linux kernel tree"):
                bench.check_kernels(["base", "src"], Path(d))
        with self.assertRaisesRegex(LabError, "named twice"):
            bench.check_kernels(["base", "base"], None)
        bench.check_kernels(["base", "patched"], None)


if __name__ == "__main__":
    unittest.main()
