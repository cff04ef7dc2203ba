"""reconcile(): a run's boots -> its one result, by the plan's tests."""
from __future__ import annotations

import copy

from kgen.ids import TestId
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.run.plan import ComplaintBoot, GuestBoot, Plan, PlannedCase
from kgen.runner.run.reconcile import (
    NO_RESULT,
    Boot,
    Boots,
    ComplaintBooted,
    GuestBooted,
    Rerun,
    complaint_share,
    main_share,
    reconcile,
)
from kgen.runner.run.recovery import recover

A, B, C = TestId("s", "a"), TestId("s", "b"), TestId("s", "c")
G = TestId("g", "x")


def plan_of(*ids: TestId, complaint: list[TestId] = (), guest: str = "") -> Plan:
    return Plan("um", [PlannedCase(i) for i in ids], [], [], [],
                guest_boots=[GuestBoot(guest, ["-m", "2048"], ["x=1"])] if guest else [],
                complaint_boots=[ComplaintBoot(1, list(complaint))] if complaint else [])


def ok(test: TestId) -> CaseResult:
    return CaseResult.of(test, Status.PASSED)


def cases(result: RunResult, suite: str = "s") -> dict[str, CaseResult]:
    return {c.name: c for s in result.suites if s.name == suite for c in s.cases}


def test_a_case_missing_from_a_finished_boot_has_no_result():
    booted = RunResult(suites=[SuiteResult("s", [ok(A), ok(C)])])
    result = reconcile(plan_of(A, B, C), [], Boots(main=Boot(booted)))
    assert list(cases(result)) == ["s_a", "s_b", "s_c"]           # plan order
    assert (cases(result)["s_b"].kind, cases(result)["s_b"].message) == (
        ResultKind.NO_RESULT, NO_RESULT)
    assert not result.ok


def test_what_follows_a_crash_is_not_run_and_names_the_case_it_died_in():
    crash = CaseResult.of(B, Status.ERROR, kind=ResultKind.CRASH, message="BUG")
    result = reconcile(plan_of(A, B, C), [], Boots(main=Boot(RunResult(
        suites=[SuiteResult("s", [ok(A), crash])]))))
    after = cases(result)["s_c"]
    assert (after.kind, after.message) == (ResultKind.NOT_RUN,
                                          "not run: the kernel stopped in s.s_b")
    assert cases(result)["s_b"].kind == ResultKind.CRASH


def _crashed_main() -> RunResult:
    return RunResult(suites=[SuiteResult("s", [
        ok(A), CaseResult.of(B, Status.ERROR, kind=ResultKind.CRASH, message="BUG"),
        CaseResult.of(C, Status.ERROR, kind=ResultKind.NOT_RUN, message="not run")])])


def test_a_recovery_boot_takes_the_place_of_what_the_crash_left():
    booted = recover(_crashed_main(), lambda glob, n: RunResult(
        suites=[SuiteResult("s", [ok(C)])]))
    assert [(r.glob, r.number) for r in booted.reruns] == [("s.s_c", 1)]
    result = reconcile(plan_of(A, B, C), [], Boots(main=booted))
    assert cases(result)["s_b"].kind == ResultKind.CRASH       # still its own crash
    rerun = cases(result)["s_c"]
    assert rerun.status is Status.PASSED
    assert rerun.log == ["kgen: result from rerun boot 1 (s.s_c)"]


def test_recovery_that_gives_up_leaves_not_run_with_the_reason():
    booted = recover(_crashed_main(), lambda glob, n: RunResult(),
                     time_left=lambda: 0.0)
    assert booted.reruns == () and "--timeout" in booted.gave_up
    result = reconcile(plan_of(A, B, C), [], Boots(main=booted))
    assert cases(result)["s_c"].message == "not run: the run's --timeout was used up"


def test_reconcile_leaves_the_boots_as_they_were_read():
    main = _crashed_main()
    boots = Boots(main=Boot(main, (Rerun("s.s_c", 1, RunResult(
        suites=[SuiteResult("s", [ok(C)])])),)))
    before = copy.deepcopy(boots)
    first = reconcile(plan_of(A, B, C), [], boots)
    assert boots == before
    assert reconcile(plan_of(A, B, C), [], boots) == first     # and again, the same


def test_guest_layout_boot_replaces_the_main_boots_placeholders():
    plan = plan_of(A, G, guest="g")
    main = RunResult(suites=[SuiteResult("s", [ok(A)]), SuiteResult("g", [
        CaseResult.of(G, Status.SKIPPED, message="runs only in a boot with guest layout")])])
    share = main_share(main, plan)
    assert [s.name for s in share.suites] == ["s"]            # never a reboot for g
    guest = RunResult(suites=[SuiteResult("g", [CaseResult.of(G, Status.FAILED)])],
                      errors=[CaseResult("boot", Status.ERROR, kind=ResultKind.CRASH)])
    result = reconcile(plan, [], Boots(main=Boot(share), guests=(
        GuestBooted(plan.guest_boots[0], "-m 2048 x=1", Boot(guest)),)))
    assert [s.name for s in result.suites] == ["s", "g"]
    assert cases(result, "g")["g_x"].status is Status.FAILED
    assert result.suites[1].properties["guest"] == "-m 2048 x=1"
    assert [(e.name, e.suite) for e in result.errors] == [("g: boot", "g")]


def test_complaint_boot_with_a_recovery_boot_of_its_own():
    plan = plan_of(A, B, C, complaint=[B, C])
    boot = plan.complaint_boots[0]
    main = main_share(RunResult(suites=[SuiteResult("s", [
        ok(A), CaseResult.of(B, Status.SKIPPED), CaseResult.of(C, Status.SKIPPED)])]), plan)
    assert list(cases(main)) == ["s_a"]
    # The complaint boot dies in s_b; its recovery boot runs s_c.
    first = complaint_share(RunResult(suites=[SuiteResult("s", [
        CaseResult.of(A, Status.SKIPPED, message="runs in the main boot"),
        CaseResult.of(B, Status.ERROR, kind=ResultKind.CRASH, message="BUG"),
        CaseResult.of(C, Status.ERROR, kind=ResultKind.NOT_RUN)])]), boot)
    assert list(cases(first)) == ["s_b", "s_c"]
    booted = recover(first, lambda glob, n: complaint_share(RunResult(suites=[
        SuiteResult("s", [CaseResult.of(A, Status.SKIPPED), ok(C)])]), boot))
    result = reconcile(plan, [], Boots(main=Boot(main),
                                       complaints=(ComplaintBooted(boot, booted),)))
    by = cases(result)
    assert list(by) == ["s_a", "s_b", "s_c"]
    assert by["s_b"].kind == ResultKind.CRASH
    assert by["s_c"].status is Status.PASSED
    assert by["s_c"].log == ["kgen: result from complaint boot 1",
                             "kgen: result from rerun boot 1 (s.s_c)"]


def test_a_complaint_boot_the_budget_left_out_is_an_error_that_names_its_cases():
    plan = plan_of(A, B, complaint=[B])
    result = reconcile(plan, [], Boots(
        main=Boot(RunResult(suites=[SuiteResult("s", [ok(A)])])),
        complaints=(ComplaintBooted(plan.complaint_boots[0], None),)))
    (error,) = result.errors
    assert error.name == "complaint boot 1" and error.kind == ResultKind.NOT_RUN
    assert error.message.endswith("before this complaint boot (s_b)")
    # The suite finished in the main boot, so its missing case has no result.
    assert cases(result)["s_b"].kind == ResultKind.NO_RESULT
