"""Compare results across the steps of a series: base, patch 1, patch 2 ...

Per case and step a status: pass, fail, error, skip, or absent.  Between a
step and the one before it a case can be a regression (pass -> fail or
error), fixed (fail or error -> pass), new (absent -> present) or missing
(present -> absent).  A case failing at every step is a persistent
failure; one whose repeated runs of the same step disagree is unstable and
never counted as a regression.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kgen.runner.results.model import CaseResult, RunResult, Status

_SHORT = {Status.PASSED: "pass", Status.FAILED: "fail", Status.ERROR: "error",
          Status.SKIPPED: "skip"}
# A known issue (spec `known_issue:`) that failed as declared is still a
# failure here, and one that passed is a pass: a patch that makes a known
# issue pass fixed it, one that makes it fail again regressed it.
KNOWN_FAIL, KNOWN_PASS = "known-fail", "known-pass"
BAD = {"fail", "error", KNOWN_FAIL}
GOOD = {"pass", KNOWN_PASS}


def _short(case: CaseResult) -> str:
    if case.known_failure:
        return KNOWN_FAIL
    if case.known_pass:
        return KNOWN_PASS
    return _SHORT[case.status]


def statuses(result: RunResult) -> dict[str, str]:
    """'suite.case' -> short status."""
    out = {f"{s.name}.{c.name}": _short(c) for s in result.suites for c in s.cases}
    out.update({f"kgen.{e.name}": "error" for e in result.errors})
    return out


def merge_repeats(runs: list[dict[str, str]]) -> tuple[dict[str, str], set[str]]:
    """One status per case for a step run several times, plus the unstable."""
    merged: dict[str, str] = {}
    unstable: set[str] = set()
    for name in sorted(set().union(*runs)):
        seen = {run.get(name, "absent") for run in runs}
        if len(seen) > 1:
            unstable.add(name)
            merged[name] = "unstable"
        else:
            merged[name] = seen.pop()
    return merged, unstable


@dataclass
class Change:
    case: str
    kind: str          # regression | fixed | new | missing
    before: str
    after: str


@dataclass
class Classification:
    steps: list[str]
    table: dict[str, list[str]]                 # case -> status per step
    changes: list[list[Change]] = field(default_factory=list)   # per step (0: base)
    persistent: list[str] = field(default_factory=list)
    unstable: set[str] = field(default_factory=set)

    def regressions(self, step: int) -> list[Change]:
        return [c for c in self.changes[step] if c.kind == "regression"]


def classify(steps: list[str], per_step: list[dict[str, str] | None],
             unstable: set[str] | None = None) -> Classification:
    """per_step[i] is None when step i did not run (apply/build failed)."""
    names = sorted(set().union(*[s for s in per_step if s]))
    table = {n: [(s.get(n, "absent") if s is not None else "not-run") for s in per_step]
             for n in names}
    result = Classification(steps=steps, table=table, changes=[[]],
                            unstable=set(unstable or ()))
    ran = [i for i, s in enumerate(per_step) if s is not None]
    for i in range(1, len(steps)):
        changes: list[Change] = []
        prev = max((j for j in ran if j < i), default=None)
        if per_step[i] is not None and prev is not None:
            for name in names:
                before, after = table[name][prev], table[name][i]
                if "unstable" in (before, after) or name in result.unstable:
                    continue
                if before in GOOD and after in BAD:
                    changes.append(Change(name, "regression", before, after))
                elif before in BAD and after in GOOD:
                    changes.append(Change(name, "fixed", before, after))
                elif before == "absent" and after != "absent":
                    changes.append(Change(name, "new", before, after))
                elif before != "absent" and after == "absent":
                    changes.append(Change(name, "missing", before, after))
        result.changes.append(changes)
    result.persistent = [n for n in names
                         if all(table[n][i] in BAD for i in ran) and ran]
    return result
