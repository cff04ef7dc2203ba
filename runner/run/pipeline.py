"""`kgen run`: specs -> plan -> generated suites -> overlay -> kunit.py -> results."""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kgen import __version__
from kgen.arch import DEFAULT_ARCH, arch
from kgen.cache import cache_root, default_build_dir, overlay_dir
from kgen.errors import EnvironmentProblem, UsageError
from kgen.generator.render import spec_hash
from kgen.kernel_tree import kernel_version
from kgen.runner.harness import guest_dtb, kunit_tool, qemu_shim
from kgen.runner.harness.kunitconfig import compose
from kgen.runner.harness.overlay import Overlay
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status
from kgen.runner.results.splats import find_splats
from kgen.runner.run import recovery
from kgen.runner.run.capabilities import Capabilities, probe_tree
from kgen.runner.run.plan import GuestBoot, Plan, generate, make_plan
from kgen.spec.model import Spec

LOG_TAIL = 60
# Guest-layout suites free across zone and node boundaries under zone->lock.
# An oops there leaves the lock held and every later case hangs until
# kunit.py's timeout; panicking instead ends the boot at once, and recovery
# boots again for the cases that did not run.
GUEST_PANIC_ARGS = ["oops=panic", "panic=-1"]


@dataclass
class RunRequest:
    tree: Path
    specs: list[Spec]
    arch: str = DEFAULT_ARCH
    build_dir: Path | None = None
    jobs: int | None = None
    timeout: int = 600
    kernel_args: list[str] = field(default_factory=list)
    accel: str = "tcg"
    log: Callable[[str], None] = print
    # --kconfig: option name -> set (True) or unset (False), over the fragments.
    kconfig: dict[str, bool] = field(default_factory=dict)


@dataclass
class RunOutcome:
    result: RunResult
    plan: Plan
    build_seconds: float = 0.0
    exec_seconds: float = 0.0
    console_log: Path | None = None


def _error_result(name: str, kind: str, message: str, log: list[str]) -> CaseResult:
    return CaseResult(name=name, status=Status.ERROR, kind=kind, message=message,
                      log=log[-LOG_TAIL:])


# Most telling first: a compiler/linker diagnostic, then kunit.py's own
# explanations (e.g. a Kconfig option that could not be set), then anything.
_BUILD_ERROR_PATTERNS = (
    re.compile(r":\d+:\d+: (fatal )?error: "),
    re.compile(r"undefined reference to|ld: .*error"),
    re.compile(r"Not all Kconfig options|Missing: |were not set"),
    re.compile(r"ERROR:|\berror:|Error \d"),
)


def first_error_line(lines: list[str]) -> str:
    for pattern in _BUILD_ERROR_PATTERNS:
        for line in lines:
            if pattern.search(line):
                return line.strip().removeprefix("ERROR:root:")
    return lines[-1].strip() if lines else "build failed"


class OverlayLock:
    """One kgen run per overlay at a time (they share files and build dir)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w")

    def __enter__(self):
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EnvironmentProblem(f"another kgen run holds {self.file.name}") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def plan_run(req: RunRequest) -> tuple[Plan, Capabilities]:
    """What the run would do, without building anything (kgen plan)."""
    caps = probe_tree(req.tree, req.arch)
    for name, on in req.kconfig.items():
        forced = arch(req.arch).forced_on.get(name)
        if forced and not on:
            raise UsageError(f"--kconfig CONFIG_{name}=n: {forced}")
    caps.kconfig_overrides = dict(req.kconfig)
    return make_plan(req.specs, caps, req.kernel_args), caps


def _properties(req: RunRequest, plan: Plan, kunitconfig: str) -> dict[str, str]:
    props = {
        "arch": req.arch,
        "kernel.version": kernel_version(req.tree),
        "kernel.tree": str(req.tree),
        "kconfig.sha256": hashlib.sha256(kunitconfig.encode()).hexdigest()[:16],
        "kernel_args": " ".join(plan.kernel_args),
        "kgen.version": __version__,
    }
    if req.kconfig:
        props["kconfig.overrides"] = " ".join(
            f"CONFIG_{k}={'y' if v else 'n'}" for k, v in sorted(req.kconfig.items()))
    if arch(req.arch).uses_qemu:
        # Guest timings under TCG are ratios, not absolute numbers.
        props["qemu.accel"] = req.accel
        props["qemu_args"] = " ".join(plan.qemu_args)
    return props


def _expected_splats(specs: list[Spec]) -> dict[tuple[str, str], set[str]]:
    """(suite, case function) -> splat kinds the case must produce."""
    out = {}
    for spec in specs:
        for case in spec.cases:
            if case.expect.splats:
                out[(spec.suite, f"{spec.suite}_{case.name}")] = set(case.expect.splats)
    return out


def _check_expected_splats(result: RunResult,
                           expected: dict[tuple[str, str], set[str]]) -> None:
    """A declared splat that did not appear fails its (passing) case."""
    for suite in result.suites:
        for case in suite.cases:
            kinds = expected.get((suite.name, case.name.split("/")[0]))
            if not kinds or case.status is not Status.PASSED:
                continue
            seen = {s.kind for s in find_splats(case.log)}
            missing = sorted(kinds - seen)
            if missing:
                case.status = Status.FAILED
                case.kind = ResultKind.EXPECT_SPLATS
                case.message = (f"expect.splats: expected {', '.join(missing)} in the "
                                "kernel log of this case; it did not appear")


def run(req: RunRequest) -> RunOutcome:
    """Build and boot; always returns a RunResult (errors become error cases)."""
    missing = kunit_tool.missing_tools(req.arch)
    if missing:
        raise EnvironmentProblem("missing tools for --arch {}: {}".format(
            req.arch, ", ".join(missing)))
    plan, caps = plan_run(req)
    build_dir = (req.build_dir or default_build_dir(req.tree, req.arch, req.kconfig)).resolve()
    overlay = Overlay(req.tree, overlay_dir(req.tree))
    kunitconfig_text = compose(req.arch, plan.kconfig, req.kconfig)
    props = _properties(req, plan, kunitconfig_text)
    req.log(f"kgen: {req.arch}: {plan.nr_run} case(s) to run, {plan.nr_skip} to skip "
            "(`kgen plan` says why)")

    with OverlayLock(overlay.root.with_suffix(".lock")):
        changed = overlay.sync(generate(req.specs, caps, plan))
        req.log(f"kgen: {len(req.specs)} suite(s) generated into {overlay.root}/mm/kgen"
                f" ({len(changed)} file(s) changed)")
        build_dir.mkdir(parents=True, exist_ok=True)
        kunitconfig = build_dir.parent / f"{build_dir.name}.kunitconfig"
        kunitconfig.write_text(kunitconfig_text)
        inv = kunit_tool.Invocation(
            kunit_py=overlay.kunit_py, build_dir=build_dir, kunitconfig=kunitconfig,
            arch=req.arch, jobs=req.jobs or kunit_tool.Invocation.jobs,
            timeout=req.timeout, kernel_args=plan.kernel_args,
            qemu_args=plan.qemu_args, accel=req.accel,
            shim_dir=qemu_shim.install(cache_root() / "qemu-shim"))

        req.log(f"kgen: building {req.arch} kernel in {build_dir}")
        built = kunit_tool.build(inv, build_dir.parent / f"{build_dir.name}.build.log")
        if not built.ok:
            result = RunResult(properties=props, raw_log=built.output)
            result.errors.append(_error_result(
                "build", "build", first_error_line(built.output), built.output))
            return RunOutcome(result, plan, build_seconds=built.seconds)

        req.log(f"kgen: kernel built in {built.seconds:.0f}s; booting"
                + (f" (QEMU, accel {req.accel})" if arch(req.arch).uses_qemu else ""))
        console_log = build_dir.parent / f"{build_dir.name}.console.log"
        known = {spec.suite: [f"{spec.suite}_{case.name}" for case in spec.cases]
                 for spec in req.specs}
        expected = _expected_splats(req.specs)

        def boot(log_path: Path, glob: str = "",
                 boot_inv: kunit_tool.Invocation | None = None) -> tuple[RunResult, float]:
            booted = kunit_tool.execute(boot_inv or inv, log_path, glob)
            # A boot filtered to one suite must not report the others missing.
            expected_suites = known if not glob else {
                s: c for s, c in known.items() if s == glob.split(".")[0]}
            parsed = parse_console(
                booted.output, known_cases=expected_suites,
                expected_splats=lambda suite, case: expected.get(
                    (suite, case.split("/")[0]), set()))
            _check_expected_splats(parsed, expected)
            recovery.mark_timeout(parsed, booted.output, req.timeout)
            if booted.timed_out:
                parsed.errors.append(_error_result(
                    "timeout", "timeout", f"kunit.py did not return within "
                    f"{req.timeout + 60}s", booted.output))
            return parsed, booted.seconds

        result, exec_seconds = boot(console_log)
        # Guest-layout suites only skip in this boot and get a boot of their
        # own below: never spend a recovery reboot on them.
        _drop_suites(result, {g.suite for g in plan.guest_boots})

        def boot_again(glob: str, number: int) -> RunResult:
            req.log(f"kgen: booting again for {glob} (not run after a crash or hang)")
            log_path = build_dir.parent / f"{build_dir.name}.console.rerun{number}.log"
            return boot(log_path, glob)[0]

        reboots = recovery.recover(result, boot_again)
        if reboots:
            props["kgen.reboots"] = str(reboots)
        for number, guest in enumerate(plan.guest_boots, 1):
            req.log(f"kgen: booting {guest.suite} in its guest layout: "
                    f"{' '.join(guest.qemu_args + guest.kernel_args)}")
            qemu_args = inv.qemu_args + guest.qemu_args
            if guest.device_tree:
                try:
                    dtb = guest_dtb.build(
                        guest.qemu_args, guest.cma_regions,
                        build_dir.parent / f"{build_dir.name}.{guest.suite}.dtb", req.accel,
                        guest.dma_limit)
                except EnvironmentProblem as err:
                    # The other suites' results stand; this one cannot boot.
                    _merge_guest_boot(result, RunResult(errors=[_error_result(
                        "device-tree", "boot", str(err), [])]), guest)
                    continue
                qemu_args += ["-dtb", str(dtb)]
            guest_inv = dataclasses.replace(
                inv, kernel_args=inv.kernel_args + guest.kernel_args + GUEST_PANIC_ARGS,
                qemu_args=qemu_args)
            stem = f"{build_dir.name}.console.guest{number}"
            booted, seconds = boot(build_dir.parent / f"{stem}.log", guest.suite, guest_inv)
            exec_seconds += seconds

            def guest_again(glob: str, rerun: int, guest_inv=guest_inv,
                            stem=stem) -> RunResult:
                req.log(f"kgen: booting the guest layout again for {glob} "
                        "(not run after a crash)")
                return boot(build_dir.parent / f"{stem}.rerun{rerun}.log", glob,
                            guest_inv)[0]

            guest_reboots = recovery.recover(booted, guest_again)
            _merge_guest_boot(result, booted, guest)
            props[f"guest.{guest.suite}"] = " ".join(guest.qemu_args + guest.kernel_args)
            if guest_reboots:
                props[f"guest.{guest.suite}.reboots"] = str(guest_reboots)

    result.properties.update(props)
    for spec in req.specs:
        for suite in result.suites:
            if suite.name == spec.suite:
                suite.properties["spec.file"] = str(spec.path)
                suite.properties["spec.sha256"] = spec_hash(spec)[:16]
    _name_unnamed_params(result, plan)
    _report_missing_suites(req.specs, result)
    return RunOutcome(result, plan, build_seconds=built.seconds,
                      exec_seconds=exec_seconds, console_log=console_log)


def _drop_suites(result: RunResult, suites: set[str]) -> None:
    result.suites = [s for s in result.suites if s.name not in suites]
    result.errors = [e for e in result.errors
                     if not (e.kind == ResultKind.NOT_RUN and e.name in suites)]


def _merge_guest_boot(result: RunResult, booted: RunResult, guest: GuestBoot) -> None:
    """The suite's results come from the boot in its own guest layout.

    The main boot also ran it, but there every case skipped with "runs only
    in a boot with guest layout ..."; those placeholders are replaced.
    Problems of the guest boot (crash, timeout, missing TAP) are kept,
    named after the layout's suite.
    """
    result.suites = [s for s in result.suites if s.name != guest.suite]
    for suite in booted.suites:
        if suite.name == guest.suite:
            suite.properties["guest"] = " ".join(guest.qemu_args + guest.kernel_args)
            result.suites.append(suite)
    for error in booted.errors:
        error.name = f"{guest.suite}: {error.name}"
        result.errors.append(error)


def _name_unnamed_params(result: RunResult, plan: Plan) -> None:
    """KUnit prints a parameter's name only with its result line, so one that
    crashed is "case/#N" in the log: name it from the plan, in spec order."""
    planned: dict[tuple[str, str], list[str]] = {}
    for case in plan.cases:
        base, _, param = case.name.partition("/")
        if param:
            planned.setdefault((case.suite, base), []).append(param)
    for suite in result.suites:
        for case in suite.cases:
            base, _, param = case.name.partition("/")
            params = planned.get((suite.name, base), [])
            if param.startswith("#") and param[1:].isdigit() and \
                    0 < int(param[1:]) <= len(params):
                case.name = f"{base}/{params[int(param[1:]) - 1]}"


def _report_missing_suites(specs: list[Spec], result: RunResult) -> None:
    """A generated suite that never reported is an error, never silence."""
    seen = {s.name for s in result.suites}
    for spec in specs:
        # A guest boot's own errors are named "<suite>: ..." and say why.
        explained = any(e.kind == ResultKind.BOOT or e.name.startswith(f"{spec.suite}: ")
                        for e in result.errors)
        if spec.suite not in seen and not explained:
            result.errors.append(CaseResult(
                name=spec.suite, status=Status.ERROR, kind=ResultKind.NOT_RUN,
                message=f"suite {spec.suite} ({spec.path}) produced no results"))
