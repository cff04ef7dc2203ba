"""How known issues are reported: exit status, JUnit, summary."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from kgen.runner.results.junit import write_junit
from kgen.runner.results.model import (
    CaseResult,
    KnownIssueNote,
    ResultKind,
    RunResult,
    Status,
    SuiteResult,
)
from kgen.runner.results.summary import render_summary

XSD = Path(__file__).resolve().parents[2] / "fixtures" / "xsd" / "junit-10.xsd"
NOTE = KnownIssueNote("straddling chunk", "https://example.invalid/14", ">=7.2",
                      "spec/suites/b.yaml:22")


def result(*cases: CaseResult, strict: bool = True) -> RunResult:
    return RunResult(suites=[SuiteResult("kgen_b", cases=[
        CaseResult("kgen_b_contig/each=1", Status.PASSED), *cases])],
        known_pass_fails=strict)


def crashed(**kw) -> CaseResult:
    return CaseResult("kgen_b_contig/each=512", Status.ERROR, kind=ResultKind.CRASH,
                      message="kernel BUG at mm/page_alloc.c:957!",
                      log=["span ...", "kernel BUG at mm/page_alloc.c:957!"], **kw)


def passed(**kw) -> CaseResult:
    return CaseResult("kgen_b_contig/each=512", Status.PASSED, **kw)


def test_known_failure_does_not_fail_the_run():
    assert not result(crashed()).ok
    run = result(crashed(known_issue=NOTE))
    assert run.ok and run.all_cases()[1].known_failure


def test_known_issue_that_passes_fails_the_run_unless_allowed():
    assert result(passed()).ok
    assert not result(passed(known_issue=NOTE)).ok
    assert result(passed(known_issue=NOTE), strict=False).ok


@pytest.mark.parametrize("kind", [ResultKind.NOT_RUN, ResultKind.BLOCKED])
def test_a_case_that_never_ran_is_no_known_failure(kind):
    case = CaseResult("kgen_b_contig/each=512", Status.ERROR, kind=kind,
                      message="not run", known_issue=NOTE)
    assert not case.known_failure and not result(case).ok


def junit(tmp_path: Path, run: RunResult) -> ET.Element:
    path = tmp_path / "j.xml"
    write_junit(run, path)
    xmlschema.XMLSchema(XSD).validate(path)
    return ET.parse(path).getroot()


def test_junit_known_failure_is_a_skip_with_the_reason(tmp_path):
    root = junit(tmp_path, result(crashed(known_issue=NOTE)))
    (case,) = [c for c in root.iter("testcase") if c.get("name").endswith("512")]
    (skipped,) = list(case.iter("skipped"))
    assert skipped.get("type") == "known-issue"
    assert skipped.get("message") == (
        "known issue: straddling chunk (https://example.invalid/14); failed as expected "
        "(crash): kernel BUG at mm/page_alloc.c:957!")
    assert "kernel BUG" in skipped.text
    assert not list(root.iter("error")) and not list(root.iter("failure"))


def test_junit_known_pass_is_a_failure_that_says_what_to_do(tmp_path):
    root = junit(tmp_path, result(passed(known_issue=NOTE)))
    (failure,) = list(root.iter("failure"))
    assert failure.get("type") == "known-issue-passed"
    assert failure.get("message") == (
        "known issue now passes: straddling chunk (https://example.invalid/14); remove "
        "the known_issue at spec/suites/b.yaml:22 or narrow its kernels (>=7.2)")
    relaxed = junit(tmp_path, result(passed(known_issue=NOTE), strict=False))
    assert not list(relaxed.iter("failure"))
    assert "known issue now passes" in "".join(relaxed.itertext())


def test_summary_counts_and_lines():
    text = render_summary(result(crashed(known_issue=NOTE)))
    assert text.splitlines()[-1] == "1 passed, 0 failed, 0 skipped, 0 errors, 1 known failures"
    assert "  KNOWN   kgen_b_contig/each=512: known issue: straddling chunk" in text
    loud = render_summary(result(passed(known_issue=NOTE)))
    assert loud.splitlines()[-1] == ("1 passed, 0 failed, 0 skipped, 0 errors, "
                                     "1 known issues now pass")
    assert "  XPASS   kgen_b_contig/each=512: known issue now passes:" in loud
    assert "1 known issue(s) now pass: the run fails" in loud
