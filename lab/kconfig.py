# SPDX-License-Identifier: GPL-2.0
"""Stage 2: allnoconfig + the repository's fragments, and the check that
every requested line survived (menu guards drop options silently)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .common import LAB, LabError, cache_dir, info, run_checked, stage

FRAGMENT_DIR = LAB / "configs"

_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def parse_config(text: str) -> dict[str, str]:
    """Map symbol -> value; "n" for '# CONFIG_X is not set'."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        m = _SET.match(line)
        if m:
            out[m.group(1)] = m.group(2)
            continue
        m = _UNSET.match(line)
        if m:
            out[m.group(1)] = "n"
    return out


def fragment_path(name: str) -> Path:
    p = FRAGMENT_DIR / f"{name}.config"
    if not p.is_file():
        raise LabError(f"config fragment {name!r} not found (looked for {p})")
    return p


def dropped_options(requested: dict[str, tuple[str, str]],
                    final: dict[str, str]) -> list[str]:
    """Lines asked for by a fragment that are not in the final .config.

    @requested maps symbol -> (value, fragment name).  A request for "n" is
    met when the symbol is absent or unset.
    """
    bad = []
    for sym, (want, frag) in sorted(requested.items()):
        got = final.get(sym, "n")
        if got != want:
            bad.append(f"{sym}={want} (from {frag}.config) ended up as "
                       + ("unset" if got == "n" else got))
    return bad


def requested_options(fragments: list[str]) -> dict[str, tuple[str, str]]:
    req: dict[str, tuple[str, str]] = {}
    for name in fragments:
        for sym, val in parse_config(fragment_path(name).read_text()).items():
            req[sym] = (val, name)
    return req


def configure(src: Path, build: Path, fragments: list[str],
              make_vars: list[str], log: Path) -> Path:
    """Write @build/.config (only when it changes); return its path."""
    key = build.name
    scratch = cache_dir() / "config" / key
    stage("config", f"allnoconfig + {' '.join(fragments)}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    make = ["make", "-s", "-C", str(src), f"O={scratch}", *make_vars]
    run_checked([*make, "allnoconfig"], log, "make allnoconfig")
    run_checked([str(src / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(scratch),
                 str(scratch / ".config"), *[str(fragment_path(f)) for f in fragments]],
                log, "merge_config.sh")
    run_checked([*make, "olddefconfig"], log, "make olddefconfig")
    final = (scratch / ".config").read_text()
    bad = dropped_options(requested_options(fragments), parse_config(final))
    if bad:
        raise LabError("config fragment options were dropped (a menu guard or "
                       "dependency is missing):\n  " + "\n  ".join(bad))
    build.mkdir(parents=True, exist_ok=True)
    dst = build / ".config"
    if not dst.exists() or dst.read_text() != final:
        dst.write_text(final)
        info(f".config changed -> {dst}")
    return dst
