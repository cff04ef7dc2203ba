"""Naming what happened when the console watch stopped a boot, on real
console logs of the fixture patch (tests/fixtures/patches/)."""
from __future__ import annotations

from pathlib import Path

from kgen.ids import TestId
from kgen.runner.harness.console_watch import Stop, StopKind, sign_of
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import ResultKind, Status
from kgen.runner.run.stops import apply_stop

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ktap"
CASES = {"kgen_contig_split": [TestId("kgen_contig_split", c).function
                               for c in ("whole_span", "bare_span")]}


def _stopped(name: str):
    lines = (FIXTURES / name).read_text().splitlines()
    kernel = [line for line in lines if not line.startswith("kgen: ")]
    found = next((line, sign_of(line)) for line in kernel if sign_of(line))
    stop = Stop(found[1][0], found[1][1], found[0], 3.0)
    result = parse_console(kernel, known_cases=CASES)
    apply_stop(result, stop, lines)
    return {c.name: c for s in result.suites for c in s.cases}, stop


def test_arm64_case_that_died_under_zone_lock_is_wedged_and_named():
    cases, stop = _stopped("arm64_bug_under_zone_lock_wedged.log")
    assert stop.kind is StopKind.WEDGED and "exited with irqs disabled" in stop.line
    # The parser names a crashed parameter by number; kgen run names it from
    # the plan (#37: order=9, free=free_contig_range).
    died = cases["kgen_contig_split_whole_span/#37"]
    assert died.kind == ResultKind.WEDGED and died.status is Status.ERROR
    assert "died holding a lock" in died.message
    assert "kernel BUG at mm/page_alloc.c:1538" in died.message
    assert "--- last console lines ---" in died.details
    # The 36 parameters before it passed in the same boot.
    passed = [c for c in cases.values() if c.status is Status.PASSED]
    assert len(passed) == 36


def test_the_cases_after_it_are_not_run_with_the_reason():
    cases, _ = _stopped("arm64_bug_under_zone_lock_wedged.log")
    later = cases["kgen_contig_split_bare_span"]
    assert later.kind == ResultKind.NOT_RUN
    assert "stopped in kgen_contig_split" in later.message


def test_uml_bug_panics_and_the_running_case_crashed():
    lines = (FIXTURES / "um_bug_under_zone_lock_panic.log").read_text().splitlines()
    result = parse_console(lines, known_cases=CASES)
    died = {c.name: c for s in result.suites for c in s.cases}[
        "kgen_contig_split_whole_span/#41"]  # order=10, free=free_contig_range
    assert died.kind == ResultKind.CRASH
    assert "BUG: failure at mm/page_alloc.c:1538/split_large_buddy()" in died.message
