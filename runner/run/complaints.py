"""Complaint boots: the cases that make the kernel complain on purpose.

A bad page sets TAINT_BAD_PAGE for the rest of the boot and spends part of
bad_page()'s 60 reports a minute; a misuse WARNs.  Run among the other
cases, that would blind their taint checks and, after a burst, their
console.  So these cases (Case.complains) skip in the main boot and run in
complaint boots of their own, after it (kgen.runner.run.plan.ComplaintBoot
packs them; kgen_boot_require() in the helper library does the skipping).

Each boot is read with the same parser and checks as the main boot; its
results replace the placeholders.  A boot costs one more kernel start: on
warm UML about 2 s, on arm64 or x86_64 under TCG the boot itself (see the
README's cost table).
"""
from __future__ import annotations

from collections.abc import Callable

from kgen.runner.results.model import ResultKind, RunResult, Status
from kgen.runner.run import recovery
from kgen.runner.run.boots import BootArgs, Booter, error_result
from kgen.runner.run.plan import ComplaintBoot, Plan


def _split(result: RunResult, mine: Callable[[str, str], bool], boot: str) -> None:
    """Keep the entries mine(suite, case function) accepts; drop the rest.

    The rest are the skips kgen_boot_require() printed for cases that run
    in another boot, or cases a crash kept from starting, which that boot
    runs anyway.  One that is neither (a splat landed in it) is kept as a
    run-level error, so nothing the kernel said is lost.
    """
    for suite in result.suites:
        kept = []
        for case in suite.cases:
            if mine(suite.name, case.function):
                kept.append(case)
            elif case.status is not Status.SKIPPED and case.kind != ResultKind.NOT_RUN:
                case.name = f"{suite.name}.{case.name} (in {boot})"
                case.suite = suite.name
                result.errors.append(case)
        suite.cases = kept


def set_aside(result: RunResult, plan: Plan) -> None:
    """The main boot's result without the cases of the complaint boots."""
    theirs = {(c.suite, c.function) for c in plan.boots()}
    _split(result, lambda suite, function: (suite, function) not in theirs, "the main boot")


def keep_only(result: RunResult, boot: ComplaintBoot) -> None:
    """A complaint boot's result reduced to its own cases.

    Everything else skipped there; suites that never started but hold none
    of its cases are not its business either.
    """
    mine = {(c.suite, c.function) for c in boot.cases}
    _split(result, lambda suite, function: (suite, function) in mine,
           f"complaint boot {boot.number}")
    suites = set(boot.suites)
    result.suites = [s for s in result.suites if s.name in suites]
    result.errors = [e for e in result.errors
                     if not (e.kind == ResultKind.NOT_RUN and e.name not in suites)]


def merge(result: RunResult, booted: RunResult, boot: ComplaintBoot) -> None:
    """Put a complaint boot's cases and errors into the run's result."""
    by_name = {s.name: s for s in result.suites}
    for suite in booted.suites:
        for case in suite.cases:
            case.log.insert(0, f"kgen: result from complaint boot {boot.number}")
        if suite.name in by_name:
            by_name[suite.name].cases += suite.cases
        else:
            result.suites.append(suite)
    for error in booted.errors:
        error.name = f"complaint boot {boot.number}: {error.name}"
        result.errors.append(error)


def boot_complaints(booter: Booter, boots: list[ComplaintBoot], result: RunResult,
                    props: dict[str, str]) -> None:
    """Boot each complaint boot in turn, with recovery, and merge it."""
    log = booter.session.config.log
    for boot in boots:
        if booter.time_left() <= 0:
            result.errors.append(error_result(
                f"complaint boot {boot.number}", ResultKind.NOT_RUN,
                "not run: the run's --timeout was used up before this complaint boot "
                f"({', '.join(c.function for c in boot.cases)})", []))
            continue
        names = ", ".join(c.function for c in boot.cases)
        log(f"kgen: complaint boot {boot.number}: {names} "
            f"({boot.bad_pages} bad-page report(s) expected)")
        stem = f"console.complaints{boot.number}"

        def again(glob: str, rerun: int, stem=stem, boot=boot) -> RunResult:
            log(f"kgen: booting again for {glob} in complaint boot {boot.number} "
                "(not run after a crash or hang, or muted)")
            rerun_result = booter.boot(BootArgs(f"{stem}.rerun{rerun}.log", glob,
                                                boot.kernel_args))
            keep_only(rerun_result, boot)
            return rerun_result

        started = booter.seconds
        booted = booter.boot(BootArgs(f"{stem}.log", boot.glob, boot.kernel_args))
        keep_only(booted, boot)
        reboots = recovery.recover(booted, again, booter.time_left)
        merge(result, booted, boot)
        seconds = booter.seconds - started
        log(f"kgen: complaint boot {boot.number} took {seconds:.1f}s")
        props[f"complaint_boot.{boot.number}"] = names
        props[f"complaint_boot.{boot.number}.seconds"] = f"{seconds:.1f}"
        if reboots:
            props[f"complaint_boot.{boot.number}.reboots"] = str(reboots)
