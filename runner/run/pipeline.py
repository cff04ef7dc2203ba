"""`kgen run`: specs -> plan -> generated suites -> build -> boots -> results.

``run`` reads as its phases: check tools, plan, prepare the session, build
(without the generated suites that do not compile, builds.py), main boot,
recovery boots, complaint boots, guest-layout boots, reconcile the boots
into one result (reconcile.py), finish it.  Each phase is a function below;
the boots themselves are in boots.py, complaints.py and guests.py, the
reboot policy in recovery.py.  Each phase
and each boot is timed (timings.py).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kgen.arch import DEFAULT_CPUS
from kgen.errors import EnvironmentProblem, UsageError
from kgen.generator.generate import generate
from kgen.generator.render import spec_hash
from kgen.runner.harness import kunit_tool
from kgen.runner.harness.kunitconfig import compose
from kgen.runner.harness.patches import Patched, patched_files
from kgen.runner.harness.session import BootLimits, Session, SessionConfig
from kgen.runner.results.model import ResultKind, RunResult, SuiteResult
from kgen.runner.run import coverage, recovery
from kgen.runner.run.boots import BootArgs, Booter, error_result
from kgen.runner.run.builds import (
    BuildOutcome,
    build_error_message,
    build_leaving_out_broken_suites,
    uncompiled_suite_results,
)
from kgen.runner.run.complaints import boot_complaints
from kgen.runner.run.guests import boot_guests
from kgen.runner.run.known import mark_known_issues
from kgen.runner.run.plan import Plan, make_plan
from kgen.runner.run.reconcile import Boot, Boots, main_share, reconcile
from kgen.runner.run.timings import Timings
from kgen.spec.model import Spec
from kgen.target.capabilities import Capabilities
from kgen.target.target import Target


@dataclass
class RunRequest:
    """What one `kgen run` of a Target asks for."""

    specs: list[Spec]
    build_dir: Path | None = None
    jobs: int | None = None
    limits: BootLimits = field(default_factory=BootLimits)   # for all boots together
    kernel_args: list[str] = field(default_factory=list)
    # --cpus: CPUs each boot gets where the arch and tree have SMP.
    cpus: int = DEFAULT_CPUS
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
    # --debug: lockdep, DEBUG_LIST and KASAN (debug.config), in a build dir
    # of its own.
    debug: bool = False


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


def plan_run(target: Target, req: RunRequest) -> tuple[Plan, Capabilities]:
    """What the run would do, without building anything (kgen plan)."""
    if req.coverage:
        coverage.check_arch(target.arch)
        coverage.check_tree(target.tree)
    for name, on in req.kconfig.items():
        forced = target.arch.forced_on.get(name)
        if forced and not on:
            raise UsageError(f"--kconfig CONFIG_{name}=n: {forced}")
    # The target's capabilities stay as probed; this run's see its --kconfig.
    caps = replace(target.capabilities, kconfig_overrides=dict(req.kconfig))
    return make_plan(req.specs, caps, req.kernel_args, req.cpus), caps


def run(target: Target, req: RunRequest) -> RunOutcome:
    """Build and boot; always returns a RunResult (errors become error cases).

    Where the time went (timings.py) rides along: outcome.timings, and the
    same figures as kgen.time.* properties of the result.
    """
    timings = Timings()
    outcome = _run(target, req, timings)
    outcome.timings = timings
    outcome.result.properties.update(timings.properties())
    return outcome


def _run(target: Target, req: RunRequest, timings: Timings) -> RunOutcome:
    _check_tools(target)
    if req.coverage:
        coverage.check_tools()
    with timings.phase("plan"):
        plan, caps = plan_run(target, req)
    patched = req.patched if req.patched is not None \
        else patched_files(target.tree, req.patches)
    kunitconfig = compose(target.arch.name, plan.kconfig, req.kconfig, coverage=req.coverage,
                          debug=req.debug, kasan=not target.arch.debug_no_kasan)
    req.log(f"kgen: {target.arch.name}: {plan.nr_run} case(s) to run, {plan.nr_skip} to skip "
            f"(`kgen plan` says why); {plan.cpus} CPU(s)"
            + (f" ({plan.cpus_note})" if plan.cpus_note else ""))
    waiting = timings.clock()
    with Session(target, _session_config(target, req, plan)) as session:
        _waited_for_overlay(timings, waiting)
        props = session.properties() | _properties(target, req, plan, kunitconfig)
        with timings.phase("generate"):
            changed = session.prepare(generate(req.specs, caps, plan), kunitconfig, patched)
        req.log(f"kgen: {len(req.specs)} suite(s) generated into "
                f"{session.overlay.root}/mm/kgen ({len(changed)} file(s) changed)")
        req.log(f"kgen: building {target.arch.name} kernel in {session.build_dir}")
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
            boots, booter, console_log = Boots(uncompiled=tuple(uncompiled)), None, None
        else:
            props |= session.properties()   # the accelerator actually used
            req.log(f"kgen: kernel built in {built.seconds:.0f}s; booting"
                    + (f" (QEMU, accel {session.accel})" if target.arch.uses_qemu else ""))
            if req.coverage:
                coverage.start(session.build_dir)
            booter = Booter(session, built.specs, [c.id for c in plan.cases], timings)
            main = _needs_main_boot(plan)
            # A boot whose every suite did not compile would find nothing.
            complaints = [b for b in plan.complaint_boots
                          if not set(b.suites) <= set(built.dropped)]
            guests = [g for g in plan.guest_boots if g.suite not in built.dropped]
            boots = Boots(
                main=_main_boot(booter, plan, props) if main else None,
                complaints=boot_complaints(booter, complaints, props),
                guests=boot_guests(booter, guests, props, session.accel),
                uncompiled=tuple(uncompiled))
            console_log = session.path("console.log" if main else "console.guest1.log")
            if req.coverage:
                # Still under the overlay lock: another --coverage run on
                # this tree would reset the counters.
                covered = _collect_coverage(target, req, session.build_dir)
    result = reconcile(plan, req.specs, boots)
    _finish(result, target, req, props)
    result.build_log, result.build_seconds = built.phase.output, built.seconds
    outcome = RunOutcome(result, plan, build_seconds=built.seconds,
                         exec_seconds=booter.seconds if booter else 0.0,
                         console_log=console_log)
    outcome.coverage, outcome.coverage_error = covered
    return outcome


def _collect_coverage(target: Target, req: RunRequest,
                      build_dir: Path) -> tuple[coverage.CoverageReport | None, str]:
    """The boots' counters as a tracefile, HTML and the functions' table, or
    why not; a failure here is reported, and the test results stand."""
    out = req.coverage_dir or target.paths.coverage
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


def _check_tools(target: Target) -> None:
    missing = kunit_tool.missing_tools(target.arch)
    if missing:
        raise EnvironmentProblem("missing tools for --arch {}: {}".format(
            target.arch.name, ", ".join(missing)))


def _session_config(target: Target, req: RunRequest, plan: Plan) -> SessionConfig:
    build_dir = req.build_dir or target.paths.build_dir(req.kconfig, coverage=req.coverage,
                                                           debug=req.debug)
    return SessionConfig(build_dir=build_dir, limits=req.limits,
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


def _main_boot(booter: Booter, plan: Plan, props: dict[str, str]) -> Boot:
    """Boot once for everything, then again for what a crash or hang left.

    Recovery sees only the main boot's share: guest-layout suites and the
    cases that complain on purpose only skip there (they have boots of
    their own), and must never cost a reboot.
    """
    first = main_share(booter.boot(BootArgs("console.log")), plan)

    def again(glob: str, number: int) -> RunResult:
        booter.session.config.log(
            f"kgen: booting again for {glob} (not run after a crash or hang, or muted)")
        return booter.boot(BootArgs(f"console.rerun{number}.log", glob))

    boot = recovery.recover(first, again, booter.time_left)
    if boot.reruns:
        props["kgen.reboots"] = str(len(boot.reruns))
    return boot


def _properties(target: Target, req: RunRequest, plan: Plan,
                kunitconfig: str) -> dict[str, str]:
    """What this run adds to the session's properties."""
    props = {
        "kconfig.sha256": hashlib.sha256(kunitconfig.encode()).hexdigest()[:16],
        "kernel_args": " ".join(plan.kernel_args),
        "kgen.cpus": str(plan.cpus) + (f" ({plan.cpus_note})" if plan.cpus_note else ""),
    }
    if req.coverage:
        props["kgen.coverage"] = "gcc gcov (arch/um CONFIG_GCOV)"
    if req.debug:
        props["kgen.debug"] = "PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_LIST" + (
            f" (no KASAN: {target.arch.debug_no_kasan})" if target.arch.debug_no_kasan
            else " KASAN")
    if req.patches:
        props["kernel.patches"] = " ".join(p.name for p in req.patches)
    if req.kconfig:
        props["kconfig.overrides"] = " ".join(
            f"CONFIG_{k}={'y' if v else 'n'}" for k, v in sorted(req.kconfig.items()))
    if target.arch.uses_qemu:
        props["qemu_args"] = " ".join(plan.qemu_args)
    return props


def _finish(result: RunResult, target: Target, req: RunRequest,
            props: dict[str, str]) -> None:
    """Run-wide properties, spec provenance and the specs' known issues."""
    result.properties.update(props)
    for spec in req.specs:
        for suite in result.suites:
            if suite.name == spec.suite:
                suite.properties["spec.file"] = str(spec.path)
                suite.properties["spec.sha256"] = spec_hash(spec)[:16]
    mark_known_issues(result, req.specs,
                      result.properties.get("kernel.version") or target.version,
                      req.known_pass_fails)
