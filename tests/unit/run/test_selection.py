"""kunit.py-style selection: `kgen run 'suite.case/param'` globs."""
from __future__ import annotations

import subprocess
import sys

import pytest

from kgen.arch import arch
from kgen.cli import shipped_specs
from kgen.errors import UsageError
from kgen.generator.generate import generate
from kgen.ids import TestGlob, TestId
from kgen.runner.run.pipeline import _needs_main_boot
from kgen.runner.run.plan import make_plan, select
from kgen.spec.loader import load_specs
from kgen.target.capabilities import assume_all


@pytest.fixture(scope="module")
def specs():
    return load_specs(shipped_specs())


def names_of(specs) -> list[str]:
    plan = make_plan(specs, assume_all(arch("um")))
    return [f"{c.suite}.{c.name}" for c in plan.cases]


def test_glob_forms():
    assert TestGlob.parse("kgen_refcount*") == TestGlob("kgen_refcount*", "kgen_refcount*")
    assert TestGlob.parse("s.c*/p") == TestGlob("s.c*/p", "s", "c*", "p")
    for bad in ("", ".case", "suite.", "suite.case/"):
        with pytest.raises(UsageError, match="expected SUITE, SUITE.CASE or SUITE.CASE/PARAM"):
            TestGlob.parse(bad)


def test_case_part_matches_kunit_or_spec_name_and_param_literally():
    test = TestId("kgen_s", "hold", "hold=[0]")
    assert TestGlob.parse("kgen_s.kgen_s_hold").matches(test)     # kunit.py's name
    assert TestGlob.parse("kgen_s.hold").matches(test)            # the spec's name
    assert TestGlob.parse("kgen_s.hold/hold=[0]").matches(test)   # "[" taken as written
    assert not TestGlob.parse("kgen_s.hol").matches(test)
    assert not TestGlob.parse("kgen_s.hold/hold=[1]").matches(test)


def test_suite_glob_keeps_whole_suites(specs):
    chosen = select(specs, ["kgen_refcount*"])
    assert [s.suite for s in chosen] == ["kgen_refcount_hold"]
    everything = [t for t in names_of(specs) if t.startswith("kgen_refcount_hold.")]
    assert names_of(chosen) == everything and len(everything) == 16


def test_case_glob_keeps_matching_cases_only(specs):
    chosen = names_of(select(specs, ["kgen_hwpoison.*bad_state*"]))
    assert chosen and all(t.startswith("kgen_hwpoison.kgen_hwpoison_bad_state")
                          for t in chosen)
    assert chosen == [t for t in names_of(specs)
                      if t.startswith("kgen_hwpoison.") and "bad_state" in t.split(".")[1]
                      .split("/")[0]]


def test_param_glob_and_union_of_globs(specs):
    one = names_of(select(specs, ["kgen_refcount_hold.hold_position/hold=last"]))
    assert one == ["kgen_refcount_hold.kgen_refcount_hold_hold_position/hold=last"]
    both = names_of(select(specs, ["kgen_refcount_hold.hold_position/hold=last",
                                   "kgen_vmalloc"]))
    vmalloc = names_of(select(specs, ["kgen_vmalloc"]))
    assert len(vmalloc) > 20 and all(t.startswith("kgen_vmalloc.") for t in vmalloc)
    assert both == one + vmalloc


@pytest.mark.parametrize("glob, message", [
    ("kgen_nope*", "no suite matches 'kgen_nope\\*' \\(suites: kgen_boundary_node, "),
    ("kgen_hwpoison.*nope*", "no case of kgen_hwpoison matches '\\*nope\\*' \\(cases: "),
    ("kgen_refcount_hold.hold_position/hold=nope",
     "no parameter of the matching case\\(s\\) matches 'hold=nope' \\(parameters: "),
])
def test_glob_that_selects_nothing_says_which_part(specs, glob, message):
    with pytest.raises(UsageError, match=f"^'{glob.replace('*', '[*]')}' selects nothing: "
                       + message):
        select(specs, [glob])


def test_only_selected_suites_are_generated_and_get_guest_boots(specs):
    caps = assume_all(arch("arm64"))
    boundary = select(specs, ["kgen_boundary_zone"])
    plan = make_plan(boundary, caps)
    assert [g.suite for g in plan.guest_boots] == ["kgen_boundary_zone"]
    assert not _needs_main_boot(plan)      # its own guest boot is the only boot
    files = generate(boundary, caps, plan)
    assert sorted(files) == ["Makefile", "kgen_boundary_zone_kunit.c", "kgen_caps.h"]

    plain = make_plan(select(specs, ["kgen_refcount*"]), caps)
    assert plain.guest_boots == [] and _needs_main_boot(plain)
    mixed = make_plan(select(specs, ["kgen_refcount*", "kgen_boundary_zone"]), caps)
    assert [g.suite for g in mixed.guest_boots] == ["kgen_boundary_zone"]
    assert _needs_main_boot(mixed)
    whole = make_plan(specs, caps)
    assert len(whole.guest_boots) > 1


def test_cli_glob_that_selects_nothing_exits_2():
    proc = subprocess.run([sys.executable, "-m", "kgen", "plan", "kgen_nope*"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("kgen: 'kgen_nope*' selects nothing: no suite matches")
    assert "Traceback" not in proc.stderr
