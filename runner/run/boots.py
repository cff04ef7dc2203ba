"""One boot of a built kernel, read into results.

A ``Booter`` knows what the run planned (its TestIds, expected splats)
and turns each boot's console into a RunResult: KTAP parsed with each case
given its TestId, declared splats checked, kunit.py's timeout told apart
from a crash.  The main boot, recovery boots, complaint boots and
guest-layout boots all go through ``Booter.boot``.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kgen.ids import TestId
from kgen.runner.harness.kunit_tool import PhaseResult
from kgen.runner.harness.session import Session
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status
from kgen.runner.results.ratelimit import mark_muted
from kgen.runner.results.splats import find_splats
from kgen.runner.run import recovery
from kgen.runner.run.plan import test_id
from kgen.runner.run.stops import apply_stop
from kgen.runner.run.timings import BOOT, Timings, boot_name
from kgen.spec.model import Spec

# Console lines kept with an error that is not any one case's.
LOG_TAIL = 60


def error_result(name: str, kind: str, message: str, log: list[str]) -> CaseResult:
    """A run-level error (build, boot, timeout ...) with the log's tail."""
    return CaseResult(label=name, status=Status.ERROR, kind=kind, message=message,
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

    def __init__(self, session: Session, specs: list[Spec], tests: Iterable[TestId],
                 timings: Timings | None = None):
        self.session = session
        # Each boot is a phase of its own ("boot complaints1"); parsing
        # every console adds up in "parse".
        self.timings = timings or Timings()
        self.timeout = session.config.limits.timeout
        # The plan's tests of the suites built into this kernel (a suite
        # that did not compile is not there to report).
        built = {spec.suite for spec in specs}
        self.tests = tuple(t for t in tests if t.suite in built)
        self.expected = expected_splats(specs)
        self.seconds = 0.0

    def time_left(self) -> float:
        """Seconds left of the run's boot budget (--timeout)."""
        return self.session.remaining()

    def boot(self, args: BootArgs) -> RunResult:
        with self.timings.phase(f"{BOOT} {boot_name(args.log_suffix)}"):
            booted, _ = self.session.boot(args.log_suffix, args.glob,
                                          kernel_args=args.kernel_args,
                                          qemu_args=args.qemu_args)
        self.seconds += booted.seconds
        with self.timings.phase("parse"):
            return self._read(booted, args)

    def _read(self, booted: PhaseResult, args: BootArgs) -> RunResult:
        """One boot's console as results: KTAP, declared splats, muted
        reports, kgen's own stop, kunit.py's timeout."""
        # A boot filtered to one suite must not report the others missing.
        suite_filter = args.glob.split(".")[0]
        tests = [t for t in self.tests if not suite_filter or t.suite == suite_filter]
        parsed = parse_console(
            booted.output, tests=tests,
            expected_splats=lambda suite, leaf: {
                kind for kind, n in self.expected.get((suite, leaf), {}).items() if n})
        check_expected_splats(parsed, self.expected)
        mark_muted(parsed)
        if booted.stopped:
            apply_stop(parsed, booted.stopped, booted.output)
        recovery.mark_timeout(parsed, booted.output, self.timeout)
        if booted.timed_out:
            parsed.errors.append(error_result(
                "timeout", ResultKind.TIMEOUT,
                f"kunit.py did not return within {self.timeout + 60}s", booted.output))
        return parsed


# (suite, case leaf name) -> splat kind -> the exact number of reports.
ExpectedSplats = dict[tuple[str, str], dict[str, int]]


def expected_splats(specs: list[Spec]) -> ExpectedSplats:
    """(suite, leaf) -> how many reports of each kind the case must print.

    The leaf is the name results use ("<case>/<param>" for a parameter):
    a bad_state parameter expects one report per bad page it has.
    """
    out: ExpectedSplats = {}
    for spec in specs:
        for case in spec.cases:
            if not case.expect.splats:
                continue
            for variant in case.variants:
                out[(spec.suite, test_id(spec, case, variant).leaf)] = \
                    case.splat_counts(variant)
    return out


def check_expected_splats(result: RunResult, expected: ExpectedSplats) -> None:
    """A case must print exactly the reports it declares, of each kind.

    Too few fails it (the kernel did not complain as it should), and so
    does too many (one bad page reported twice).  Kinds it does not declare
    are the parser's business: there any report fails the case.
    """
    for suite in result.suites:
        for case in suite.cases:
            counts = expected.get((suite.name, case.name))
            if not counts or case.status not in (Status.PASSED, Status.FAILED,
                                                 Status.UNCONFIRMED):
                continue
            splats = find_splats(case.log)
            seen = Counter(s.kind for s in splats)
            # A case repeated for a counter mismatch complained once per attempt.
            runs = case.attempts
            per = f" ({runs} attempts)" if runs > 1 else ""
            wrong = [f"expected exactly {n * runs} {kind} report{'s' if n * runs != 1 else ''}"
                     f"{per} in this case's kernel log, saw {seen[kind]}"
                     for kind, n in sorted(counts.items()) if seen[kind] != n * runs]
            if not wrong:
                continue
            message = "expect.splats: " + "; ".join(wrong)
            case.details.extend(line for s in splats if s.kind in counts for line in s.lines)
            if case.status in (Status.PASSED, Status.UNCONFIRMED):
                case.status, case.kind, case.message = Status.FAILED, \
                    ResultKind.EXPECT_SPLATS, message
            else:
                case.message = f"{case.message}; {message}"
