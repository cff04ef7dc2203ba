"""A real compiler error becomes a JUnit build error that leads with it."""
from __future__ import annotations

from pathlib import Path

import xmlschema

from kgen.runner.harness.session import first_error_line
from kgen.runner.results.junit import write_junit
from kgen.runner.results.model import RunResult
from kgen.runner.run.boots import error_result

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_compile_error_report(tmp_path):
    log = (FIXTURES / "build" / "um_compile_error.log").read_text().splitlines()
    first = first_error_line(log)
    assert "error: implicit declaration of function ‘kgen_no_such_function’" in first
    result = RunResult()
    result.errors.append(error_result("build", "build", first, log))
    out = tmp_path / "build.xml"
    write_junit(result, out)
    xmlschema.XMLSchema(str(FIXTURES / "xsd" / "junit-10.xsd")).validate(str(out))
    text = out.read_text()
    assert 'type="build"' in text and "kgen_no_such_function" in text
