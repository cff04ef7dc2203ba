"""One run's boots, reconciled into its RunResult in one place, once.

A run boots several times: the main boot, complaint boots (complaints.py),
guest-layout boots (guests.py), and after each of them the recovery boots
for what a crash or hang left (recovery.py).  Each boot is read on its own
(boots.py), each case with the TestId the plan gave it, cut down to its
share of the plan (``main_share``, ``complaint_share``: the cases the plan
gave it) and kept as it was read: nothing is merged while the run goes on.
``reconcile`` then builds the run's result from the boots, matching
results by TestId: a recovery boot's entry replaces the "not run" it was
booted for, complaint and guest-layout boots bring their own cases, and
every planned test that no boot reported gets a result that says why
(``NO_RESULT``, or "not run" after the case the kernel stopped in).

Every function here returns a new result: the boots it is given stay as
they were read, so recovery can ask what the boots so far add up to
(``recovered``) as often as it needs.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.run.plan import ComplaintBoot, GuestBoot, Plan
from kgen.spec.model import Spec

# Kinds a recovery boot can give a result: never started, waited for a dead
# case's lock, or ran while bad_page() printed nothing (a fresh boot can).
RERUNNABLE = (ResultKind.NOT_RUN, ResultKind.BLOCKED, ResultKind.MUTED)


@dataclass(frozen=True)
class Rerun:
    """A recovery boot: what it was booted for, and its share as read."""

    glob: str            # kunit.py's filter_glob, "suite" or "suite.case"
    number: int          # 1, 2 ... among its boot's recovery boots
    result: RunResult


@dataclass(frozen=True)
class Boot:
    """One boot's share of the plan, as read, and its recovery boots."""

    result: RunResult
    reruns: tuple[Rerun, ...] = ()
    # Why recovery stopped with something still waiting for a reboot;
    # "" when nothing was left.
    gave_up: str = ""


@dataclass(frozen=True)
class ComplaintBooted:
    boot: ComplaintBoot
    booted: Boot | None           # None: the run's --timeout ran out first


@dataclass(frozen=True)
class GuestBooted:
    guest: GuestBoot
    layout: str                   # the layout as one line (guests.layout)
    booted: Boot                  # or the error that kept it from booting


@dataclass(frozen=True)
class Boots:
    """Everything a run booted (and the suites that did not compile)."""

    main: Boot | None = None      # None: every suite boots in a guest layout
    complaints: tuple[ComplaintBooted, ...] = ()
    guests: tuple[GuestBooted, ...] = ()
    uncompiled: tuple[SuiteResult, ...] = ()


# ---- a boot's share ------------------------------------------------------

def _split(result: RunResult, mine, boot: str) -> RunResult:
    """result with only the entries mine(suite, case function) accepts.

    Boots are told apart by whole case (the C tests the boot per case), so
    this matches the case part of each result's TestId.

    The rest are the skips kgen_boot_require() printed for cases that run
    in another boot, or cases a crash kept from starting, which that boot
    runs anyway.  One that is neither (a splat landed in it) is kept as a
    run-level error, so nothing the kernel said is lost.
    """
    result = copy.deepcopy(result)
    for suite in result.suites:
        kept = []
        for case in suite.cases:
            if mine(suite.name, case.function):
                kept.append(case)
            elif case.status is not Status.SKIPPED and case.kind != ResultKind.NOT_RUN:
                # A run-level error now, named after the test as the boot
                # read it ("case/#N" for a parameter the log never named).
                result.errors.append(replace(
                    case, label=f"{suite.name}.{case.label} (in {boot})", test=None,
                    suite=suite.name))
        suite.cases = kept
    return result


def main_share(result: RunResult, plan: Plan) -> RunResult:
    """The main boot without what other boots run: guest-layout suites (they
    only skip there, and must never cost a recovery reboot) and the cases
    that complain on purpose (complaint boots run them)."""
    guests = {g.suite for g in plan.guest_boots}
    result = copy.deepcopy(result)
    result.suites = [s for s in result.suites if s.name not in guests]
    result.errors = [e for e in result.errors
                     if not (e.kind == ResultKind.NOT_RUN and e.name in guests)]
    theirs = {(c.suite, c.function) for c in plan.boots()}
    return _split(result, lambda suite, function: (suite, function) not in theirs,
                  "the main boot")


def complaint_share(result: RunResult, boot: ComplaintBoot) -> RunResult:
    """A complaint boot's result reduced to its own cases.

    Everything else skipped there; suites that never started but hold none
    of its cases are not its business either.
    """
    mine = {(c.suite, c.function) for c in boot.cases}
    result = _split(result, lambda suite, function: (suite, function) in mine,
                    f"complaint boot {boot.number}")
    suites = set(boot.suites)
    result.suites = [s for s in result.suites if s.name in suites]
    result.errors = [e for e in result.errors
                     if not (e.kind == ResultKind.NOT_RUN and e.name not in suites)]
    return result


# ---- one boot and its recovery boots ------------------------------------

def _take_rerun(result: RunResult, rerun: Rerun) -> None:
    """Replace the waiting entries rerun.glob covers with what it found."""
    suite_name, _, case_name = rerun.glob.partition(".")
    for new_suite in rerun.result.suites:
        if new_suite.name != suite_name:
            continue
        for case in new_suite.cases:
            case.log.insert(0, f"kgen: result from rerun boot {rerun.number} ({rerun.glob})")
        old = next((s for s in result.suites if s.name == suite_name), None)
        if old is None:
            result.suites.append(new_suite)
            result.errors = [e for e in result.errors
                             if not (e.kind == ResultKind.NOT_RUN and e.name == suite_name)]
            continue
        fresh = {c.key: c for c in new_suite.cases
                 if not case_name or c.function == case_name}
        for i, case in enumerate(old.cases):
            if case.kind in RERUNNABLE and case.key in fresh:
                old.cases[i] = fresh.pop(case.key)
        # Parameters the first boot never reached take the rest, and its
        # waiting entries of that case go (the bare case a crash kept from
        # starting, one the plan lacks); parameters it has a result for
        # already (a muted case's passed ones before the 60th report) keep it.
        have = {c.key for c in old.cases}
        leftovers = [c for c in fresh.values() if c.key not in have]
        old.cases = [c for c in old.cases
                     if not (c.kind in RERUNNABLE and case_name and
                             c.function == case_name and leftovers)]
        old.cases += leftovers
    result.errors += [e for e in rerun.result.errors if e.kind != ResultKind.NOT_RUN]


def _give_up(result: RunResult, why: str) -> None:
    """Everything still waiting for a reboot is reported not run, with why."""
    for case in result.all_cases():
        if case.kind in RERUNNABLE:
            if case.kind == ResultKind.MUTED:
                case.message += f"; no fresh boot for it: {why}"
                continue
            case.message = f"not run: {why}" + (
                f" (was: {case.message})" if case.kind == ResultKind.BLOCKED else "")
            case.kind = ResultKind.NOT_RUN


def recovered(boot: Boot) -> RunResult:
    """A boot's share with its recovery boots' results in place."""
    result = copy.deepcopy(boot.result)
    for rerun in copy.deepcopy(boot.reruns):
        _take_rerun(result, rerun)
    if boot.gave_up:
        _give_up(result, boot.gave_up)
    return result


# ---- the run ------------------------------------------------------------

def _add_complaint_boot(result: RunResult, booted: RunResult, boot: ComplaintBoot) -> None:
    """A complaint boot's cases join their suites; its errors say which boot."""
    by_name = {s.name: s for s in result.suites}
    for suite in booted.suites:
        for case in suite.cases:
            case.log.insert(0, f"kgen: result from complaint boot {boot.number}")
        if suite.name in by_name:
            by_name[suite.name].cases += suite.cases
        else:
            result.suites.append(suite)
    for error in booted.errors:
        # Run-level errors have no TestId: their label is their name.
        error.label = f"complaint boot {boot.number}: {error.name}"
        result.errors.append(error)


def _complaint_boot_not_run(boot: ComplaintBoot) -> CaseResult:
    return CaseResult(f"complaint boot {boot.number}", Status.ERROR, kind=ResultKind.NOT_RUN,
                      message="not run: the run's --timeout was used up before this "
                      f"complaint boot ({', '.join(c.function for c in boot.cases)})")


def _add_guest_boot(result: RunResult, booted: RunResult, guest: GuestBooted) -> None:
    """The suite's results come from the boot in its own guest layout.

    The main boot also ran it, but there every case skipped with "runs only
    in a boot with guest layout ..."; those placeholders go.  Problems of
    the guest boot (crash, timeout, missing TAP) are kept, named after the
    layout's suite.
    """
    suite_name = guest.guest.suite
    result.suites = [s for s in result.suites if s.name != suite_name]
    for suite in booted.suites:
        if suite.name == suite_name:
            suite.properties["guest"] = guest.layout
            result.suites.append(suite)
    for error in booted.errors:
        error.label = f"{suite_name}: {error.name}"
        error.suite = suite_name
        result.errors.append(error)


def reconcile(plan: Plan, specs: list[Spec], boots: Boots) -> RunResult:
    """The run's result: every boot's share, recovery boots in place, then
    a result for every planned test, in plan order."""
    result = recovered(boots.main) if boots.main else RunResult()
    for complaint in boots.complaints:
        if complaint.booted is None:
            result.errors.append(_complaint_boot_not_run(complaint.boot))
        else:
            _add_complaint_boot(result, recovered(complaint.booted), complaint.boot)
    for guest in boots.guests:
        _add_guest_boot(result, recovered(guest.booted), guest)
    result.suites += copy.deepcopy(list(boots.uncompiled))
    _report_unreported_cases(result, plan)
    _report_missing_suites(specs, result)
    return result


NO_RESULT = "no result: the kernel never printed a result line for this case"
# Kinds that say a suite's output was cut short: what is missing after them
# did not run, it did not vanish.
_CUT_SHORT = (ResultKind.CRASH, ResultKind.TIMEOUT, ResultKind.WEDGED,
              ResultKind.BLOCKED, ResultKind.NOT_RUN)


def _report_unreported_cases(result: RunResult, plan: Plan) -> None:
    """Every planned test of a suite that reported gets a result.

    In a suite whose output was cut short (a crash, a hang, kgen stopping
    the boot, the run's budget running out), what is missing never ran:
    "not run", with the reason.  KUnit prints no plan for a case's
    parameters, so those after a crash leave no trace at all.  In a suite
    that ran to its end, a planned case or parameter without a result line
    is an error of its own ("no result"): the kernel skipped it or lost its
    line, and a suite that quietly reports less than was planned must not
    pass.
    """
    by_suite = {s.name: s for s in result.suites}
    reported = {c.test for s in result.suites for c in s.cases}
    for planned in plan.cases:
        suite = by_suite.get(planned.suite)
        if suite is None or planned.id in reported:
            continue
        cut = next((c for c in suite.cases if c.kind in _CUT_SHORT), None)
        if cut is None:
            suite.cases.append(CaseResult.of(planned.id, Status.ERROR,
                                             kind=ResultKind.NO_RESULT, message=NO_RESULT))
        elif cut.kind == ResultKind.NOT_RUN:
            suite.cases.append(CaseResult.of(planned.id, Status.ERROR,
                                             kind=ResultKind.NOT_RUN, message=cut.message))
        else:
            suite.cases.append(CaseResult.of(
                planned.id, Status.ERROR, kind=ResultKind.NOT_RUN,
                message=f"not run: the kernel stopped in {suite.name}.{cut.name}"))
    # Plan order.  What the plan lacks ("(suite)", a case it never
    # generated) sorts at the suite's count of planned tests, against plan
    # positions, as it always has: after them in the plan's first suite,
    # before or among them in later ones.
    for suite in result.suites:
        order = {c.id: i for i, c in enumerate(plan.cases) if c.suite == suite.name}
        suite.cases.sort(key=lambda c: order.get(c.test, len(order)))


def _report_missing_suites(specs: list[Spec], result: RunResult) -> None:
    """A generated suite that never reported is an error, never silence."""
    seen = {s.name for s in result.suites}
    for spec in specs:
        # A guest boot's own errors belong to its suite and say why.
        explained = any(e.kind == ResultKind.BOOT or e.suite == spec.suite
                        for e in result.errors)
        if spec.suite not in seen and not explained:
            result.errors.append(CaseResult(
                label=spec.suite, status=Status.ERROR, kind=ResultKind.NOT_RUN,
                message=f"suite {spec.suite} ({spec.path}) produced no results"))
