# SPDX-License-Identifier: GPL-2.0
"""The migration lab: build, boot and test the series in a QEMU NUMA guest."""
