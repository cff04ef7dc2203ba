"""Unit tests for kgen.runner.results.junit: content, schema validity, atomic write."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from kgen.runner.results import junit
from kgen.runner.results.junit import ERRORS_SUITE, write_junit
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import CaseResult, RunResult, Status, SuiteResult

XSD = Path(__file__).resolve().parents[2] / "fixtures" / "xsd" / "junit-10.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(XSD)


def sample() -> RunResult:
    """A run with every status, properties at both levels and run errors."""
    return RunResult(
        suites=[SuiteResult(
            name="kgen_free",
            properties={"spec": "specs/free.yaml", "arch": "arm64"},
            cases=[
                CaseResult("free_simple", Status.PASSED, log=["# kgen: time_us=1500"],
                           time=0.0015),
                CaseResult("free_orders/order=9,hold=first", Status.FAILED,
                           message="EXPECTATION FAILED at mm/kgen/free.c:42: x",
                           kind="expectation",
                           log=["# free_orders: EXPECTATION FAILED at mm/kgen/free.c:42",
                                "bell\x07 and escape \x1b[31mred\x1b[0m"],
                           details=["# free_orders: EXPECTATION FAILED at mm/kgen/free.c:42"],
                           time=0.0000004),
                CaseResult("free_skip", Status.SKIPPED, message="needs CONFIG_FOO"),
                CaseResult("#2", Status.ERROR, message="no result line", kind="crash",
                           log=[f"line {i}" for i in range(80)]),
            ])],
        properties={"arch": "x86_64", "kernel": "7.3.0"},
        errors=[CaseResult("boot", Status.ERROR, kind="splat:WARNING",
                           message="WARNING: at f+0x1/0x2\x00", log=["WARNING: at f"])],
    )


def written(tmp_path: Path, result: RunResult) -> ET.Element:
    path = tmp_path / "junit.xml"
    write_junit(result, path)
    return ET.parse(path).getroot()


@pytest.mark.parametrize("result", [
    sample(), RunResult(), parse_console(["no TAP here"]),
], ids=["sample", "empty", "no-tap"])
def test_output_is_valid_against_junit_10_xsd(tmp_path: Path, schema, result):
    path = tmp_path / "junit.xml"
    write_junit(result, path)
    schema.validate(path)


def test_parsed_console_output_is_valid_too(tmp_path: Path, schema):
    # SYNTHETIC console: crash mid-run, so every kind of entry appears.
    result = parse_console([
        "WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2", "KTAP version 1", "1..2",
        "    KTAP version 1", "    # Subtest: s", "    1..2", "    ok 1 a",
        "Kernel panic - not syncing: \x01boom"])
    path = tmp_path / "junit.xml"
    write_junit(result, path)
    schema.validate(path)


def test_structure_and_totals(tmp_path: Path):
    root = written(tmp_path, sample())
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "2")
    assert root.get("skipped") is None  # not allowed by junit-10.xsd
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["kgen_free", ERRORS_SUITE]
    assert suites[0].get("skipped") == "1"
    names = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert names == [("kgen_free", "free_simple"),
                     ("kgen_free", "free_orders/order=9,hold=first"),
                     ("kgen_free", "free_skip"), ("kgen_free", "#2"),
                     (ERRORS_SUITE, "boot")]


def test_properties_merge_run_and_suite(tmp_path: Path):
    root = written(tmp_path, sample())
    free, errors = root.findall("testsuite")
    props = {p.get("name"): p.get("value") for p in free.iter("property")}
    assert props == {"arch": "arm64", "kernel": "7.3.0", "spec": "specs/free.yaml"}
    props = {p.get("name"): p.get("value") for p in errors.iter("property")}
    assert props == {"arch": "x86_64", "kernel": "7.3.0"}


def test_case_elements(tmp_path: Path):
    cases = {c.get("name"): c for c in written(tmp_path, sample()).iter("testcase")}
    passed = cases["free_simple"]
    assert passed.get("time") == "0.001500"
    assert passed.find("failure") is None and passed.find("error") is None
    assert passed.findtext("system-out") == "# kgen: time_us=1500"

    failure = cases["free_orders/order=9,hold=first"].find("failure")
    assert failure.get("type") == "expectation"
    assert failure.get("message") == "EXPECTATION FAILED at mm/kgen/free.c:42: x"
    assert failure.text == "# free_orders: EXPECTATION FAILED at mm/kgen/free.c:42"
    out = cases["free_orders/order=9,hold=first"].findtext("system-out")
    assert out.endswith("bell and escape red")
    assert cases["free_orders/order=9,hold=first"].get("time") == "0.000000"

    assert cases["free_skip"].find("skipped").get("message") == "needs CONFIG_FOO"
    assert cases["free_skip"].get("time") is None

    error = cases["#2"].find("error")
    assert (error.get("type"), error.get("message")) == ("crash", "no result line")
    assert error.text.splitlines() == [f"line {i}" for i in range(30, 80)]

    boot = cases["boot"].find("error")
    assert boot.get("message") == "WARNING: at f+0x1/0x2"


def test_write_replaces_atomically_and_leaves_no_temp(tmp_path: Path):
    path = tmp_path / "junit.xml"
    path.write_text("old")
    write_junit(sample(), path)
    assert path.read_text().startswith("<?xml")
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_failed_write_keeps_old_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "junit.xml"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(junit.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_junit(sample(), path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]
