"""After a crash or hang, boot again for what never ran.

One crashing case must not hide the rest of the run.  kunit.py can only
filter by suite or by case (kunit.filter_glob), so kgen boots once per
suite that never started and once per case of the crashed suite that never
ran (or that was blocked behind a lock the crashed case held).  Parameters
of the crashed case itself cannot be selected one by one; they stay
reported as not run.

A case that ran while bad_page() was silent (kind "muted", see
kgen.runner.results.ratelimit) is booted again the same way: a fresh
kernel prints every report again.

Recovery is bounded three ways: at most MAX_REBOOTS boots; it stops when a
reboot dies in a case that already died in an earlier boot (the same bug
again: booting on would only repeat it); and it stops when the run's time
budget is used up.  What is left is reported "not run", with the reason.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status

# kunit.py prints the TimeoutExpired it caught when it kills a hung kernel.
_KUNIT_TIMEOUT = re.compile(r"timed out after [\d.]+ seconds")
MAX_REBOOTS = 8
# Kinds that mark where a boot died, and kinds a reboot can give a result.
_DEATHS = (ResultKind.CRASH, ResultKind.TIMEOUT, ResultKind.WEDGED)
# A muted case ran, but bad_page() could not report for it: a fresh boot can.
_RERUNNABLE = (ResultKind.NOT_RUN, ResultKind.BLOCKED, ResultKind.MUTED)


def mark_timeout(result: RunResult, console: list[str], limit: int) -> bool:
    """Turn "crash" into "timeout" when kunit.py killed a hung kernel."""
    if not any(_KUNIT_TIMEOUT.search(line) for line in console[-20:]):
        return False
    hung = None
    for suite in result.suites:
        for case in suite.cases:
            if case.kind == ResultKind.CRASH:
                case.kind = ResultKind.TIMEOUT
                case.message = (f"hung: no result within the {limit}s limit "
                                f"(kunit.py --timeout); {case.message}")
                hung = f"{suite.name}.{case.name}"
    for case in [c for s in result.suites for c in s.cases] + result.errors:
        if case.kind == ResultKind.NOT_RUN and hung:
            case.message = f"not run: kernel hung in {hung}"
    if hung is None:
        result.errors.append(CaseResult(
            name="timeout", status=Status.ERROR, kind=ResultKind.TIMEOUT,
            message=f"kernel did not finish within {limit}s", log=console[-60:]))
    return True


def deaths(result: RunResult) -> set[tuple[str, str]]:
    """(suite, case function) of every case a boot died in."""
    return {(s.name, c.function) for s in result.suites for c in s.cases
            if c.kind in _DEATHS}


def rerun_targets(result: RunResult, tried: set[str]) -> list[str]:
    """filter_globs for what never ran and can be selected."""
    crashed = deaths(result)
    globs: list[str] = []
    for suite in result.suites:
        for case in suite.cases:
            base = case.function
            glob = f"{suite.name}.{base}"
            if case.kind in _RERUNNABLE and (suite.name, base) not in crashed \
                    and not base.startswith("#") and glob not in tried and glob not in globs:
                globs.append(glob)
    for error in result.errors:
        if error.kind == ResultKind.NOT_RUN and not error.name.startswith("#") \
                and error.name not in tried and error.name not in globs:
            globs.append(error.name)
    return globs


def merge(result: RunResult, rerun: RunResult, glob: str, boot: int) -> None:
    """Replace the not-run entries glob covers with what the rerun found."""
    suite_name, _, case_name = glob.partition(".")
    for new_suite in rerun.suites:
        if new_suite.name != suite_name:
            continue
        for case in new_suite.cases:
            case.log.insert(0, f"kgen: result from rerun boot {boot} ({glob})")
        old = next((s for s in result.suites if s.name == suite_name), None)
        if old is None:
            result.suites.append(new_suite)
            result.errors = [e for e in result.errors
                             if not (e.kind == ResultKind.NOT_RUN and e.name == suite_name)]
            continue
        fresh = {c.name: c for c in new_suite.cases
                 if not case_name or c.function == case_name}
        for i, case in enumerate(old.cases):
            if case.kind in _RERUNNABLE and case.name in fresh:
                old.cases[i] = fresh.pop(case.name)
        # Parameters the first boot never named ("case/#4") take the rest;
        # those it has a result for already (a muted case's passed
        # parameters before the 60th report) keep it.
        have = {c.name for c in old.cases}
        leftovers = [c for c in fresh.values() if c.name not in have]
        old.cases = [c for c in old.cases
                     if not (c.kind in _RERUNNABLE and case_name and
                             c.function == case_name and leftovers)]
        old.cases += leftovers
    result.errors += [e for e in rerun.errors if e.kind != ResultKind.NOT_RUN]


def give_up(result: RunResult, why: str) -> None:
    """Everything still waiting for a reboot is reported not run, with why."""
    for case in [c for s in result.suites for c in s.cases] + result.errors:
        if case.kind in _RERUNNABLE:
            if case.kind == ResultKind.MUTED:
                case.message += f"; no fresh boot for it: {why}"
                continue
            case.message = f"not run: {why}" + (
                f" (was: {case.message})" if case.kind == ResultKind.BLOCKED else "")
            case.kind = ResultKind.NOT_RUN


def recover(result: RunResult, boot_for: Callable[[str, int], RunResult],
            time_left: Callable[[], float] = lambda: float("inf")) -> int:
    """Boot again (boot_for(glob, boot_number)) until nothing selectable is
    left, a reboot dies where an earlier boot died, MAX_REBOOTS boots were
    spent, or time_left() reaches 0.  Returns the number of reboots."""
    tried: set[str] = set()
    died = deaths(result)
    boots = 0
    while targets := rerun_targets(result, tried):
        for glob in targets:
            if boots >= MAX_REBOOTS:
                give_up(result, f"recovery stopped after {MAX_REBOOTS} reboots")
                return boots
            if time_left() <= 0:
                give_up(result, "the run's --timeout was used up")
                return boots
            boots += 1
            tried.add(glob)
            rerun = boot_for(glob, boots)
            again = sorted(deaths(rerun) & died)
            died |= deaths(rerun)
            merge(result, rerun, glob, boots)
            if again:
                give_up(result, "recovery stopped: a reboot died in "
                        f"{again[0][0]}.{again[0][1]} again")
                return boots
    return boots
