"""Typed results model shared by the KTAP parser, JUnit writer and summary.

Plain data only: the parser fills it, the writers read it.  Nothing here
knows about KTAP syntax or XML.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kgen.ids import TestId, split_leaf
from kgen.protocol import KGEN_PROTO_ATTEMPTS


class ResultKind(enum.StrEnum):
    """Why a case failed or errored (CaseResult.kind; JUnit's type attribute).

    Splats add kinds of their own, "splat:<splat kind>" (see ``splat``).
    """

    NONE = ""
    EXPECTATION = "expectation"      # a KUnit expectation failed
    NOT_OK = "not-ok"                # "not ok" without a reason KUnit printed
    TIMEOUT = "timeout"              # KUnit's, kunit.py's or kgen's time limit
    FAULT = "fault"                  # KUnit's try-catch caught a fault
    INIT = "init"                    # suite init failed
    INTERNAL = "internal"            # KUnit internal error
    CRASH = "crash"                  # the kernel died while this case ran
    WEDGED = "wedged"                # it died holding a lock: the kernel is stuck
    BLOCKED = "blocked"              # it waited for what a dead case held
    NOT_RUN = "not-run"              # planned, never started (crash, budget, stop)
    NO_RESULT = "no-result"          # planned, the boot went on, no result line came
    PARSE = "parse"                  # unreadable KTAP
    BOOT = "boot"                    # the kernel never reached the tests
    BUILD = "build"                  # configure or build failed
    COMPILE = "compile"              # the case's generated suite did not compile
    NO_TESTS = "no-tests"            # KTAP without suites
    EXPECT_SPLATS = "expect.splats"  # declared reports missing, or too many
    MUTED = "muted"                  # ran while bad_page() printed nothing
    UNCONFIRMED = "unconfirmed"      # a counter mismatch a repeat did not show

    @staticmethod
    def splat(splat_kind: str) -> str:
        """The kind of a case failed by a splat, e.g. "splat:WARNING"."""
        return f"splat:{splat_kind}"


class Status(enum.Enum):
    """Outcome of one test case (or parameter of a parameterised case)."""

    PASSED = "passed"
    FAILED = "failed"      # an expectation failed, or a splat was seen
    SKIPPED = "skipped"    # KUnit SKIP, with a reason
    ERROR = "error"        # crashed, never ran, timed out, build/boot error
    # A counter check mismatched once and matched when the case repeated
    # (kgen_confirm.c): background noise, or a bug that does not always
    # show.  Neither a pass nor a failure; it does not fail the run.
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class KnownIssueNote:
    """A spec's known issue for one case, as the results carry it."""

    reason: str
    link: str = ""
    kernels: str = ""      # the spec's constraint; "" for every kernel
    where: str = ""        # "spec.yaml:LINE", where the spec declares it

    def describe(self) -> str:
        """"<reason> (<link>)", one line."""
        return self.reason + (f" ({self.link})" if self.link else "")


# Error kinds that say nothing about the case itself: it did not run, or
# only waited for another case.  A known issue is not "seen" in those.
_NOT_THE_CASE = (ResultKind.NOT_RUN, ResultKind.BLOCKED)


@dataclass
class CaseResult:
    """One KUnit test case, or one parameter of a parameterised case; or an
    entry that is no planned test (a run-level error, a suite's own outcome).

    ``test`` is the planned test it is, attached by the boot reader right
    after parsing (results/identify.py); reconcile matches results by it.
    ``name``, what writers show, derives from it; ``label`` is the name of
    an entry without one.
    """

    # The name of an entry without a TestId: "(suite)", "build", "boot",
    # a case as KTAP named it when the plan does not have it.
    label: str
    status: Status
    # For FAILED: the KUnit expectation text (first failing expectation,
    # e.g. "Expected page_ref_count(page) == 2, but ..."); for SKIPPED the
    # skip reason; for ERROR what went wrong.  Empty for PASSED.
    message: str = ""
    # Short classifier for failures/errors: a ResultKind, or
    # ResultKind.splat(...) such as "splat:WARNING".
    kind: str = ResultKind.NONE
    # Every log line that belongs to this case (diagnostics, printk lines
    # between the previous result line and this one), without the KTAP
    # indentation, in order.
    log: list[str] = field(default_factory=list)
    # The lines that back up ``message``: the KUnit failure block and/or
    # the splat lines.  Writers show these as the failure text, since the
    # full ``log`` is mostly noise.  Empty when there is nothing to show.
    details: list[str] = field(default_factory=list)
    # Seconds, when the test printed its own timing; None if unknown.
    time: float | None = None
    # For a run-level error (RunResult.errors) that belongs to one suite,
    # e.g. the crash of that suite's guest-layout boot: the suite.
    suite: str = ""
    # The spec says this case fails on this kernel (spec `known_issue:`).
    known_issue: KnownIssueNote | None = None
    # The planned test this result is; None for an entry the plan lacks.
    test: TestId | None = None

    @classmethod
    def of(cls, test: TestId, status: Status, **fields) -> CaseResult:
        """The result of one planned test."""
        return cls(test.leaf, status, test=test, **fields)

    @property
    def name(self) -> str:
        """The leaf name as JUnit shows it: "<case>" or "<case>/<param>"."""
        return self.test.leaf if self.test else self.label

    @property
    def key(self) -> TestId | str:
        """What reconcile matches results by: the TestId, or the name of an
        entry the plan lacks (two such entries only ever match by name)."""
        return self.test or self.label

    @property
    def known_failure(self) -> bool:
        """It failed or errored, as its known issue says it does."""
        return (self.known_issue is not None
                and self.status in (Status.FAILED, Status.ERROR)
                and self.kind not in _NOT_THE_CASE)

    @property
    def known_pass(self) -> bool:
        """It passed although its spec says it is known to fail."""
        return self.known_issue is not None and self.status is Status.PASSED

    @property
    def unexpected_failure(self) -> bool:
        """Failed or errored, and no known issue accounts for it."""
        return self.status in (Status.FAILED, Status.ERROR) and not self.known_failure

    @property
    def attempts(self) -> int:
        """How many times the case ran its body (kgen_confirm.c): more than
        one when a counter mismatch made it repeat."""
        for line in reversed(self.log):
            _, found, count = line.partition(KGEN_PROTO_ATTEMPTS)
            if found and count.strip().isdigit():
                return int(count.strip())
        return 1

    @property
    def function(self) -> str:
        """The KUnit case (C function) name, without a parameter."""
        if self.test:
            return self.test.function
        # A case the plan does not have: only its name says what it is.
        return split_leaf(self.label)[0]

    @property
    def param(self) -> str:
        """The parameter description, "" for a plain case."""
        if self.test:
            return self.test.param
        return split_leaf(self.label)[1]


@dataclass
class SuiteResult:
    """One KUnit suite (one generated spec file)."""

    name: str
    cases: list[CaseResult] = field(default_factory=list)
    # Lines logged at suite level (outside any case).
    log: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.cases if c.status is status)


@dataclass
class RunResult:
    """Everything one kernel boot (or one failed attempt to boot) produced."""

    suites: list[SuiteResult] = field(default_factory=list)
    # Run-wide properties: arch, kernel version, spec files ...
    properties: dict[str, str] = field(default_factory=dict)
    # Problems outside any suite: build failure, boot crash, missing TAP.
    # Each is reported as an ERROR case in a pseudo-suite by the writers.
    errors: list[CaseResult] = field(default_factory=list)
    # Raw kernel console output (for log tails in error reports).
    raw_log: list[str] = field(default_factory=list)
    # The kernel build's own output (kunit.py build) and its wall time, for
    # reports that describe the build (KCIDB); empty/None if none ran.
    build_log: list[str] = field(default_factory=list)
    build_seconds: float | None = None
    # Whether a known issue that passed fails the run (kgen run
    # --known-pass): by default it does, so the tracker learns of the fix.
    known_pass_fails: bool = True

    def all_cases(self) -> list[CaseResult]:
        cases = [c for s in self.suites for c in s.cases]
        return cases + list(self.errors)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.all_cases() if c.status is status)

    @property
    def ok(self) -> bool:
        """True when nothing failed or errored (skips and known failures
        are fine), and no known issue passed unless that is allowed."""
        return not any(c.unexpected_failure or (c.known_pass and self.known_pass_fails)
                       for c in self.all_cases())
