"""Write a RunResult as JUnit XML (for CI test reports).

The output is checked against the Jenkins xunit-plugin ``junit-10.xsd``
(vendored in tests/fixtures/xsd/); where junitparser would write
something that schema does not allow, this module leaves it out.
"""
from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from kgen.runner.results.model import CaseResult, RunResult, Status

# Name of the extra <testsuite> holding RunResult.errors (build, boot ...).
ERRORS_SUITE = "kgen"
# Prefix of an unconfirmed case's message, and the testsuite property that
# counts such cases (junit-10.xsd has no attribute for them).
UNCONFIRMED_PREFIX = "unconfirmed: "
UNCONFIRMED_PROPERTY = "kgen.unconfirmed"
# Lines of a case's log used as the text of an <error>.
ERROR_TAIL_LINES = 50

# Characters XML 1.0 cannot carry at all (most C0 controls, lone
# surrogates, U+FFFE/U+FFFF), plus ANSI escape sequences whose ESC would
# be stripped anyway and leave "[0m" litter behind.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_ILLEGAL_XML = re.compile(
    "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _ILLEGAL_XML.sub("", _ANSI.sub("", text))


def known_failure_message(case: CaseResult) -> str:
    """The one line a known failure is reported with."""
    return (f"known issue: {case.known_issue.describe()}; failed as expected"
            + (f" ({case.kind})" if case.kind else "")
            + (f": {case.message}" if case.message else ""))


def known_pass_message(case: CaseResult) -> str:
    """The one line a known issue that passed is reported with."""
    issue = case.known_issue
    return (f"known issue now passes: {issue.describe()}; remove the known_issue"
            + (f" at {issue.where}" if issue.where else "")
            + (f" or narrow its kernels ({issue.kernels})" if issue.kernels else ""))


def _known_result(case: CaseResult, fails_run: bool) -> Skipped | Failure | None:
    """Known issues in the form CI report viewers show best.

    A known failure is a <skipped type="known-issue">: Jenkins, GitLab and
    GitHub's JUnit viewers list skips with their message and never count
    them as failures (pytest reports its xfail the same way), and
    junit-10.xsd allows no properties on a testcase.  A known issue that
    passed is a <failure type="known-issue-passed"> when it fails the run,
    so the viewer shows in red why the build broke.
    """
    if case.known_failure:
        skipped = Skipped(_clean(known_failure_message(case)), "known-issue")
        skipped.text = _clean("\n".join(case.details or case.log[-ERROR_TAIL_LINES:])
                              or case.message)
        return skipped
    if case.known_pass and fails_run:
        failure = Failure(_clean(known_pass_message(case)), "known-issue-passed")
        failure.text = _clean(known_pass_message(case))
        return failure
    return None


def _testcase(case: CaseResult, classname: str, known_pass_fails: bool = True) -> TestCase:
    testcase = TestCase(_clean(case.name), _clean(classname))
    if case.time is not None:
        # Most cases take microseconds: keep them, in plain decimal notation
        # (junitparser's float attribute would write "2.1e-05", which the
        # XSD's xs:decimal rejects).
        testcase._elem.set("time", f"{case.time:.6f}")
    message = _clean(case.message) or None
    kind = _clean(case.kind) or None
    known = _known_result(case, known_pass_fails)
    if known is not None:
        testcase.result = [known]
    elif case.status is Status.FAILED:
        failure = Failure(message, kind)
        failure.text = _clean("\n".join(case.details) or case.message)
        testcase.result = [failure]
    elif case.status is Status.SKIPPED:
        testcase.result = [Skipped(message)]
    elif case.status is Status.UNCONFIRMED:
        # Neither pass nor failure: viewers list a typed skip with its
        # message and never count it as a failure.
        skipped = Skipped(_clean(UNCONFIRMED_PREFIX + case.message), "unconfirmed")
        skipped.text = _clean("\n".join(case.details) or case.message)
        testcase.result = [skipped]
    elif case.status is Status.ERROR:
        error = Error(message, kind)
        error.text = _clean("\n".join(case.log[-ERROR_TAIL_LINES:])
                            or case.message)
        testcase.result = [error]
    log = case.log
    if case.known_pass and not known_pass_fails:
        log = [known_pass_message(case), *log]
    if log:
        testcase.system_out = _clean("\n".join(log))
    return testcase


def _testsuite(name: str, cases: list[CaseResult],
               properties: dict[str, str], known_pass_fails: bool = True) -> TestSuite:
    suite = TestSuite(_clean(name))
    unconfirmed = sum(1 for case in cases if case.status is Status.UNCONFIRMED)
    if unconfirmed:
        properties = {**properties, UNCONFIRMED_PROPERTY: str(unconfirmed)}
    for key, value in sorted(properties.items()):
        suite.add_property(_clean(key), _clean(value))
    suite.add_testcases([_testcase(case, name, known_pass_fails) for case in cases])
    return suite


def build_junit(result: RunResult) -> JUnitXml:
    """The JUnit document for ``result``: one <testsuite> per suite, plus
    one named ``ERRORS_SUITE`` for RunResult.errors if there are any."""
    suites = [_testsuite(s.name, s.cases, {**result.properties, **s.properties},
                         result.known_pass_fails)
              for s in result.suites]
    if result.errors:
        suites.append(_testsuite(ERRORS_SUITE, result.errors,
                                 dict(result.properties)))
    xml = JUnitXml(ERRORS_SUITE)
    for suite in suites:
        xml.add_testsuite(suite)
    # Totals set by hand: JUnitXml.update_statistics() would also write a
    # "skipped" attribute on <testsuites>, which junit-10.xsd rejects.
    xml.tests = sum(s.tests for s in suites)
    xml.failures = sum(s.failures for s in suites)
    xml.errors = sum(s.errors for s in suites)
    xml.time = round(sum(s.time or 0.0 for s in suites), 3)
    return xml


def write_junit(result: RunResult, path: str | os.PathLike[str]) -> None:
    """Write ``result`` to ``path`` atomically.

    The XML goes to a temporary file in the same directory which then
    replaces ``path``, so a reader (or a CI upload after an interrupted
    run) never sees a half-written report.
    """
    target = Path(path)
    buffer = io.BytesIO()
    build_junit(result).write(buffer, pretty=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it owner-only
            out.write(buffer.getvalue())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
