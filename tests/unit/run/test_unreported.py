"""Every planned case and parameter gets a result (issue 12 W3).

A suite that ran to its end but printed fewer results than kgen planned
must not pass: each planned case or parameter without a result line is an
error "no result".  What a crash, a hang or the run's budget kept from
running stays "not run", with the reason.
"""
from __future__ import annotations

import json
from pathlib import Path

from kgen.arch import arch
from kgen.ids import TestId
from kgen.runner.results.junit import build_junit
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.results.summary import render_summary
from kgen.runner.run.plan import Plan, PlannedCase, make_plan
from kgen.runner.run.reconcile import NO_RESULT, Boot, Boots, reconcile
from kgen.spec.loader import load_spec
from kgen.target.capabilities import assume_all

KTAP = Path(__file__).resolve().parents[2] / "fixtures" / "ktap"


def plan_of(*ids: TestId) -> Plan:
    return Plan("um", [PlannedCase(i) for i in ids], [], [], [])


def reconciled(result: RunResult, plan: Plan) -> RunResult:
    """The run's result when result was its one boot."""
    return reconcile(plan, [], Boots(main=Boot(result)))


def by_name(result: RunResult) -> dict[str, CaseResult]:
    return {c.name: c for s in result.suites for c in s.cases}


def test_a_case_missing_from_a_finished_suite_has_no_result():
    plan = plan_of(TestId("s", "a"), TestId("s", "b"), TestId("s", "c"))
    result = RunResult(suites=[SuiteResult("s", [
        CaseResult.of(TestId("s", "a"), Status.PASSED),
        CaseResult.of(TestId("s", "c"), Status.PASSED)])])
    result = reconciled(result, plan)
    assert [c.name for c in result.suites[0].cases] == ["s_a", "s_b", "s_c"]
    missing = by_name(result)["s_b"]
    assert (missing.status, missing.kind, missing.message) == (
        Status.ERROR, ResultKind.NO_RESULT, NO_RESULT)
    assert not result.ok


def test_a_parameter_list_shorter_than_planned_has_no_result():
    plan = plan_of(*(TestId("s", "x", f"n={n}") for n in (1, 2, 3)))
    result = RunResult(suites=[SuiteResult("s", [
        CaseResult.of(TestId("s", "x", "n=1"), Status.PASSED),
        CaseResult.of(TestId("s", "x", "n=2"), Status.PASSED)])])
    result = reconciled(result, plan)
    assert by_name(result)["s_x/n=3"].kind == ResultKind.NO_RESULT


def test_the_plan_says_three_the_kernel_prints_two():
    """KTAP's own plan ("1..3") does not help: the suite's result line came,
    so the suite finished, and the third case has no result."""
    ktap = ["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: s",
            "    1..3", "    ok 1 s_a", "    ok 2 s_b", "ok 1 s"]
    plan = plan_of(TestId("s", "a"), TestId("s", "b"), TestId("s", "c"))
    result = parse_console(ktap, tests=[c.id for c in plan.cases])
    assert [c.name for c in result.suites[0].cases] == ["s_a", "s_b"]
    result = reconciled(result, plan)
    assert by_name(result)["s_c"].kind == ResultKind.NO_RESULT


def test_what_a_crash_cut_short_is_not_run():
    plan = plan_of(*(TestId("s", "x", f"n={n}") for n in (1, 2, 3)))
    crash = CaseResult.of(TestId("s", "x", "n=2"), Status.ERROR, kind=ResultKind.CRASH,
                          message="BUG")
    result = RunResult(suites=[SuiteResult("s", [
        CaseResult.of(TestId("s", "x", "n=1"), Status.PASSED), crash])])
    result = reconciled(result, plan)
    after = by_name(result)["s_x/n=3"]
    assert after.kind == ResultKind.NOT_RUN
    assert after.message == "not run: the kernel stopped in s.s_x/n=2"


def test_what_the_budget_kept_from_running_keeps_its_reason():
    plan = plan_of(TestId("s", "a"), *(TestId("s", "x", f"n={n}") for n in (1, 2)))
    result = RunResult(suites=[SuiteResult("s", [
        CaseResult.of(TestId("s", "a"), Status.PASSED),
        # The parser's placeholder for a case a crash or the budget kept
        # from starting: its bare KUnit name, which the plan does not have.
        CaseResult("s_x", Status.ERROR, kind=ResultKind.NOT_RUN,
                   message="not run: the run's --timeout was used up")])])
    result = reconciled(result, plan)
    for name in ("s_x/n=1", "s_x/n=2"):
        assert by_name(result)[name].kind == ResultKind.NOT_RUN
        assert by_name(result)[name].message == "not run: the run's --timeout was used up"


def test_no_result_is_an_error_in_summary_and_junit():
    plan = plan_of(TestId("s", "a"), TestId("s", "b"))
    result = RunResult(suites=[SuiteResult("s", [
        CaseResult.of(TestId("s", "a"), Status.PASSED)])])
    result = reconciled(result, plan)
    summary = render_summary(result)
    assert f"ERROR   s_b: {NO_RESULT}" in summary
    assert summary.endswith("1 passed, 0 failed, 0 skipped, 1 errors")
    xml = build_junit(result).tostring().decode()
    assert 'type="no-result"' in xml and NO_RESULT in xml


def test_real_boot_that_reported_less_than_planned():
    """W3 on a real UML 7.3 boot (tests/fixtures/ktap/README.md): a case
    dropped from the suite's case array and the last parameter dropped from
    another case's list; the suite itself finished."""
    sidecar = json.loads((KTAP / "um_refcount_hold_trimmed.expected.json").read_text())
    plan = make_plan([load_spec(KTAP / sidecar["_plan_spec"])], assume_all(arch("um")))
    lines = (KTAP / "um_refcount_hold_trimmed.log").read_text().splitlines()
    result = parse_console(lines, tests=[c.id for c in plan.cases])
    reported = by_name(result)
    assert len(reported) == len(plan.cases) - 2
    assert all(c.status is Status.PASSED for c in reported.values())
    assert result.ok            # what the parser alone makes of it: all passed
    result = reconciled(result, plan)
    cases = by_name(result)
    assert set(cases) == {c.name for c in plan.cases}
    missing = {name for name, c in cases.items() if c.kind == ResultKind.NO_RESULT}
    assert missing == {key.split(".", 1)[1] for key in sidecar["_no_result_after_plan"]}
    assert all(cases[n].status is Status.ERROR and cases[n].message == NO_RESULT
               for n in missing)
    assert render_summary(result).endswith(
        f"{len(plan.cases) - 2} passed, 0 failed, 0 skipped, 2 errors")
