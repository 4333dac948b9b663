# SPDX-License-Identifier: GPL-2.0
"""Each command takes only its own options."""

import contextlib
import io
import unittest

from lab.__main__ import _parser


def parse(*argv: str):  # type: ignore[no-untyped-def]
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            return _parser().parse_args(list(argv)), ""
        except SystemExit:
            return None, err.getvalue()


class CliTest(unittest.TestCase):
    def test_options_of_another_command_are_refused(self) -> None:
        for argv, word in ((("run", "--minutes", "5"), "--minutes"),
                           (("soak", "--icount"), "--icount"),
                           (("series", "--no-build"), "--no-build"),
                           (("build", "--timeout", "5"), "--timeout")):
            args, err = parse(*argv)
            self.assertIsNone(args, argv)
            self.assertIn(f"unrecognized arguments: {word}", err)

    def test_bad_values_are_refused(self) -> None:
        self.assertIn("must be positive", parse("run", "--timeout", "0")[1])
        self.assertIn("required: dir", parse("parse")[1])
        self.assertIn("invalid choice", parse("frobnicate")[1])

    def test_each_command_gets_its_options(self) -> None:
        args, _ = parse("soak", "--minutes", "3", "--profiles", "swap")
        self.assertEqual((args.command, args.minutes, args.profiles), ("soak", 3, "swap"))
        self.assertTrue(parse("soak", "--base")[0].base)
        args, _ = parse("series-check", "--no-build", "--author", "A B <a@b.org>")
        self.assertEqual((args.no_build, args.author), (True, "A B <a@b.org>"))
        args, _ = parse("mutants", "--quick", "--only", "a,b", "--timeout", "300")
        self.assertEqual((args.quick, args.only, args.timeout), (True, "a,b", 300.0))


if __name__ == "__main__":
    unittest.main()
