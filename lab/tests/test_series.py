# SPDX-License-Identifier: GPL-2.0
"""The series plan: validation, Kconfig split, commit states, checkpatch triage,
and (when git is there) a whole series made and checked with git am on a fake base."""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from dataclasses import replace
from unittest import mock

from lab import mutants, series, series_check, tree
from lab.common import LabError

KCONFIG = """# SPDX-License-Identifier: GPL-2.0-only
# header

config A_TEST
\ttristate "a"
\thelp
\t  A.

config B_DEBUG
\tbool "b"
"""

PATCH = """--- a/mm/Makefile
+++ b/mm/Makefile
@@ -1,2 +1,3 @@
 obj-y += a.o
+obj-$(CONFIG_B_DEBUG) += b_debug.o
 obj-y += b.o
"""

BODY = "Context, problem and solution,\nin lines of at most 75 characters.\n"


def plan_text(commits: list[str]) -> str:
    return ('date = "2026-01-01T00:00:00+00:00"\n'
            'cover = "patches/cover.txt"\n[checkpatch]\nFILE_PATH_CHANGES = "MAINTAINERS comes last"\n'
            + "".join(commits))


def commit(subject: str, body: str = BODY, **keys: object) -> str:
    out = f'[[commit]]\nsubject = "{subject}"\n'
    for k, v in keys.items():
        if isinstance(v, bool):
            out += f"{k} = {'true' if v else 'false'}\n"
        else:
            out += f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]\n"  # type: ignore[union-attr]
    return out + f"body = '''\n{body}'''\n"


GOOD = [commit("mm: add b debug", files=["mm/b_debug.c"], kconfig=["B_DEBUG"],
               patches=["0001-b.patch"]),
        commit("mm/tests: add a test", files=["mm/tests"], kconfig=["A_TEST"]),
        commit("MAINTAINERS: add us", maintainers=True)]


class SeriesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        self.pristine = root / "base" / "linux"
        (self.pristine / "mm").mkdir(parents=True)
        (self.pristine / "mm/Makefile").write_text("obj-y += a.o\nobj-y += b.o\n")
        (self.pristine / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\n")
        (self.pristine / "MAINTAINERS").write_text(
            "Maintainers List (try to look for most precise areas first)\n\n"
            "MEMORY MANAGEMENT - CORE\nM:\tA\nS:\tMaintained\n\n"
            "ZZZ LAST\nM:\tZ\nS:\tMaintained\n")
        # A stand-in for the tree's get_maintainer.pl: who it names is its job.
        (self.pristine / "scripts").mkdir()
        (self.pristine / "scripts/get_maintainer.pl").write_text(
            'print "A Maint <a\\@m.org> (maintainer:MEMORY MANAGEMENT - CORE)\\n";\n'
            'print "Lab <lab\\@example.org> (maintainer:MEMORY MANAGEMENT - MIGRATION)\\n";\n'
            'print "R View <r\\@m.org> (reviewer:MEMORY MANAGEMENT - CORE)\\n";\n'
            'print "linux-mm\\@kvack.org (open list:MEMORY MANAGEMENT - CORE)\\n";\n')
        self.repo = root / "repo"
        (self.repo / "mm/tests").mkdir(parents=True)
        (self.repo / "patches").mkdir()
        (self.repo / "mm/b_debug.c").write_text("// b\n")
        (self.repo / "mm/tests/a_kunit.c").write_text("// a\n")
        (self.repo / "Kconfig.migration").write_text(KCONFIG)
        (self.repo / "MAINTAINERS").write_text("MEMORY MANAGEMENT - MIGRATION\nL:\tlinux-mm@kvack.org\nS:\tMaintained\n")
        (self.repo / "patches/0001-b.patch").write_text(PATCH)
        (self.repo / "patches/series").write_text("0001-b.patch\n")
        (self.repo / "patches/cover.txt").write_text(
            "the subject\nBase @KERNEL_VERSION@ (@DEBIAN_VERSION@).\n")
        self.base = tree.BaseTree(self.pristine, "6.12.117", "6.12.117-1")
        self.env = mock.patch.dict(os.environ, {"LAB_CACHE": str(root / "cache")})
        self.env.start()

    def tearDown(self) -> None:
        self.env.stop()
        self.tmp.cleanup()

    def plan(self, commits: list[str]) -> series.Plan:
        (self.repo / "patches/plan.toml").write_text(plan_text(commits))
        return series.load_plan(self.repo)

    def assert_rejected(self, commits: list[str], why: str) -> None:
        with self.assertRaises(LabError) as cm:
            self.plan(commits)
        self.assertIn(why, str(cm.exception))

    def test_kconfig_subset_keeps_header_and_order(self) -> None:
        text = series.kconfig_subset(KCONFIG, {"B_DEBUG"})
        self.assertTrue(text.startswith("# SPDX"))
        self.assertIn("config B_DEBUG", text)
        self.assertNotIn("config A_TEST", text)
        self.assertEqual(series.kconfig_subset(KCONFIG, {"A_TEST", "B_DEBUG"}), KCONFIG)
        self.assertIsNone(series.kconfig_subset(KCONFIG, set()))

    def test_good_plan_loads(self) -> None:
        p = self.plan(GOOD)
        self.assertEqual([c.subject for c in p.commits],
                         ["mm: add b debug", "mm/tests: add a test", "MAINTAINERS: add us"])
        self.assertEqual(p.justified, {"FILE_PATH_CHANGES": "MAINTAINERS comes last"})

    def test_file_in_no_commit(self) -> None:
        self.assert_rejected([GOOD[0], GOOD[2]], "mm/tests/a_kunit.c is in no commit")

    def test_file_in_two_commits(self) -> None:
        self.assert_rejected(GOOD + [commit("mm: again", files=["mm/b_debug.c"])],
                             "mm/b_debug.c is in commits 1 and 4")

    def test_symbol_twice_and_unknown(self) -> None:
        self.assert_rejected(GOOD + [commit("mm: more", kconfig=["A_TEST", "NOPE"])],
                             "Kconfig symbol A_TEST is in more than one commit")
        self.assert_rejected(GOOD + [commit("mm: more", kconfig=["NOPE"])],
                             "Kconfig symbol NOPE is not in Kconfig.migration")

    def test_patches_follow_series(self) -> None:
        (self.repo / "patches/0002-c.patch").write_text(PATCH)
        (self.repo / "patches/series").write_text("0001-b.patch\n0002-c.patch\n")
        self.assert_rejected(GOOD, "not patches/series in its order")

    def test_bad_subject_and_long_line(self) -> None:
        self.assert_rejected([commit("Add b", files=["mm/b_debug.c"], kconfig=["B_DEBUG"],
                                     patches=["0001-b.patch"])] + GOOD[1:],
                             "is not 'area: verb ...'")
        self.assert_rejected([commit("mm: add b", body="x" * 76 + "\n", files=["mm/b_debug.c"],
                                     kconfig=["B_DEBUG"], patches=["0001-b.patch"])] + GOOD[1:],
                             "body line 1 is longer than 75 characters")

    def test_maintainers_once(self) -> None:
        self.assert_rejected(GOOD[:2], "MAINTAINERS is in 0 commits")

    def test_states_grow_and_end_at_make_runs_tree(self) -> None:
        p = replace(self.plan(GOOD), author="Lab <lab@example.org>")
        states = series.commit_states(p, self.pristine, self.repo)
        self.assertEqual(len(states), 3)
        k1 = states[0]["mm/Kconfig.migration"][0].decode()
        self.assertIn("config B_DEBUG", k1)
        self.assertNotIn("config A_TEST", k1)
        self.assertNotIn("mm/tests/a_kunit.c", states[0])
        self.assertIn(b"b_debug.o", states[0]["mm/Makefile"][0])
        self.assertNotIn("MAINTAINERS", states[1])
        self.assertEqual(states[-1], tree.staged_contents(
            self.pristine, self.repo, section=lambda t: series.with_maintainer(t, p.author)))
        self.assertNotEqual(states[-1], tree.staged_contents(self.pristine, self.repo))

    def test_checkpatch_triage(self) -> None:
        out = ("WARNING:FILE_PATH_CHANGES: added, moved or deleted file(s)\n"
               "CHECK:LONG_LINE: line length of 101 exceeds 100 columns\n"
               "#12: FILE: mm/migrate.c:40:\n"
               "CHECK:OPEN_ENDED_LINE: Lines should not end with a '('\n"
               "#148: FILE: include/trace/events/migrate.h:159:\n"
               "CHECK:OPEN_ENDED_LINE: Lines should not end with a '('\n"
               "#150: FILE: mm/migrate.c:159:\n"
               "ERROR:FILE_PATH_CHANGES: not really\n"
               "total: 1 errors, 1 warnings, 1 checks, 10 lines checked\n")
        found = series_check.parse_checkpatch("0001.patch", out)
        self.assertEqual([(f.level, f.kind, f.file) for f in found],
                         [("WARNING", "FILE_PATH_CHANGES", ""), ("CHECK", "LONG_LINE", "mm/migrate.c"),
                          ("CHECK", "OPEN_ENDED_LINE", "include/trace/events/migrate.h"),
                          ("CHECK", "OPEN_ENDED_LINE", "mm/migrate.c"),
                          ("ERROR", "FILE_PATH_CHANGES", "")])
        bad = series_check.unjustified(found, {"FILE_PATH_CHANGES": "why",
                                         "OPEN_ENDED_LINE@include/trace/events/migrate.h": "why"})
        self.assertEqual([(f.level, f.kind, f.file) for f in bad],
                         [("CHECK", "LONG_LINE", "mm/migrate.c"),
                          ("CHECK", "OPEN_ENDED_LINE", "mm/migrate.c"),
                          ("ERROR", "FILE_PATH_CHANGES", "")])

    def test_cover_letter(self) -> None:
        p = self.plan(GOOD)
        text = series.cover_letter(p, self.base, "Subject: [PATCH 0/3] *** SUBJECT HERE ***\n\n"
                                   "*** BLURB HERE ***\n\nshortlog\n")
        self.assertIn("[PATCH 0/3] the subject", text)
        self.assertIn("Base 6.12.117 (6.12.117-1).", text)
        self.assertIn("- FILE_PATH_CHANGES: MAINTAINERS comes last", text)
        (self.repo / "patches/cover.txt").write_text("s\n@BENCH@\n")
        with self.assertRaisesRegex(LabError, "@BENCH@"):
            series.cover_letter(p, self.base, "*** SUBJECT HERE ***\n*** BLURB HERE ***\n")

    def test_new_functions_found_in_patches(self) -> None:
        p = self.repo / "patches/0009-f.patch"
        p.write_text("--- a/mm/migrate.c\n+++ b/mm/migrate.c\n@@ -1,1 +1,9 @@\n"
                     "+static int move_pages_fetch(struct w *w,\n"
                     "+void pmd_migration_entry_wait(struct mm_struct *mm, pmd_t *pmd);\n"
                     "+static const int table[] = { 1 };\n"
                     "+\tint inside(void) {\n"
                     "--- a/tools/testing/x.c\n+++ b/tools/testing/x.c\n@@ -1,1 +1,2 @@\n"
                     "+static int helper(void)\n")
        self.assertEqual(series_check.new_functions([p]), [("mm/migrate.c", "move_pages_fetch")])

    def test_kernel_doc_of_added_functions(self) -> None:
        # A function a patch adds needs a kernel-doc comment in the last tree,
        # unless a later patch removes it again (then there is none to check).
        with tempfile.TemporaryDirectory() as d:
            git, repo = Path(d) / "linux", Path(d) / "repo"
            (git / "mm").mkdir(parents=True)
            (git / "scripts").mkdir()
            (git / "scripts/kernel-doc").write_text("exit 0;\n")
            (git / "mm/migrate.c").write_text("int old(void);\n")
            env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b",
                   "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b"}
            for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"],
                        ["tag", "base"]):
                subprocess.run(["git", *cmd], cwd=git, env=env, check=True)
            (git / "mm/migrate.c").write_text(
                "int old(void);\n/**\n * kept - documented\n */\nstatic int kept(void)\n"
                "static int bare(void)\n")
            (repo / "patches").mkdir(parents=True)
            (repo / "patches/series").write_text("a.patch\nb.patch\n")
            (repo / "patches/a.patch").write_text(
                "--- a/mm/migrate.c\n+++ b/mm/migrate.c\n@@ -1,1 +1,4 @@\n"
                "+static int kept(void)\n+static int gone(void)\n+static int bare(void)\n")
            (repo / "patches/b.patch").write_text(
                "--- a/mm/migrate.c\n+++ b/mm/migrate.c\n@@ -1,4 +1,3 @@\n"
                "-static int gone(void)\n")
            warnings = series_check.check_kernel_doc(git, Path(d) / "log", repo)
        self.assertEqual(warnings, ["mm/migrate.c: bare() has no kernel-doc comment"])

    def test_touched_c_files_must_be_compiled(self) -> None:
        objs = series_check._objects(["mm/hmm.c", "mm/migrate.h", "Documentation/x.c",
                                "tools/testing/selftests/migration/a.c", "mm/migrate.c"])
        self.assertEqual(objs, ["mm/hmm.o", "mm/migrate.o"])
        bdir = self.repo / "bdir"
        (bdir / "mm").mkdir(parents=True)
        (bdir / "mm/migrate.o").write_text("")
        old = bdir / "mm/hmm.o"
        old.write_text("")
        os.utime(old, (1000, 1000))
        # hmm.o is stale (built before this commit), so is a file never built.
        self.assertEqual(series_check.unbuilt_objects(bdir, [*objs, "mm/x.o"], 2000),
                         ["mm/hmm.o", "mm/x.o"])

    def test_boot_commit(self) -> None:
        """A commit with only KUnit suites boots lab.kunit_only=1; a failing
        case at that commit fails the check, naming it."""
        from lab import guest, initramfs
        from lab.profile import load_profile
        data = Path(__file__).parent / "data"
        wt, out = Path(self.tmp.name) / "wt", Path(self.tmp.name) / "out"
        (wt / "mm/tests").mkdir(parents=True)
        calls = []

        def boot(image, initrd, profile, o, timeout, icount=False,  # type: ignore[no-untyped-def]
                 append=""):
            calls.append(append)
            console = o / "console.log"
            console.write_text((data / self.console).read_text())
            (o / "tap.log").write_text("")
            return guest.GuestRun(console, o / "tap.log", 0, False, 5.0, ())
        with mock.patch.object(guest, "boot", boot), \
                mock.patch.object(initramfs, "build_initramfs", return_value=out / "i"):
            self.console = "kunit-pass.log"
            series_check.boot_commit(7, "mm/tests: add", wt, wt, load_profile("swapless"), out, 60)
            self.assertEqual(calls, ["lab.kunit_only=1"])
            self.console = "kunit-fail.log"
            with self.assertRaisesRegex(LabError, "commit 7 .*its tests fail at that commit"
                                        "(.|\n)*migrate_entry_pte_round_trip"):
                series_check.boot_commit(7, "mm/tests: add", wt, wt, load_profile("swapless"), out,
                                   60)

    def test_project_words_found(self) -> None:
        d = Path(self.tmp.name)
        (d / "0001-a.patch").write_text("Subject: [PATCH] mm: x\n+ * seed the RNG\n"
                                        "+ * label, collaborate\n")
        (d / "0002-b.patch").write_text("As the lab's Mutants show,\nour series\n")
        found = series_check.project_words([d / "0001-a.patch", d / "0002-b.patch"])
        self.assertEqual([f.split(":")[:2] for f in found],
                         [["0002-b.patch", "1"], ["0002-b.patch", "2"]])
        self.assertIn('"lab"', found[0])

    def test_sender(self) -> None:
        self.assertEqual(series.sender(" A U Thor <a@example.org> "), "A U Thor <a@example.org>")
        for bad in ("a@example.org", "A U Thor", "<a@example.org>", "A <a>", "A <a@b> x"):
            with self.assertRaisesRegex(LabError, "not of the form"):
                series.sender(bad)

    def test_sender_from_git_config_or_refused(self) -> None:
        if not shutil.which("git"):
            self.skipTest("needs git")
        home = Path(self.tmp.name) / "home"
        home.mkdir()
        iso = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home),
               "GIT_CONFIG_GLOBAL": str(home / ".gitconfig")}
        with mock.patch.dict(os.environ, iso):
            with self.assertRaisesRegex(LabError, "git config user.name"):
                series.sender(None, self.repo)
            self.assertEqual(series.sender(None, self.repo, fallback="F <f@example.org>"),
                             "F <f@example.org>")
            (home / ".gitconfig").write_text("[user]\n\tname = Git User\n"
                                             "\temail = git@example.org\n")
            self.assertEqual(series.sender(None, self.repo), "Git User <git@example.org>")
            self.assertEqual(series.sender("X Y <x@example.org>", self.repo),
                             "X Y <x@example.org>")

    def test_plan_may_not_name_an_author(self) -> None:
        (self.repo / "patches/plan.toml").write_text('author = "A <a@b.org>"\n' + plan_text(GOOD))
        with self.assertRaisesRegex(LabError, "names an author"):
            series.load_plan(self.repo)

    def test_maintainers_line_comes_from_the_sender(self) -> None:
        section = "TITLE\nL:\tlinux-mm@kvack.org\nF:\tmm/x.c\n"
        self.assertEqual(series.with_maintainer(section, "A <a@b.org>"),
                         "TITLE\nM:\tA <a@b.org>\nL:\tlinux-mm@kvack.org\nF:\tmm/x.c\n")
        with self.assertRaisesRegex(LabError, "has an M: line"):
            series.with_maintainer("TITLE\nM:\tSomeone <s@b.org>\n", "A <a@b.org>")

    def test_drift_is_reported(self) -> None:
        (self.repo / "patches/plan.toml").write_text(
            'checked_on = "6.12.117-1"\n' + plan_text(GOOD))
        self.assertIsNone(series.drift_note("6.12.117-1", self.repo))
        note = series.drift_note("6.12.118-1", self.repo)
        self.assertIn("last checked on linux-source-6.12 6.12.117-1", note)
        self.assertIn("installed one is 6.12.118-1", note)

    @unittest.skipUnless(shutil.which("git"), "needs git")
    def test_series_made_and_applied_with_git_am(self) -> None:
        self.plan(GOOD)
        with mock.patch.object(tree, "base_tree", return_value=self.base):
            out = series.make_series(self.repo / "results", self.repo, "Lab <lab@example.org>")
        files = sorted(p.name for p in out.glob("*.patch"))
        self.assertEqual(len(files), 4)
        self.assertTrue(files[0].startswith("0000-cover-letter"))
        first = (out / files[1]).read_text()
        self.assertIn("Subject: [PATCH 1/3] mm: add b debug", first)
        self.assertIn("Signed-off-by: Lab <lab@example.org>", first)
        self.assertIn("+config B_DEBUG", first)
        self.assertNotIn("A_TEST", first)
        cover = (out / files[0]).read_text()
        self.assertIn("\nTo: A Maint <a@m.org>\nCc: R View <r@m.org>, linux-mm@kvack.org\n"
                      "Subject: [PATCH 0/3]", cover)
        self.assertEqual((out / "send-email.txt").read_text(),
                         "git send-email '--to=A Maint <a@m.org>' '--cc=R View <r@m.org>' "
                         f"--cc=linux-mm@kvack.org {out}/*.patch\n")
        maint = (out / files[3]).read_text()
        self.assertIn("+MEMORY MANAGEMENT - MIGRATION\n+M:\tLab <lab@example.org>\n"
                      "+L:\tlinux-mm@kvack.org\n", maint)
        plan = replace(series.load_plan(self.repo), author="Lab <lab@example.org>")
        git = series.base_repo(self.base, plan)
        patches = [out / f for f in files[1:]]
        series_check.check_am(git, patches, out / "am.log", series._git_env(plan))
        # A patch that no longer applies is named.
        broken = out / "9999-broken.patch"
        broken.write_text(first.replace("obj-y += a.o", "obj-y += z.o"))
        with self.assertRaisesRegex(LabError, "9999-broken.patch does not apply"):
            series_check.check_am(git, [broken], out / "am.log", series._git_env(plan))
        # Made twice, the series is the same, byte for byte.
        again = self.repo / "results2"
        with mock.patch.object(tree, "base_tree", return_value=self.base):
            out2 = series.make_series(again, self.repo, "Lab <lab@example.org>")
        for f in files:
            self.assertEqual((out / f).read_bytes(), (out2 / f).read_bytes(), f)
        # Another sender: the same patches but for who signs them and M:.
        other = self.repo / "results3"
        with mock.patch.object(tree, "base_tree", return_value=self.base):
            out3 = series.make_series(other, self.repo, "A U Thor <a@example.org>")
        for f in files[1:]:
            mine = (out / f).read_text().replace("Lab <lab@example.org>",
                                                 "A U Thor <a@example.org>")
            theirs = (out3 / f).read_text()

            def body(t: str) -> list[str]:
                return [ln for ln in t.splitlines() if not ln.startswith("index ")]
            self.assertEqual(body(theirs), body(mine), f)
            self.assertNotIn("Lab <lab@example.org>", theirs)
        subprocess.run(["git", "-C", str(git), "worktree", "prune"], check=False)


if __name__ == "__main__":
    unittest.main()
