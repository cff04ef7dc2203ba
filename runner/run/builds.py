"""Build the kernel; a generated suite that does not compile is left out.

A tree can differ from what kgen's probes look at in ways only the
compiler notices.  When every object make could not build is a generated
suite (mm/kgen/<suite>_kunit.o), those suites are dropped from the overlay
and the kernel is built again without them: their planned cases become
errors that quote the compiler, and the other suites still run.  Anything
else (the helper library, a header, the tree itself, Kconfig, the link)
stays a build error.

Bounded: every build after the first drops at least one suite, so there
are at most as many builds as suites, plus one (max_builds()).  make stops
at its first failure (with -j, after the jobs running then), so each build
usually finds one or two broken suites, each rebuild incremental.  Each
build keeps its log beside the build dir: build.log, build.retry1.log, ...
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kgen.generator.generate import generate
from kgen.generator.render import suite_filename
from kgen.runner.harness import kunit_tool
from kgen.runner.harness.build_log import CompileFailure, failed_objects
from kgen.runner.harness.overlay import KGEN_SUBDIR
from kgen.runner.harness.patches import Patched
from kgen.runner.harness.session import Session, first_error_line
from kgen.runner.results.model import CaseResult, ResultKind, Status, SuiteResult
from kgen.runner.run.plan import Plan
from kgen.spec.model import Spec
from kgen.target.capabilities import Capabilities


def max_builds(specs: list[Spec]) -> int:
    """Builds before kgen gives up: one per suite it could drop, plus one."""
    return len(specs) + 1

# Build-log lines kept with each case of a suite that did not compile: with
# the file's diagnostics (build_log.MAX_DIAGNOSTICS) they fit in the lines
# JUnit shows of an error (junit.ERROR_TAIL_LINES).
LOG_TAIL = 20
NOT_COMPILED = "suite did not compile"
HELPER_NOT_COMPILED = "kgen's helper library did not compile"


@dataclass
class BuildOutcome:
    """The last build, what it holds, and the suites left out of it."""

    phase: kunit_tool.PhaseResult
    specs: list[Spec]                                # suites the kernel holds
    dropped: dict[str, CompileFailure] = field(default_factory=dict)
    # Suite -> the end of the build log that dropped it.
    dropped_log: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0                             # all builds together

    @property
    def ok(self) -> bool:
        return self.phase.ok

    @property
    def nothing_to_boot(self) -> bool:
        """Every suite was dropped: there is no test left to boot for."""
        return not self.specs


def suite_object(spec: Spec) -> str:
    """The object kbuild makes from a spec's generated suite."""
    return f"{KGEN_SUBDIR}/{suite_filename(spec)[:-len('.c')]}.o"


def uncompiled_suites(output: list[str], specs: list[Spec],
                      source_root: str) -> dict[str, CompileFailure] | None:
    """Suite -> its compile failure, when every failed object is a generated
    suite; None when anything else failed too."""
    failed = failed_objects(output, source_root)
    if failed is None:
        return None
    by_object = {suite_object(spec): spec.suite for spec in specs}
    if not set(failed) <= set(by_object):
        return None
    return {by_object[obj]: failure for obj, failure in failed.items()}


def build_error_message(output: list[str], specs: list[Spec], source_root: str) -> str:
    """What a build error says: the compiler's line, naming kgen's helper
    library when that is what did not compile; else the log's most telling
    line (session.first_error_line), with paths relative to the overlay."""
    failed = failed_objects(output, source_root) or {}
    suites = {suite_object(spec) for spec in specs}
    helper = [f for obj, f in failed.items()
              if obj.startswith(f"{KGEN_SUBDIR}/") and obj not in suites]
    if helper:
        return f"{HELPER_NOT_COMPILED}: {helper[0].first_error}"
    line = first_error_line(output)
    return line.replace(source_root.rstrip("/") + "/", "") if source_root else line


def build_leaving_out_broken_suites(session: Session, specs: list[Spec],
                                    caps: Capabilities, plan: Plan, kunitconfig: str,
                                    patched: Patched) -> BuildOutcome:
    """Build; while only generated suites fail to compile, regenerate the
    overlay without them and build again (the overlay is already prepared
    for ``specs``)."""
    log = session.config.log
    outcome = BuildOutcome(kunit_tool.PhaseResult(False, 0.0, []), list(specs))
    limit = max_builds(specs)
    for attempt in range(1, limit + 1):
        suffix = "build.log" if attempt == 1 else f"build.retry{attempt - 1}.log"
        outcome.phase = session.build(suffix)
        outcome.seconds += outcome.phase.seconds
        if outcome.phase.ok:
            return outcome
        broken = uncompiled_suites(outcome.phase.output, outcome.specs,
                                   str(session.overlay.root))
        if broken is None:
            return outcome
        for suite, failure in broken.items():
            log(f"kgen: {suite} did not compile: {failure.first_error}")
            outcome.dropped_log[suite] = outcome.phase.output[-LOG_TAIL:]
        outcome.dropped.update(broken)
        outcome.specs = [s for s in outcome.specs if s.suite not in broken]
        if outcome.nothing_to_boot:
            log("kgen: no suite left to build")
            return outcome
        if attempt == limit:
            break
        log(f"kgen: building again without {', '.join(sorted(broken))}")
        session.prepare(generate(outcome.specs, caps, plan), kunitconfig, patched)
    log(f"kgen: still failing after {limit} builds; giving up")
    return outcome


def uncompiled_suite_results(outcome: BuildOutcome, plan: Plan) -> list[SuiteResult]:
    """A suite that did not compile: every case and parameter the plan has
    for it is an error whose message is the compiler's first error line for
    the suite's file, with that file's diagnostics and the build log's tail."""
    suites = []
    for suite, failure in outcome.dropped.items():
        log = [*failure.diagnostics, "--- build log tail ---",
               *outcome.dropped_log.get(suite, [])]
        message = f"{NOT_COMPILED}: {failure.first_error}"
        cases = [CaseResult.of(planned.id, Status.ERROR, message=message,
                               kind=ResultKind.COMPILE, log=list(log))
                 for planned in plan.cases if planned.suite == suite]
        suites.append(SuiteResult(suite, cases, properties={
            "kgen.compile_error": failure.first_error}))
    return suites
