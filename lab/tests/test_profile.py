# SPDX-License-Identifier: GPL-2.0
"""Profiles and topologies: QEMU flags and clear errors for bad files."""

import tempfile
import unittest
from pathlib import Path
from unittest import mock

from lab import profile as prof
from lab.common import LabError


class ProfileTest(unittest.TestCase):
    def test_shipped_profiles(self) -> None:
        sl = prof.load_profile("swapless")
        self.assertEqual(sl.fragments, ("base", "swapless"))
        self.assertFalse(sl.swap_device)
        self.assertTrue(prof.load_profile("swap").swap_device)

    def test_two_node_qemu_args(self) -> None:
        args = prof.TOPOLOGIES["2node"].qemu_args()
        self.assertEqual(args[:4], ["-m", "2048M", "-smp", "4,sockets=2,cores=2,threads=1"])
        self.assertIn("memory-backend-ram,id=m1,size=1024M", args)
        self.assertIn("node,nodeid=1,memdev=m1,cpus=2-3", args)

    def test_memory_only_node(self) -> None:
        args = prof.TOPOLOGIES["1cpu-memnode"].qemu_args()
        self.assertIn("node,nodeid=1,memdev=m1", args)
        self.assertIn("1,sockets=1,cores=1,threads=1", args)

    def _load(self, text: str) -> prof.Profile:
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "p.toml").write_text(text)
            with mock.patch.object(prof, "PROFILE_DIR", Path(d)):
                return prof.load_profile("p")

    def test_errors(self) -> None:
        with self.assertRaisesRegex(LabError, "unknown profile 'nope'"):
            prof.load_profile("nope")
        with self.assertRaisesRegex(LabError, "unknown topology 'moon'"):
            self._load('fragments = ["base"]\ntopology = "moon"\n')
        with self.assertRaisesRegex(LabError, "non-empty list"):
            self._load('fragments = "base"\n')
        with self.assertRaisesRegex(LabError, "unknown keys"):
            self._load('fragments = ["base"]\nfragment = ["x"]\n')
        with self.assertRaisesRegex(LabError, "p.toml"):
            self._load('fragments = [\n')

    def test_topology_override(self) -> None:
        p = prof.with_topology(prof.load_profile("swapless"), "4node")
        self.assertEqual(len(p.topology.nodes), 4)
        with self.assertRaisesRegex(LabError, "unknown topology"):
            prof.with_topology(p, "8node")


if __name__ == "__main__":
    unittest.main()
