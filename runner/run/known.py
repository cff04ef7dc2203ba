"""Mark results with the known issues their specs declare (`known_issue:`).

A known issue applies to one parameter (or a whole case) on the kernels
its `kernels` constraint names; on other kernels the case is judged like
any other.  The marks only change how a result is reported and whether it
fails the run (results/model.py): the result itself stays what the kernel
did.
"""
from __future__ import annotations

from kgen.ids import TestId
from kgen.runner.results.model import KnownIssueNote, RunResult
from kgen.runner.run.plan import test_id
from kgen.spec.model import KnownIssue, Spec


def declared(specs: list[Spec]) -> dict[TestId, tuple[KnownIssue, str]]:
    """TestId -> the known issue its spec declares and "spec:line"."""
    out: dict[TestId, tuple[KnownIssue, str]] = {}
    for spec in specs:
        for case in spec.cases:
            for variant in case.variants:
                if variant.known_issue is None:
                    continue
                out[test_id(spec, case, variant)] = (
                    variant.known_issue, f"{spec.path}:{variant.known_issue.line}")
    return out


def mark_known_issues(result: RunResult, specs: list[Spec], kernel_version: str,
                      known_pass_fails: bool = True) -> int:
    """Attach each case's known issue, where it applies to kernel_version.

    Returns how many results were marked.
    """
    result.known_pass_fails = known_pass_fails
    table = declared(specs)
    marked = 0
    for suite in result.suites:
        for case in suite.cases:
            # A result the plan lacks (test None) declares nothing.
            found = table.get(case.test) if case.test else None
            if found is None or not found[0].applies_to(kernel_version):
                continue
            issue, where = found
            case.known_issue = KnownIssueNote(
                reason=issue.reason, link=issue.link,
                kernels=str(issue.kernels) if issue.kernels else "", where=where)
            marked += 1
    return marked
