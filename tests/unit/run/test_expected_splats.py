"""A spec's declared splats: counted exactly, per case and parameter."""
from __future__ import annotations

import json
from pathlib import Path

from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import ResultKind, Status
from kgen.runner.results.ratelimit import mark_muted
from kgen.runner.run.boots import check_expected_splats, expected_splats
from kgen.spec.loader import load_spec, load_specs

# Shape of a real bad_state case log (kgen_hwpoison_bad_state on UML 7.3),
# trimmed to the lines that matter.
REPORT = """\
BUG: Bad page state in process kunit_try_catch  pfn:01030
page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set
"""
CONSOLE = f"""\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: kgen_hwpoison
    1..3
{REPORT}    # kgen_hwpoison_bad_state: kgen: time_us=99
    ok 1 kgen_hwpoison_bad_state
    # kgen_hwpoison_quiet: kgen: time_us=9
    ok 2 kgen_hwpoison_quiet
{REPORT}{REPORT}    # kgen_hwpoison_twice: kgen: time_us=99
    ok 3 kgen_hwpoison_twice
ok 1 kgen_hwpoison
""".splitlines()

ONE = {"Bad page state": 1}
EXPECTED = {("kgen_hwpoison", "kgen_hwpoison_bad_state"): ONE,
            ("kgen_hwpoison", "kgen_hwpoison_quiet"): ONE,
            ("kgen_hwpoison", "kgen_hwpoison_twice"): ONE}


def _parse(expected):
    result = parse_console(CONSOLE, expected_splats=lambda s, c: {
        k for k, n in expected.get((s, c), {}).items() if n})
    check_expected_splats(result, expected)
    return {c.name: c for c in result.suites[0].cases}


def test_exactly_the_declared_count_passes():
    case = _parse(EXPECTED)["kgen_hwpoison_bad_state"]
    assert case.status is Status.PASSED


def test_a_missing_report_fails():
    quiet = _parse(EXPECTED)["kgen_hwpoison_quiet"]
    assert quiet.status is Status.FAILED and quiet.kind == ResultKind.EXPECT_SPLATS
    assert "expected exactly 1 Bad page state report" in quiet.message
    assert "saw 0" in quiet.message


def test_a_second_report_of_a_declared_kind_fails():
    """W2: excusing expected splats by kind let a doubled report pass."""
    twice = _parse(EXPECTED)["kgen_hwpoison_twice"]
    assert twice.status is Status.FAILED and twice.kind == ResultKind.EXPECT_SPLATS
    assert "saw 2" in twice.message
    assert sum("Bad page state in process" in line for line in twice.details) == 2


def test_a_count_of_two_takes_two():
    expected = dict(EXPECTED)
    expected[("kgen_hwpoison", "kgen_hwpoison_twice")] = {"Bad page state": 2}
    assert _parse(expected)["kgen_hwpoison_twice"].status is Status.PASSED


def test_undeclared_splat_fails_the_case():
    result = parse_console(CONSOLE)
    bad = result.suites[0].cases[0]
    assert bad.status is Status.FAILED and bad.kind == "splat:Bad page state"
    assert bad.message.startswith("BUG: Bad page state in process")


def test_a_failed_case_also_names_the_wrong_count():
    lines = [line.replace("ok 3 kgen_hwpoison_twice", "not ok 3 kgen_hwpoison_twice")
             for line in CONSOLE]
    result = parse_console(lines, expected_splats=lambda s, c: {"Bad page state"})
    check_expected_splats(result, EXPECTED)
    twice = result.suites[0].cases[2]
    assert twice.status is Status.FAILED and "expect.splats" in twice.message


SPEC = """\
kgen: 1
suite: kgen_t
cases:
  - name: bad
    span: {alloc: split_page, order: 4}
    sweep:
      free: [free_contig_range, free_page_loop]
      bad_state: [[first], [first, last], [{every: 4}]]
  - name: explicit
    span: {alloc: split_page, order: 3}
    free: free_contig_range
    bad_state: [middle]
    expect: {splats: {"Bad page state": 2, WARNING: 1}}
  - name: listed
    span: {alloc: split_page, order: 3}
    free: free_contig_range
    expect: {splats: [WARNING]}
"""


def test_default_count_is_one_report_per_bad_page_of_each_parameter(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC)
    expected = expected_splats([load_spec(path)])
    assert expected[("kgen_t", "kgen_t_bad/free=free_contig_range,bad_state=first")] == ONE
    assert expected[("kgen_t", "kgen_t_bad/free=free_page_loop,bad_state=first+last")] == \
        {"Bad page state": 2}
    assert expected[("kgen_t", "kgen_t_bad/free=free_contig_range,bad_state=every4")] == \
        {"Bad page state": 4}
    assert expected[("kgen_t", "kgen_t_explicit")] == {"Bad page state": 2, "WARNING": 1}
    assert expected[("kgen_t", "kgen_t_listed")] == {"WARNING": 1}


# Real logs: `kgen run --spec frozen.yaml --spec hwpoison.yaml --spec
# refcount_hold.yaml --patch tests/fixtures/patches/refused-page-retried.patch`
# on UML 7.3 (tests/fixtures/ktap/README.md).  The patch makes every refused
# page 17 reports.
def _captured(name: str):
    root = Path(__file__).resolve().parents[3]
    log = root / "tests" / "fixtures" / "ktap" / f"um_refused_page_retried_{name}.log"
    known = json.loads(log.with_name(log.stem + ".expected.json").read_text())["_known_cases"]
    specs = load_specs([root / "spec" / "suites" / f"{n}.yaml"
                        for n in ("frozen", "hwpoison", "refcount_hold")])
    expected = expected_splats(specs)
    result = parse_console(log.read_text().splitlines(), known_cases=known,
                           expected_splats=lambda s, c: set(expected.get((s, c), {})))
    check_expected_splats(result, expected)
    mark_muted(result)
    return {c.name: c for s in result.suites for c in s.cases}


def test_captured_main_boot_cases_after_the_45th_report_are_muted_not_passed():
    found = _captured("main")
    # hold=first, last, middle print 17 reports each (the 45th, where kgen
    # mutes, is middle's 11th); hold=1 prints the 60th as its 9th and
    # fails.  Every later held-page case frees a held page into silence,
    # under a taint set long before: parsed alone they pass.
    assert found["kgen_refcount_hold_hold_position/hold=1"].status is Status.FAILED
    later = [n for n in found if n.startswith("kgen_refcount_hold_") and
             n not in {f"kgen_refcount_hold_hold_position/hold={h}"
                       for h in ("first", "last", "middle", "1")}]
    assert len(later) == 10
    for name in later:
        assert found[name].kind == ResultKind.MUTED, (name, found[name].message)
        assert "45th bad-page report in kgen_refcount_hold.kgen_refcount_hold_" \
            "hold_position/hold=middle" in found[name].message
    assert found["kgen_frozen_range/order=0"].status is Status.PASSED


def test_captured_complaint_boot_counts_every_report():
    found = _captured("complaints")
    seen = {n: found[n].message.rsplit("saw ", 1)[-1] for n in found
            if found[n].kind == ResultKind.EXPECT_SPLATS}
    assert seen == {
        "kgen_frozen_bad_page_in_middle": "17",
        "kgen_hwpoison_bad_state/free=free_contig_range,bad_state=middle": "17",
        "kgen_hwpoison_bad_state/free=__free_contig_range,bad_state=middle": "17",
        "kgen_hwpoison_bad_state/free=free_pages_bulk,bad_state=middle": "9",
        # The per-page loop's one report came after the 60th: never printed.
        "kgen_hwpoison_bad_state/free=free_page_loop,bad_state=middle": "0",
    }
    assert found["kgen_frozen_misuse_tail_start"].status is Status.PASSED
