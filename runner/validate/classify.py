"""Compare results across the steps of a series: base, patch 1, patch 2 ...

Per case and step a status: pass, fail, error, skip, absent (no result), or
flaky (the step's repeated runs disagreed).  Between a step and the one
before it a case can change as:

- regression: pass -> fail or error;
- skipped: a case that ran (pass, fail, error) -> skip.  A patch that makes
  kgen's probes miss an API (a changed signature, say) turns its cases into
  skips; that is lost coverage, not a pass;
- no-result: a case that ran -> absent;
- flaky: the case's repeated runs at this step disagree, so its result
  there proves nothing;
- fixed (fail or error -> pass), new (absent -> present) and missing
  (skip -> absent), which are informational.

Regressions always fail a validation.  Skipped, no-result and flaky fail
it too unless the user allows them (``Allowed``): a series must not pass by
losing coverage.  A case failing at every step is a persistent failure.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kgen.runner.results.model import CaseResult, RunResult, Status

# A counter or taint mismatch the case's repeat did not show (kgen_confirm.c).
UNCONFIRMED = "unconfirmed"
_SHORT = {Status.PASSED: "pass", Status.FAILED: "fail", Status.ERROR: "error",
          Status.SKIPPED: "skip", Status.UNCONFIRMED: UNCONFIRMED}
# A known issue (spec `known_issue:`) that failed as declared is still a
# failure here, and one that passed is a pass: a patch that makes a known
# issue pass fixed it, one that makes it fail again regressed it.
KNOWN_FAIL, KNOWN_PASS = "known-fail", "known-pass"
BAD = {"fail", "error", KNOWN_FAIL}
GOOD = {"pass", KNOWN_PASS}
RAN = GOOD | BAD
ABSENT = "absent"
FLAKY = "flaky"

# The change kinds that fail a validation (besides flaky cases), and the
# option that accepts each (None: nothing accepts a regression).
REGRESSION, SKIPPED, NO_RESULT = "regression", "skipped", "no-result"
ALLOW_OPTION = {REGRESSION: None, SKIPPED: "--allow-skips",
                NO_RESULT: "--allow-missing", FLAKY: "--allow-flaky"}


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


def merge_repeats(runs: list[dict[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """One status per case for a step run several times.

    Returns (case -> status, case -> the status of each run for the cases
    whose runs disagreed; their merged status is "flaky").  A case that has
    a result in one run and none in another is flaky too.
    """
    merged: dict[str, str] = {}
    flaky: dict[str, list[str]] = {}
    for name in sorted(set().union(*runs)):
        seen = [run.get(name, ABSENT) for run in runs]
        if set(seen) == {"pass", UNCONFIRMED}:
            # A counter mismatch the case's own repeat did not show: noise
            # in one run, not a disagreement between runs.
            merged[name] = UNCONFIRMED
            continue
        if len(set(seen)) > 1:
            flaky[name] = seen
            merged[name] = FLAKY
        else:
            merged[name] = seen[0]
    return merged, flaky


@dataclass
class Change:
    case: str
    kind: str          # regression | skipped | no-result | fixed | new | missing
    before: str
    after: str

    @property
    def arrow(self) -> str:
        return f"{self.before} → {'no result' if self.after == ABSENT else self.after}"


@dataclass(frozen=True)
class Allowed:
    """Which kinds of lost coverage the user accepts (--allow-*)."""

    skips: bool = False      # --allow-skips: ran -> skip
    missing: bool = False    # --allow-missing: ran -> no result
    flaky: bool = False      # --allow-flaky: repeated runs disagree

    def allows(self, kind: str) -> bool:
        return {SKIPPED: self.skips, NO_RESULT: self.missing,
                FLAKY: self.flaky}.get(kind, False)


@dataclass
class Classification:
    steps: list[str]
    table: dict[str, list[str]]                 # case -> status per step
    changes: list[list[Change]] = field(default_factory=list)   # per step (0: base)
    persistent: list[str] = field(default_factory=list)
    # Per step: case -> the status of each repeated run, for flaky cases.
    flaky: list[dict[str, list[str]]] = field(default_factory=list)

    def of_kind(self, step: int, kind: str) -> list[Change]:
        return [c for c in self.changes[step] if c.kind == kind]

    def regressions(self, step: int) -> list[Change]:
        return self.of_kind(step, REGRESSION)

    def problems(self, step: int) -> dict[str, list[str]]:
        """Kind -> cases, for every kind that can fail a validation, at a step
        (flaky counts at the base too: a base that disagrees with itself
        cannot vouch for the steps after it)."""
        out: dict[str, list[str]] = {}
        if step:
            for kind in (REGRESSION, SKIPPED, NO_RESULT):
                cases = [c.case for c in self.of_kind(step, kind)]
                if cases:
                    out[kind] = cases
        if step < len(self.flaky) and self.flaky[step]:
            out[FLAKY] = sorted(self.flaky[step])
        return out

    def blocking(self, allowed: Allowed) -> dict[str, int]:
        """Kind -> number of cases, over all steps, that fail the validation."""
        out: dict[str, int] = {}
        for step in range(len(self.steps)):
            for kind, cases in self.problems(step).items():
                if not allowed.allows(kind):
                    out[kind] = out.get(kind, 0) + len(cases)
        return out


def _change(name: str, before: str, after: str) -> Change | None:
    if before == after or FLAKY in (before, after):
        return None
    if before in GOOD and after in BAD:
        kind = REGRESSION
    elif before in RAN and after == "skip":
        kind = SKIPPED
    elif before in RAN and after == ABSENT:
        kind = NO_RESULT
    elif before in BAD and after in GOOD:
        kind = "fixed"
    elif before == ABSENT:
        kind = "new"
    elif after == ABSENT:
        kind = "missing"
    else:
        return None       # skip -> pass/fail, fail <-> error: the table shows them
    return Change(name, kind, before, after)


def classify(steps: list[str], per_step: list[dict[str, str] | None],
             flaky: list[dict[str, list[str]]] | None = None) -> Classification:
    """per_step[i] is None when step i did not run (apply/build failed);
    flaky[i] holds step i's flaky cases (merge_repeats)."""
    names = sorted(set().union(*[s for s in per_step if s]))
    table = {n: [(s.get(n, ABSENT) if s is not None else "not-run") for s in per_step]
             for n in names}
    flaky = list(flaky or [])
    flaky += [{} for _ in range(len(steps) - len(flaky))]
    result = Classification(steps=steps, table=table, changes=[[]], flaky=flaky)
    ran = [i for i, s in enumerate(per_step) if s is not None]
    for i in range(1, len(steps)):
        changes: list[Change] = []
        if per_step[i] is not None:
            for name in names:
                # Against the case's last result that was not flaky: a
                # flaky step in between must not hide a pass -> fail.
                before = next((table[name][j] for j in reversed(ran)
                               if j < i and table[name][j] != FLAKY), None)
                change = before and _change(name, before, table[name][i])
                if change:
                    changes.append(change)
        result.changes.append(changes)
    result.persistent = [n for n in names
                         if all(table[n][i] in BAD for i in ran) and ran]
    return result
