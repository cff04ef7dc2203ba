"""An unconfirmed case in every report: counted apart, never a pass or a failure.

Results are built by hand here (the writers are under test, not the
parser); tests/unit/results/test_confirmation_fixtures.py parses the real
consoles that produced such cases.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from kgen.runner.results.junit import UNCONFIRMED_PROPERTY, write_junit
from kgen.runner.results.kcidb import status_of
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.results.summary import render_summary
from kgen.runner.validate.classify import statuses

MESSAGE = ("expect.nr_free_pages: zone Normal NR_FREE_PAGES changed by 510, expected 511 "
           "[mismatch in 1 of 2 attempts; attempt 2 matched]")


def run() -> RunResult:
    unconfirmed = CaseResult("kgen_refcount_hold_hold_position/hold=first", Status.UNCONFIRMED,
                             MESSAGE, ResultKind.UNCONFIRMED,
                             log=["kgen: attempt 1: expect.nr_free_pages: ...",
                                  "kgen: attempts=2", "kgen: unconfirmed: " + MESSAGE],
                             details=["kgen: attempt 1: expect.nr_free_pages: ..."])
    passed = CaseResult("kgen_refcount_hold_hold_position/hold=last", Status.PASSED)
    return RunResult(suites=[SuiteResult("kgen_refcount_hold", [unconfirmed, passed])])


def test_the_run_stays_green_and_the_summary_counts_it_apart():
    result = run()
    assert result.ok
    text = render_summary(result)
    assert text.splitlines()[-1] == "1 passed, 0 failed, 0 skipped, 0 errors, 1 unconfirmed"
    line = next(x for x in text.splitlines() if "UNCONF" in x)
    assert "hold=first" in line and "expect.nr_free_pages" in line


def test_junit_has_a_typed_skip_and_a_suite_count(tmp_path: Path):
    out = tmp_path / "j.xml"
    write_junit(run(), out)
    root = ET.parse(out).getroot()
    suite = root.find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props[UNCONFIRMED_PROPERTY] == "1"
    case = next(c for c in suite.iter("testcase") if c.get("name").endswith("hold=first"))
    skipped = case.find("skipped")
    assert skipped.get("type") == "unconfirmed"
    assert skipped.get("message") == "unconfirmed: " + MESSAGE
    assert root.get("failures") == "0" and root.get("errors") == "0"


def test_kcidb_done_and_validate_short_status():
    result = run()
    case = result.suites[0].cases[0]
    assert status_of(case) == "DONE"
    assert statuses(result)["kgen_refcount_hold.kgen_refcount_hold_hold_position/hold=first"] \
        == "unconfirmed"


def test_attempts_are_read_from_the_log():
    case = run().suites[0].cases[0]
    assert case.attempts == 2
    assert CaseResult("x", Status.PASSED).attempts == 1
