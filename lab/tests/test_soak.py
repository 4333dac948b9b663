# SPDX-License-Identifier: GPL-2.0
"""The soak run's parser and verdict."""

import unittest
from pathlib import Path

from lab import soak
from lab.common import LabError

TAP = """soak: start minutes=2 workers=4 pages=1024 nodes=0,1
soak: progress minute=1 rounds=100 overlaps=40 mismatches=0 migrate_calls=50 migrate_errors=0 forks=30 fork_leaks=0
soak: selftest migration_race run=1 ok
soak: selftest migrate_process run=1 ok
soak: done minute=2 rounds=210 overlaps=90 mismatches=0 migrate_calls=101 migrate_errors=0 forks=61 fork_leaks=0
"""


class SoakTest(unittest.TestCase):
    def test_clean_run_passes(self) -> None:
        r = soak.parse("swapless", TAP, "[    1.0] booted\n")
        self.assertTrue(r.done)
        self.assertEqual((r.minutes, r.rounds, r.overlaps, r.forks), (2, 210, 90, 61))
        self.assertEqual((r.selftest_runs, r.selftest_failures), (2, 0))
        self.assertTrue(r.ok)
        self.assertIn("| swapless | 2 | 210 | 90 | 0 | 101 (0) | 61 (0) | 2 (0) | 0 | 0 | PASS |",
                      soak.table([r]))

    def test_each_problem_fails(self) -> None:
        self.assertFalse(soak.parse("p", TAP.replace("mismatches=0 migrate_calls=101",
                                                     "mismatches=3 migrate_calls=101"), "").ok)
        self.assertFalse(soak.parse("p", TAP.replace("run=1 ok\nsoak: done",
                                                     "run=1 FAIL\nsoak: done"), "").ok)
        self.assertFalse(soak.parse("p", TAP.replace("soak: done", "soak: progress"), "").ok)
        self.assertFalse(soak.parse("p", TAP.replace("overlaps=90", "overlaps=0"), "").ok)
        warning = ("[    5.0] ------------[ cut here ]------------\n"
                   "[    5.0] WARNING: CPU: 1 PID: 7 at mm/migrate.c:100 f+0x1/0x2\n")
        self.assertFalse(soak.parse("p", TAP, warning).ok)
        self.assertFalse(soak.parse("p", TAP, "lab: error: cannot enable swap on /dev/vdb\n").ok)

    def test_minutes_must_be_positive(self) -> None:
        with self.assertRaisesRegex(LabError, "at least 1"):
            soak.run(["swapless"], 0, Path("/nonexistent"))


if __name__ == "__main__":
    unittest.main()
