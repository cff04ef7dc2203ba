"""`kgen run`: specs -> plan -> generated suites -> build -> boots -> results.

``run`` reads as its phases: check tools, plan, prepare the session, build
(without the generated suites that do not compile, builds.py), main boot,
recovery boots, complaint boots, guest-layout boots, finish the results.
Each phase is a function below; the boots themselves are in boots.py,
complaints.py and guests.py, the reboot policy in recovery.py.  Each phase
and each boot is timed (timings.py).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kgen.arch import DEFAULT_ARCH, arch
from kgen.cache import coverage_dir, default_build_dir
from kgen.errors import EnvironmentProblem, UsageError
from kgen.generator.capabilities import Capabilities, probe_tree
from kgen.generator.generate import generate
from kgen.generator.render import spec_hash
from kgen.ids import TestId, split_leaf
from kgen.kernel_tree import kernel_version
from kgen.runner.harness import kunit_tool
from kgen.runner.harness.kunitconfig import compose
from kgen.runner.harness.patches import Patched, patched_files
from kgen.runner.harness.session import Session, SessionConfig
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.run import coverage, recovery
from kgen.runner.run.boots import BootArgs, Booter, error_result
from kgen.runner.run.builds import (
    BuildOutcome,
    build_error_message,
    build_leaving_out_broken_suites,
    uncompiled_suite_results,
)
from kgen.runner.run.complaints import boot_complaints, set_aside
from kgen.runner.run.guests import boot_guests
from kgen.runner.run.known import mark_known_issues
from kgen.runner.run.plan import Plan, make_plan
from kgen.runner.run.timings import Timings
from kgen.spec.model import Spec


@dataclass
class RunRequest:
    tree: Path
    specs: list[Spec]
    arch: str = DEFAULT_ARCH
    build_dir: Path | None = None
    jobs: int | None = None
    timeout: int = 600            # seconds for all boots together
    stall_seconds: float | None = None   # None: the arch's default
    kernel_args: list[str] = field(default_factory=list)
    accel: str = "tcg"
    log: Callable[[str], None] = print
    # --kconfig: option name -> set (True) or unset (False), over the fragments.
    kconfig: dict[str, bool] = field(default_factory=dict)
    # --patch: patches the build applies on top of the tree (never to it).
    patches: list[Path] = field(default_factory=list)
    # Already applied (kgen validate's steps): the patched files themselves,
    # used instead of `patches`; {} is the plain tree.
    patched: Patched | None = None
    # --known-pass: whether a known issue that passes fails the run.
    known_pass_fails: bool = True
    # --coverage: a CONFIG_GCOV kernel in a build dir of its own; the
    # tracefile and HTML go to coverage_dir (default: under the cache).
    coverage: bool = False
    coverage_dir: Path | None = None


@dataclass
class RunOutcome:
    result: RunResult
    plan: Plan
    build_seconds: float = 0.0
    exec_seconds: float = 0.0
    console_log: Path | None = None
    timings: Timings | None = None
    coverage: coverage.CoverageReport | None = None
    coverage_error: str = ""


def plan_run(req: RunRequest) -> tuple[Plan, Capabilities]:
    """What the run would do, without building anything (kgen plan)."""
    if req.coverage:
        coverage.check_arch(req.arch)
        coverage.check_tree(req.tree)
    caps = probe_tree(req.tree, req.arch)
    for name, on in req.kconfig.items():
        forced = arch(req.arch).forced_on.get(name)
        if forced and not on:
            raise UsageError(f"--kconfig CONFIG_{name}=n: {forced}")
    caps.kconfig_overrides = dict(req.kconfig)
    return make_plan(req.specs, caps, req.kernel_args), caps


def run(req: RunRequest) -> RunOutcome:
    """Build and boot; always returns a RunResult (errors become error cases).

    Where the time went (timings.py) rides along: outcome.timings, and the
    same figures as kgen.time.* properties of the result.
    """
    timings = Timings()
    outcome = _run(req, timings)
    outcome.timings = timings
    outcome.result.properties.update(timings.properties())
    return outcome


def _run(req: RunRequest, timings: Timings) -> RunOutcome:
    _check_tools(req.arch)
    if req.coverage:
        coverage.check_tools()
    with timings.phase("plan"):
        plan, caps = plan_run(req)
    patched = req.patched if req.patched is not None else patched_files(req.tree, req.patches)
    kunitconfig = compose(req.arch, plan.kconfig, req.kconfig, coverage=req.coverage)
    req.log(f"kgen: {req.arch}: {plan.nr_run} case(s) to run, {plan.nr_skip} to skip "
            "(`kgen plan` says why)")
    waiting = timings.clock()
    with Session(_session_config(req, plan)) as session:
        _waited_for_overlay(timings, waiting)
        props = session.properties() | _properties(req, plan, kunitconfig)
        with timings.phase("generate"):
            changed = session.prepare(generate(req.specs, caps, plan), kunitconfig, patched)
        req.log(f"kgen: {len(req.specs)} suite(s) generated into "
                f"{session.overlay.root}/mm/kgen ({len(changed)} file(s) changed)")
        req.log(f"kgen: building {req.arch} kernel in {session.build_dir}")
        with timings.phase("build"):
            built = build_leaving_out_broken_suites(session, req.specs, caps, plan,
                                                    kunitconfig, patched)
        uncompiled = uncompiled_suite_results(built, plan)
        if not built.ok and not built.nothing_to_boot:
            return _build_failed(built, plan, props, uncompiled,
                                 build_error_message(built.phase.output, req.specs,
                                                     str(session.overlay.root)))
        covered: tuple[coverage.CoverageReport | None, str] = (None, "")
        if built.nothing_to_boot:
            result, booter, console_log = RunResult(properties=props), None, None
        else:
            props |= session.properties()   # the accelerator actually used
            req.log(f"kgen: kernel built in {built.seconds:.0f}s; booting"
                    + (f" (QEMU, accel {session.accel})" if arch(req.arch).uses_qemu else ""))
            if req.coverage:
                coverage.start(session.build_dir)
            booter = Booter(session, built.specs, timings)
            main = _needs_main_boot(plan)
            result = _main_boot(booter, plan, props) if main else RunResult()
            # A boot whose every suite did not compile would find nothing.
            complaints = [b for b in plan.complaint_boots
                          if not set(b.suites) <= set(built.dropped)]
            boot_complaints(booter, complaints, result, props)
            guests = [g for g in plan.guest_boots if g.suite not in built.dropped]
            boot_guests(booter, guests, result, props, session.accel)
            console_log = session.path("console.log" if main else "console.guest1.log")
            if req.coverage:
                # Still under the overlay lock: another --coverage run on
                # this tree would reset the counters.
                covered = _collect_coverage(req, session.build_dir)
    result.suites += uncompiled
    _finish(result, req, plan, props)
    result.build_log, result.build_seconds = built.phase.output, built.seconds
    outcome = RunOutcome(result, plan, build_seconds=built.seconds,
                         exec_seconds=booter.seconds if booter else 0.0,
                         console_log=console_log)
    outcome.coverage, outcome.coverage_error = covered
    return outcome


def _collect_coverage(req: RunRequest,
                      build_dir: Path) -> tuple[coverage.CoverageReport | None, str]:
    """The boots' counters as a tracefile, HTML and the functions' table, or
    why not; a failure here is reported, and the test results stand."""
    out = req.coverage_dir or coverage_dir(req.tree, req.arch)
    req.log(f"kgen: coverage: lcov over {build_dir}/mm into {out}")
    try:
        return coverage.collect(build_dir, out), ""
    except (EnvironmentProblem, OSError) as err:
        return None, str(err)


# Waiting for another kgen process's overlay lock shorter than this is not
# worth a place in the time line.
_WAIT_WORTH_SHOWING = 0.1


def _waited_for_overlay(timings: Timings, since: float) -> None:
    waited = timings.clock() - since
    if waited >= _WAIT_WORTH_SHOWING:
        timings.add("wait for overlay", waited)


def _check_tools(arch_name: str) -> None:
    missing = kunit_tool.missing_tools(arch_name)
    if missing:
        raise EnvironmentProblem("missing tools for --arch {}: {}".format(
            arch_name, ", ".join(missing)))


def _session_config(req: RunRequest, plan: Plan) -> SessionConfig:
    build_dir = req.build_dir or default_build_dir(req.tree, req.arch, req.kconfig,
                                                   coverage=req.coverage)
    return SessionConfig(tree=req.tree, arch=req.arch, build_dir=build_dir, accel=req.accel,
                         timeout=req.timeout, stall_seconds=req.stall_seconds,
                         jobs=req.jobs, kernel_args=plan.kernel_args,
                         qemu_args=plan.qemu_args, log=req.log)


def _build_failed(built: BuildOutcome, plan: Plan, props: dict[str, str],
                  uncompiled: list[SuiteResult], message: str) -> RunOutcome:
    """The kernel did not build: one build error with the log's tail (and
    the suites already left out for not compiling, as they are)."""
    output = built.phase.output
    result = RunResult(suites=uncompiled, properties=props, raw_log=output,
                       build_log=output, build_seconds=built.seconds)
    result.errors.append(error_result(
        "build", ResultKind.BUILD, message, output))
    return RunOutcome(result, plan, build_seconds=built.seconds)


def _needs_main_boot(plan: Plan) -> bool:
    """False when every planned suite boots in a guest layout of its own
    (a selection of boundary suites): the main boot would only skip them."""
    return not plan.guest_boots or \
        bool({c.suite for c in plan.cases} - {g.suite for g in plan.guest_boots})


def _main_boot(booter: Booter, plan: Plan, props: dict[str, str]) -> RunResult:
    """Boot once for everything, then again for what a crash or hang left."""
    result = booter.boot(BootArgs("console.log"))
    # Guest-layout suites only skip in this boot and get a boot of their
    # own: never spend a recovery reboot on them.
    _drop_suites(result, {g.suite for g in plan.guest_boots})
    # The cases that complain on purpose only skip here, too: they get
    # complaint boots of their own (complaints.py).
    set_aside(result, plan)

    def again(glob: str, number: int) -> RunResult:
        booter.session.config.log(
            f"kgen: booting again for {glob} (not run after a crash or hang, or muted)")
        return booter.boot(BootArgs(f"console.rerun{number}.log", glob))

    reboots = recovery.recover(result, again, booter.time_left)
    if reboots:
        props["kgen.reboots"] = str(reboots)
    return result


def _properties(req: RunRequest, plan: Plan, kunitconfig: str) -> dict[str, str]:
    """What this run adds to the session's properties."""
    props = {
        "kconfig.sha256": hashlib.sha256(kunitconfig.encode()).hexdigest()[:16],
        "kernel_args": " ".join(plan.kernel_args),
    }
    if req.coverage:
        props["kgen.coverage"] = "gcc gcov (arch/um CONFIG_GCOV)"
    if req.patches:
        props["kernel.patches"] = " ".join(p.name for p in req.patches)
    if req.kconfig:
        props["kconfig.overrides"] = " ".join(
            f"CONFIG_{k}={'y' if v else 'n'}" for k, v in sorted(req.kconfig.items()))
    if arch(req.arch).uses_qemu:
        props["qemu_args"] = " ".join(plan.qemu_args)
    return props


def _finish(result: RunResult, req: RunRequest, plan: Plan, props: dict[str, str]) -> None:
    """Run-wide properties, spec provenance, names from the plan, and an
    error for every suite that never reported."""
    result.properties.update(props)
    for spec in req.specs:
        for suite in result.suites:
            if suite.name == spec.suite:
                suite.properties["spec.file"] = str(spec.path)
                suite.properties["spec.sha256"] = spec_hash(spec)[:16]
    name_unnamed_params(result, plan)
    report_unreported_cases(result, plan)
    _report_missing_suites(req.specs, result)
    mark_known_issues(result, req.specs,
                      result.properties.get("kernel.version") or kernel_version(req.tree),
                      req.known_pass_fails)


def _drop_suites(result: RunResult, suites: set[str]) -> None:
    result.suites = [s for s in result.suites if s.name not in suites]
    result.errors = [e for e in result.errors
                     if not (e.kind == ResultKind.NOT_RUN and e.name in suites)]


def name_unnamed_params(result: RunResult, plan: Plan) -> None:
    """KUnit prints a parameter's name only with its result line, so one that
    crashed is "case/#N" in the log: name it from the plan, in spec order."""
    for suite in result.suites:
        for case in suite.cases:
            function, param = split_leaf(case.name)
            params = plan.params_of(suite.name, function)
            if param.startswith("#") and param[1:].isdigit() and \
                    0 < int(param[1:]) <= len(params):
                case.name = TestId(suite.name, function[len(suite.name) + 1:],
                                   params[int(param[1:]) - 1]).leaf


NO_RESULT = "no result: the kernel never printed a result line for this case"
# Kinds that say a suite's output was cut short: what is missing after them
# did not run, it did not vanish.
_CUT_SHORT = (ResultKind.CRASH, ResultKind.TIMEOUT, ResultKind.WEDGED,
              ResultKind.BLOCKED, ResultKind.NOT_RUN)


def report_unreported_cases(result: RunResult, plan: Plan) -> None:
    """Every planned case and parameter of a suite that reported gets a result.

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
    for planned in plan.cases:
        suite = by_suite.get(planned.suite)
        if suite is None or any(c.name == planned.name for c in suite.cases):
            continue
        cut = next((c for c in suite.cases if c.kind in _CUT_SHORT), None)
        if cut is None:
            suite.cases.append(CaseResult(planned.name, Status.ERROR,
                                          kind=ResultKind.NO_RESULT, message=NO_RESULT))
        elif cut.kind == ResultKind.NOT_RUN:
            suite.cases.append(CaseResult(planned.name, Status.ERROR,
                                          kind=ResultKind.NOT_RUN, message=cut.message))
        else:
            suite.cases.append(CaseResult(
                planned.name, Status.ERROR, kind=ResultKind.NOT_RUN,
                message=f"not run: the kernel stopped in {suite.name}.{cut.name}"))
    for suite in result.suites:
        order = {c.name: i for i, c in enumerate(plan.cases) if c.suite == suite.name}
        suite.cases.sort(key=lambda c: order.get(c.name, len(order)))


def _report_missing_suites(specs: list[Spec], result: RunResult) -> None:
    """A generated suite that never reported is an error, never silence."""
    seen = {s.name for s in result.suites}
    for spec in specs:
        # A guest boot's own errors belong to its suite and say why.
        explained = any(e.kind == ResultKind.BOOT or e.suite == spec.suite
                        for e in result.errors)
        if spec.suite not in seen and not explained:
            result.errors.append(CaseResult(
                name=spec.suite, status=Status.ERROR, kind=ResultKind.NOT_RUN,
                message=f"suite {spec.suite} ({spec.path}) produced no results"))
