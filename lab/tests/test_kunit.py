# SPDX-License-Identifier: GPL-2.0
"""make kunit runs the command mm/tests/.kunitconfig shows its readers."""

import re
import shlex
import unittest
from pathlib import Path

from lab.__main__ import KUNIT_NUMA_OPTIONS, kunit_command
from lab.common import REPO


def documented_command() -> list[str]:
    """The kunit.py command in the comment of mm/tests/.kunitconfig."""
    comment = "\n".join(ln[1:] for ln in (REPO / "mm/tests/.kunitconfig").read_text().splitlines()
                        if ln.startswith("#"))
    start = comment.index("./tools/testing/kunit/kunit.py run")
    text = comment[start:]
    lines = []
    for ln in text.splitlines():
        lines.append(ln.strip())
        if not ln.rstrip().endswith("\\"):
            break
    joined = " ".join(ln.removesuffix("\\").strip() for ln in lines)
    return [re.sub(r"\s+", " ", a) for a in shlex.split(joined)]


class KunitCommandTest(unittest.TestCase):
    def test_documented_command_is_the_one_run(self) -> None:
        doc = documented_command()
        self.assertEqual(doc[:3], ["./tools/testing/kunit/kunit.py", "run",
                                   "--kunitconfig=mm/tests"])
        self.assertEqual(tuple(doc[3:3 + len(KUNIT_NUMA_OPTIONS)]), KUNIT_NUMA_OPTIONS)
        cmd = kunit_command(Path("/src"), Path("/build"), 600)
        at = cmd.index(KUNIT_NUMA_OPTIONS[0])
        self.assertEqual(tuple(cmd[at:at + len(KUNIT_NUMA_OPTIONS)]), KUNIT_NUMA_OPTIONS)
        self.assertIn("--timeout=600", doc)


if __name__ == "__main__":
    unittest.main()
