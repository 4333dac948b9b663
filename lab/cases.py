# SPDX-License-Identifier: GPL-2.0
"""The lab's data model: every check of every stage ends as a Case with a
Status, counted by report and read by mutants, series and the CLI."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    XFAIL = "xfail"     # a known bug, seen as expected: does not fail the run


@dataclass
class Case:
    suite: str
    name: str
    status: Status
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        d = {"suite": self.suite, "name": self.name, "status": self.status.value}
        if self.reason:
            d["reason"] = self.reason
        return d
