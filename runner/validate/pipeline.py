"""`kgen validate`: run the specs at the base of a series and after each patch.

No copy of the tree is made.  Every step is a `kgen run` of the user's
tree, through run's overlay and its build dir for that tree and arch
(runner/harness/overlay.py, session.py).  A patched step's overlay holds
the files the series touched so far as real, patched copies; everything
else stays a symlink into the tree, which is never written.  The patches
are applied first to scratch copies of just the files they touch
(patches.Scratch), all of them before anything is built: a patch that does
not apply changes nothing, and is reported at once.

Sharing run's build dir makes a step cost an incremental build.  Make's
timestamps are the trap: a patched copy is newer than its object, so going
forward make rebuilds it, but going back to the tree's file (an older
symlink target) make would keep the patched object.  So at every switch
the session drops the build outputs whose .cmd files name a file whose
version changed (session.drop_stale_objects), per build dir, from a record
beside it.  At the end, also on Ctrl-C or an error, the overlay and the
build dir are put back for the plain tree (``_restore``), so the next
`kgen run` rebuilds just those objects and gives the plain tree's results.

For BASE..TIP in a git tree the base step is the checked-out work tree,
plus `git diff HEAD BASE` when BASE is not HEAD; the commits' diffs are
the patches.
"""
from __future__ import annotations

import enum
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kgen.errors import EXIT_BAD_INPUT, EXIT_INFRA, KgenError, UsageError
from kgen.git_tree import git
from kgen.runner.harness.patches import Patched, PatchText, Scratch, touched_files
from kgen.runner.harness.session import BootLimits, Session, SessionConfig
from kgen.runner.results.junit import write_junit
from kgen.runner.results.model import ResultKind, RunResult
from kgen.runner.run.pipeline import RunRequest, run
from kgen.runner.validate.classify import Allowed, Classification, classify, merge_repeats, statuses
from kgen.runner.validate.series import Patch, load_series
from kgen.spec.model import Spec
from kgen.target.target import Target


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
    # The overlay's patched files for this step ({}: the plain tree).
    files: Patched = field(default_factory=dict, repr=False)


@dataclass
class ValidateRequest:
    """What one `kgen validate` of a Target (the series' base tree) asks for."""

    series: str
    specs: list[Spec]
    out_dir: Path
    tip_only: bool = False
    repeat: int = 1
    limits: BootLimits = field(default_factory=BootLimits)   # per step: all its boots
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

    @property
    def incomplete_exit_code(self) -> int | None:
        """Why the series did not get through, as `kgen run` would exit:
        a patch that does not apply is bad input (2; found before anything
        is built, like `kgen run --patch`), a step that did not build or
        boot is infrastructure (3).  None when every step got through."""
        if not self.incomplete:
            return None
        states = {s.state for s in self.steps}
        if StepState.APPLY_FAILED not in states and \
                states & {StepState.BUILD_FAILED, StepState.BOOT_FAILED}:
            return EXIT_INFRA
        return EXIT_BAD_INPUT

    def blocking(self, allowed: Allowed) -> dict[str, int]:
        """Kind -> cases that fail the validation (regressions, and the lost
        coverage `allowed` does not accept); empty when it passes."""
        return self.classification.blocking(allowed)


def _run_step(target: Target, req: ValidateRequest, step: Step, index: int) -> None:
    for attempt in range(1, req.repeat + 1):
        req.log(f"kgen validate: step {step.name}, run {attempt}/{req.repeat}")
        outcome = run(target, RunRequest(specs=req.specs, limits=req.limits, log=req.log,
                                         patched=step.files))
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


def checkout_to_base(tree: Path, base: str) -> PatchText | None:
    """`git diff HEAD BASE` as a patch for the checked-out tree; None when
    BASE is HEAD.  Uncommitted changes in the tree stay in every step."""
    head = git(tree, "rev-parse", "--verify", "--quiet", "HEAD")
    if head.returncode or head.stdout.strip() == base:
        return None
    # Options that ignore diff.noprefix, diff.external and the like in the
    # user's git config; a binary difference is refused by Scratch.apply.
    diff = git(tree, "diff", "--no-color", "--no-renames", "--no-ext-diff", "--no-textconv",
               "--src-prefix=a/", "--dst-prefix=b/", "HEAD", base)
    if diff.returncode:
        raise UsageError(f"git diff HEAD {base[:12]} failed in {tree}: {diff.stderr.strip()}")
    if not diff.stdout.strip():
        return None
    return PatchText(f"git diff HEAD {base[:12]}", diff.stdout)


def _step_files(tree: Path, req: ValidateRequest, base: str | None, patches: list[Patch],
                steps: list[Step]) -> None:
    """Apply the whole series to scratch copies now, before any build: set
    each step's files, or mark the patch that does not apply (and the steps
    after it)."""
    with Scratch(tree) as scratch:
        to_base = checkout_to_base(tree, base) if base else None
        if to_base:
            failed = scratch.apply(to_base)
            if failed:
                raise UsageError(f"--series {req.series}: the checked-out tree cannot be "
                                 f"brought to {base[:12]} (uncommitted changes in the "
                                 f"way?):\n{failed}")
            steps[0].files = scratch.files()
        for i, (step, patch) in enumerate(zip(steps[1:], patches), 1):
            failed = scratch.apply(PatchText(f"patch {step.name}", patch.text, patch.strip))
            if failed:
                step.state, step.detail = StepState.APPLY_FAILED, failed
                req.log(f"kgen validate: patch {step.name} ({patch.subject}) does not apply "
                        f"to {tree}; nothing was changed:\n{failed}")
                for later in steps[i + 1:]:
                    later.state = StepState.NOT_RUN
                    later.detail = "an earlier patch did not apply"
                return
            # Files the patch did not touch keep the previous step's bytes
            # (shared, not copied again).
            step.files = steps[i - 1].files | scratch.files(
                touched_files(patch.text, patch.strip))


def _restore(target: Target, req: ValidateRequest) -> None:
    """Put run's overlay and build dir back for the plain tree."""
    config = SessionConfig(log=req.log, build_dir=target.paths.build_dir())
    try:
        with Session(target, config) as session:
            session.unpatch()
    except (KgenError, OSError) as err:
        # The next `kgen run` still drops what is stale (the record beside
        # the build dir says what); only say why it was not done now.
        req.log(f"kgen validate: could not restore the overlay now ({err}); "
                "the next kgen run will")


def validate(target: Target, req: ValidateRequest) -> ValidateOutcome:
    with tempfile.TemporaryDirectory(prefix="kgen-series-") as tmp:
        base, patches = load_series(req.series, target.tree, Path(tmp))
    req.out_dir.mkdir(parents=True, exist_ok=True)
    steps = [Step("base", commit=base or "")] + [
        Step(f"{i}/{len(patches)}", p.subject, commit=p.commit)
        for i, p in enumerate(patches, 1)]
    _step_files(target.tree, req, base, patches, steps)
    req.log(f"kgen validate: {len(patches)} patch(es) on {target.tree}, in kgen run's "
            "overlay and build dir (the tree is not copied or written)")
    if steps[1].state is StepState.APPLY_FAILED:
        # Nothing to compare the base with: build nothing.
        steps[0].state = StepState.NOT_RUN
        steps[0].detail = "patch 1 does not apply: nothing to compare the base with"
    patched_a_build = False
    try:
        for i, step in enumerate(steps):
            if step.state is not StepState.OK:
                continue
            if req.tip_only and 0 < i < len(patches):
                step.state = StepState.APPLIED
                continue
            patched_a_build |= bool(step.files)
            _run_step(target, req, step, i)
            if step.state is not StepState.OK:
                for later in steps[i + 1:]:
                    if later.state in (StepState.OK, StepState.APPLIED):
                        later.state = StepState.NOT_RUN
                        later.detail = "an earlier step did not build or boot"
                break
    finally:
        if patched_a_build:
            _restore(target, req)

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
