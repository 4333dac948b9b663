# SPDX-License-Identifier: GPL-2.0
"""The pipeline: prepare tree -> configure -> build -> initramfs -> boot ->
parse -> report.  Each stage is a function of its own module; this one
strings them together for one profile."""

from __future__ import annotations

import enum
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import build, guest, initramfs, kconfig, protocol, report, tree
from .common import REPO, LabError, cache_dir, results_folder, stage
from .cases import Case
from .profile import Profile


@dataclass(frozen=True)
class Built:
    """What the build stages produce for one profile."""
    tree_kind: str          # a TreeKind's value
    src: Path
    build_dir: Path
    image: Path
    config: Path | None     # None: a prebuilt image, its config unknown
    selftests: Path
    base: tree.BaseTree


def results_dir(profile: Profile, tree_kind: str, root: Path | None = None) -> Path:
    suffix = profile.name if tree_kind == "patched" else f"{profile.name}-{tree_kind}"
    return results_folder(root or REPO / "results", suffix, stamp_first=True, latest=True)


def check_src(src: Path) -> None:
    """A clear error for a SRC= that is not a kernel tree we can build out of."""
    if not (src / "Makefile").is_file() or not (src / "mm" / "migrate.c").is_file() \
            or not (src / "arch" / "x86").is_dir():
        raise LabError(f"SRC={src}: not a Linux kernel tree (no Makefile, mm/migrate.c "
                       "and arch/x86)")
    if (src / ".config").exists():
        raise LabError(f"SRC={src}: has a .config; the lab builds out of tree, which needs a "
                       "clean source tree (make mrproper there, or a clean worktree)")


def build_all(profile: Profile, tree_kind: str, out: Path, extra: tuple[Path, ...] = (),
              more_fragments: tuple[str, ...] = (), own_src: Path | None = None) -> Built:
    """Prepare, configure and build; @extra patches (mutants) go on top,
    @more_fragments (config fragment names) after the profile's; @own_src
    is the tree of TreeKind.SRC, built as it is."""
    base = tree.base_tree()
    if tree_kind == "src":
        if own_src is None:
            raise LabError("a SRC= job needs its tree")
        check_src(own_src)
        src = own_src.resolve()
        fragments = [*profile.fragments, *more_fragments]
    elif tree_kind == "base":
        src = base.path
        fragments = [*profile.fragments, *more_fragments]
    else:
        src = tree.patched_tree(base, extra=extra)
        fragments = [*profile.fragments, "series", *more_fragments]
    # Its own build directory per config, so that switching stays incremental.
    kind = tree_kind
    if tree_kind == "src":
        # The base tree given as SRC= is the base kernel, built already.
        kind = "base" if src == base.path.resolve() else \
            "src-" + hashlib.sha1(str(src).encode()).hexdigest()[:10]
    bdir = cache_dir() / "build" / "-".join([kind, profile.name, *more_fragments])
    config = kconfig.configure(src, bdir, fragments, build.make_vars(), out / "config.log")
    image = build.build_kernel(src, bdir, out / "build.log")
    shutil.copy2(config, out / "config")
    # Our selftests are user programs: always built from the patched tree,
    # so the base kernel runs the very same binaries.
    st_src = src if tree_kind == "patched" else tree.patched_tree(base, extra=extra)
    # (A SRC= tree gets them too: they are built against its uapi headers.)
    selftests = build.build_selftests(st_src, bdir, cache_dir() / "selftests" / profile.name,
                                      out / "selftests-build.log")
    return Built(tree_kind, src, bdir, image, config, selftests, base)


class TreeKind(enum.Enum):
    PATCHED = "patched"     # the base tree with our files and patches/series
    BASE = "base"           # the unpatched base tree
    PREBUILT = "prebuilt"   # an image built elsewhere (make run KERNEL=)
    SRC = "src"             # another kernel tree, built as it is (make run SRC=)


# An x86 boot image: "HdrS" at 0x202 (Documentation/arch/x86/boot.rst).
_BZIMAGE_MAGIC = (0x202, b"HdrS")


def check_bzimage(image: Path) -> None:
    """A clear error for a KERNEL= that is not an x86 boot image."""
    if not image.is_file():
        raise LabError(f"KERNEL={image}: no such file (give the bzImage, e.g. "
                       "<build dir>/arch/x86/boot/bzImage)")
    with open(image, "rb") as f:
        f.seek(_BZIMAGE_MAGIC[0])
        if f.read(4) != _BZIMAGE_MAGIC[1]:
            raise LabError(f"KERNEL={image}: not an x86 bzImage (no boot header at "
                           f"{_BZIMAGE_MAGIC[0]:#x}; a vmlinux will not do)")


def prebuilt(image: Path, profile: Profile, out: Path) -> Built:
    """@image as it is; our selftests, built from the patched tree against
    its uapi headers (user programs: they run on any kernel)."""
    check_bzimage(image)
    base = tree.base_tree()
    src = tree.patched_tree(base)
    hdr = cache_dir() / "build" / "headers"
    build.install_headers(src, hdr, out / "headers.log")
    selftests = build.build_selftests(src, hdr, cache_dir() / "selftests" / "prebuilt",
                                      out / "selftests-build.log")
    return Built(TreeKind.PREBUILT.value, src, hdr, image.resolve(), None, selftests, base)


@dataclass(frozen=True)
class GuestJob:
    """One guest boot, all of it: which kernel, what goes in the initramfs,
    what the guest is asked to do.  run_job() builds, packs and boots it."""
    profile: Profile
    tree: TreeKind = TreeKind.PATCHED
    fragments: tuple[str, ...] = ()             # config fragments after the profile's
    patches: tuple[Path, ...] = ()              # on top of the series (mutants)
    files: tuple[tuple[str, Path], ...] = ()    # extra guest files: (guest path, host file)
    args: protocol.GuestArgs = protocol.GuestArgs()
    append: str = ""                            # the user's own command line (APPEND=)
    timeout: float = 900
    icount: bool = False
    kernel: Path | None = None                  # TreeKind.PREBUILT: the image
    src: Path | None = None                     # TreeKind.SRC: the tree


def build_job(job: GuestJob, out: Path) -> Built:
    if job.tree is TreeKind.PREBUILT:
        if job.kernel is None or job.patches or job.fragments:
            raise LabError("a prebuilt kernel takes an image and no patches or fragments")
        return prebuilt(job.kernel, job.profile, out)
    if job.tree is TreeKind.SRC and job.patches:
        raise LabError("a SRC= tree is built as it is: no patches on top")
    return build_all(job.profile, job.tree.value, out, job.patches, job.fragments, job.src)


def boot_job(job: GuestJob, image: Path, selftests: Path | None, out: Path) -> guest.GuestRun:
    """Pack @selftests and the job's files with /init, and boot @image."""
    stage("initramfs", f"busybox + selftests -> {out / 'initramfs.cpio.gz'}")
    initrd = initramfs.build_initramfs(selftests, job.profile, out / "initramfs.cpio.gz",
                                       {g: h.read_bytes() for g, h in job.files})
    cmdline = " ".join(x for x in (job.args.cmdline(), job.append) if x)
    return guest.boot(image, initrd, job.profile, out, job.timeout, icount=job.icount,
                      append=cmdline)


def run_job(job: GuestJob, out: Path, built: Built | None = None
            ) -> tuple[Built, guest.GuestRun]:
    """Build (unless @built is given: the same kernel booted again), pack, boot."""
    built = built or build_job(job, out)
    return built, boot_job(job, built.image, built.selftests, out)


def run_one(job: GuestJob, out: Path) -> tuple[list[Case], dict[str, object]]:
    """Build, boot and evaluate one profile's tests; write @out/summary.json."""
    built, run = run_job(job, out)
    profile, tree_kind, extra = job.profile, job.tree.value, job.patches
    stage("parse", f"{run.console.name}, {run.selftest_tap.name}")
    cases, extra_info = report.evaluate(
        report.Inputs(run.console.read_text(errors="replace"),
                      run.selftest_tap.read_text(errors="replace"),
                      run.timed_out, run.seconds,
                      expect_kunit=job.tree is TreeKind.PATCHED), profile)
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
        "kernel_config": str(built.config) if built.config else None,
        "results_dir": str(out),
        "qemu_command": list(run.command),
    }
    summary = report.write_summary(out / "summary.json", meta, cases, extra_info)
    return cases, summary
