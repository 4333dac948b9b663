# SPDX-License-Identifier: GPL-2.0
"""The verdict: each way a guest run can go wrong fails it."""

import json
import tempfile
import unittest
from pathlib import Path

from lab.cases import Status
from lab.profile import load_profile
from lab.report import Inputs, closing_line, evaluate, table, write_summary

DATA = Path(__file__).parent / "data"


def run(console: str, tap: str = "selftests-pass.tap", timed_out: bool = False,
        profile: str = "swapless") -> dict[str, Status]:
    """Evaluate a recorded console; "ktap-pass.log+x.log" concatenates logs."""
    text = "".join((DATA / part).read_text() for part in console.split("+"))
    cases, _ = evaluate(Inputs(text, (DATA / tap).read_text(), timed_out, 12.0),
                        load_profile(profile))
    return {f"{c.suite}:{c.name}": c.status for c in cases}


def failures(result: dict[str, Status]) -> list[str]:
    return sorted(k for k, v in result.items() if v is Status.FAIL)


class VerdictTest(unittest.TestCase):
    def test_clean_run_passes(self) -> None:
        self.assertEqual(failures(run("kunit-pass.log")), [])

    def test_failing_kunit_case(self) -> None:
        self.assertEqual(failures(run("kunit-fail.log")),
                         ["kunit:migrate_entry.migrate_entry_pte_round_trip.kind=write pfn=max"])

    def test_failing_selftest(self) -> None:
        self.assertEqual(failures(run("kunit-pass.log", "selftests-fail.tap")),
                         ["selftests:migration/move_pages_data.move_pages.private_anon.round_trip"])

    def test_panic(self) -> None:
        f = failures(run("kunit-truncated.log"))
        self.assertIn("lab:guest_completed", f)
        self.assertIn("lab:no_splats", f)
        self.assertIn("lab:kunit_stream", f)

    def test_warning(self) -> None:
        self.assertEqual(failures(run("ktap-pass.log+warning.log")), ["lab:no_splats"])

    def test_lockdep(self) -> None:
        self.assertEqual(failures(run("ktap-pass.log+lockdep.log")), ["lab:no_splats"])

    def test_hang(self) -> None:
        f = failures(run("ktap-pass.log+hang.log", timed_out=True))
        self.assertIn("lab:guest_completed", f)

    def test_missing_nodes(self) -> None:
        self.assertEqual(failures(run("ktap-pass.log+one-node.log")), ["lab:numa_topology"])

    def test_cpus_missing_from_a_node(self) -> None:
        """NR_CPUS=2 leaves node 1 memory-only: the topology check must see it."""
        self.assertEqual(failures(run("ktap-pass.log+two-cpus.log")), ["lab:numa_topology"])

    def test_guest_error_fails_the_run(self) -> None:
        """swapon failed in /init: the cases still pass, the run does not."""
        cases, _ = evaluate(Inputs((DATA / "swapon-error.log").read_text(),
                                   (DATA / "selftests-pass.tap").read_text(), False, 12.0),
                            load_profile("swap"))
        bad = [c for c in cases if c.status is Status.FAIL]
        self.assertEqual([(c.suite, c.name) for c in bad], [("lab", "guest_errors")])
        self.assertIn("lab: error: cannot enable swap on /dev/vdb", bad[0].reason)

    def test_guest_error_case_present_when_clean(self) -> None:
        self.assertIs(run("kunit-pass.log")["lab:guest_errors"], Status.PASS)

    def test_memory_only_node_expected(self) -> None:
        from lab.report import cpulist, expected_topology
        from lab.profile import with_topology
        p = with_topology(load_profile("swapless"), "1cpu-memnode")
        self.assertEqual(expected_topology(p), ("0-1", "0", {0: "0", 1: ""}))
        self.assertEqual(cpulist((2, 3)), "2-3")

    def test_no_selftest_output(self) -> None:
        cases, _ = evaluate(Inputs((DATA / "kunit-pass.log").read_text(), "", False, 1.0),
                            load_profile("swapless"))
        self.assertEqual([c.name for c in cases if c.status is Status.FAIL], ["selftest_stream"])


class XfailTest(unittest.TestCase):
    def test_xfail_is_its_own_status(self) -> None:
        from lab.cases import Case
        cases = [Case("selftests", "a", Status.PASS), Case("selftests", "b", Status.XFAIL, "bug")]
        self.assertEqual(closing_line(cases),
                         "1 passed, 0 failed, 0 skipped, 1 xfailed (known bugs, as expected)")
        text = table(cases)
        self.assertIn("xfail", text.splitlines()[0])
        self.assertIn("  XFAIL selftests: b: bug", text)
        self.assertNotIn("xfail", table(cases[:1]))


class SummaryTest(unittest.TestCase):
    def test_summary_and_closing_line(self) -> None:
        cases, extra = evaluate(Inputs((DATA / "kunit-fail.log").read_text(),
                                       (DATA / "selftests-pass.tap").read_text(), False, 3.0),
                                load_profile("swapless"))
        with tempfile.TemporaryDirectory() as d:
            s = write_summary(Path(d) / "summary.json", {"profile": "swapless"}, cases, extra)
            on_disk = json.loads((Path(d) / "summary.json").read_text())
        self.assertEqual(on_disk, s)
        self.assertEqual(s["verdict"], "FAIL")
        self.assertEqual(s["counts"], {"passed": 8, "failed": 1, "skipped": 2})
        self.assertEqual(closing_line(cases), "8 passed, 1 failed, 2 skipped")
        self.assertIn("FAIL kunit: migrate_entry.migrate_entry_pte_round_trip.kind=write pfn=max",
                      table(cases))


if __name__ == "__main__":
    unittest.main()
