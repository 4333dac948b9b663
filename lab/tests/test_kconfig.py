# SPDX-License-Identifier: GPL-2.0
"""The fragment checker: a dropped option stops the run with its name."""

import unittest

from lab.kconfig import dropped_options, parse_config, requested_options


class FragmentCheckTest(unittest.TestCase):
    def test_parse(self) -> None:
        cfg = parse_config("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\n# comment\n")
        self.assertEqual(cfg, {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "\"x y\""})

    def test_dropped_by_menu_guard(self) -> None:
        """VIRTIO_BLK without BLK_DEV is silently dropped by Kconfig."""
        req = {"CONFIG_VIRTIO_BLK": ("y", "base"), "CONFIG_NUMA": ("y", "base")}
        final = parse_config("CONFIG_NUMA=y\n# CONFIG_VIRTIO_BLK is not set\n")
        self.assertEqual(dropped_options(req, final),
                         ["CONFIG_VIRTIO_BLK=y (from base.config) ended up as unset"])

    def test_value_changed(self) -> None:
        req = {"CONFIG_NR_CPUS": ("8", "x")}
        self.assertEqual(dropped_options(req, {"CONFIG_NR_CPUS": "64"}),
                         ["CONFIG_NR_CPUS=8 (from x.config) ended up as 64"])

    def test_unset_request_met_by_absence(self) -> None:
        self.assertEqual(dropped_options({"CONFIG_SWAP": ("n", "swapless")}, {}), [])
        self.assertEqual(dropped_options({"CONFIG_SWAP": ("n", "swapless")}, {"CONFIG_SWAP": "y"}),
                         ["CONFIG_SWAP=n (from swapless.config) ended up as y"])

    def test_repository_fragments_parse(self) -> None:
        req = requested_options(["base", "swapless", "series"])
        self.assertEqual(req["CONFIG_SWAP"], ("n", "swapless"))
        self.assertEqual(req["CONFIG_VIRTIO_BLK"], ("y", "base"))
        # The guards LAB-NOTES warns about are requested explicitly.
        for guard in ("CONFIG_VIRTIO_MENU", "CONFIG_BLK_DEV", "CONFIG_ACPI_NUMA"):
            self.assertIn(guard, req)


if __name__ == "__main__":
    unittest.main()
