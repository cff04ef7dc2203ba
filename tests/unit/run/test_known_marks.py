"""Known issues from the specs onto results, and through validate."""
from __future__ import annotations

import textwrap
from pathlib import Path

from kgen.ids import TestId
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.run.known import mark_known_issues
from kgen.runner.validate.classify import classify, statuses
from kgen.spec.loader import load_spec
from kgen.spec.model import Spec

SPEC = """\
kgen: 1
suite: kgen_b
cases:
  - name: contig
    span: {alloc: boundary, boundary: zone}
    free: __free_contig_range
    sweep:
      pages_each_side: [1, 512]
    known_issue:
      reason: straddling chunk
      kernels: ">=7.2"
      when: {pages_each_side: [512]}
"""


def run(tmp_path: Path, big: Status) -> tuple[RunResult, Spec]:
    spec_path = tmp_path / "b.yaml"
    spec_path.write_text(textwrap.dedent(SPEC))
    spec = load_spec(spec_path)
    result = RunResult(suites=[SuiteResult("kgen_b", cases=[
        CaseResult.of(TestId("kgen_b", "contig", "each=1"), Status.PASSED),
        CaseResult.of(TestId("kgen_b", "contig", "each=512"), big,
                      kind=ResultKind.CRASH if big is Status.ERROR else ResultKind.NONE)])])
    return result, spec


def test_marks_only_the_declared_parameter_on_matching_kernels(tmp_path):
    result, spec = run(tmp_path, Status.ERROR)
    assert mark_known_issues(result, [spec], "7.3.4") == 1
    small, big = result.suites[0].cases
    assert small.known_issue is None
    assert big.known_issue.reason == "straddling chunk"
    assert big.known_issue.kernels == ">=7.2"
    assert big.known_issue.where == f"{tmp_path / 'b.yaml'}:10"
    assert big.known_failure and result.ok

    older, spec = run(tmp_path, Status.ERROR)
    assert mark_known_issues(older, [spec], "6.12.117") == 0
    assert not older.ok


def test_validate_calls_a_known_issue_that_passes_fixed(tmp_path):
    (base, spec), (tip, _) = run(tmp_path, Status.ERROR), run(tmp_path, Status.PASSED)
    for result in (base, tip):
        mark_known_issues(result, [spec], "7.3.4")
    per_step = [statuses(base), statuses(tip)]
    name = "kgen_b.kgen_b_contig/each=512"
    assert [s[name] for s in per_step] == ["known-fail", "known-pass"]
    cls = classify(["base", "1/1"], per_step)
    assert [(c.case, c.kind) for c in cls.changes[1]] == [(name, "fixed")]
    back = classify(["base", "1/1"], [per_step[1], per_step[0]])
    assert [(c.case, c.kind) for c in back.changes[1]] == [(name, "regression")]
