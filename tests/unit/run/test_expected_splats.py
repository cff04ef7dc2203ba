"""A spec's declared splats: excused when present, a failure when absent."""
from __future__ import annotations

from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import Status
from kgen.runner.run.boots import check_expected_splats

# Shape of a real bad_state case log (kgen_hwpoison_bad_state on UML 7.3),
# trimmed to the lines that matter.
CONSOLE = """\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: kgen_hwpoison
    1..2
BUG: Bad page state in process kunit_try_catch  pfn:01030
page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set
    # kgen_hwpoison_bad_state: kgen: time_us=99
    ok 1 kgen_hwpoison_bad_state
    # kgen_hwpoison_quiet: kgen: time_us=9
    ok 2 kgen_hwpoison_quiet
ok 1 kgen_hwpoison
""".splitlines()

EXPECTED = {("kgen_hwpoison", "kgen_hwpoison_bad_state"): {"Bad page state"},
            ("kgen_hwpoison", "kgen_hwpoison_quiet"): {"Bad page state"}}


def test_expected_splat_present_passes_and_absent_fails():
    result = parse_console(CONSOLE, expected_splats=lambda s, c: EXPECTED.get((s, c), set()))
    check_expected_splats(result, EXPECTED)
    bad, quiet = result.suites[0].cases
    assert bad.status is Status.PASSED
    assert quiet.status is Status.FAILED and quiet.kind == "expect.splats"
    assert "expected Bad page state" in quiet.message


def test_undeclared_splat_fails_the_case():
    result = parse_console(CONSOLE)
    bad = result.suites[0].cases[0]
    assert bad.status is Status.FAILED and bad.kind == "splat:Bad page state"
    assert bad.message.startswith("BUG: Bad page state in process")
