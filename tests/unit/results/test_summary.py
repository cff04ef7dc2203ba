"""Unit tests for kgen.runner.results.summary."""
from __future__ import annotations

import re

from kgen.runner.results.model import CaseResult, RunResult, Status, SuiteResult
from kgen.runner.results.summary import render_summary

TOTAL = re.compile(r"^\d+ passed, \d+ failed, \d+ skipped, \d+ errors$")


def sample() -> RunResult:
    return RunResult(
        suites=[
            SuiteResult("kgen_free", cases=[
                CaseResult("free_simple", Status.PASSED),
                CaseResult("free_orders/order=9", Status.FAILED, kind="expectation",
                           message="EXPECTATION FAILED at mm/kgen/free.c:42:\n"
                                   "Expected a == b, but " + "x" * 300),
                CaseResult("free_skip", Status.SKIPPED, message="needs CONFIG_FOO"),
            ]),
            SuiteResult("kgen_alloc", cases=[CaseResult("a", Status.PASSED)]),
        ],
        errors=[CaseResult("boot", Status.ERROR, kind="splat:WARNING",
                           message="WARNING: at f+0x1\x00/0x2")],
    )


def test_layout_and_total_line():
    lines = render_summary(sample()).splitlines()
    failed = lines.pop(1)
    assert failed.startswith(
        "  FAILED  free_orders/order=9: EXPECTATION FAILED at mm/kgen/free.c:42: "
        "Expected a == b, but xxx")
    assert failed.endswith("x…") and len(failed) == 100
    assert lines == [
        "kgen_free: 1 passed, 1 failed, 1 skipped, 0 errors",
        "  SKIPPED free_skip: needs CONFIG_FOO",
        "kgen_alloc: 1 passed, 0 failed, 0 skipped, 0 errors",
        "kgen: 0 passed, 0 failed, 0 skipped, 1 errors",
        "  ERROR   boot: WARNING: at f+0x1 /0x2",
        "2 passed, 1 failed, 1 skipped, 1 errors",
    ]


def test_lines_fit_the_width():
    for width in (40, 80, 100):
        for line in render_summary(sample(), width=width).splitlines()[1:3]:
            assert len(line) <= width


def test_empty_run_still_has_the_total_line():
    assert render_summary(RunResult()) == "0 passed, 0 failed, 0 skipped, 0 errors"


def test_colour_only_when_asked():
    plain = render_summary(sample())
    coloured = render_summary(sample(), color=True)
    assert "\x1b[" not in plain
    assert "\x1b[31mFAILED " in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert TOTAL.match(re.sub(r"\x1b\[[0-9;]*m", "", coloured.splitlines()[-1]))
