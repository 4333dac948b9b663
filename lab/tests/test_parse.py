# SPDX-License-Identifier: GPL-2.0
"""The (K)TAP parser and splat finder against recorded logs."""

import unittest
from pathlib import Path

from lab.cases import Status
from lab.parse import (find_splats, kunit_cases, lab_lines, parse_tap,
                       selftest_cases, strip_timestamps)

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


class KtapTest(unittest.TestCase):
    def test_kunit_pass_names_every_param(self) -> None:
        cases, problems = kunit_cases(read("kunit-pass.log"))
        self.assertEqual(problems, [])
        names = [c.name for c in cases]
        self.assertEqual(names, [
            "migrate_entry.migrate_entry_pte_round_trip.kind=read pfn=zero",
            "migrate_entry.migrate_entry_pte_round_trip.kind=read pfn=typical",
            "migrate_entry.migrate_entry_pte_round_trip.kind=write pfn=max",
            "migrate_entry.migrate_entry_not_swap",
        ])
        self.assertTrue(all(c.status is Status.PASS for c in cases))

    def test_kunit_fail_and_skip(self) -> None:
        cases, problems = kunit_cases(read("kunit-fail.log"))
        self.assertEqual(problems, [])
        by = {c.name: c for c in cases}
        self.assertIs(by["migrate_entry.migrate_entry_pte_round_trip.kind=write pfn=max"].status,
                      Status.FAIL)
        skip = by["migrate_entry.migrate_entry_not_swap"]
        self.assertIs(skip.status, Status.SKIP)
        self.assertEqual(skip.reason, "Test requires: two memory nodes")
        # The failing parents are not counted again: their subtest failed.
        self.assertEqual(sum(c.status is Status.FAIL for c in cases), 1)

    def test_truncated_stream_keeps_names(self) -> None:
        """A panic mid-suite: passed cases keep their full names, the open
        subtests fail as crashed."""
        cases, problems = kunit_cases(read("kunit-truncated.log"))
        self.assertEqual(problems, [
            "stream ends inside subtest migrate_entry_pte_round_trip (1 results, no closing result)",
            "stream ends inside subtest migrate_entry (1 results, no closing result)"])
        self.assertEqual([(c.name, c.status) for c in cases], [
            ("migrate_entry.migrate_entry_pte_round_trip.kind=read pfn=zero", Status.PASS),
            ("migrate_entry.migrate_entry_pte_round_trip", Status.FAIL)])
        self.assertEqual(cases[1].reason, "stream ended before this subtest finished")

    def test_no_stream(self) -> None:
        top, problems = parse_tap("[    0.1] hello\n")
        self.assertEqual(top, [])
        self.assertEqual(problems, ["no TAP/KTAP stream found"])

    def test_timestamps_stripped(self) -> None:
        self.assertEqual(strip_timestamps("[   12.345678] ok 1 x\r\nplain"), ["ok 1 x", "plain"])


class KselftestTapTest(unittest.TestCase):
    def test_pass_with_skip(self) -> None:
        cases, problems = selftest_cases(read("selftests-pass.tap"))
        self.assertEqual(problems, [])
        self.assertEqual([(c.name, c.status) for c in cases], [
            ("migration/move_pages_data.move_pages.private_anon.round_trip", Status.PASS),
            ("migration/move_pages_data.move_pages.shared_anon.round_trip", Status.SKIP),
        ])
        self.assertEqual(cases[1].reason, "needs two nodes with memory")

    def test_failing_case_counted_once(self) -> None:
        cases, _ = selftest_cases(read("selftests-fail.tap"))
        failed = [c.name for c in cases if c.status is Status.FAIL]
        self.assertEqual(failed, ["migration/move_pages_data.move_pages.private_anon.round_trip"])

    def test_crashed_binary_is_a_failure(self) -> None:
        """A binary that dies mid-run: its passed cases stay, the binary fails."""
        cases, problems = selftest_cases(read("selftests-crash.tap"))
        failed = [c for c in cases if c.status is Status.FAIL]
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0].name, "migration/move_pages_data")
        self.assertIn("1 announced results missing", failed[0].reason)
        self.assertEqual(problems, ["plan announced 2 results, got 1"])

    def test_xfail_passes_xpass_fails(self) -> None:
        tap = ("TAP version 13\n1..1\n# TAP version 13\n# 1..2\n"
               "# ok 1 a.thp # XFAIL tail pages report -EBUSY\n# ok 2 a.other # XPASS stale\n"
               "ok 1 selftests: migration: x\n")
        cases, _ = selftest_cases(tap)
        self.assertEqual([(c.name, c.status, c.reason) for c in cases], [
            ("migration/x.a.thp", Status.XFAIL, "tail pages report -EBUSY"),
            ("migration/x.a.other", Status.FAIL, "XPASS: stale")])

    def test_binary_cut_short_keeps_its_name(self) -> None:
        """The guest dies inside a selftest binary: its cases keep its name."""
        tap = ("TAP version 13\n1..1\n# selftests: migration: migration_race\n"
               "# TAP version 13\n# 1..5\n# ok 1 race.fork_cow_isolation\n")
        cases, problems = selftest_cases(tap)
        self.assertEqual([(c.name, c.status) for c in cases], [
            ("migration/migration_race.race.fork_cow_isolation", Status.PASS),
            ("migration/migration_race", Status.FAIL)])
        self.assertTrue(problems)

    def test_failed_binary_without_subtests(self) -> None:
        tap = "TAP version 13\n1..1\n# selftests: migration: x\nnot ok 1 selftests: migration: x # exit=1\n"
        cases, problems = selftest_cases(tap)
        self.assertEqual(problems, [])
        self.assertEqual([(c.name, c.status, c.reason) for c in cases],
                         [("migration/x", Status.FAIL, "exit=1")])


class SplatTest(unittest.TestCase):
    def test_clean_log(self) -> None:
        self.assertEqual(find_splats(read("kunit-pass.log")), [])

    def test_warning(self) -> None:
        splats = find_splats(read("warning.log"))
        self.assertEqual(len(splats), 1)
        self.assertTrue(splats[0].title.startswith("WARNING: CPU: 1 PID: 77 at mm/migrate.c:321"))
        self.assertIn("RIP: 0010:remove_migration_pte+0x1c4/0x3a0", splats[0].first_lines)

    def test_oops_and_panic(self) -> None:
        titles = [s.title for s in find_splats(read("kunit-truncated.log"))]
        self.assertTrue(titles[0].startswith("BUG: kernel NULL pointer dereference"))

    def test_lockdep(self) -> None:
        titles = [s.title for s in find_splats(read("lockdep.log"))]
        self.assertEqual(titles, ["WARNING: possible circular locking dependency detected"])


class LabLinesTest(unittest.TestCase):
    def test_keys(self) -> None:
        notes = lab_lines(read("kunit-pass.log"))
        self.assertEqual(notes["nodes-online"], "0-1")
        self.assertIn("done", notes)
        self.assertNotIn("done", lab_lines(read("hang.log")))


if __name__ == "__main__":
    unittest.main()
