# SPDX-License-Identifier: GPL-2.0
"""Stage 4: the guest's initramfs, written as a newc cpio archive.

Writing the archive here (instead of running cpio on a staging directory)
needs no root for device nodes and gives the same bytes for the same inputs.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .common import LAB, LabError
from .profile import Profile

BUSYBOX = Path("/bin/busybox")


@dataclass(frozen=True)
class Entry:
    path: str        # inside the archive, no leading slash
    mode: int        # full st_mode (type + permissions)
    data: bytes = b""


class Cpio:
    """A minimal newc ("070701") archive writer."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def add(self, entry: Entry) -> None:
        parts = entry.path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in self.entries:
                self.entries[d] = Entry(d, stat.S_IFDIR | 0o755)
        self.entries[entry.path] = entry

    def dir(self, path: str, mode: int = 0o755) -> None:
        self.add(Entry(path, stat.S_IFDIR | mode))

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.add(Entry(path, stat.S_IFREG | mode, data))

    def symlink(self, path: str, target: str) -> None:
        self.add(Entry(path, stat.S_IFLNK | 0o777, target.encode()))

    def tree(self, root: Path, prefix: str) -> None:
        """Add the directory @root under @prefix (files, dirs, symlinks)."""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = Path(dirpath).relative_to(root)
            base = prefix if str(rel) == "." else f"{prefix}/{rel}"
            self.dir(base)
            for name in sorted(filenames) + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                p = Path(dirpath) / name
                if p.is_symlink():
                    self.symlink(f"{base}/{name}", os.readlink(p))
                elif p.is_file():
                    self.file(f"{base}/{name}", p.read_bytes(), p.stat().st_mode & 0o777)

    def pack(self) -> bytes:
        out = io.BytesIO()
        ino = 1
        for path in sorted(self.entries):
            e = self.entries[path]
            self._write(out, path, e.mode, e.data, ino)
            ino += 1
        self._write(out, "TRAILER!!!", 0, b"", 0)
        return out.getvalue()

    @staticmethod
    def _write(out: io.BytesIO, name: str, mode: int, data: bytes, ino: int) -> None:
        namez = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(namez), 0]
        hdr = b"070701" + b"".join(f"{v:08X}".encode() for v in fields)
        out.write(hdr + namez)
        out.write(b"\0" * (-(len(hdr) + len(namez)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))


def build_initramfs(selftests: Path | None, profile: Profile, dest: Path,
                    extra_files: dict[str, bytes] | None = None) -> Path:
    """busybox, /init, the installed selftests and @extra_files (path -> bytes,
    mode 0755) as a gzipped newc cpio at @dest.  @selftests None: none (a
    guest booted with lab.kunit_only=1)."""
    if not BUSYBOX.is_file():
        raise LabError(f"{BUSYBOX} missing (busybox-static; run lab/deps.sh)")
    if selftests is not None and not (selftests / "run_kselftest.sh").is_file():
        raise LabError(f"no run_kselftest.sh in {selftests}: selftest install incomplete")
    c = Cpio()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "mnt", "run", "root"):
        c.dir(d)
    c.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    c.file("init", (LAB / "guest-init.sh").read_bytes(), 0o755)
    c.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    c.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    if selftests is not None:
        c.tree(selftests, "kselftest")
    for path, data in sorted((extra_files or {}).items()):
        c.file(path, data, 0o755)     # parent directories come with it
    dest.write_bytes(gzip.compress(c.pack(), compresslevel=1, mtime=0))
    return dest
