# SPDX-License-Identifier: GPL-2.0
"""Shared plumbing of the lab: paths, progress output and subprocesses."""

from __future__ import annotations

import datetime
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "lab"


class LabError(Exception):
    """A failure the lab explains to its user in one message (no traceback)."""


def cache_dir() -> Path:
    """Where unpacked trees, build directories and ccache live (never in git)."""
    env = os.environ.get("LAB_CACHE")
    if env:
        return Path(env).resolve()
    return Path.home() / ".cache" / "migration-lab"


_T0 = time.monotonic()


def elapsed() -> str:
    s = int(time.monotonic() - _T0)
    return f"{s // 60:02d}:{s % 60:02d}"


def stage(name: str, detail: str = "") -> None:
    """Print one progress line: elapsed time, stage name, what it does."""
    line = f"[{elapsed()}] {name:<10} {detail}".rstrip()
    print(line, flush=True)


def info(msg: str) -> None:
    print(f"           {msg}", flush=True)


def quote(cmd: list[str]) -> str:
    return " ".join(shlex.quote(c) for c in cmd)


# Variables a make above us exports to its children.  Passed on, they would
# reach kbuild: `make mutants M=name` would turn into kbuild's M= (an
# external module build).
_MAKE_VARS = ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "GNUMAKEFLAGS")


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    out = dict(os.environ if env is None else env)
    for k in _MAKE_VARS:
        out.pop(k, None)
    return out


@dataclass(frozen=True)
class RunResult:
    returncode: int
    seconds: float


def run_logged(cmd: list[str], log: Path, *, cwd: Path | None = None,
               env: dict[str, str] | None = None,
               timeout: float | None = None) -> RunResult:
    """Run @cmd with stdout+stderr appended to @log; never raises on rc."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "ab") as f:
        f.write(f"$ {quote(cmd)}\n".encode())
        f.flush()
        try:
            p = subprocess.run(cmd, cwd=cwd, env=clean_env(env), stdout=f,
                               stderr=subprocess.STDOUT, timeout=timeout,
                               check=False)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            f.write(f"lab: timed out after {timeout}s\n".encode())
            rc = 124
    return RunResult(rc, time.monotonic() - t0)


def run_checked(cmd: list[str], log: Path, what: str, **kw: object) -> RunResult:
    res = run_logged(cmd, log, **kw)  # type: ignore[arg-type]
    if res.returncode != 0:
        raise LabError(f"{what} failed (exit {res.returncode}); "
                       f"see {log}\n{tail(log, 25)}")
    return res


def tail(path: Path, n: int) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + ln for ln in lines[-n:])


def write_if_changed(path: Path, data: bytes, mode: int | None = None) -> bool:
    """Replace @path by @data only when it differs, through a rename.

    The rename matters twice: the patched tree is a hard-link copy of the
    pristine one, so an in-place write would change both; and an unchanged
    file keeps its mtime, so incremental kernel builds stay incremental.
    """
    try:
        if path.read_bytes() == data and (mode is None or
                                          (path.stat().st_mode & 0o777) == mode):
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".lab-tmp")
    tmp.write_bytes(data)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def results_folder(root: Path, name: str, stamp_first: bool = False,
                   latest: bool = False) -> Path:
    """A new folder for one run's results: <name>-<time> (or <time>-<name>),
    with .2, .3 ... when a run of the same second exists; @latest also
    points root/latest at it."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{name}" if stamp_first else f"{name}-{stamp}"
    out, n = root / base, 1
    while out.exists():
        n += 1
        out = root / f"{base}.{n}"
    out.mkdir(parents=True)
    if latest:
        link = root / "latest"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(out.name)
    return out
