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


def _testcase(case: CaseResult, classname: str) -> TestCase:
    testcase = TestCase(_clean(case.name), _clean(classname))
    if case.time is not None:
        # Most cases take microseconds: keep them, in plain decimal notation
        # (junitparser's float attribute would write "2.1e-05", which the
        # XSD's xs:decimal rejects).
        testcase._elem.set("time", f"{case.time:.6f}")
    message = _clean(case.message) or None
    kind = _clean(case.kind) or None
    if case.status is Status.FAILED:
        failure = Failure(message, kind)
        failure.text = _clean("\n".join(case.details) or case.message)
        testcase.result = [failure]
    elif case.status is Status.SKIPPED:
        testcase.result = [Skipped(message)]
    elif case.status is Status.ERROR:
        error = Error(message, kind)
        error.text = _clean("\n".join(case.log[-ERROR_TAIL_LINES:])
                            or case.message)
        testcase.result = [error]
    if case.log:
        testcase.system_out = _clean("\n".join(case.log))
    return testcase


def _testsuite(name: str, cases: list[CaseResult],
               properties: dict[str, str]) -> TestSuite:
    suite = TestSuite(_clean(name))
    for key, value in sorted(properties.items()):
        suite.add_property(_clean(key), _clean(value))
    suite.add_testcases([_testcase(case, name) for case in cases])
    return suite


def build_junit(result: RunResult) -> JUnitXml:
    """The JUnit document for ``result``: one <testsuite> per suite, plus
    one named ``ERRORS_SUITE`` for RunResult.errors if there are any."""
    suites = [_testsuite(s.name, s.cases, {**result.properties, **s.properties})
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
