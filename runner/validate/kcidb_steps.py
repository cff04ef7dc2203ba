"""The steps of a validated series as KCIDB checkouts.

KCIDB names what was built a checkout: a base commit plus a patchset.  The
base is step 0; step N is the base with patches 1..N, each with the build
(or builds, with --repeat) and tests that ran on it.  A patch that did not
apply gives an invalid checkout carrying patch's output; steps after it,
which never existed, are left out.
"""
from __future__ import annotations

from kgen.git_tree import git_head
from kgen.runner.results.kcidb import Checkout
from kgen.runner.validate.pipeline import StepState, ValidateOutcome
from kgen.target.target import Target


def step_checkouts(target: Target, outcome: ValidateOutcome) -> list[Checkout]:
    git = git_head(target.tree, outcome.git_base) if outcome.git_base \
        else git_head(target.tree)
    checkouts = []
    for index, step in enumerate(outcome.steps):
        if step.state is StepState.NOT_RUN:
            continue
        applied = outcome.patches[:index]
        valid = step.state is not StepState.APPLY_FAILED
        runs = step.results + ([step.failed_run] if step.failed_run else [])
        checkouts.append(Checkout(
            tree=target.tree, version=target.version, git=git,
            patches=[(f"{i}/{len(outcome.patches)} {p.subject}", p.text.encode())
                     for i, p in enumerate(applied, 1)],
            valid=valid, log="" if valid else step.detail,
            step=f"step{index}", runs=runs))
    return checkouts
