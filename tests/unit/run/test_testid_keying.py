"""Results keyed by TestId (issue 22 item 3).

The boot reader gives each parsed case the TestId the plan gave its boot
(results/identify.py, called by the KTAP parser), and reconcile matches
results by it.  These tests read real-shaped KTAP, as boots.py does, and
reconcile it as the pipeline does.
"""
from __future__ import annotations

from kgen.ids import TestId
from kgen.runner.results.identify import PlannedTests
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import ResultKind, RunResult, Status
from kgen.runner.run.plan import ComplaintBoot, GuestBoot, Plan, PlannedCase
from kgen.runner.run.reconcile import (
    Boot,
    Boots,
    ComplaintBooted,
    GuestBooted,
    complaint_share,
    main_share,
    reconcile,
)
from kgen.runner.run.recovery import recover, rerun_targets

A, B, C = TestId("s", "a"), TestId("s", "b"), TestId("s", "c")
X1, X2, X3 = (TestId("s", "x", f"n={n}") for n in (1, 2, 3))
G1, G2 = TestId("g", "y", "n=1"), TestId("g", "y", "n=2")
OOPS = "BUG: kernel NULL pointer dereference, address: 0000000000000000"


def plan_of(*tests: TestId, complaint=(), guest: str = "") -> Plan:
    return Plan("um", [PlannedCase(t) for t in tests], [], [], [],
                guest_boots=[GuestBoot(guest, ["-m", "2048"], ["x=1"])] if guest else [],
                complaint_boots=[ComplaintBoot(1, list(complaint))] if complaint else [])


def suite(name: str, planned: int, *lines: str) -> list[str]:
    """One suite's KTAP at KUnit's indentation; lines are the suite's body."""
    return ["    KTAP version 1", f"    # Subtest: {name}", f"    1..{planned}",
            *(f"    {line}" for line in lines)]


def params(case: str, *results: str) -> list[str]:
    """A parameterised case's block (KUnit prints no plan for parameters)."""
    return ["    KTAP version 1", f"    # Subtest: {case}",
            *(f"    {r}" for r in results)]


def read(plan: Plan, *suites: list[str], suites_planned: int | None = None) -> RunResult:
    """A console as boots.py reads it: parsed with the plan's TestIds."""
    lines = ["KTAP version 1", f"1..{suites_planned or len(suites)}"]
    for number, body in enumerate(suites, 1):
        lines += body
        if not any(OOPS in line for line in body):
            lines.append(f"ok {number} {body[1].split(': ')[1]}")
    return parse_console(lines, tests=[c.id for c in plan.cases])


def by_test(result: RunResult, name: str = "s"):
    return {c.test: c for s in result.suites if s.name == name for c in s.cases}


def test_the_plans_tests_are_found_by_what_ktap_prints():
    planned = PlannedTests([A, X1, X2, X3, C])
    assert planned.find("s", "s_a") == A and planned.find("s", "s_x", "n=2") == X2
    assert planned.find("s", "s_x") is None        # the plan has its parameters only
    assert planned.find("s", "s_old") is None
    # A parameter the log never named, by its position among the plan's.
    assert [planned.param_at("s", "s_x", n) for n in (0, 1, 3, 4)] == [None, X1, X3, None]
    assert planned.case_names == {"s": ["s_a", "s_x", "s_c"]}


def test_a_crash_in_a_parameter_mid_suite():
    plan = plan_of(A, X1, X2, X3, C)
    first = read(plan, suite("s", 3, "ok 1 s_a", *params("s_x", "ok 1 n=1"), OOPS))
    parsed = {c.label: c for c in first.suites[0].cases}
    assert [(label, c.test) for label, c in parsed.items()] == [
        ("s_a", A), ("s_x/n=1", X1), ("s_x/#2", X2), ("s_c", C)]
    crashed = parsed["s_x/#2"]
    assert (crashed.kind, crashed.name) == (ResultKind.CRASH, "s_x/n=2")
    # Messages name it as the log does, as they always have.
    assert parsed["s_c"].message == "not run: kernel crashed in s.s_x/#2"

    # The crashed case's parameters cannot be selected: the reboot is for s_c.
    assert rerun_targets(first, set()) == ["s.s_c"]
    booted = recover(first, lambda glob, n: read(plan, suite("s", 1, "ok 1 s_c")))
    result = reconcile(plan, [], Boots(main=booted))
    cases = by_test(result)
    assert list(cases) == [A, X1, X2, X3, C]                 # one each, plan order
    assert cases[X2].kind == ResultKind.CRASH
    assert (cases[X3].kind, cases[X3].message) == (
        ResultKind.NOT_RUN, "not run: the kernel stopped in s.s_x/n=2")
    assert cases[C].status is Status.PASSED
    assert cases[C].log[0] == "kgen: result from rerun boot 1 (s.s_c)"


def test_a_case_the_plan_lacks_keeps_the_name_the_kernel_gave_it():
    plan = plan_of(A, X1, X2, C)
    first = read(plan, suite("s", 4, "ok 1 s_a", "ok 2 s_old",
                             *params("s_x", "ok 1 n=1", "ok 2 n=2", "ok 3"),
                             "ok 3 s_x", "ok 4 s_c"))
    old = next(c for c in first.suites[0].cases if c.label == "s_old")
    assert old.test is None and (old.name, old.function, old.param) == ("s_old", "s_old", "")
    # A third parameter the plan does not have, which KTAP left unnamed.
    extra = next(c for c in first.suites[0].cases if c.label == "s_x/#3")
    assert extra.test is None and (extra.function, extra.param) == ("s_x", "#3")
    result = reconcile(plan, [], Boots(main=Boot(first)))
    # The plan's tests in plan order, then what the plan lacks, as reported.
    assert [c.name for c in result.suites[0].cases] == [
        "s_a", "s_x/n=1", "s_x/n=2", "s_c", "s_old", "s_x/#3"]
    assert all(c.status is Status.PASSED for c in result.suites[0].cases)


def test_a_complaint_boots_cases_are_matched_by_testid():
    plan = plan_of(A, X1, X2, complaint=[TestId("s", "x")])
    (boot,) = plan.complaint_boots
    skip = "# SKIP runs in complaint boot 1"
    main = main_share(read(plan, suite("s", 2, "ok 1 s_a",
                                       *params("s_x", f"ok 1 n=1 {skip}",
                                               f"ok 2 n=2 {skip}"),
                                       f"ok 2 s_x {skip}")), plan)
    assert list(by_test(main)) == [A]
    booted = complaint_share(read(plan, suite("s", 2, "ok 1 s_a # SKIP runs in the main boot",
                                              *params("s_x", "ok 1 n=1", "ok 2 n=2"),
                                              "ok 2 s_x")), boot)
    assert list(by_test(booted)) == [X1, X2]
    result = reconcile(plan, [], Boots(main=Boot(main),
                                       complaints=(ComplaintBooted(boot, Boot(booted)),)))
    cases = by_test(result)
    assert list(cases) == [A, X1, X2] and all(c.status is Status.PASSED for c in cases.values())
    assert cases[X2].log[0] == "kgen: result from complaint boot 1"


def test_a_guest_boots_crashed_parameter_is_named_from_the_plan():
    plan = plan_of(A, G1, G2, guest="g")
    skip = "# SKIP runs only in a boot with guest layout -m 2048"
    main = main_share(read(plan, suite("s", 1, "ok 1 s_a"),
                           suite("g", 1, *params("g_y", f"ok 1 n=1 {skip}",
                                                 f"ok 2 n=2 {skip}"), f"ok 1 g_y {skip}")),
                      plan)
    assert [s.name for s in main.suites] == ["s"]
    guest = read(plan, suite("g", 1, *params("g_y", "ok 1 n=1"), OOPS))
    result = reconcile(plan, [], Boots(main=Boot(main), guests=(
        GuestBooted(plan.guest_boots[0], "-m 2048 x=1", Boot(guest)),)))
    cases = by_test(result, "g")
    assert list(cases) == [G1, G2]
    assert (cases[G1].status, cases[G2].kind) == (Status.PASSED, ResultKind.CRASH)
    assert cases[G2].name == "g_y/n=2"
    assert result.suites[1].properties["guest"] == "-m 2048 x=1"
