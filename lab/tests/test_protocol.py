# SPDX-License-Identifier: GPL-2.0
"""The guest protocol against the files that speak it: the keys and defaults
/init reads, every line /init echoes, every line the programs print."""

import re
import unittest

from lab import protocol
from lab.common import LAB, LabError

INIT = (LAB / "guest-init.sh").read_text()


def rendered_printfs(path, prefix: str, word: str = "name"  # type: ignore[no-untyped-def]
                     ) -> list[str]:
    """Each printf("<prefix>...") of a C file (adjacent literals joined), its
    conversions given sample values (@word for %s)."""
    text = re.sub(r'"\s*\n\s*"', "", path.read_text())
    out = []
    for m in re.finditer(r'printf\("(' + prefix + r'[^"]*)"', text):
        fmt = m[1].replace("\\n", "")
        fmt = re.sub(r"%[-0-9.]*[lz]*[du]", "1", fmt)
        fmt = re.sub(r"%s", word, fmt)
        out.append(fmt)
    return out


def rendered_echoes(prefix: str) -> list[str]:
    """Each echo "<prefix>..." of /init, its shell expansions given sample values."""
    out = []
    for m in re.finditer(r'(?m)echo "(' + prefix + r'.*)"(?: *>[^"]*)?$', INIT):
        line = m[1]
        line = re.sub(r"\$\{only:\+[^}]*\}", " (only a,b)", line)
        line = re.sub(r"\$\(cat [^)]*cpulist\)", "0-1", line)
        line = re.sub(r"\$\(grep MemTotal .*?\}'\)", "1024kB", line)
        line = re.sub(r"\$\(grep SwapTotal .*?\}'\)", "262140kB", line)
        line = re.sub(r"\$\{n##\*node\}", "0", line)
        line = re.sub(r"\$\(uname -r\)", "6.12.117", line)
        line = re.sub(r"\$\(cat [^)]*\)", "0-1", line)
        line = re.sub(r"\$\?", "0", line)
        line = re.sub(r"\$\w+", "1", line)
        out.append(line)
    return out


class ProtocolTest(unittest.TestCase):
    def test_keys_init_reads_are_the_protocols(self) -> None:
        read = set(re.findall(r"lab\\\.([a-z_]+)=", INIT))
        self.assertEqual(read, set(protocol.GUEST_KEYS))

    def test_defaults_are_inits(self) -> None:
        self.assertIn(f"MIGRATION_FUZZ_CALLS=${{fuzz:-{protocol.GUEST_DEFAULTS['fuzz_calls']}}}",
                      INIT)
        self.assertIn(f"MIGRATION_FUZZ_SEED=${{seed:-{protocol.GUEST_DEFAULTS['fuzz_seed']}}}",
                      INIT)

    def test_every_echo_of_init_is_in_the_grammar(self) -> None:
        lines = rendered_echoes("lab: ")
        self.assertGreater(len(lines), 12)
        for ln in lines:
            self.assertTrue(protocol.lab_line_known(ln), ln)
        for ln in rendered_echoes("soak: "):
            self.assertTrue(any(p.match(ln) for p in protocol.SOAK_LINES), ln)

    def test_every_printf_of_the_programs_is_in_the_grammar(self) -> None:
        bench = rendered_printfs(LAB / "bench/move_pages_bench.c", "bench: ")
        soak = rendered_printfs(LAB / "soak/migration_soak.c", "soak: ", "progress")
        self.assertGreater(len(bench), 6)
        for ln in bench:
            self.assertTrue(any(p.match(ln) for p in protocol.BENCH_LINES), ln)
        for ln in soak:
            self.assertTrue(any(p.match(ln) for p in protocol.SOAK_LINES), ln)

    def test_cmdline(self) -> None:
        self.assertEqual(protocol.GuestArgs(bench="events", kunit=False).cmdline(),
                         "lab.bench=events kunit.enable=0")
        self.assertEqual(protocol.GuestArgs(selftests=("a", "b_32"), fuzz_calls=9).cmdline(),
                         "lab.selftests=a,b_32 lab.fuzz_calls=9")
        self.assertEqual(protocol.GuestArgs().cmdline(), "")
        self.assertEqual(protocol.GuestArgs(kunit_only=True).cmdline(), "lab.kunit_only=1")

    def test_bad_args_refused(self) -> None:
        for kw in ({"bench": "fast"}, {"selftests": ("a b",)}, {"soak_minutes": 0},
                   {"bench": "1", "soak_minutes": 5}, {"fuzz_calls": -1}):
            with self.assertRaises(LabError, msg=str(kw)):
                protocol.GuestArgs(**kw)  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
