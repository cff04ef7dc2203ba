"""validate's verdicts and exit codes for lost coverage (no kernel build).

A series must not pass by turning cases into skips, losing their results or
making them flaky: each is named in the verdict and fails the validation
unless its --allow-* option accepts it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgen import cli
from kgen.runner.results.model import CaseResult, RunResult, Status, SuiteResult
from kgen.runner.validate import pipeline
from kgen.runner.validate.classify import Allowed, classify, merge_repeats, statuses
from kgen.runner.validate.pipeline import Step, StepState, ValidateOutcome
from kgen.runner.validate.report import first_messages, markdown, overall, verdicts

SKIP_REASON = "needs free_pages_bulk(): not declared in this tree (include/linux/gfp.h)"


def _result(cases: dict[str, Status]) -> RunResult:
    return RunResult(suites=[SuiteResult("kgen_s", [
        CaseResult(name, status, SKIP_REASON if status is Status.SKIPPED else "")
        for name, status in cases.items()])])


def _outcome(*steps: list[dict[str, Status]]) -> ValidateOutcome:
    """One Step per argument, each a list of repeated runs."""
    made, per_step, flaky = [], [], []
    for i, runs in enumerate(steps):
        step = Step("base" if i == 0 else f"{i}/{len(steps) - 1}",
                    "" if i == 0 else f"mm: patch {i}",
                    results=[_result(r) for r in runs])
        made.append(step)
        merged, disagreeing = merge_repeats([statuses(r) for r in step.results])
        per_step.append(merged)
        flaky.append(disagreeing)
    return ValidateOutcome(made, classify([s.name for s in made], per_step, flaky), [])


P, F, S = Status.PASSED, Status.FAILED, Status.SKIPPED
SKIPPING = _outcome([{"a": P, "b": P, "c": P}], [{"a": P, "b": S, "c": S}])


def test_pass_to_skip_is_named_in_the_verdicts():
    lines = verdicts(SKIPPING)
    assert lines[1] == "1/1 mm: patch 1: pass → skip in 2 case(s): kgen_s.b, kgen_s.c"
    assert overall(SKIPPING) == ("FAILED: 2 pass → skip "
                                 "(to accept lost coverage: --allow-skips)")
    assert overall(SKIPPING, Allowed(skips=True)) == \
        "PASSED; 2 pass → skip (allowed: --allow-skips)"
    assert "(allowed: --allow-skips)" in verdicts(SKIPPING, Allowed(skips=True))[1]


def test_the_skip_reason_is_in_the_report():
    assert first_messages(SKIPPING) == {"kgen_s.b": SKIP_REASON, "kgen_s.c": SKIP_REASON}
    md = markdown(SKIPPING, first_messages(SKIPPING))
    assert "**Verdict: FAILED: 2 pass → skip" in md
    assert f"- `kgen_s.b`, `kgen_s.c`: {SKIP_REASON}" in md      # one line per reason
    assert "| `kgen_s.b` | ✓ | skip |" in md


def test_no_result_and_flaky_are_named():
    outcome = _outcome([{"a": P, "b": P}],
                       [{"a": P}, {"a": F}])        # b lost; a flaky over 2 runs
    assert verdicts(outcome)[1] == ("1/1 mm: patch 1: pass → no result in 1 case(s): "
                                    "kgen_s.b; flaky in 1 case(s): kgen_s.a")
    assert overall(outcome) == ("FAILED: 1 pass → no result, 1 flaky (to accept lost "
                                "coverage: --allow-flaky --allow-missing)")
    md = markdown(outcome)
    assert "| `kgen_s.b` | ✓ | – no result |" in md
    assert "- `kgen_s.a` at 1/1: pass, fail" in md


def test_a_clean_series_passes():
    outcome = _outcome([{"a": P, "b": F}], [{"a": P, "b": P}])
    assert verdicts(outcome)[1] == \
        "1/1 mm: patch 1: OK (no regression, no lost coverage, 1 fixed)"
    assert overall(outcome) == "PASSED: no regression, no lost coverage"


@pytest.fixture
def fake_tree(tmp_path) -> Path:
    tree = tmp_path / "linux"
    (tree / "tools/testing/kunit").mkdir(parents=True)
    (tree / "tools/testing/kunit/kunit.py").write_text("")
    (tree / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\n")
    return tree


@pytest.mark.parametrize("outcome, options, code", [
    (SKIPPING, [], 1),
    (SKIPPING, ["--allow-skips"], 0),
    (SKIPPING, ["--allow-missing", "--allow-flaky"], 1),
    (_outcome([{"a": P, "b": P}], [{"a": P}]), [], 1),
    (_outcome([{"a": P, "b": P}], [{"a": P}]), ["--allow-missing"], 0),
    (_outcome([{"a": P}], [{"a": P}, {"a": F}]), [], 1),
    (_outcome([{"a": P}], [{"a": P}, {"a": F}]), ["--allow-flaky"], 0),
    (_outcome([{"a": P}], [{"a": F}]),
     ["--allow-skips", "--allow-missing", "--allow-flaky"], 1),
    (_outcome([{"a": P}], [{"a": P}]), [], 0),
])
def test_exit_codes(monkeypatch, capsys, fake_tree, tmp_path, outcome, options, code):
    monkeypatch.setattr(pipeline, "validate", lambda target, req: outcome)
    out = tmp_path / "out"
    assert cli.main(["validate", "--kernel", str(fake_tree), "--series", "x",
                     "--out", str(out), *options]) == code
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"].startswith("PASSED" if code == 0 else "FAILED")
    assert "Verdict:" in capsys.readouterr().out


def _broken(*states: StepState) -> ValidateOutcome:
    """A series whose steps (the base first) ended in these states."""
    outcome = _outcome(*([{"a": P}] for _ in states))
    for step, state in zip(outcome.steps, states):
        step.state = state
        step.detail = "" if state is StepState.OK else f"{state}: the reason"
        if not state.usable:
            step.results = []
    return outcome


OK, NOT_RUN = StepState.OK, StepState.NOT_RUN


@pytest.mark.parametrize("outcome, code", [
    # The same build or boot failure as `kgen run`: infrastructure, 3.
    (_broken(StepState.BUILD_FAILED, NOT_RUN), 3),
    (_broken(OK, StepState.BUILD_FAILED, NOT_RUN), 3),
    (_broken(OK, OK, StepState.BOOT_FAILED), 3),
    # A patch that does not apply: bad input, 2, found before any build.
    (_broken(NOT_RUN, StepState.APPLY_FAILED), 2),
    (_broken(OK, OK, StepState.APPLY_FAILED, NOT_RUN), 2),
    (_broken(StepState.BUILD_FAILED, NOT_RUN, StepState.APPLY_FAILED), 2),
])
def test_a_series_that_did_not_get_through(monkeypatch, capsys, fake_tree, tmp_path,
                                           outcome, code):
    monkeypatch.setattr(pipeline, "validate", lambda target, req: outcome)
    out = tmp_path / "out"
    assert outcome.incomplete_exit_code == code
    assert cli.main(["validate", "--kernel", str(fake_tree), "--series", "x",
                     "--out", str(out)]) == code
    assert json.loads((out / "report.json").read_text())["verdict"].startswith("INCOMPLETE")


def test_a_series_that_got_through_has_no_incomplete_exit_code():
    assert SKIPPING.incomplete_exit_code is None
    assert _broken(OK, StepState.APPLIED, OK).incomplete_exit_code is None


def test_help_documents_the_allow_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    text = capsys.readouterr().out
    for option in ("--allow-skips", "--allow-missing", "--allow-flaky"):
        assert option in text


def test_one_warn_in_many_threads_is_one_line_and_later_failures_still_show():
    # Real shape (the frozen-WARN fixture patch): the same WARNING in 12
    # cases, each in another KUnit thread, then a later patch's failure.
    warn = "WARNING: mm/page_alloc.c:7669 at free_contig_frozen_range+0x148/0x190, " \
           "CPU#0: kunit_try_catch/{}"
    messages = {f"kgen_s.w{i}": warn.format(140 + i) for i in range(12)}
    messages["kgen_s.leak"] = "expect.freed: 1 of 128 pages not in the buddy"
    md = markdown(SKIPPING, messages)
    assert md.count("WARNING: mm/page_alloc.c:7669") == 1
    assert "`kgen_s.w0`, `kgen_s.w1`, `kgen_s.w2` and 9 more: " + warn.format(140) in md
    assert "- `kgen_s.leak`: expect.freed: 1 of 128 pages not in the buddy" in md
