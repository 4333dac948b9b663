# SPDX-License-Identifier: GPL-2.0
"""The pipeline: prepare tree -> configure -> build -> initramfs -> boot ->
parse -> report.  Each stage is a function of its own module; this one
strings them together for one profile."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from . import build, guest, initramfs, kconfig, report, tree
from .common import REPO, cache_dir, results_folder, stage
from .cases import Case
from .profile import Profile


@dataclass(frozen=True)
class Built:
    """What the build stages produce for one profile."""
    tree_kind: str          # "patched" or "base"
    src: Path
    build_dir: Path
    image: Path
    config: Path
    selftests: Path
    base: tree.BaseTree


def results_dir(profile: Profile, tree_kind: str, root: Path | None = None) -> Path:
    suffix = profile.name if tree_kind == "patched" else f"{profile.name}-base"
    return results_folder(root or REPO / "results", suffix, stamp_first=True, latest=True)


def build_all(profile: Profile, tree_kind: str, out: Path, extra: tuple[Path, ...] = (),
              more_fragments: tuple[str, ...] = ()) -> Built:
    """Prepare, configure and build; @extra patches (mutants) go on top,
    @more_fragments (config fragment names) after the profile's."""
    base = tree.base_tree()
    if tree_kind == "base":
        src = base.path
        fragments = [*profile.fragments, *more_fragments]
    else:
        src = tree.patched_tree(base, extra=extra)
        fragments = [*profile.fragments, "series", *more_fragments]
    # Its own build directory per config, so that switching stays incremental.
    bdir = cache_dir() / "build" / "-".join([tree_kind, profile.name, *more_fragments])
    config = kconfig.configure(src, bdir, fragments, build.make_vars(), out / "config.log")
    image = build.build_kernel(src, bdir, out / "build.log")
    shutil.copy2(config, out / "config")
    # Our selftests are user programs: always built from the patched tree,
    # so the base kernel runs the very same binaries.
    st_src = src if tree_kind == "patched" else tree.patched_tree(base, extra=extra)
    selftests = build.build_selftests(st_src, bdir, cache_dir() / "selftests" / profile.name,
                                      out / "selftests-build.log")
    return Built(tree_kind, src, bdir, image, config, selftests, base)


def pack(built: Built, profile: Profile, out: Path) -> Path:
    stage("initramfs", f"busybox + selftests -> {out / 'initramfs.cpio.gz'}")
    return initramfs.build_initramfs(built.selftests, profile, out / "initramfs.cpio.gz")


@dataclass(frozen=True)
class GuestOptions:
    timeout: float
    icount: bool = False
    append: str = ""


def run_one(profile: Profile, tree_kind: str, out: Path, opts: GuestOptions,
            extra: tuple[Path, ...] = ()) -> tuple[list[Case], dict[str, object]]:
    """Build, boot and evaluate one profile; write @out/summary.json."""
    built = build_all(profile, tree_kind, out, extra)
    initrd = pack(built, profile, out)
    run = guest.boot(built.image, initrd, profile, out, opts.timeout,
                     icount=opts.icount, append=opts.append)
    stage("parse", f"{run.console.name}, {run.selftest_tap.name}")
    cases, extra_info = report.evaluate(
        report.Inputs(run.console.read_text(errors="replace"),
                      run.selftest_tap.read_text(errors="replace"),
                      run.timed_out, run.seconds,
                      expect_kunit=tree_kind == "patched"), profile)
    meta = {
        "profile": profile.name,
        "tree": tree_kind,
        "mutants": [p.name for p in extra],
        "base_version": {"kernel": built.base.kernel_version,
                         "debian_package": built.base.debian_version},
        "topology": {"name": profile.topology.name, "vcpus": profile.topology.vcpus,
                     "nodes": [{"mem_mib": n.mem_mib, "cpus": list(n.cpus)}
                               for n in profile.topology.nodes]},
        "kernel_image": str(built.image),
        "results_dir": str(out),
        "qemu_command": list(run.command),
    }
    summary = report.write_summary(out / "summary.json", meta, cases, extra_info)
    return cases, summary
