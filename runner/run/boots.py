"""One boot of a built kernel, read into results.

A ``Booter`` knows what the run planned (suites, cases, expected splats)
and turns each boot's console into a RunResult: KTAP parsed, declared
splats checked, kunit.py's timeout told apart from a crash.  The main boot,
recovery boots and guest-layout boots all go through ``Booter.boot``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kgen.ids import TestId, split_leaf
from kgen.runner.harness.session import Session
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status
from kgen.runner.results.splats import find_splats
from kgen.runner.run import recovery
from kgen.runner.run.stops import apply_stop
from kgen.spec.model import Spec

# Console lines kept with an error that is not any one case's.
LOG_TAIL = 60


def error_result(name: str, kind: str, message: str, log: list[str]) -> CaseResult:
    """A run-level error (build, boot, timeout ...) with the log's tail."""
    return CaseResult(name=name, status=Status.ERROR, kind=kind, message=message,
                      log=log[-LOG_TAIL:])


@dataclass
class BootArgs:
    """What one boot adds to the session's defaults."""

    log_suffix: str
    glob: str = ""
    kernel_args: Sequence[str] = ()
    qemu_args: Sequence[str] = ()


class Booter:
    """Boots a session's kernel and reads each console into results."""

    def __init__(self, session: Session, specs: list[Spec]):
        self.session = session
        self.timeout = session.config.timeout
        self.known = {spec.suite: [TestId(spec.suite, case.name).function
                                   for case in spec.cases] for spec in specs}
        self.expected = expected_splats(specs)
        self.seconds = 0.0

    def time_left(self) -> float:
        """Seconds left of the run's boot budget (--timeout)."""
        return self.session.remaining()

    def boot(self, args: BootArgs) -> RunResult:
        booted, _ = self.session.boot(args.log_suffix, args.glob,
                                      kernel_args=args.kernel_args,
                                      qemu_args=args.qemu_args)
        self.seconds += booted.seconds
        # A boot filtered to one suite must not report the others missing.
        suite_filter = args.glob.split(".")[0]
        known = {s: c for s, c in self.known.items()
                 if not suite_filter or s == suite_filter}
        parsed = parse_console(
            booted.output, known_cases=known,
            expected_splats=lambda suite, leaf: self.expected.get(
                (suite, split_leaf(leaf)[0]), set()))
        check_expected_splats(parsed, self.expected)
        if booted.stopped:
            apply_stop(parsed, booted.stopped, booted.output)
        recovery.mark_timeout(parsed, booted.output, self.timeout)
        if booted.timed_out:
            parsed.errors.append(error_result(
                "timeout", ResultKind.TIMEOUT,
                f"kunit.py did not return within {self.timeout + 60}s", booted.output))
        return parsed


def expected_splats(specs: list[Spec]) -> dict[tuple[str, str], set[str]]:
    """(suite, case function) -> splat kinds the case must produce."""
    return {(spec.suite, TestId(spec.suite, case.name).function): set(case.expect.splats)
            for spec in specs for case in spec.cases if case.expect.splats}


def check_expected_splats(result: RunResult,
                          expected: dict[tuple[str, str], set[str]]) -> None:
    """A declared splat that did not appear fails its (passing) case."""
    for suite in result.suites:
        for case in suite.cases:
            kinds = expected.get((suite.name, case.function))
            if not kinds or case.status is not Status.PASSED:
                continue
            seen = {s.kind for s in find_splats(case.log)}
            missing = sorted(kinds - seen)
            if missing:
                case.status = Status.FAILED
                case.kind = ResultKind.EXPECT_SPLATS
                case.message = (f"expect.splats: expected {', '.join(missing)} in the "
                                "kernel log of this case; it did not appear")
