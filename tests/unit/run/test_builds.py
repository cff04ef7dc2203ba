"""A generated suite that does not compile is left out; the rest builds.

The build logs are real (tests/fixtures/build/README.md says how each was
captured); the session is a stand-in that hands them out in turn.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import xmlschema

from kgen.arch import arch
from kgen.cli import shipped_specs
from kgen.runner.harness.kunit_tool import PhaseResult
from kgen.runner.results.junit import write_junit
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status
from kgen.runner.results.summary import render_summary
from kgen.runner.run.builds import (
    HELPER_NOT_COMPILED,
    NOT_COMPILED,
    build_error_message,
    build_leaving_out_broken_suites,
    max_builds,
    suite_object,
    uncompiled_suite_results,
    uncompiled_suites,
)
from kgen.runner.run.plan import make_plan
from kgen.spec.loader import load_specs
from kgen.target.capabilities import assume_all

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
OVERLAY = "/root/.cache/kgen/overlays/linux-source-7.3-943b473cf1"
SPECS = load_specs(shipped_specs())
PLAN = make_plan(SPECS, assume_all(arch("um")))
KUNIT_CASE_USERS = {"kgen_frozen", "kgen_refcount_hold"}


def log(name: str) -> list[str]:
    return (FIXTURES / "build" / name).read_text().splitlines()


class FakeSession:
    """Hands out build outputs in turn (None: a build that succeeds)."""

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.suffixes: list[str] = []
        self.prepared: list[set[str]] = []
        self.messages: list[str] = []
        self.overlay = SimpleNamespace(root=Path(OVERLAY))
        self.config = SimpleNamespace(log=self.messages.append)

    def build(self, suffix: str) -> PhaseResult:
        self.suffixes.append(suffix)
        out = self.outputs.pop(0)
        return PhaseResult(ok=out is None, seconds=2.0, output=out or ["built"])

    def prepare(self, generated, kunitconfig, patched):
        self.prepared.append(set(generated))


def build(outputs):
    session = FakeSession(outputs)
    outcome = build_leaving_out_broken_suites(session, SPECS, assume_all(arch("um")), PLAN,
                                              "CONFIG_KUNIT=y\n", {})
    return session, outcome


def test_suites_that_do_not_compile_are_left_out_and_the_rest_builds():
    """The real two builds of kunit-case-takes-attributes.patch, then success."""
    first, second = log("um_kunit_case_attributes.log"), log("um_kunit_case_attributes.retry1.log")
    session, outcome = build([first, second, None])
    assert outcome.ok and set(outcome.dropped) == KUNIT_CASE_USERS
    assert {s.suite for s in outcome.specs} == {s.suite for s in SPECS} - KUNIT_CASE_USERS
    assert session.suffixes == ["build.log", "build.retry1.log", "build.retry2.log"]
    # Each rebuild's overlay lacks every suite dropped so far, and only those.
    assert len(session.prepared) == 2
    last = session.prepared[-1]
    assert "kgen_frozen_kunit.c" not in last and "kgen_refcount_hold_kunit.c" not in last
    assert "kgen_contig_split_kunit.c" in last and "Makefile" in last
    assert outcome.seconds == 6.0
    assert any("building again without" in m for m in session.messages)


def test_a_helper_library_failure_is_a_build_error():
    session, outcome = build([log("um_free_pages_bulk_may_sleep.log")])
    assert not outcome.ok and not outcome.dropped and outcome.specs == SPECS
    assert session.prepared == [] and len(session.suffixes) == 1


def test_a_failure_beside_a_suite_is_a_build_error():
    both = log("um_kunit_case_attributes.log") + log("um_free_pages_bulk_may_sleep.log")
    assert uncompiled_suites(both, SPECS, OVERLAY) is None


def test_an_object_of_a_suite_not_generated_is_a_build_error():
    assert uncompiled_suites(log("um_compile_error.log"), SPECS, OVERLAY) is None


def test_rebuilding_is_bounded():
    """One more suite fails in every build, then something that is no
    suite: kgen drops a suite per build and stops at the first failure it
    cannot pin on a suite; it never builds more than once per suite plus
    once."""
    template = "\n".join(log("um_compile_error.log"))
    outputs = [template.replace("kgen_selftest_hang", spec.suite).splitlines()
               for spec in SPECS[:5]]
    session, outcome = build(outputs + [None])
    assert outcome.ok and len(session.suffixes) == 6
    assert len(outcome.dropped) == 5
    assert max_builds(SPECS) == len(SPECS) + 1


def test_every_suite_failing_leaves_nothing_to_boot():
    specs = [s for s in SPECS if s.suite in KUNIT_CASE_USERS]
    session = FakeSession([log("um_kunit_case_attributes.log"),
                           log("um_kunit_case_attributes.retry1.log")])
    outcome = build_leaving_out_broken_suites(session, specs, assume_all(arch("um")), PLAN, "", {})
    assert outcome.nothing_to_boot and set(outcome.dropped) == KUNIT_CASE_USERS


def test_every_planned_case_of_the_suite_is_an_error_quoting_the_compiler(tmp_path):
    _, outcome = build([log("um_kunit_case_attributes.log"),
                        log("um_kunit_case_attributes.retry1.log"), None])
    suites = {s.name: s for s in uncompiled_suite_results(outcome, PLAN)}
    assert set(suites) == KUNIT_CASE_USERS
    for name, suite in suites.items():
        planned = [c.name for c in PLAN.cases if c.suite == name]
        assert [c.name for c in suite.cases] == planned
        first = outcome.dropped[name].first_error
        assert first.startswith(f"mm/kgen/{name}_kunit.c:")
        assert suite.properties["kgen.compile_error"] == first
        for case in suite.cases:
            assert (case.status, case.kind) == (Status.ERROR, ResultKind.COMPILE)
            assert case.message == f"{NOT_COMPILED}: {first}"
            assert first in case.log and "--- build log tail ---" in case.log
    result = RunResult(suites=list(suites.values()))
    summary = render_summary(result)
    for name, suite in suites.items():
        assert f"ERROR   {len(suite.cases)} cases: {suite.cases[0].message}" in summary
    out = tmp_path / "junit.xml"
    write_junit(result, out)
    xmlschema.XMLSchema(str(FIXTURES / "xsd" / "junit-10.xsd")).validate(str(out))
    text = out.read_text()
    assert text.count('type="compile"') == sum(len(s.cases) for s in suites.values())
    assert "suite did not compile: mm/kgen/kgen_frozen_kunit.c:" in text


def test_suite_object_names_the_generated_file():
    frozen = next(s for s in SPECS if s.suite == "kgen_frozen")
    assert suite_object(frozen) == "mm/kgen/kgen_frozen_kunit.o"


def test_a_build_error_names_the_helper_library():
    message = build_error_message(log("um_free_pages_bulk_may_sleep.log"), SPECS, OVERLAY)
    assert message == (f"{HELPER_NOT_COMPILED}: mm/kgen/kgen_kunit.c:457:17: error: too few "
                       "arguments to function ‘free_pages_bulk’")
    kconfig = [("ERROR:root:Not all Kconfig options selected in kunitconfig were in the "
                "generated .config."), "Missing: CONFIG_KGEN_NO_SUCH_OPTION=y"]
    assert build_error_message(kconfig, SPECS, OVERLAY).startswith("Not all Kconfig options")
    # A suite that still failed when kgen gave up is not the helper library.
    suite = build_error_message(log("um_kunit_case_attributes.log"), SPECS, OVERLAY)
    assert suite.startswith("mm/kgen/kgen_frozen_kunit.c:312:50: error:")


def test_the_summary_never_cuts_a_compiler_line():
    message = build_error_message(log("um_free_pages_bulk_may_sleep.log"), SPECS, OVERLAY)
    result = RunResult(errors=[CaseResult("build", Status.ERROR, message=message,
                                          kind=ResultKind.BUILD)])
    assert f"ERROR   build: {message}" in render_summary(result, width=60)
