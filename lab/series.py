# SPDX-License-Identifier: GPL-2.0
"""`make series` and `make series-check`: the mail-ready patch series.

The plan (patches/plan.toml) says which commits the series has, in which
order, and what each one carries: some of our files (complete), some
Kconfig symbols of Kconfig.migration, some patches of patches/series, or
our MAINTAINERS section.  `series` commits the pristine base tree once
(cached per Debian package version), makes the plan's commits on top of
it with fixed author and dates, checks that the last tree is the tree
`make run` builds, and writes `git format-patch` output with a cover
letter into results/series-<version>/.

`series-check` then proves the folder is what a maintainer can take:
every patch applies with `git am` to the base (and gives the same tree),
`checkpatch.pl --strict` finds nothing the plan does not justify,
`kernel-doc -none` is clean on our new C files, and (unless told not to)
every commit compiles the objects it touches.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import build, kconfig, pipeline, protocol, report, tree
from .common import REPO, LabError, cache_dir, info, run_checked, run_logged, stage
from .cases import Case, Status
from .profile import Profile, load_profile

PLAN = REPO / "patches" / "plan.toml"
KCONFIG_SRC = "Kconfig.migration"
KCONFIG_DST = tree.OVERLAY_RENAMES[KCONFIG_SRC]
SUBJECT = re.compile(r"^[A-Za-z][\w./-]*: [a-z]")
CHECKPATCH_LINE = re.compile(r"^(ERROR|WARNING|CHECK):([A-Z0-9_]+): (.*)$")


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


# ---------------------------------------------------------------- checks

@dataclass
class Finding:
    patch: str
    level: str
    kind: str
    text: str
    file: str = ""


FILE_LINE = re.compile(r"^#\d+: FILE: ([^:]+):")


def parse_checkpatch(patch: str, output: str) -> list[Finding]:
    """checkpatch --show-types findings, each with the file it names on its next line."""
    lines = output.splitlines()
    out = []
    for i, ln in enumerate(lines):
        m = CHECKPATCH_LINE.match(ln)
        if not m:
            continue
        f = FILE_LINE.match(lines[i + 1]) if i + 1 < len(lines) else None
        out.append(Finding(patch, m[1], m[2], m[3], f[1] if f else ""))
    return out


def unjustified(findings: list[Finding], justified: dict[str, str]) -> list[Finding]:
    """Errors always count; warnings and checks unless the plan justifies their
    type ("TYPE") or their type in that file ("TYPE@path")."""
    return [f for f in findings if f.level == "ERROR" or
            (f.kind not in justified and f"{f.kind}@{f.file}" not in justified)]


def check_am(git: Path, patches: list[Path], log: Path, env: dict[str, str]) -> None:
    """git am every patch onto the base in a scratch work tree; same tree as the series."""
    wt = git.parent / "am"
    _git(git, "worktree", "remove", "--force", str(wt), check=False)
    shutil.rmtree(wt, ignore_errors=True)
    _git(git, "worktree", "prune")
    _git(git, "worktree", "add", "-q", "--detach", str(wt), "base")
    for p in patches:
        r = run_logged(["git", "-C", str(wt), "am", "-q", "--no-3way", str(p)], log, env=env)
        if r.returncode != 0:
            run_logged(["git", "-C", str(wt), "am", "--abort"], log)
            raise LabError(f"git am: {p.name} does not apply to the base; see {log}")
    got = _git(wt, "rev-parse", "HEAD^{tree}").stdout.strip()
    want = _git(git, "rev-parse", "series^{tree}").stdout.strip()
    if got != want:
        raise LabError(f"git am of the series gives tree {got}, the series is {want}")
    info(f"git am: {len(patches)} patches apply to the base; same tree as the series")


def check_patches(git: Path, patches: list[Path], plan: Plan, log: Path) -> list[Finding]:
    env = build.build_env()
    bad: list[Finding] = []
    for p in patches:
        r = subprocess.run(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
                            "--no-summary", str(p)], cwd=git, env=env,
                           capture_output=True, text=True, check=False)
        with open(log, "a") as f:
            f.write(f"$ checkpatch.pl --strict {p.name}\n{r.stdout}{r.stderr}")
        found = parse_checkpatch(p.name, r.stdout)
        bad += unjustified(found, plan.justified)
        info(f"checkpatch {p.name}: {len(found)} findings, "
             f"{len(unjustified(found, plan.justified))} unjustified")
    return bad


NEW_FUNCTION = re.compile(r"^\+(?!\s)(?:static\s+)?(?:inline\s+)?[A-Za-z_][\w\s*]*?\b(\w+)\(")


def new_functions(patches: list[Path]) -> list[tuple[str, str]]:
    """(file, function) for each function a patch defines in a kernel C file."""
    out = []
    for p in patches:
        current = ""
        for line in p.read_text(errors="replace").splitlines():
            if line.startswith("+++ "):
                current = line[4:].split("\t")[0].removeprefix("b/")
                continue
            m = NEW_FUNCTION.match(line)
            if (m and current.endswith(".c") and not current.startswith("tools/")
                    and not line.rstrip().endswith(";") and "=" not in line.split("(")[0]):
                out.append((current, m[1]))
    return out


def check_kernel_doc(git: Path, log: Path, repo_dir: Path = REPO) -> list[str]:
    """kernel-doc -none -Wall on our new C files and headers, and a kernel-doc
    comment, clean, for each function the patches add to existing files."""
    files = [rel for rel in tree.overlay_files(repo_dir) if rel.endswith((".c", ".h"))
             and not rel.startswith("tools/")]
    r = subprocess.run(["perl", "scripts/kernel-doc", "-none", "-Wall", *files], cwd=git,
                       env=build.build_env(), capture_output=True, text=True, check=False)
    with open(log, "a") as f:
        f.write(f"$ kernel-doc -none -Wall {' '.join(files)}\n{r.stdout}{r.stderr}")
    warnings = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    funcs = []
    for f, fn in dict.fromkeys(new_functions(tree.read_series(repo_dir))):
        base_text = _git(git, "show", f"base:{f}", check=False).stdout
        if f not in files and not re.search(r"\b" + re.escape(fn) + r"\(", base_text):
            funcs.append((f, fn))
    for f, fn in funcs:
        text = (git / f).read_text(errors="replace") if (git / f).is_file() else ""
        if not re.search(r"/\*\*\n \* " + re.escape(fn) + r"\b", text):
            warnings.append(f"{f}: {fn}() has no kernel-doc comment")
            continue
        r = subprocess.run(["perl", "scripts/kernel-doc", "-none", "-Wall", "-function", fn, f],
                           cwd=git, env=build.build_env(), capture_output=True, text=True,
                           check=False)
        warnings += [ln for ln in (r.stdout + r.stderr).splitlines()
                     if f"'{fn}'" in ln or f" {fn}(" in ln or f" {fn} " in ln]
    info(f"kernel-doc -none -Wall on {len(files)} files and {len(funcs)} new functions: "
         f"{len(warnings)} warnings")
    return warnings


def check_mutants_apply(pristine: Path, repo_dir: Path = REPO) -> list[str]:
    """Every mutant still applies on top of the series (else make mutants would stop)."""
    final = tree.staged_contents(pristine, repo_dir)
    problems = []
    for m in sorted((repo_dir / "mutants").glob("*.patch")):
        with tempfile.TemporaryDirectory(prefix="lab-mutant-") as tmp:
            scratch = Path(tmp) / "t"
            for rel in tree.patch_targets(m):
                src = final.get(rel)
                dst = scratch / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src:
                    dst.write_bytes(src[0])
                elif (pristine / rel).is_file():
                    shutil.copy2(pristine / rel, dst)
            try:
                tree.apply_patches(scratch, pristine, [m.resolve()], Path(tmp))
            except LabError as e:
                problems.append(f"{m.name}: " + " ".join(str(e).split())[:200])
    info(f"mutants: {len(list((repo_dir / 'mutants').glob('*.patch')))} checked, "
         f"{len(problems)} do not apply")
    return problems


def _objects(paths: list[str]) -> list[str]:
    """Kernel objects that compile the C files among @paths."""
    return [p[:-2] + ".o" for p in paths
            if p.endswith(".c") and not p.startswith(("tools/", "Documentation/"))]


def unbuilt_objects(bdir: Path, objs: list[str], since: float) -> list[str]:
    """Those of @objs that the build in @bdir did not (re)write after @since."""
    out = []
    for o in objs:
        f = bdir / o
        if not f.is_file() or f.stat().st_mtime < since:
            out.append(o)
    return out


TEST_DIRS = ("mm/tests/", "tools/testing/selftests/migration/")


def boot_commit(n: int, subject: str, wt: Path, bdir: Path, profile: Profile, out: Path,
                timeout: float) -> None:
    """Boot commit @n's kernel with the tests it has; its tests must pass there."""
    out.mkdir(parents=True, exist_ok=True)
    has_kunit = (wt / "mm/tests").is_dir()
    st = None
    if (wt / "tools/testing/selftests/migration").is_dir():
        st = build.build_selftests(wt, bdir, cache_dir() / "selftests" / "series-check",
                                   out / "selftests-build.log")
    stage("check", f"commit {n}: booting it with its "
          + " and ".join(x for x, y in (("KUnit suites", has_kunit), ("selftests", st)) if y))
    job = pipeline.GuestJob(profile, args=protocol.GuestArgs(kunit_only=st is None),
                            timeout=timeout)
    g = pipeline.boot_job(job, bdir / "arch/x86/boot/bzImage", st, out)
    cases, _ = report.evaluate(report.Inputs(
        g.console.read_text(errors="replace"), g.selftest_tap.read_text(errors="replace"),
        g.timed_out, g.seconds, expect_kunit=has_kunit, expect_selftests=st is not None),
        profile)
    n_pass = sum(c.status is Status.PASS for c in cases)
    bad = [c for c in cases if c.status is Status.FAIL]
    if bad:
        raise LabError(f"commit {n} ({subject}): its tests fail at that commit ({out}):\n  "
                       + "\n  ".join(f"{c.suite}: {c.name}: {c.reason.splitlines()[0] if c.reason else ''}"
                                      for c in bad[:10]))
    info(f"commit {n}: {n_pass} cases pass at that commit ({g.seconds:.0f} s in the guest)")


def check_builds(git: Path, config_fragments: list[str], log: Path,
                 name: str = "series-check", boot: Profile | None = None,
                 timeout: float = 900) -> int:
    """Check out each commit, link vmlinux incrementally; return commits built.

    Each commit gets an incremental ``make vmlinux`` in one build directory,
    so it compiles what the commit changed and everything that includes it,
    and links: a symbol used by one commit but defined by a later one fails
    here, which compiling single objects would miss. Every C file a commit
    touches must have been compiled by that step (the config must build it).
    With @boot, a commit that adds or changes tests is booted in that
    profile and its tests must pass at that commit.
    """
    wt = git.parent / "build-wt"
    _git(git, "worktree", "remove", "--force", str(wt), check=False)
    shutil.rmtree(wt, ignore_errors=True)
    _git(git, "worktree", "prune")
    _git(git, "worktree", "add", "-q", "--detach", str(wt), "series")
    bdir = cache_dir() / "build" / name
    # The config of the whole series; earlier commits drop what they lack.
    kconfig.configure(wt, bdir, config_fragments, build.make_vars(), log)
    full = (bdir / ".config").read_text()
    commits = _git(git, "rev-list", "--reverse", "base..series").stdout.split()
    make = ["make", "-C", str(wt), f"O={bdir}", f"-j{build.jobs()}", *build.make_vars()]
    for n, sha in enumerate(commits, 1):
        subject = _git(git, "log", "-1", "--format=%s", sha).stdout.strip()
        _git(wt, "checkout", "-q", "--detach", sha)
        touched = _git(git, "diff", "--name-only", f"{sha}^", sha).stdout.split()
        objs = _objects(touched)
        (bdir / ".config").write_text(full)
        tests = boot is not None and any(t.startswith(TEST_DIRS) for t in touched)
        selftests = any(t.startswith(TEST_DIRS[1]) for t in touched)
        steps = [[*make, "olddefconfig"], [*make, "bzImage" if tests else "vmlinux"]]
        if tests or selftests:
            steps.append([*make, "headers_install"])
        if selftests and not tests:     # (boot_commit() builds them itself)
            steps.append(["make", "-C", str(wt / "tools/testing/selftests"), f"-j{build.jobs()}",
                          "TARGETS=migration", f"O={bdir}/selftests",
                          f"KHDR_INCLUDES=-isystem {bdir}/usr/include"])
        start = time.time()
        t0 = time.monotonic()
        for cmd in steps:
            r = run_logged(cmd, log, env=build.build_env())
            if r.returncode != 0:
                raise LabError(f"commit {n} ({subject}) does not build; errors from {log}:\n"
                               + build.error_lines(log))
        missed = unbuilt_objects(bdir, objs, start - 1)
        if missed:
            raise LabError(f"commit {n} ({subject}) changes C files the series-check config "
                           f"does not build: {', '.join(missed)} (enable them in "
                           "lab/configs/series-check.config)")
        info(f"commit {n} builds and links in {time.monotonic() - t0:.0f} s"
             + (f" ({', '.join(objs)} compiled)" if objs else "")
             + (" + selftests" if selftests else ""))
        if tests:
            boot_commit(n, subject, wt, bdir, boot, log.parent / f"series-check-boot-{n}",
                        timeout)
    return len(commits)


# Words of this project that mean nothing upstream (a random "seed" does).
PROJECT_WORDS = re.compile(r"\b(lab|labs|mutants?|mutation testing|seeds|our series)\b",
                           re.IGNORECASE)


def project_words(patches: list[Path]) -> list[str]:
    """Lines of the generated mail (cover letter included) that use them."""
    found = []
    for p in patches:
        for n, ln in enumerate(p.read_text(errors="replace").splitlines(), 1):
            m = PROJECT_WORDS.search(ln)
            if m:
                found.append(f"{p.name}:{n}: \"{m[0]}\" in: {ln.strip()[:100]}")
    return found


def check_cases(results_root: Path, do_build: bool, profiles: dict[str, list[str]],
                author: str | None = None) -> list[Case]:
    """Make the series and check it; one case per check (suite "series").

    Signed off by @author or git's identity, else by CHECK_IDENTITY: a check
    sends nothing.  With @do_build every commit is compiled in each of
    @profiles (name -> config fragments), each in a build directory of its
    own."""
    def case(name: str, problems: list[str]) -> Case:
        for p in problems:
            print(f"series-check: {name}: {p}")
        return Case("series", name, Status.FAIL if problems else Status.PASS,
                    problems[0] if problems else "")

    try:
        plan = replace(load_plan(), author=sender(author, REPO, fallback=CHECK_IDENTITY))
        out = make_series(results_root, plan=plan)
    except LabError as e:
        return [case("make_series", [str(e)])]
    cases = [case("make_series", [])]
    base = tree.base_tree()
    git = base_repo(base, plan)
    log = out.parent / f"series-check-{base.debian_version}.log"
    log.unlink(missing_ok=True)
    patches = sorted(p for p in out.glob("*.patch") if not p.name.startswith("0000-"))
    stage("check", f"git am, checkpatch --strict, kernel-doc (log: {log})")
    try:
        check_am(git, patches, log, _git_env(plan))
        cases.append(case("git_am", []))
    except LabError as e:
        cases.append(case("git_am", [str(e)]))
    bad = check_patches(git, patches, plan, log)
    for p in patches:
        cases.append(case(f"checkpatch.{p.stem}", [
            f"{f.level}:{f.kind}: {f.text}" + (f" ({f.file})" if f.file else "")
            + " (not justified in the plan)"
            for f in bad if f.patch == p.name]))
    cases.append(case("kernel_doc", check_kernel_doc(git, log)))
    cases.append(case("no_project_words", project_words(sorted(out.glob("*.patch")))))
    cases.append(case("mutants_apply", check_mutants_apply(base.path)))
    for name, fragments in profiles.items() if do_build else ():
        stage("check", f"{name}: each commit compiles the objects it touches")
        t0 = time.monotonic()
        try:
            # The swapless profile also boots the commits that add tests.
            n = check_builds(git, fragments, log, f"series-check-{name}",
                             boot=load_profile(name) if name == "swapless" else None)
            info(f"{name}: {n} commits built in {time.monotonic() - t0:.0f} s")
            cases.append(case(f"each_commit_builds.{name}", []))
        except LabError as e:
            cases.append(case(f"each_commit_builds.{name}", [str(e)]))
    return cases
