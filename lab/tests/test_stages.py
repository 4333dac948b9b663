# SPDX-License-Identifier: GPL-2.0
"""Build, initramfs and guest stages with their backends faked."""

import gzip
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from lab import build, guest, initramfs
from lab.common import LabError
from lab.profile import load_profile


def read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """Parse a newc archive back: name -> (mode, data)."""
    out = {}
    off = 0
    while True:
        assert data[off:off + 6] == b"070701", off
        f = [int(data[off + 6 + 8 * i: off + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = f[1], f[6], f[11]
        off += 110
        name = data[off:off + namesize - 1].decode()
        off = (off + namesize + 3) & ~3
        body = data[off:off + size]
        off = (off + size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, body)


class InitramfsTest(unittest.TestCase):
    def test_archive_round_trip(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            st = Path(d) / "selftests"
            (st / "migration").mkdir(parents=True)
            (st / "run_kselftest.sh").write_text("#!/bin/sh\n")
            (st / "run_kselftest.sh").chmod(0o755)
            (st / "migration/move_pages_data").write_bytes(b"\x7fELF")
            (st / "migration/link").symlink_to("move_pages_data")
            dest = Path(d) / "rd.cpio.gz"
            with mock.patch.object(initramfs, "BUSYBOX", st / "run_kselftest.sh"):
                initramfs.build_initramfs(st, load_profile("swapless"), dest,
                                          {"bench/move_pages_bench": b"\x7fELFbench"})
            files = read_newc(gzip.decompress(dest.read_bytes()))
        self.assertEqual(files["init"][1][:18], b"#!/bin/busybox sh\n")
        self.assertTrue(files["init"][0] & stat.S_IXUSR)
        self.assertTrue(stat.S_ISDIR(files["kselftest/migration"][0]))
        self.assertEqual(files["kselftest/migration/move_pages_data"][1], b"\x7fELF")
        self.assertTrue(stat.S_ISLNK(files["kselftest/migration/link"][0]))
        self.assertEqual(files["kselftest/migration/link"][1], b"move_pages_data")
        self.assertIn("dev", files)
        self.assertTrue(stat.S_ISDIR(files["bench"][0]))
        self.assertEqual(files["bench/move_pages_bench"][1], b"\x7fELFbench")
        self.assertTrue(files["bench/move_pages_bench"][0] & stat.S_IXUSR)

    def test_missing_selftests(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(LabError, "run_kselftest.sh"):
                initramfs.build_initramfs(Path(d), load_profile("swapless"), Path(d) / "x")


class BuildTest(unittest.TestCase):
    def test_compiler_error_lines(self) -> None:
        """A broken build stops the run and shows the error, not the whole log."""
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "src"
            src.mkdir()
            (src / "Makefile").write_text(
                "all bzImage headers_install:\n"
                + "".join(f"\t@echo '  CC      mm/f{i}.o'\n" for i in range(50))
                + "\t@echo \"mm/migrate.c:120:9: error: expected ';' before 'return'\"\n"
                + "\t@false\n")
            with self.assertRaises(LabError) as cm:
                build.build_kernel(src, Path(d) / "out", Path(d) / "build.log")
        msg = str(cm.exception)
        self.assertIn("mm/migrate.c:120:9: error: expected ';'", msg)
        self.assertNotIn("mm/f3.o", msg)


class EnvTest(unittest.TestCase):
    def test_make_variables_do_not_reach_kbuild(self) -> None:
        """`make mutants M=x` exports M=x in MAKEFLAGS; kbuild would read it as M=."""
        from lab.common import clean_env
        env = clean_env({"MAKEFLAGS": " -- M=x", "MAKEOVERRIDES": "${-*-command-variables-*-}",
                         "MAKELEVEL": "1", "PATH": "/usr/bin"})
        self.assertEqual(env, {"PATH": "/usr/bin"})


class GuestTest(unittest.TestCase):
    def fake_qemu(self, d: Path, body: str) -> str:
        q = d / "fake-qemu"
        q.write_text("#!/bin/sh\n" + body)
        q.chmod(0o755)
        return str(q)

    def test_command_has_numa_and_second_serial(self) -> None:
        cmd = guest.qemu_command(Path("/k"), Path("/rd"), load_profile("swap"),
                                 [Path("/a.img"), Path("/b.img")], Path("/tap"), icount=True)
        self.assertIn("node,nodeid=0,memdev=m0,cpus=0-1", cmd)
        self.assertEqual(cmd[cmd.index("-icount") + 1], "shift=0,sleep=off")
        self.assertIn("file:/tap", cmd)
        self.assertEqual(sum(a.startswith("virtio-blk-pci") for a in cmd), 2)

    def test_hung_guest_is_killed(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            q = self.fake_qemu(Path(d), "echo booting\nexec sleep 60\n")
            with mock.patch.object(guest, "QEMU", q):
                r = guest.boot(Path("/k"), Path("/rd"), load_profile("swapless"), Path(d), timeout=1.5)
            self.assertTrue(r.timed_out)
            self.assertLess(r.seconds, 10)
            self.assertEqual(r.console.read_text(), "booting\n")

    def test_guest_output_captured(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            q = self.fake_qemu(Path(d), "echo 'lab: done'\nexit 0\n")
            with mock.patch.object(guest, "QEMU", q):
                r = guest.boot(Path("/k"), Path("/rd"), load_profile("swap"), Path(d), timeout=30)
            self.assertFalse(r.timed_out)
            self.assertEqual(r.console.read_text(), "lab: done\n")
            self.assertFalse((Path(d) / "ext4.img").exists())


if __name__ == "__main__":
    unittest.main()


class GuestJobTest(unittest.TestCase):
    def test_boot_job_packs_files_and_builds_the_command_line(self) -> None:
        from lab import pipeline, protocol
        seen = {}

        def fake_initramfs(selftests, profile, dest, extra=None):  # type: ignore[no-untyped-def]
            seen["files"] = sorted(extra or {})
            return dest

        def fake_boot(image, initrd, profile, out, timeout, icount=False,  # type: ignore[no-untyped-def]
                      append=""):
            seen.update(append=append, timeout=timeout, icount=icount)
            return "run"
        with tempfile.TemporaryDirectory() as d, \
                mock.patch.object(initramfs, "build_initramfs", fake_initramfs), \
                mock.patch.object(guest, "boot", fake_boot):
            exe = Path(d) / "exe"
            exe.write_bytes(b"x")
            job = pipeline.GuestJob(load_profile("swapless"), files=(("bench/b", exe),),
                                    args=protocol.GuestArgs(bench="events", kunit=False),
                                    append="lab.fuzz_seed=7", timeout=60, icount=True)
            self.assertEqual(pipeline.boot_job(job, Path("/img"), None, Path(d)), "run")
        self.assertEqual(seen, {"files": ["bench/b"], "timeout": 60, "icount": True,
                                "append": "lab.bench=events kunit.enable=0 lab.fuzz_seed=7"})


class PrebuiltTest(unittest.TestCase):
    """make run KERNEL=: a clear error for what is not a bzImage, and a
    prebuilt job takes neither patches nor fragments."""

    def test_not_an_image(self) -> None:
        from lab import pipeline
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(LabError, "no such file"):
                pipeline.check_bzimage(Path(d) / "bzImage")
            elf = Path(d) / "vmlinux"
            elf.write_bytes(b"\x7fELF" + bytes(1024))
            with self.assertRaisesRegex(LabError, "not an x86 bzImage"):
                pipeline.check_bzimage(elf)
            img = Path(d) / "bzImage"
            img.write_bytes(bytes(0x202) + b"HdrS" + bytes(64))
            pipeline.check_bzimage(img)
            job = pipeline.GuestJob(load_profile("swapless"), pipeline.TreeKind.PREBUILT,
                                    fragments=("nochecker",), kernel=img)
            with self.assertRaisesRegex(LabError, "no patches or fragments"):
                pipeline.build_job(job, Path(d))

    def test_run_refuses_kernel_with_base(self) -> None:
        from lab.__main__ import main
        with mock.patch("sys.stderr"):
            self.assertEqual(main(["run", "--kernel", "/nonexistent", "--base"]), 2)
            self.assertEqual(main(["run", "--kernel", "/nonexistent/bzImage"]), 2)
            self.assertEqual(main(["run", "--src", "/nonexistent", "--kernel", "/x"]), 2)
            self.assertEqual(main(["run", "--src", "/nonexistent"]), 2)

    def test_src_must_be_a_clean_kernel_tree(self) -> None:
        from lab import pipeline
        with tempfile.TemporaryDirectory() as d:
            src = Path(d)
            with self.assertRaisesRegex(LabError, "not a Linux kernel tree"):
                pipeline.check_src(src)
            (src / "mm").mkdir()
            (src / "arch" / "x86").mkdir(parents=True)
            (src / "Makefile").write_text("")
            (src / "mm" / "migrate.c").write_text("")
            pipeline.check_src(src)
            (src / ".config").write_text("")
            with self.assertRaisesRegex(LabError, "make mrproper"):
                pipeline.check_src(src)
            job = pipeline.GuestJob(load_profile("swapless"), pipeline.TreeKind.SRC, src=src,
                                    patches=(src / "x.patch",))
            with self.assertRaisesRegex(LabError, "as it is"):
                pipeline.build_job(job, src)


class ResultsFolderTest(unittest.TestCase):
    def test_unique_names_and_latest(self) -> None:
        from lab.common import results_folder
        with tempfile.TemporaryDirectory() as d, \
                mock.patch("lab.common.datetime") as dt:
            dt.datetime.now.return_value.strftime.return_value = "20261202-010203"
            root = Path(d)
            a = results_folder(root, "bench")
            b = results_folder(root, "bench")
            c = results_folder(root, "swap", stamp_first=True, latest=True)
            self.assertEqual([a.name, b.name, c.name],
                             ["bench-20261202-010203", "bench-20261202-010203.2",
                              "20261202-010203-swap"])
            self.assertTrue(a.is_dir() and b.is_dir())
            self.assertEqual((root / "latest").resolve(), c.resolve())


class KunitPyTest(unittest.TestCase):
    def test_command_uses_absolute_paths_and_numa_config(self) -> None:
        from lab.__main__ import kunit_command
        cmd = kunit_command(Path("/t/patched"), Path("/c/kunit"), 600)
        self.assertEqual(cmd[2:4], ["/t/patched/tools/testing/kunit/kunit.py", "run"])
        self.assertIn("--kunitconfig=/t/patched/mm/tests", cmd)
        qemu = " ".join(a for a in cmd if a.startswith("--qemu_args="))
        self.assertIn("-numa node,nodeid=1,cpus=2-3,memdev=m1", qemu)
        self.assertIn("-smp 4,sockets=2,cores=2", qemu)
        self.assertIn("-accel tcg", qemu)
        self.assertIn("--build_dir=/c/kunit", cmd)
