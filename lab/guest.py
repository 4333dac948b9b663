# SPDX-License-Identifier: GPL-2.0
"""Stage 5: boot the QEMU NUMA guest with a hard timeout.

ttyS0 (stdio) carries the kernel log and KUnit's KTAP; ttyS1 (a file)
carries the selftests' TAP, so each stream parses on its own.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .common import LabError, info, quote, stage
from .profile import Profile

QEMU = "qemu-system-x86_64"
BIOS = "/usr/share/qemu/qboot.rom"
CMDLINE = "console=ttyS0 panic=-1 oops=panic no_hash_pointers"


@dataclass(frozen=True)
class GuestRun:
    console: Path        # ttyS0
    selftest_tap: Path   # ttyS1
    returncode: int
    timed_out: bool
    seconds: float
    command: tuple[str, ...]


def make_disk(path: Path, mib: int, kind: str) -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    if kind == "ext4":
        p = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "labdata", str(path)],
                           capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise LabError(f"mkfs.ext4 failed: {p.stderr.strip()}")


def qemu_command(image: Path, initrd: Path, profile: Profile, disks: list[Path],
                 tap: Path, icount: bool = False, append: str = "") -> list[str]:
    cmd = [QEMU, "-nodefaults", "-no-reboot", "-nographic", "-accel", "tcg",
           "-cpu", "max", "-bios", BIOS, *profile.topology.qemu_args(),
           "-serial", "stdio", "-serial", f"file:{tap}",
           "-kernel", str(image), "-initrd", str(initrd),
           "-append", f"{CMDLINE} {append}".strip()]
    if icount:
        cmd += ["-icount", "shift=0,sleep=off"]
    for i, d in enumerate(disks):
        cmd += ["-drive", f"file={d},format=raw,if=none,id=d{i},cache=unsafe",
                "-device", f"virtio-blk-pci,drive=d{i}"]
    return cmd


def boot(image: Path, initrd: Path, profile: Profile, out: Path, timeout: float,
         icount: bool = False, append: str = "") -> GuestRun:
    if shutil.which(QEMU) is None:
        raise LabError(f"{QEMU} not found (qemu-system-x86; run lab/deps.sh)")
    disks = [out / "ext4.img"]
    make_disk(disks[0], 64, "ext4")
    if profile.swap_device:
        disks.append(out / "swap.img")
        make_disk(disks[1], 256, "swap")
    console = out / "console.log"
    tap = out / "selftests.tap"
    tap.write_bytes(b"")
    cmd = qemu_command(image, initrd, profile, disks, tap, icount, append)
    (out / "qemu-command.txt").write_text(quote(cmd) + "\n")
    stage("boot", f"{profile.topology.name}: {profile.topology.vcpus} vCPUs, "
          f"{len(profile.topology.nodes)} nodes, timeout {timeout:.0f}s")
    info(quote(cmd))
    t0 = time.monotonic()
    timed_out = False
    with open(console, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            next_note = 60.0
            while proc.poll() is None:
                waited = time.monotonic() - t0
                if waited > timeout:
                    timed_out = True
                    proc.kill()
                    break
                if waited > next_note:
                    info(f"guest running {waited:.0f}s: {last_line(console)}")
                    next_note += 60.0
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    for d in disks:
        d.unlink(missing_ok=True)
    secs = time.monotonic() - t0
    info(f"guest exited after {secs:.0f}s (qemu rc {proc.returncode}"
         + (", killed by the lab's timeout)" if timed_out else ")"))
    return GuestRun(console, tap, proc.returncode, timed_out, secs, tuple(cmd))


def last_line(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 400))
            lines = f.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:100] if lines else "(no output yet)"
    except OSError:
        return "(no output yet)"
