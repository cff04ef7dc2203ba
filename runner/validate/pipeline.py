"""`kgen validate`: run the specs at the base of a series and after each patch.

Steps run in a throwaway copy of the tree (runner/worktree.py) with one
build dir, so each step rebuilds only what its patch changed.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kgen.arch import DEFAULT_ARCH
from kgen.cache import cache_root, tree_key
from kgen.runner.results.junit import write_junit
from kgen.runner.results.model import ResultKind, RunResult
from kgen.runner.run.pipeline import RunRequest, run
from kgen.runner.validate.classify import Allowed, Classification, classify, merge_repeats, statuses
from kgen.runner.validate.series import Patch, load_series
from kgen.runner.validate.worktree import WorkTree
from kgen.spec.model import Spec


class StepState(enum.StrEnum):
    """What became of one step of a series (its value is shown in reports)."""

    OK = "ok"                       # ran; its results are classified
    APPLIED = "applied"             # --tip-only: applied, not run
    APPLY_FAILED = "apply-failed"
    BUILD_FAILED = "build-failed"
    BOOT_FAILED = "boot-failed"
    NOT_RUN = "not-run"             # an earlier step broke

    @property
    def usable(self) -> bool:
        """The series got through this step (ran, or applied on the way)."""
        return self in (StepState.OK, StepState.APPLIED)


@dataclass
class Step:
    name: str                   # "base" or "3/5 mm: subject"
    subject: str = ""
    state: StepState = StepState.OK
    detail: str = ""            # failing hunk, build error ...
    commit: str = ""            # BASE..TIP: the commit this step is
    results: list[RunResult] = field(default_factory=list)
    junit: list[Path] = field(default_factory=list)
    # The run that did not build or boot (not classified; KCIDB shows it).
    failed_run: RunResult | None = None


@dataclass
class ValidateRequest:
    tree: Path
    series: str
    specs: list[Spec]
    out_dir: Path
    arch: str = DEFAULT_ARCH
    tip_only: bool = False
    repeat: int = 1
    timeout: int = 600            # per step: seconds for all its boots
    stall_seconds: float | None = None
    accel: str = "tcg"
    log: Callable[[str], None] = print


@dataclass
class ValidateOutcome:
    steps: list[Step]
    classification: Classification
    patches: list[Patch]
    git_base: str | None = None     # BASE of a BASE..TIP series

    @property
    def incomplete(self) -> bool:
        return not all(s.state.usable for s in self.steps)

    def blocking(self, allowed: Allowed) -> dict[str, int]:
        """Kind -> cases that fail the validation (regressions, and the lost
        coverage `allowed` does not accept); empty when it passes."""
        return self.classification.blocking(allowed)


def _run_step(req: ValidateRequest, work: WorkTree, step: Step, index: int) -> None:
    for attempt in range(1, req.repeat + 1):
        req.log(f"kgen validate: step {step.name}, run {attempt}/{req.repeat}")
        outcome = run(RunRequest(tree=work.path, specs=req.specs, arch=req.arch,
                                 timeout=req.timeout, stall_seconds=req.stall_seconds,
                                 accel=req.accel, log=req.log))
        result = outcome.result
        result.properties["validate.step"] = step.name
        if step.commit:
            result.properties["validate.commit"] = step.commit
        junit = req.out_dir / f"step{index:02d}-run{attempt}.xml"
        write_junit(result, junit)
        step.junit.append(junit)
        kinds = {e.kind for e in result.errors}
        if ResultKind.BUILD in kinds or ResultKind.BOOT in kinds:
            step.state = (StepState.BUILD_FAILED if ResultKind.BUILD in kinds
                          else StepState.BOOT_FAILED)
            step.detail = next(e.message for e in result.errors
                               if e.kind in (ResultKind.BUILD, ResultKind.BOOT))
            step.failed_run = result
            return
        step.results.append(result)


def validate(req: ValidateRequest) -> ValidateOutcome:
    work = WorkTree(req.tree, cache_root() / "validate" / tree_key(req.tree))
    base, patches = load_series(req.series, req.tree, work.root)
    req.out_dir.mkdir(parents=True, exist_ok=True)
    req.log(f"kgen validate: {len(patches)} patch(es); copying {req.tree} to {work.path}")
    work.reset(base)

    steps = [Step("base", commit=base or "")] + [
        Step(f"{i}/{len(patches)}", p.subject, commit=p.commit)
        for i, p in enumerate(patches, 1)]
    _run_step(req, work, steps[0], 0)
    broken = steps[0].state is not StepState.OK
    for i, (step, patch) in enumerate(zip(steps[1:], patches), 1):
        if broken:
            step.state = StepState.NOT_RUN
            step.detail = "an earlier step did not apply, build or boot"
            continue
        applied = work.apply(patch.text, patch.strip)
        if not applied.ok:
            step.state, step.detail = StepState.APPLY_FAILED, applied.output
            broken = True
            continue
        if req.tip_only and i < len(patches):
            step.state = StepState.APPLIED
            continue
        _run_step(req, work, step, i)
        broken = step.state is not StepState.OK

    per_step: list[dict[str, str] | None] = []
    flaky: list[dict[str, list[str]]] = []
    for step in steps:
        if step.state is not StepState.OK:
            per_step.append(None)
            flaky.append({})
            continue
        merged, disagreeing = merge_repeats([statuses(r) for r in step.results])
        per_step.append(merged)
        flaky.append(disagreeing)
    classification = classify([s.name for s in steps], per_step, flaky)
    return ValidateOutcome(steps, classification, patches, base)
