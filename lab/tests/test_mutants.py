# SPDX-License-Identifier: GPL-2.0
"""The mutant catalogue: headers, selection and the killed/survived table."""

import tempfile
import unittest
from pathlib import Path
from unittest import mock

from lab import mutants
from lab.common import LabError


class CatalogueTest(unittest.TestCase):
    def test_shipped_mutants_parse(self) -> None:
        found = mutants.catalogue()
        self.assertGreaterEqual(len(found), 5)
        for m in found:
            self.assertTrue(m.breaks and m.origin and m.expect, m.name)
            self.assertIn("--- a/", m.path.read_text())

    def test_bad_headers(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "x.patch"
            p.write_text("Mutant: x\nBreaks: b\n--- a/f\n+++ b/f\n")
            with self.assertRaisesRegex(LabError, "header lacks Origin, Expect"):
                mutants.parse_header(p)
            p.write_text("Mutant: y\nBreaks: b\nOrigin: o\nExpect: e\n--- a/f\n")
            with self.assertRaisesRegex(LabError, "does not match the file name"):
                mutants.parse_header(p)

    def test_profile_header(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "x.patch"
            head = "Mutant: x\nBreaks: b\nOrigin: o\nExpect: e\n"
            p.write_text(head + "--- a/f\n")
            self.assertEqual(mutants.parse_header(p).profile, "swapless")
            p.write_text(head + "Profile: swap\n--- a/f\n")
            self.assertEqual(mutants.parse_header(p).profile, "swap")
            p.write_text(head + "Profile: nosuch\n--- a/f\n")
            with self.assertRaisesRegex(LabError, "unknown profile 'nosuch'"):
                mutants.parse_header(p)

    def test_focus_binaries(self) -> None:
        m = mutants.Mutant("x", Path("x.patch"), "b", "o",
                           ("kunit:migrate_folio.migrate_folio_anon",
                            "selftests:migration/migration_race.race.fork_cow_isolation",
                            "selftests:migration/migration_race.race_thp.mprotect_readonly",
                            "selftests:migration/move_pages_status.status.query"))
        self.assertEqual(mutants.focus_binaries(m), ["migration_race", "move_pages_status"])
        only_kunit = mutants.Mutant("y", Path("y.patch"), "b", "o", ("kunit:migrate_entry",))
        self.assertEqual(mutants.focus_binaries(only_kunit), ["migration_bits"])
        splat = mutants.Mutant("z", Path("z.patch"), "b", "o", ("lab:no_splats",))
        self.assertEqual(mutants.focus_binaries(splat), [])
        for m in mutants.catalogue():   # every binary named exists in the target
            for b in mutants.focus_binaries(m):
                src = b.removesuffix("_32")     # foo_32: foo.c built -m32
                self.assertTrue(Path(f"tools/testing/selftests/migration/{src}.c").exists(), b)

    def test_unknown_selection(self) -> None:
        with self.assertRaisesRegex(LabError, "unknown mutant"):
            mutants.catalogue("no-such-mutant")
        with tempfile.TemporaryDirectory() as d, mock.patch.object(mutants, "MUTANT_DIR", Path(d)):
            with self.assertRaisesRegex(LabError, "no mutants"):
                mutants.catalogue()

    def test_table_marks_survivors(self) -> None:
        m = mutants.Mutant("m", Path("m.patch"), "breaks x", "seeds", ("kunit:a.b",))
        killed = mutants.Outcome(m, True, ["kunit:a.b.param=1"], 12.0)
        wrong = mutants.Outcome(m, True, ["lab:no_splats"], 3.0)
        survived = mutants.Outcome(m, False, [], 5.0)
        self.assertTrue(killed.expected_seen)
        self.assertFalse(wrong.expected_seen)
        text = mutants.table([killed, wrong, survived])
        self.assertIn("| m | breaks x | seeds | killed | kunit:a.b.param=1 | 12s |", text)
        self.assertIn("killed (not by the expected case)", text)
        self.assertIn("**SURVIVED**", text)

    def test_tests_table_lists_each_case(self) -> None:
        a = mutants.Mutant("a", Path("a.patch"), "x", "o", ("kunit:s.t",))
        b = mutants.Mutant("b", Path("b.patch"), "y", "o", ("selftests:m/u.v",))
        outcomes = [mutants.Outcome(a, True, ["kunit:s.t", "lab:no_splats"]),
                    mutants.Outcome(b, True, ["kunit:s.t", "selftests:m/u.v"])]
        text = mutants.tests_table(outcomes, {"kunit:s.t", "selftests:m/u.v", "kunit:s.idle"})
        self.assertIn("| kunit:s.t | a, b |", text)
        self.assertIn("| selftests:m/u.v | b |", text)
        self.assertIn("| kunit:s.idle | - |", text)
        self.assertNotIn("lab:no_splats", text)


if __name__ == "__main__":
    unittest.main()
