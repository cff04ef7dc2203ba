"""bad_page()'s ratelimit: cases after a boot's 45th report seen are not clean."""
from __future__ import annotations

from kgen.generator.decisions import COMPLAINT_BOOT_BAD_PAGES
from kgen.runner.results.ktap import parse_console
from kgen.runner.results.model import ResultKind, Status
from kgen.runner.results.ratelimit import BAD_PAGE_BURST, MUTED_FROM, mark_muted
from kgen.runner.results.splats import find_splats


def report(pfn: int) -> str:
    return (f"[    2.{pfn:06d}] BUG: Bad page state in process kunit_try_catch  pfn:{pfn:05x}\n"
            "page dumped because: PAGE_FLAGS_CHECK_AT_FREE flag(s) set\n")


def console(reports_in_flood: int, later: str = "") -> list[str]:
    flood = "".join(report(0x1000 + i) for i in range(reports_in_flood))
    return f"""\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: kgen_t
    1..3
    ok 1 kgen_t_before
{flood}    not ok 2 kgen_t_flood
{later}    ok 3 kgen_t_after
ok 1 kgen_t
""".splitlines()


def cases(lines):
    result = parse_console(lines, expected_splats=lambda s, c: {"Bad page state"})
    mark_muted(result)
    return {c.name: c for c in result.suites[0].cases}


def test_below_the_threshold_nothing_is_muted():
    found = cases(console(MUTED_FROM - 1))
    assert found["kgen_t_after"].status is Status.PASSED


def test_short_of_the_60th_report_a_passing_case_is_muted():
    # A real UML boot under load showed 59 of bad_page()'s 60 reports: the
    # console lost one, and the next cases ran muted.
    found = cases(console(BAD_PAGE_BURST - 1))
    after = found["kgen_t_after"]
    assert after.status is Status.ERROR and after.kind == ResultKind.MUTED
    assert "45th bad-page report in kgen_t.kgen_t_flood" in after.message
    assert found["kgen_t_before"].status is Status.PASSED
    assert found["kgen_t_flood"].status is Status.FAILED      # its own failure stands


def test_the_suppression_notice_is_not_a_report():
    notice = "[   62.000001] BUG: Bad page state: 12 messages suppressed\n"
    assert find_splats([notice]) == []
    (splat,) = find_splats((notice + report(0x2000)).splitlines())
    assert splat.first_line.startswith("BUG: Bad page state in process")


def test_printk_dropping_messages_fails_the_case_it_lands_in():
    found = cases(console(1, later="** 17 printk messages dropped **\n"))
    after = found["kgen_t_after"]
    assert after.status is Status.FAILED and after.kind == "splat:printk dropped"



def test_a_healthy_complaint_boot_is_never_muted():
    assert COMPLAINT_BOOT_BAD_PAGES < MUTED_FROM
