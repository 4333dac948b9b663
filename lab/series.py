# SPDX-License-Identifier: GPL-2.0
"""`make series` and `make series-check`: the mail-ready patch series.

The plan (patches/plan.toml) says which commits the series has, in which
order, and what each one carries: some of our files (complete), some
Kconfig symbols of Kconfig.migration, some patches of patches/series, or
our MAINTAINERS section.  `series` commits the pristine base tree once
(cached per Debian package version), makes the plan's commits on top of
it with a fixed date, signed off by the sender, checks that the last tree is the tree
`make run` builds, and writes `git format-patch` output with a cover
letter into results/series-<version>/.

The checks of the folder (`make series-check`) are lab/series_check.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import tree
from .common import REPO, LabError, cache_dir, info, run_checked, stage

PLAN = REPO / "patches" / "plan.toml"
KCONFIG_SRC = "Kconfig.migration"
KCONFIG_DST = tree.OVERLAY_RENAMES[KCONFIG_SRC]
SUBJECT = re.compile(r"^[A-Za-z][\w./-]*: [a-z]")


@dataclass(frozen=True)
class Commit:
    subject: str
    body: str
    files: tuple[str, ...] = ()
    kconfig: tuple[str, ...] = ()
    patches: tuple[str, ...] = ()
    maintainers: bool = False

    def message(self, author: str) -> str:
        return f"{self.subject}\n\n{self.body.strip()}\n\nSigned-off-by: {author}\n"


@dataclass(frozen=True)
class Plan:
    date: str
    cover: Path
    commits: tuple[Commit, ...]
    justified: dict[str, str] = field(default_factory=dict)
    checked_on: str = ""
    author: str = ""    # the sender: set by make_series(), never by the plan


# "Name <user@host>": what git, checkpatch and MAINTAINERS take as one person.
IDENTITY = re.compile(r"^(?P<name>[^<>@\s](?:[^<>@\n]*[^<>@\s])?) <(?P<mail>[^<>@\s]+@[^<>@\s]+)>$")
# The identity the lab's own checks (make test) sign with when no sender is
# set: they do not mail anything.
CHECK_IDENTITY = "Series Check <series-check@example.org>"


def sender(author: str | None = None, repo: Path = REPO, fallback: str | None = None) -> str:
    """Who signs the series off: @author (AUTHOR=), else git's user.name and
    user.email as seen from @repo, else @fallback; a clear error otherwise."""
    if author is not None and author.strip():
        author = author.strip()
        if not IDENTITY.match(author):
            raise LabError(f'AUTHOR="{author}" is not of the form "Name <user@host>"')
        return author

    def config(key: str) -> str:
        p = subprocess.run(["git", "-C", str(repo), "config", "--get", key],
                           capture_output=True, text=True, check=False)
        return p.stdout.strip() if p.returncode == 0 else ""
    name, mail = config("user.name"), config("user.email")
    if name and mail:
        ident = f"{name} <{mail}>"
        if not IDENTITY.match(ident):
            raise LabError(f'git config user.name/user.email give "{ident}", which is not '
                           'of the form "Name <user@host>"; fix them or pass AUTHOR=')
        return ident
    if fallback is not None:
        return fallback
    raise LabError("the series is signed off by the person who sends it, and no one is set: "
                   "run git config user.name \"Your Name\" and git config user.email "
                   "you@example.org, or make series AUTHOR=\"Your Name <you@example.org>\"")


def with_maintainer(section: str, author: str) -> str:
    """Our MAINTAINERS section with the sender as its M: line, after the title."""
    if not IDENTITY.match(author):
        raise LabError(f'the sender "{author}" is not of the form "Name <user@host>"')
    lines = section.strip("\n").splitlines()
    if any(ln.startswith("M:") for ln in lines):
        raise LabError("MAINTAINERS: the section has an M: line; make series writes it "
                       "from the sender's identity, remove it")
    return "\n".join([lines[0], f"M:\t{author}", *lines[1:]]) + "\n"


def kconfig_blocks(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a Kconfig file into its header and its `config` blocks."""
    parts = re.split(r"(?m)^(?=config )", text)
    header, blocks = parts[0], []
    for part in parts[1:]:
        blocks.append((part.split()[1], part))
    return header, blocks


def kconfig_subset(text: str, symbols: set[str]) -> str | None:
    """@text with only the config blocks of @symbols (None when there are none)."""
    header, blocks = kconfig_blocks(text)
    kept = [b for s, b in blocks if s in symbols]
    if not kept:
        return None
    out = header + "".join(kept)
    return out.rstrip("\n") + "\n"


def _our_files(repo: Path) -> list[str]:
    """Repository paths of our files that enter the series as they are."""
    return sorted(str(src.relative_to(repo)) for rel, src in tree.overlay_files(repo).items()
                  if rel != KCONFIG_DST)


def _expand(repo: Path, entry: str, ours: list[str]) -> list[str]:
    hits = [f for f in ours if f == entry or f.startswith(entry.rstrip("/") + "/")]
    if not hits:
        raise LabError(f"plan: {entry} names none of our files")
    return hits


def load_plan(repo: Path = REPO, path: Path | None = None) -> Plan:
    """Read and validate the plan against the repository."""
    path = path or repo / "patches" / "plan.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LabError(f"cannot read the series plan {path}: {e}") from e
    problems: list[str] = []
    commits = []
    for i, c in enumerate(data.get("commit", []), 1):
        unknown = set(c) - {"subject", "body", "files", "kconfig", "patches", "maintainers"}
        if unknown:
            problems.append(f"commit {i}: unknown keys {', '.join(sorted(unknown))}")
        commits.append(Commit(c.get("subject", ""), c.get("body", ""),
                              tuple(c.get("files", ())), tuple(c.get("kconfig", ())),
                              tuple(c.get("patches", ())), bool(c.get("maintainers", False))))
    if not commits:
        problems.append("no [[commit]] entries")
    ours = _our_files(repo)
    owner: dict[str, int] = {}
    for i, c in enumerate(commits, 1):
        if not SUBJECT.match(c.subject) or len(c.subject) > 75:
            problems.append(f"commit {i}: subject {c.subject!r} is not 'area: verb ...' "
                            "in at most 75 characters")
        if not c.body.strip():
            problems.append(f"commit {i}: no message body")
        for n, line in enumerate(c.body.splitlines(), 1):
            if len(line) > 75:
                problems.append(f"commit {i}: body line {n} is longer than 75 characters")
        for entry in c.files:
            try:
                hits = _expand(repo, entry, ours)
            except LabError as e:
                problems.append(f"commit {i}: {e}")
                continue
            for f in hits:
                if f in owner:
                    problems.append(f"{f} is in commits {owner[f]} and {i}")
                owner[f] = i
    problems += [f"{f} is in no commit" for f in ours if f not in owner]
    # Kconfig symbols: a partition of Kconfig.migration's.
    kfile = repo / KCONFIG_SRC
    symbols = [s for s, _ in kconfig_blocks(kfile.read_text())[1]] if kfile.is_file() else []
    planned = [s for c in commits for s in c.kconfig]
    for s in sorted(set(planned)):
        if planned.count(s) > 1:
            problems.append(f"Kconfig symbol {s} is in more than one commit")
        if s not in symbols:
            problems.append(f"Kconfig symbol {s} is not in {KCONFIG_SRC}")
    problems += [f"Kconfig symbol {s} is in no commit" for s in symbols if s not in planned]
    # Patches: patches/series, in its order.
    series = [p.name for p in tree.read_series(repo)]
    planned_patches = [p for c in commits for p in c.patches]
    if planned_patches != series:
        problems.append("the plan's patches are not patches/series in its order:\n    plan:   "
                        + " ".join(planned_patches) + "\n    series: " + " ".join(series))
    n_maint = sum(c.maintainers for c in commits)
    if (repo / "MAINTAINERS").is_file() and n_maint != 1:
        problems.append(f"MAINTAINERS is in {n_maint} commits (must be exactly one)")
    justified = {k: str(v) for k, v in data.get("checkpatch", {}).items()}
    if "author" in data:
        problems.append("the plan names an author; the sender's identity comes from "
                        "AUTHOR= or git config")
    if problems:
        raise LabError(f"series plan {path}:\n  " + "\n  ".join(problems))
    return Plan(data.get("date", "2026-01-01T00:00:00+00:00"),
                repo / data.get("cover", "patches/cover-letter.txt"),
                tuple(commits), justified, str(data.get("checked_on", "")))


def drift_note(installed: str, repo: Path = REPO) -> str | None:
    """Say so when the installed base is not the one the series was last checked on."""
    try:
        checked = load_plan(repo).checked_on
    except LabError as e:
        return f"the series plan does not load: {str(e).splitlines()[0]}"
    if checked and checked != installed:
        return (f"base drift: the series was last checked on {tree.PACKAGE} {checked}, "
                f"the installed one is {installed}; applying it anyway "
                "(run make series-check, then update checked_on in patches/plan.toml)")
    return None


def commit_states(plan: Plan, pristine: Path, repo: Path = REPO
                  ) -> list[dict[str, tuple[bytes, int]]]:
    """The files that differ from @pristine after each commit of @plan."""
    ours = _our_files(repo)
    states = []
    files: list[str] = []
    symbols: set[str] = set()
    patches: list[Path] = []
    maint = False
    for c in plan.commits:
        for entry in c.files:
            files += _expand(repo, entry, ours)
        symbols |= set(c.kconfig)
        patches += [repo / "patches" / p for p in c.patches]
        maint = maint or c.maintainers
        with tempfile.TemporaryDirectory(prefix="lab-series-") as tmp:
            scratch = Path(tmp) / "t"
            scratch.mkdir()
            for f in files:
                dst = scratch / f
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(repo / f, dst)
            ktext = kconfig_subset((repo / KCONFIG_SRC).read_text(), symbols) \
                if (repo / KCONFIG_SRC).is_file() else None
            if ktext is not None:
                (scratch / KCONFIG_DST).parent.mkdir(parents=True, exist_ok=True)
                (scratch / KCONFIG_DST).write_text(ktext)
                os.chmod(scratch / KCONFIG_DST, (repo / KCONFIG_SRC).stat().st_mode & 0o777)
            if maint:
                (scratch / "MAINTAINERS").write_text(tree.insert_maintainers(
                    (pristine / "MAINTAINERS").read_text(),
                    with_maintainer((repo / "MAINTAINERS").read_text(), plan.author)))
            tree.apply_patches(scratch, pristine, patches, Path(tmp))
            states.append(tree.read_tree(scratch))
    return states


def _git(repo: Path, *args: str, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                       env=env, check=False)
    if check and p.returncode != 0:
        raise LabError(f"git {' '.join(args[:3])} failed in {repo}:\n{p.stdout}{p.stderr}")
    return p


def _git_env(plan: Plan) -> dict[str, str]:
    name, _, mail = plan.author.partition("<")
    env = dict(os.environ)
    env.update(GIT_AUTHOR_NAME=name.strip(), GIT_AUTHOR_EMAIL=mail.rstrip(">"),
               GIT_COMMITTER_NAME=name.strip(), GIT_COMMITTER_EMAIL=mail.rstrip(">"),
               GIT_AUTHOR_DATE=plan.date, GIT_COMMITTER_DATE=plan.date,
               GIT_CONFIG_NOSYSTEM="1", HOME=str(cache_dir()), LC_ALL="C")
    return env


def base_repo(base: tree.BaseTree, plan: Plan) -> Path:
    """A git repository of the pristine tree, one commit tagged `base`."""
    top = cache_dir() / "series" / base.debian_version
    repo = top / "linux"
    if (top / ".committed").exists():
        return repo
    stage("series", f"committing the pristine base tree -> {repo}")
    shutil.rmtree(top, ignore_errors=True)
    top.mkdir(parents=True)
    log = top / "base.log"
    # A real copy: git rewrites files, and the base tree must stay pristine.
    run_checked(["cp", "-a", str(base.path), str(repo)], log, "copying the base tree")
    # The base commit is the same whoever sends the series.
    env = _git_env(replace(plan, author=CHECK_IDENTITY))
    for args in (["init", "-q", "-b", "series"], ["config", "core.autocrlf", "false"],
                 ["config", "gc.auto", "0"],
                 # Debian's tarball ships a .gitignore that ignores everything.
                 ["add", "-A", "-f", "."],
                 ["commit", "-q", "--no-verify", "-m",
                  f"Linux {base.kernel_version} (Debian {tree.PACKAGE} {base.debian_version})"],
                 ["tag", "base"]):
        run_checked(["git", "-C", str(repo), *args], log, f"git {args[0]}", env=env)
    (top / ".committed").write_text(base.debian_version + "\n")
    return repo


def _write_state(repo: Path, state: dict[str, tuple[bytes, int]],
                 previous: dict[str, tuple[bytes, int]], pristine: Path) -> list[str]:
    """Make the work tree hold @state; return the paths touched."""
    touched = []
    for rel in sorted(set(state) | set(previous)):
        dst = repo / rel
        if rel in state:
            data, mode = state[rel]
        elif (pristine / rel).is_file():
            data, mode = (pristine / rel).read_bytes(), (pristine / rel).stat().st_mode & 0o777
        else:
            dst.unlink(missing_ok=True)
            touched.append(rel)
            continue
        if dst.is_file() and dst.read_bytes() == data and (dst.stat().st_mode & 0o777) == mode:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        os.chmod(dst, mode)
        touched.append(rel)
    return touched


def cover_letter(plan: Plan, base: tree.BaseTree, generated: str) -> str:
    """Fill git's cover letter template with ours."""
    text = plan.cover.read_text()
    subject, _, blurb = text.partition("\n")
    blurb = blurb.strip("\n").replace("@KERNEL_VERSION@", base.kernel_version) \
        .replace("@DEBIAN_VERSION@", base.debian_version)
    if plan.justified:
        blurb += ("\n\ncheckpatch.pl --strict reports these, on purpose:\n"
                  + "\n".join(f"- {k}: {v}" for k, v in sorted(plan.justified.items())))
    left = sorted(set(re.findall(r"@[A-Z_]+@", blurb)))
    if left:
        raise LabError(f"{plan.cover}: placeholders not filled in: {', '.join(left)}")
    if "*** SUBJECT HERE ***" not in generated or "*** BLURB HERE ***" not in generated:
        raise LabError("git format-patch's cover letter template has changed")
    return generated.replace("*** SUBJECT HERE ***", subject.strip()) \
        .replace("*** BLURB HERE ***", blurb)


def make_series(results_root: Path, repo_dir: Path = REPO, author: str | None = None,
                plan: Plan | None = None) -> Path:
    """Commit the plan on the base and write the patch files; return the folder.

    The sender is @author, else git's identity (see sender()); @plan, when
    given, already carries it."""
    plan = plan or replace(load_plan(repo_dir), author=sender(author, repo_dir))
    info(f"signed off by {plan.author}")
    base = tree.base_tree()
    git = base_repo(base, plan)
    env = _git_env(plan)
    stage("series", f"{len(plan.commits)} commits on {base.debian_version} ({git})")
    _git(git, "checkout", "-q", "-f", "-B", "series", "base")
    _git(git, "clean", "-q", "-f", "-d", "-x")
    for c in plan.commits:
        left = sorted(set(re.findall(r"@[A-Z_]+@", c.body)))
        if left:
            raise LabError(f"commit '{c.subject}': placeholders not filled in: {', '.join(left)}")
    states = commit_states(plan, base.path, repo_dir)
    previous: dict[str, tuple[bytes, int]] = {}
    for c, state in zip(plan.commits, states):
        touched = _write_state(git, state, previous, base.path)
        if not touched:
            raise LabError(f"commit '{c.subject}' changes nothing")
        _git(git, "add", "-A", "-f", "--", *touched)
        _git(git, "commit", "-q", "--no-verify", "-m", c.message(plan.author), env=env)
        previous = state
    # The last commit must be the tree `make run` builds.
    wanted = tree.staged_contents(base.path, repo_dir,
                                  section=lambda t: with_maintainer(t, plan.author))
    if states[-1] != wanted:
        diff = sorted(set(states[-1]) ^ set(wanted)) or \
            sorted(k for k in wanted if states[-1].get(k) != wanted[k])
        raise LabError("the series' last tree differs from the tree make run builds: "
                       + ", ".join(diff[:10]))
    changed = set(_git(git, "diff", "--name-only", "base", "series").stdout.split())
    same = {k for k, (data, _) in wanted.items()
            if (base.path / k).is_file() and (base.path / k).read_bytes() == data}
    if changed != set(wanted) - same:
        raise LabError("git sees other changes than the lab's tree: "
                       + ", ".join(sorted(changed ^ (set(wanted) - same))[:10]))
    out = results_root / f"series-{base.debian_version}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    _git(git, "format-patch", "-q", "--cover-letter", "--zero-commit", "--no-signature",
         "--subject-prefix=PATCH", "-o", str(out), "base..series", env=env)
    cover = next(out.glob("0000-cover-letter.patch"))
    patches = sorted(p for p in out.glob("*.patch") if p != cover)
    to, cc = recipients(git, patches, plan.author)
    cover.write_text(address(cover_letter(plan, base, cover.read_text()), to, cc))
    line = send_email_line(to, cc, out)
    (out / "send-email.txt").write_text(line + "\n")
    info(f"{len(patches)} patches and a cover letter in {out}; the last tree equals make run's "
         f"({len(wanted)} files differ from the base)")
    info(f"to send it ({len(to)} To, {len(cc)} Cc from scripts/get_maintainer.pl):\n    {line}")
    return out


def recipients(git: Path, patches: list[Path], sender: str) -> tuple[list[str], list[str]]:
    """To (maintainers) and Cc (reviewers, lists) of @patches by the tree's
    scripts/get_maintainer.pl, in its order, without the sender."""
    p = subprocess.run(["perl", "scripts/get_maintainer.pl", "--no-git", "--no-git-fallback",
                        "--no-fixes", *map(str, patches)],
                       cwd=git, capture_output=True, text=True, check=False,
                       env={**os.environ, "LC_ALL": "C.UTF-8"})
    if p.returncode != 0:
        raise LabError(f"scripts/get_maintainer.pl failed:\n{p.stderr.strip()[-2000:]}")
    to: list[str] = []
    cc: list[str] = []
    for ln in p.stdout.splitlines():
        who, _, role = ln.partition(" (")
        who = who.strip()
        if not who or who == sender or who in to or who in cc:
            continue
        (to if role.startswith("maintainer:") else cc).append(who)
    if not to and not cc:
        raise LabError("scripts/get_maintainer.pl named no one for the series")
    return to, cc


def address(cover: str, to: list[str], cc: list[str]) -> str:
    """The cover letter with To: and Cc: headers (git send-email reads them)."""
    head, sep, body = cover.partition("\nSubject: ")
    lines = [f"To: {', '.join(to)}"] if to else []
    lines += [f"Cc: {', '.join(cc)}"] if cc else []
    return head + "\n" + "\n".join(lines) + sep + body


def send_email_line(to: list[str], cc: list[str], out: Path) -> str:
    args = ["git", "send-email", *(f"--to={t}" for t in to), *(f"--cc={c}" for c in cc),
            f"{out}/*.patch"]
    return " ".join(shlex.quote(a) if not a.endswith("/*.patch") else a for a in args)
