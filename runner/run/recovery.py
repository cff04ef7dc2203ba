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
budget is used up.  What is left is reported "not run", with the reason
(reconcile.py puts the reboots' results in place).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status
from kgen.runner.run.reconcile import RERUNNABLE, Boot, Rerun, recovered

# kunit.py prints the TimeoutExpired it caught when it kills a hung kernel.
_KUNIT_TIMEOUT = re.compile(r"timed out after [\d.]+ seconds")
MAX_REBOOTS = 8
# Kinds that mark where a boot died (a reboot gives reconcile.RERUNNABLE
# kinds a result).
_DEATHS = (ResultKind.CRASH, ResultKind.TIMEOUT, ResultKind.WEDGED)


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
                # As the log names it, like the parser's "crashed in".
                hung = f"{suite.name}.{case.label}"
    for case in [c for s in result.suites for c in s.cases] + result.errors:
        if case.kind == ResultKind.NOT_RUN and hung:
            case.message = f"not run: kernel hung in {hung}"
    if hung is None:
        result.errors.append(CaseResult(
            label="timeout", status=Status.ERROR, kind=ResultKind.TIMEOUT,
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
            if case.kind in RERUNNABLE and (suite.name, base) not in crashed \
                    and not base.startswith("#") and glob not in tried and glob not in globs:
                globs.append(glob)
    for error in result.errors:
        if error.kind == ResultKind.NOT_RUN and not error.name.startswith("#") \
                and error.name not in tried and error.name not in globs:
            globs.append(error.name)
    return globs


def recover(first: RunResult, boot_for: Callable[[str, int], RunResult],
            time_left: Callable[[], float] = lambda: float("inf")) -> Boot:
    """Boot again (boot_for(glob, boot_number) returns the reboot's share)
    until nothing selectable is left, a reboot dies where an earlier boot
    died, MAX_REBOOTS boots were spent, or time_left() reaches 0.

    Returns the boot with its reboots, and why recovery gave up if it did;
    what they add up to is reconcile's business (``recovered``).
    """
    boot = Boot(first)
    tried: set[str] = set()
    died = deaths(first)
    while targets := rerun_targets(recovered(boot), tried):
        for glob in targets:
            if len(boot.reruns) >= MAX_REBOOTS:
                return replace(boot, gave_up=f"recovery stopped after {MAX_REBOOTS} reboots")
            if time_left() <= 0:
                return replace(boot, gave_up="the run's --timeout was used up")
            tried.add(glob)
            number = len(boot.reruns) + 1
            rerun = Rerun(glob, number, boot_for(glob, number))
            again = sorted(deaths(rerun.result) & died)
            died |= deaths(rerun.result)
            boot = replace(boot, reruns=(*boot.reruns, rerun))
            if again:
                return replace(boot, gave_up="recovery stopped: a reboot died in "
                               f"{again[0][0]}.{again[0][1]} again")
    return boot
