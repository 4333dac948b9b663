# SPDX-License-Identifier: GPL-2.0
"""Stage 3: build the kernel (out of tree, ccache) and the selftests."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .common import LabError, cache_dir, info, run_checked, run_logged, stage

_ERROR = re.compile(r"(error:|Error \d|undefined reference|\*\*\* |fatal:|"
                    r"multiple definition|No rule to make target)")


def build_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CCACHE_DIR", str(cache_dir() / "ccache"))
    env.setdefault("CCACHE_MAXSIZE", "8G")
    # Fixed identity: the same sources give the same objects (ccache hits,
    # comparable base/patched images).
    env["KBUILD_BUILD_USER"] = "lab"
    env["KBUILD_BUILD_HOST"] = "migration-lab"
    env["KBUILD_BUILD_TIMESTAMP"] = "2024-11-17"
    env["LC_ALL"] = "C"
    # Debian's python3 first (checkpatch, kernel scripts).
    env["PATH"] = "/usr/bin:/bin:" + env.get("PATH", "")
    return env


def make_vars() -> list[str]:
    cc = "ccache gcc" if shutil.which("ccache") else "gcc"
    return [f"CC={cc}", "HOSTCC=gcc"]


def jobs() -> str:
    return str(os.cpu_count() or 2)


def error_lines(log: Path, limit: int = 40) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    hits = [ln for ln in lines if _ERROR.search(ln)]
    return "\n".join("    " + ln for ln in (hits or lines[-20:])[:limit])


def build_kernel(src: Path, build: Path, log: Path) -> Path:
    """make bzImage + headers_install in @build; return the image path."""
    stage("build", f"kernel in {build} (-j{jobs()}, log: {log})")
    cmd = ["make", "-C", str(src), f"O={build}", f"-j{jobs()}", *make_vars(),
           "bzImage", "headers_install"]
    res = run_logged(cmd, log, env=build_env())
    if res.returncode != 0:
        raise LabError(f"kernel build failed ({res.seconds:.0f}s); errors from {log}:\n"
                       + error_lines(log))
    image = build / "arch/x86/boot/bzImage"
    info(f"built {image} in {res.seconds:.0f}s")
    return image


def install_headers(src: Path, build: Path, log: Path) -> None:
    """make headers_install in @build: the uapi headers alone (no config)."""
    stage("headers", f"uapi headers of {src} in {build}")
    res = run_logged(["make", "-C", str(src), f"O={build}", *make_vars(), "headers_install"],
                     log, env=build_env())
    if res.returncode != 0:
        raise LabError(f"headers_install failed; errors from {log}:\n" + error_lines(log))


def build_selftests(src: Path, build: Path, out: Path, log: Path) -> Path:
    """Build and install our kselftest target; return the install dir."""
    stage("selftests", f"tools/testing/selftests/migration -> {out}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = ["make", "-C", str(src / "tools/testing/selftests"), f"-j{jobs()}",
           "TARGETS=migration", f"O={out}/build", f"INSTALL_PATH={out}/install",
           f"KHDR_INCLUDES=-isystem {build}/usr/include", "install"]
    res = run_logged(cmd, log, env=build_env())
    if res.returncode != 0:
        raise LabError(f"selftest build failed; errors from {log}:\n" + error_lines(log))
    return out / "install"


def guest_program(src: Path, exe: Path, log: Path, what: str) -> Path:
    """A static program for the guest's initramfs (libnuma, threads)."""
    run_checked(["gcc", "-O2", "-Wall", "-static", "-pthread", "-o", str(exe), str(src),
                 "-lnuma"], log, f"building {what}")
    return exe
