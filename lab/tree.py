# SPDX-License-Identifier: GPL-2.0
"""Stage 1: the base tree (Debian's linux-source-6.12) and the patched tree.

The pristine tree is unpacked once per Debian package version.  The patched
tree starts as a hard-link copy of it; our overlay and patches/series are
then *synced* into it: only files whose content changes are rewritten, and
files we touched on an earlier run but no longer do are restored.  That
keeps mtimes stable, so an incremental kernel build recompiles only what
our change touched.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .common import REPO, LabError, cache_dir, info, run_checked, stage, write_if_changed

TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
PACKAGE = "linux-source-6.12"

# Repository directories copied, file for file, to the same kernel path.
OVERLAY_DIRS = ("mm", "include/linux", "Documentation/mm",
                "tools/testing/selftests/migration")
# Repository files that land elsewhere in the tree.
OVERLAY_RENAMES = {"Kconfig.migration": "mm/Kconfig.migration"}


@dataclass(frozen=True)
class BaseTree:
    path: Path
    kernel_version: str   # e.g. 6.12.117
    debian_version: str   # e.g. 6.12.117-1~deb12u1


def debian_version() -> str:
    p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE],
                       capture_output=True, text=True, check=False)
    if p.returncode != 0 or not p.stdout.strip():
        raise LabError(f"{PACKAGE} is not installed (run lab/deps.sh)")
    return p.stdout.strip()


def kernel_version(tree: Path) -> str:
    vals = {}
    for line in (tree / "Makefile").read_text().splitlines()[:8]:
        m = re.match(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=\s*(\S*)", line)
        if m:
            vals[m.group(1)] = m.group(2)
    try:
        return f"{vals['VERSION']}.{vals['PATCHLEVEL']}.{vals['SUBLEVEL']}{vals.get('EXTRAVERSION', '')}"
    except KeyError as e:
        raise LabError(f"cannot read the kernel version from {tree}/Makefile") from e


def base_tree() -> BaseTree:
    """Unpack the Debian tarball once; return the pristine tree."""
    debver = debian_version()
    top = cache_dir() / "base" / debver
    tree = top / "linux-source-6.12"
    done = top / ".unpacked"
    if not done.exists():
        stage("unpack", f"{TARBALL} -> {top}")
        if not TARBALL.exists():
            raise LabError(f"{TARBALL} missing although {PACKAGE} is installed")
        shutil.rmtree(top, ignore_errors=True)
        top.mkdir(parents=True)
        run_checked(["tar", "-C", str(top), "-xJf", str(TARBALL)],
                    top / "unpack.log", "unpacking the base tree")
        done.write_text(debver + "\n")
    return BaseTree(tree, kernel_version(tree), debver)


def patch_targets(patch: Path) -> list[str]:
    """Paths (relative to the tree) that a -p1 unified diff touches."""
    out = []
    for line in patch.read_text(errors="replace").splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            name = line[4:].split("\t")[0].strip()
            if name == "/dev/null":
                continue
            parts = name.split("/", 1)
            if len(parts) == 2 and parts[1] not in out:
                out.append(parts[1])
    return out


def read_series(repo: Path = REPO) -> list[Path]:
    series = repo / "patches" / "series"
    if not series.exists():
        return []
    out = []
    for raw in series.read_text().splitlines():
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        p = repo / "patches" / name
        if not p.is_file():
            raise LabError(f"patches/series names {name}, which does not exist")
        out.append(p)
    return out


def overlay_files(repo: Path = REPO) -> dict[str, Path]:
    """Map kernel-relative path -> repository file for everything we copy."""
    files: dict[str, Path] = {}
    for d in OVERLAY_DIRS:
        root = repo / d
        if not root.is_dir():
            continue
        for f in sorted(root.rglob("*")):
            if f.is_file() and not f.name.endswith((".o", ".orig", ".rej")):
                files[str(f.relative_to(repo))] = f
    for src, dst in OVERLAY_RENAMES.items():
        if (repo / src).is_file():
            files[dst] = repo / src
    return files


def insert_maintainers(pristine_text: str, section: str) -> str:
    """Insert our MAINTAINERS section before the first title sorting after it."""
    section = section.strip("\n") + "\n"
    title = section.splitlines()[0].strip()
    lines = pristine_text.splitlines(keepends=True)
    # A section title is a non-empty line followed by an "X:\t" line.
    start = next((i for i, ln in enumerate(lines)
                  if ln.startswith("Maintainers List")), 0)
    for i in range(start + 1, len(lines) - 1):
        ln = lines[i].rstrip("\n")
        if not ln or (i > 0 and lines[i - 1].strip()):
            continue
        if re.match(r"^[A-Z]:\t", lines[i + 1]) and ln.upper() > title.upper():
            return "".join(lines[:i]) + section + "\n" + "".join(lines[i:])
    return pristine_text.rstrip("\n") + "\n\n" + section


def apply_patches(scratch: Path, pristine: Path, patches: list[Path], tmp: Path) -> None:
    """Apply -p1 @patches in order to the sparse tree @scratch.

    Files a patch touches are first copied from @pristine.  Raises
    LabError naming the patch and printing the rejected hunks (with their
    file names) when one does not apply.
    """
    for patch in patches:
        for rel in patch_targets(patch):
            dst = scratch / rel
            if not dst.exists() and (pristine / rel).is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(pristine / rel, dst)
        rej = tmp / "rejects"
        rej.unlink(missing_ok=True)
        p = subprocess.run(
            ["patch", "-p1", "--fuzz=0", "--forward", "--batch", "--no-backup-if-mismatch",
             "-r", str(rej), "-d", str(scratch), "-i", str(patch)],
            capture_output=True, text=True, check=False)
        if p.returncode != 0:
            hunks = rej.read_text(errors="replace") if rej.exists() else ""
            raise LabError(
                f"patch {patch.name} does not apply:\n{p.stdout}{p.stderr}"
                + (f"rejected hunks:\n{hunks}" if hunks else ""))


def read_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under @root: relative path -> (content, permission bits)."""
    return {str(f.relative_to(root)): (f.read_bytes(), f.stat().st_mode & 0o777)
            for f in root.rglob("*") if f.is_file()}


def staged_contents(pristine: Path, repo: Path = REPO, extra: tuple[Path, ...] = (),
                    section: Callable[[str], str] | None = None
                    ) -> dict[str, tuple[bytes, int]]:
    """Apply overlay + series to a sparse scratch copy; return its files.

    @section, when given, rewrites our MAINTAINERS section before it goes in
    (make series adds the sender's M: line).

    Raises LabError naming the patch and printing the rejected hunks when a
    patch does not apply.
    """
    with tempfile.TemporaryDirectory(prefix="lab-stage-") as tmp:
        scratch = Path(tmp) / "t"
        scratch.mkdir()
        for rel, src in overlay_files(repo).items():
            dst = scratch / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        if (repo / "MAINTAINERS").is_file():
            ours = (repo / "MAINTAINERS").read_text()
            text = insert_maintainers((pristine / "MAINTAINERS").read_text(),
                                      section(ours) if section else ours)
            (scratch / "MAINTAINERS").write_text(text)
        apply_patches(scratch, pristine, [*read_series(repo), *extra], Path(tmp))
        return read_tree(scratch)


def patched_tree(base: BaseTree, repo: Path = REPO, extra: tuple[Path, ...] = ()) -> Path:
    """Bring the patched tree in line with the repository; return its path.

    @extra patches (mutants) are applied after the series; the next call
    without them restores the files they touched.
    """
    top = cache_dir() / "trees" / base.debian_version
    tree = top / "patched"
    manifest_path = top / "patched.manifest.json"
    if not tree.exists():
        stage("tree", f"hard-link copy of the base tree -> {tree}")
        top.mkdir(parents=True, exist_ok=True)
        tmp = top / "patched.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["cp", "-al", str(base.path), str(tmp)], check=True)
        tmp.rename(tree)
        manifest_path.unlink(missing_ok=True)
    stage("patch", f"overlay + {len(read_series(repo))} patches from patches/series"
          + "".join(f" + {p.name}" for p in extra))
    desired = staged_contents(base.path, repo, extra)
    try:
        previous = set(json.loads(manifest_path.read_text()))
    except (OSError, ValueError):
        previous = set()
    changed = 0
    for rel in sorted(set(desired) | previous):
        dst = tree / rel
        if rel in desired:
            data, mode = desired[rel]
            changed += write_if_changed(dst, data, mode)
        elif (base.path / rel).is_file():
            src = base.path / rel
            changed += write_if_changed(dst, src.read_bytes(), src.stat().st_mode & 0o777)
        elif dst.exists():
            dst.unlink()
            changed += 1
    manifest_path.write_text(json.dumps(sorted(desired), indent=1))
    info(f"{len(desired)} files differ from the base tree, {changed} rewritten this run")
    return tree
