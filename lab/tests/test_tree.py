# SPDX-License-Identifier: GPL-2.0
"""Overlay + series onto a tiny fake base tree; the sync keeps mtimes."""

import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from lab import tree
from lab.common import LabError

GOOD = """--- a/mm/Makefile
+++ b/mm/Makefile
@@ -1,2 +1,3 @@
 obj-y += a.o
+obj-y += ours.o
 obj-y += b.o
"""

BAD = """--- a/mm/Makefile
+++ b/mm/Makefile
@@ -1,2 +1,3 @@
 obj-y += nothere.o
+obj-y += ours.o
 obj-y += b.o
"""


class TreeTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        self.pristine = root / "base" / "linux"
        (self.pristine / "mm").mkdir(parents=True)
        (self.pristine / "mm/Makefile").write_text("obj-y += a.o\nobj-y += b.o\n")
        (self.pristine / "mm/rmap.c").write_text("/* rmap */\n")
        (self.pristine / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\n")
        (self.pristine / "MAINTAINERS").write_text(
            "Maintainers List (try to look for most precise areas first)\n\n"
            "\t\t-----------------------------------\n\n"
            "MEMORY MANAGEMENT - CORE\nM:\tA\nS:\tMaintained\n\n"
            "ZZZ LAST\nM:\tZ\nS:\tMaintained\n")
        self.repo = root / "repo"
        (self.repo / "mm/tests").mkdir(parents=True)
        (self.repo / "patches").mkdir()
        (self.repo / "mm/tests/x_kunit.c").write_text("// test\n")
        (self.repo / "Kconfig.migration").write_text("config X\n\tbool\n")
        (self.repo / "MAINTAINERS").write_text("MEMORY MANAGEMENT - MIGRATION TESTS\nM:\tUs\nS:\tMaintained\n")
        self.base = tree.BaseTree(self.pristine, "6.12.117", "6.12.117-1")
        self.env = mock.patch.dict(os.environ, {"LAB_CACHE": str(root / "cache")})
        self.env.start()

    def tearDown(self) -> None:
        self.env.stop()
        self.tmp.cleanup()

    def series(self, *patches: tuple[str, str]) -> None:
        for name, text in patches:
            (self.repo / "patches" / name).write_text(text)
        (self.repo / "patches/series").write_text("# ours\n" + "\n".join(n for n, _ in patches) + "\n")

    def test_kernel_version(self) -> None:
        self.assertEqual(tree.kernel_version(self.pristine), "6.12.117")

    def test_patch_targets(self) -> None:
        p = self.repo / "patches/x.patch"
        p.write_text(GOOD + "--- /dev/null\n+++ b/mm/new.c\n@@ -0,0 +1 @@\n+x\n")
        self.assertEqual(tree.patch_targets(p), ["mm/Makefile", "mm/new.c"])

    def test_overlay_and_patch(self) -> None:
        self.series(("0001-good.patch", GOOD))
        t = tree.patched_tree(self.base, self.repo)
        self.assertEqual((t / "mm/Makefile").read_text(), "obj-y += a.o\nobj-y += ours.o\nobj-y += b.o\n")
        self.assertEqual((t / "mm/tests/x_kunit.c").read_text(), "// test\n")
        self.assertEqual((t / "mm/Kconfig.migration").read_text(), "config X\n\tbool\n")
        # The pristine tree is never written through the hard links.
        self.assertEqual((self.pristine / "mm/Makefile").read_text(), "obj-y += a.o\nobj-y += b.o\n")
        self.assertFalse((self.pristine / "mm/tests").exists())
        m = (t / "MAINTAINERS").read_text()
        self.assertLess(m.index("MEMORY MANAGEMENT - CORE"), m.index("MEMORY MANAGEMENT - MIGRATION TESTS"))
        self.assertLess(m.index("MIGRATION TESTS"), m.index("ZZZ LAST"))

    def test_sync_keeps_mtimes_and_restores(self) -> None:
        self.series(("0001-good.patch", GOOD))
        t = tree.patched_tree(self.base, self.repo)
        os.utime(t / "mm/Makefile", (1000, 1000))
        os.utime(t / "mm/tests/x_kunit.c", (1000, 1000))
        tree.patched_tree(self.base, self.repo)
        self.assertEqual((t / "mm/Makefile").stat().st_mtime, 1000)
        self.assertEqual((t / "mm/tests/x_kunit.c").stat().st_mtime, 1000)
        # Drop the patch and the overlay file: both are undone.
        self.series()
        (self.repo / "mm/tests/x_kunit.c").unlink()
        tree.patched_tree(self.base, self.repo)
        self.assertEqual((t / "mm/Makefile").read_text(), "obj-y += a.o\nobj-y += b.o\n")
        self.assertFalse((t / "mm/tests/x_kunit.c").exists())

    def test_patch_that_does_not_apply(self) -> None:
        self.series(("0001-good.patch", GOOD), ("0002-bad.patch", BAD))
        (self.repo / "patches/0001-good.patch").write_text(GOOD)
        with self.assertRaises(LabError) as cm:
            tree.patched_tree(self.base, self.repo)
        msg = str(cm.exception)
        self.assertIn("patch 0002-bad.patch does not apply", msg)
        self.assertIn("rejected hunks", msg)
        self.assertIn("+obj-y += ours.o", msg)

    def test_series_names_missing_patch(self) -> None:
        (self.repo / "patches/series").write_text("0009-missing.patch\n")
        with self.assertRaisesRegex(LabError, "0009-missing.patch, which does not exist"):
            tree.patched_tree(self.base, self.repo)


if __name__ == "__main__":
    unittest.main()
