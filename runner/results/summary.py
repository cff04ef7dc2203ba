"""Render a RunResult as a short terminal summary.

One line of counts per suite, one line per case that did not pass (so a
failure is visible without opening the JUnit file), and a final total
line "N passed, N failed, N skipped, N errors" that scripts may grep.
Unconfirmed cases (a counter mismatch that a repeat in the same boot did
not show, kgen_confirm.c) are counted after the errors when there are any
and listed one line each: they do not fail the run.
Known issues (spec `known_issue:`) have counts of their own, appended
when there are any: a known failure is neither failed nor an error, and a
known issue that passed is not among the passed, it is listed loudly.
"""
from __future__ import annotations

from kgen.runner.results.junit import known_failure_message, known_pass_message
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status

# Heading for RunResult.errors, named like the JUnit pseudo-suite.
ERRORS_HEADING = "kgen"

_RESET = "\x1b[0m"
_COLORS = {
    Status.PASSED: "\x1b[32m",   # green
    Status.SKIPPED: "\x1b[33m",  # yellow
    Status.FAILED: "\x1b[31m",   # red
    Status.ERROR: "\x1b[1;31m",  # bold red
    Status.UNCONFIRMED: "\x1b[35m",  # magenta: look, but not a failure
}
# A width that cuts nothing, and the kinds whose message is a compiler's
# line: the one thing to read there, never cut.
_NO_CUT = 1 << 16
_UNCUT = (ResultKind.COMPILE, ResultKind.BUILD)
_LABELS = {Status.FAILED: "FAILED", Status.SKIPPED: "SKIPPED",
           Status.ERROR: "ERROR", Status.UNCONFIRMED: "UNCONF"}


_KNOWN = "KNOWN"      # failed as its known issue says
_XPASS = "XPASS"      # a known issue that passed


def _count(cases: list[CaseResult], status: Status) -> int:
    """Cases with this status that no known issue accounts for."""
    return sum(1 for case in cases if case.status is status
               and not case.known_failure and not case.known_pass)


def _counts(cases: list[CaseResult]) -> str:
    known = sum(1 for case in cases if case.known_failure)
    passing = sum(1 for case in cases if case.known_pass)
    unconfirmed = _count(cases, Status.UNCONFIRMED)
    return (f"{_count(cases, Status.PASSED)} passed, "
            f"{_count(cases, Status.FAILED)} failed, "
            f"{_count(cases, Status.SKIPPED)} skipped, "
            f"{_count(cases, Status.ERROR)} errors"
            + (f", {unconfirmed} unconfirmed" if unconfirmed else "")
            + (f", {known} known failures" if known else "")
            + (f", {passing} known issues now pass" if passing else ""))


def _worst(cases: list[CaseResult], known_pass_fails: bool = True) -> Status:
    if known_pass_fails and any(case.known_pass for case in cases):
        return Status.ERROR
    for status in (Status.ERROR, Status.FAILED, Status.UNCONFIRMED, Status.SKIPPED):
        if _count(cases, status):
            return status
    return Status.PASSED


def _one_line(text: str) -> str:
    """Collapse whitespace and drop control characters (kernel text)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def _paint(text: str, status: Status, color: bool) -> str:
    return f"{_COLORS[status]}{text}{_RESET}" if color else text


def _case_line(case: CaseResult, width: int, color: bool) -> str:
    label = f"{_LABELS[case.status]:<7}"
    message = _one_line(case.message)
    text = _truncate(f"{case.name}: {message}" if message else case.name,
                     width - len(label) - 3)
    return f"  {_paint(label, case.status, color)} {text}"


def _groups(cases: list[CaseResult], width: int, color: bool) -> list[str]:
    """One line per message: on UML a whole family skips for one reason, and
    every case of a suite that did not compile has the same compiler line;
    listing each parameter would bury the failures."""
    reasons: dict[str, list[CaseResult]] = {}
    for case in cases:
        reasons.setdefault(_one_line(case.message), []).append(case)
    lines = []
    for reason, group in reasons.items():
        if len(group) == 1:
            lines.append(_case_line(group[0], width, color))
            continue
        status = group[0].status
        label = f"{_LABELS[status]:<7}"
        text = _truncate(f"{len(group)} cases: {reason}", width - len(label) - 3)
        lines.append(f"  {_paint(label, status, color)} {text}")
    return lines


def _known_line(case: CaseResult, width: int, color: bool, known_pass_fails: bool) -> str:
    if case.known_pass:
        label, status = _XPASS, Status.ERROR if known_pass_fails else Status.SKIPPED
        message = known_pass_message(case)
    else:
        label, status = _KNOWN, Status.SKIPPED
        message = known_failure_message(case)
    text = _truncate(f"{case.name}: {_one_line(message)}", width - 10)
    return f"  {_paint(f'{label:<7}', status, color)} {text}"


def _section(heading: str, cases: list[CaseResult], width: int,
             color: bool, known_pass_fails: bool = True) -> list[str]:
    lines = [_paint(f"{heading}: {_counts(cases)}", _worst(cases, known_pass_fails), color)]
    uncompiled = [c for c in cases if c.kind == ResultKind.COMPILE]
    lines += _groups(uncompiled, _NO_CUT, color)
    lines += [_case_line(case, _NO_CUT if case.kind in _UNCUT else width, color)
              for case in cases if case.unexpected_failure
              and case.kind != ResultKind.COMPILE]
    lines += [_case_line(case, width, color) for case in cases
              if case.status is Status.UNCONFIRMED]
    lines += [_known_line(case, width, color, known_pass_fails) for case in cases
              if case.known_pass or case.known_failure]
    lines += _groups([c for c in cases if c.status is Status.SKIPPED], width, color)
    return lines


def render_summary(result: RunResult, *, color: bool = False,
                   width: int = 100) -> str:
    """The summary text (no trailing newline).

    ``color``: wrap statuses in ANSI colours (only for a terminal).
    ``width``: case lines are cut to this many characters.
    """
    lines: list[str] = []
    strict = result.known_pass_fails
    for suite in result.suites:
        lines += _section(suite.name, suite.cases, width, color, strict)
    if result.errors:
        lines += _section(ERRORS_HEADING, result.errors, width, color, strict)
    every = result.all_cases()
    passing = [case for case in every if case.known_pass]
    if passing and strict:
        lines.append(_paint(f"{len(passing)} known issue(s) now pass: the run fails so "
                            "that the tracker learns of the fix (kgen run --known-pass "
                            "report to only report them)", Status.ERROR, color))
    lines.append(_paint(_counts(every), _worst(every, strict), color))
    return "\n".join(lines)
