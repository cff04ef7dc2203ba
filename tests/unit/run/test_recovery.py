"""Crash/hang recovery planning on a real captured crash (um_bug_panic.log)."""
from __future__ import annotations

import json
from pathlib import Path

from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.run.reconcile import Boot, Rerun, recovered
from kgen.runner.run.recovery import MAX_REBOOTS, deaths, mark_timeout, recover, rerun_targets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ktap"


def crashed() -> RunResult:
    known = json.loads((FIXTURES / "um_bug_panic.expected.json").read_text())["_known_cases"]
    known["kgen_selftest_later"] = ["kgen_selftest_later_a"]
    lines = (FIXTURES / "um_bug_panic.log").read_text().splitlines()
    return parse_console(lines, known_cases=known)


def test_targets_are_the_cases_and_suites_that_never_ran():
    result = crashed()
    assert rerun_targets(result, set()) == [
        "kgen_selftest_crash.kgen_selftest_crash_after", "kgen_selftest_later"]
    assert rerun_targets(result, {"kgen_selftest_later"}) == [
        "kgen_selftest_crash.kgen_selftest_crash_after"]


def test_recover_replaces_not_run_entries():
    result = crashed()

    def boot(glob: str, number: int) -> RunResult:
        suite, _, case = glob.partition(".")
        name = case or "kgen_selftest_later_a"
        return RunResult(suites=[SuiteResult(suite, [CaseResult(name, Status.PASSED)])])

    recovery = recover(result, boot)
    assert len(recovery.reruns) == 2
    result = recovered(recovery)
    statuses = {f"{s.name}.{c.name}": (c.status, c.kind) for s in result.suites
                for c in s.cases}
    assert statuses["kgen_selftest_crash.kgen_selftest_crash_after"][0] is Status.PASSED
    assert statuses["kgen_selftest_crash.kgen_selftest_crash_crashes"] == (Status.ERROR, "crash")
    assert statuses["kgen_selftest_later.kgen_selftest_later_a"][0] is Status.PASSED
    assert not [e for e in result.errors if e.kind == "not-run"]


def test_a_rerun_that_crashes_again_is_bounded():
    result = crashed()
    calls = []

    def boot(glob: str, number: int) -> RunResult:
        calls.append(glob)
        return RunResult()          # kernel produced nothing again

    recover(result, boot)
    assert len(calls) == len(set(calls)) == 2


def test_kunit_timeout_turns_crash_into_hang():
    result = crashed()
    console = ["...", "Command '['linux']' timed out after 30 seconds"]
    assert mark_timeout(result, console, 30)
    case = result.suites[0].cases[1]
    assert case.kind == "timeout" and "hung: no result within the 30s limit" in case.message
    assert result.suites[0].cases[2].message.startswith("not run: kernel hung in")


def test_merge_unknown_suite_appends_it():
    result = recovered(Boot(RunResult(errors=[CaseResult("s", Status.ERROR, kind="not-run")]),
                            (Rerun("s", 1, RunResult(suites=[
                                SuiteResult("s", [CaseResult("c", Status.PASSED)])])),)))
    assert [s.name for s in result.suites] == ["s"] and result.errors == []


def test_real_hang_log_becomes_timeout_and_targets_the_rest():
    lines = (FIXTURES / "um_hang_timeout.log").read_text().splitlines()
    known = json.loads((FIXTURES / "um_hang_timeout.expected.json").read_text())["_known_cases"]
    result = parse_console(lines, known_cases=known)
    assert mark_timeout(result, lines, 30)
    first = result.suites[0].cases[0]
    assert first.kind == "timeout" and "30s limit" in first.message
    assert rerun_targets(result, set()) == ["kgen_selftest_hang.kgen_selftest_hang_hangs",
                                            "kgen_selftest_hang.kgen_selftest_hang_after"]


def _dies_in(suite: str, case: str) -> RunResult:
    return RunResult(suites=[SuiteResult(suite, [
        CaseResult(case, Status.ERROR, kind=ResultKind.CRASH, message="crashed")])])


def test_recovery_stops_when_a_reboot_dies_where_a_boot_died_before():
    result = crashed()
    boots = []

    def boot(glob: str, number: int) -> RunResult:
        boots.append(glob)
        # Every reboot dies in the case the main boot died in: the same bug.
        return _dies_in("kgen_selftest_crash", "kgen_selftest_crash_crashes")

    assert deaths(result) == {("kgen_selftest_crash", "kgen_selftest_crash_crashes")}
    recovery = recover(result, boot)
    assert len(recovery.reruns) == 1
    result = recovered(recovery)
    leftover = [c for s in result.suites for c in s.cases if c.kind == ResultKind.NOT_RUN]
    leftover += [e for e in result.errors if e.kind == ResultKind.NOT_RUN]
    assert leftover and all("died in kgen_selftest_crash.kgen_selftest_crash_crashes again"
                            in c.message for c in leftover)


def test_recovery_stops_when_the_run_budget_is_used_up():
    result = crashed()
    recovery = recover(result, lambda glob, n: RunResult(), time_left=lambda: 0.0)
    assert recovery.reruns == ()
    result = recovered(recovery)
    leftover = [c for s in result.suites for c in s.cases if c.kind == ResultKind.NOT_RUN]
    assert leftover and all("--timeout was used up" in c.message for c in leftover)


def test_recovery_is_capped_and_says_so():
    result = RunResult(suites=[SuiteResult("s", [
        CaseResult(f"s_c{i}", Status.ERROR, kind=ResultKind.NOT_RUN) for i in range(12)])])

    def boot(glob: str, number: int) -> RunResult:
        suite, _, case = glob.partition(".")
        return RunResult(suites=[SuiteResult(suite, [CaseResult(case, Status.PASSED)])])

    recovery = recover(result, boot)
    assert len(recovery.reruns) == MAX_REBOOTS
    result = recovered(recovery)
    left = [c for c in result.suites[0].cases if c.kind == ResultKind.NOT_RUN]
    assert len(left) == 12 - MAX_REBOOTS and \
        all(f"after {MAX_REBOOTS} reboots" in c.message for c in left)


def test_a_blocked_case_is_booted_again():
    result = RunResult(suites=[SuiteResult("s", [
        CaseResult("s_a", Status.ERROR, kind=ResultKind.WEDGED),
        CaseResult("s_b", Status.ERROR, kind=ResultKind.BLOCKED)])])
    assert rerun_targets(result, set()) == ["s.s_b"]


def test_a_muted_parameter_is_booted_again_without_doubling_the_others():
    """After bad_page()'s 60th report the rest of a boot is muted
    (kgen.runner.results.ratelimit); a fresh boot gives those a verdict."""
    result = RunResult(suites=[SuiteResult("kgen_t", [
        CaseResult("kgen_t_c/p=1", Status.PASSED),
        CaseResult("kgen_t_c/p=2", Status.ERROR, kind=ResultKind.MUTED, message="not checked"),
    ])])

    def boot(glob: str, number: int) -> RunResult:
        assert glob == "kgen_t.kgen_t_c"
        return RunResult(suites=[SuiteResult("kgen_t", [
            CaseResult("kgen_t_c/p=1", Status.PASSED),
            CaseResult("kgen_t_c/p=2", Status.FAILED, kind="splat:Bad page state")])])

    recovery = recover(result, boot)
    assert len(recovery.reruns) == 1
    result = recovered(recovery)
    assert [(c.name, c.status) for c in result.suites[0].cases] == [
        ("kgen_t_c/p=1", Status.PASSED), ("kgen_t_c/p=2", Status.FAILED)]
