# SPDX-License-Identifier: GPL-2.0
"""Profiles (a name, config fragments, a guest topology) and topologies.

A profile is one small TOML file in lab/profiles/:

    description = "CONFIG_SWAP=n: migration entries without any swap"
    fragments = ["base", "swapless"]
    topology = "2node"
    swap_device = false
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .common import LAB, LabError

PROFILE_DIR = LAB / "profiles"


@dataclass(frozen=True)
class Node:
    mem_mib: int
    cpus: tuple[int, ...]   # empty: a memory-only node


@dataclass(frozen=True)
class Topology:
    name: str
    sockets: int
    cores: int
    nodes: tuple[Node, ...]

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores

    @property
    def mem_mib(self) -> int:
        return sum(n.mem_mib for n in self.nodes)

    def qemu_args(self) -> list[str]:
        args = ["-m", f"{self.mem_mib}M",
                "-smp", f"{self.vcpus},sockets={self.sockets},cores={self.cores},threads=1"]
        for i, node in enumerate(self.nodes):
            args += ["-object", f"memory-backend-ram,id=m{i},size={node.mem_mib}M"]
            spec = f"node,nodeid={i},memdev=m{i}"
            if node.cpus:
                spec += f",cpus={node.cpus[0]}-{node.cpus[-1]}"
            args += ["-numa", spec]
        return args


TOPOLOGIES: dict[str, Topology] = {
    # Default: one socket per node, so the guest sees a sane topology.
    "2node": Topology("2node", 2, 2, (Node(1024, (0, 1)), Node(1024, (2, 3)))),
    "4node": Topology("4node", 4, 1, tuple(Node(512, (i,)) for i in range(4))),
    # For -icount benchmarks: one vCPU (deterministic), node 1 memory-only.
    "1cpu-memnode": Topology("1cpu-memnode", 1, 1, (Node(1024, (0,)), Node(1024, ()))),
    # `make bench`'s size sweep: the same with room for 1 GiB moved at once.
    "1cpu-bignode": Topology("1cpu-bignode", 1, 1, (Node(2048, (0,)), Node(2048, ()))),
    # `make bench`'s CPU sweep: the same, with more (idle) vCPUs on node 0.
    **{f"{n}cpu-memnode": Topology(f"{n}cpu-memnode", 1, n,
                                   (Node(1024, tuple(range(n))), Node(1024, ())))
       for n in (2, 4, 8)},
}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    fragments: tuple[str, ...]
    topology: Topology
    swap_device: bool


def load_profile(name: str) -> Profile:
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))
        raise LabError(f"unknown profile {name!r} (known: {known})")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise LabError(f"{path}: {e}") from e
    unknown = set(raw) - {"description", "fragments", "topology", "swap_device"}
    if unknown:
        raise LabError(f"{path}: unknown keys {sorted(unknown)}")
    topo = raw.get("topology", "2node")
    if topo not in TOPOLOGIES:
        raise LabError(f"{path}: unknown topology {topo!r} (known: {', '.join(TOPOLOGIES)})")
    frags = raw.get("fragments")
    if not isinstance(frags, list) or not frags or not all(isinstance(f, str) for f in frags):
        raise LabError(f"{path}: 'fragments' must be a non-empty list of names")
    return Profile(name, str(raw.get("description", "")), tuple(frags),
                   TOPOLOGIES[topo], bool(raw.get("swap_device", False)))


def with_topology(profile: Profile, topo: str | None) -> Profile:
    if not topo:
        return profile
    if topo not in TOPOLOGIES:
        raise LabError(f"unknown topology {topo!r} (known: {', '.join(TOPOLOGIES)})")
    return Profile(profile.name, profile.description, profile.fragments,
                   TOPOLOGIES[topo], profile.swap_device)
