"""Unit tests for kgen.runner.results.ktap.

Every console log in this file is SYNTHETIC: a few hand-written lines in
the shape KUnit prints (lib/kunit/test.c), each exercising one syntax
corner.  Behaviour on real captured runs is checked by
test_ktap_fixtures.py against tests/fixtures/ktap/.
"""
from __future__ import annotations

import random
import textwrap

import pytest

from kgen.runner.results.ktap import BOOT_TAIL_LINES, SUITE_CASE, parse_console
from kgen.runner.results.model import CaseResult, RunResult, Status


def lines(text: str) -> list[str]:
    """A synthetic console log from an indented triple-quoted string."""
    return textwrap.dedent(text).strip("\n").splitlines()


def cases(result: RunResult) -> dict[str, CaseResult]:
    """All results keyed "suite.case", errors under "kgen.<name>"."""
    found = {f"{s.name}.{c.name}": c for s in result.suites for c in s.cases}
    found.update({f"kgen.{e.name}": e for e in result.errors})
    return found


def statuses(result: RunResult) -> dict[str, str]:
    return {name: case.status.value for name, case in cases(result).items()}


# SYNTHETIC: one suite with a pass, a parameterised case with one failing
# parameter, and a skip; printk timestamps on every line.
PARAM_RUN = lines("""
    [    0.100000] Linux version 7.3.0-kgen (synthetic)
    [    0.150000] Run /init as init process
    [    0.200000] KTAP version 1
    [    0.200001] 1..1
    [    0.200002]     KTAP version 1
    [    0.200003]     # Subtest: kgen_free
    [    0.200004]     # module: kgen_free_test
    [    0.200005]     1..3
    [    0.200006]     # kgen: time_us=1500
    [    0.200007]     ok 1 free_simple
    [    0.200008]         KTAP version 1
    [    0.200009]         # Subtest: free_orders
    [    0.200010]     # free_orders: kgen: time_us=10
    [    0.200011]         ok 1 order=0,hold=first
    [    0.200012]     # free_orders: EXPECTATION FAILED at mm/kgen/free.c:42
    [    0.200012]     Expected nr_free == before + 1, but
    [    0.200012]         nr_free == 5 (0x5)
    [    0.200012]         before + 1 == 6 (0x6)
    [    0.200012] order 9 buddy not merged
    [    0.200013]         not ok 2 order=9,hold=first
    [    0.200014]     # free_orders: pass:1 fail:1 skip:0 total:2
    [    0.200015]     # free_orders.speed: slow
    [    0.200016]     not ok 2 free_orders
    [    0.200017]     ok 3 free_skip # SKIP needs CONFIG_FOO
    [    0.200018] # kgen_free: pass:1 fail:1 skip:1 total:3
    [    0.200019] # Totals: pass:2 fail:1 skip:1 total:4
    [    0.200020] not ok 1 kgen_free
    [    0.300000] reboot: Restarting system
""")


def test_suites_cases_and_parameters_are_flattened():
    result = parse_console(PARAM_RUN)
    assert [s.name for s in result.suites] == ["kgen_free"]
    assert statuses(result) == {
        "kgen_free.free_simple": "passed",
        "kgen_free.free_orders/order=0,hold=first": "passed",
        "kgen_free.free_orders/order=9,hold=first": "failed",
        "kgen_free.free_skip": "skipped",
    }
    assert result.raw_log == PARAM_RUN


def test_expectation_failure_message_is_compact():
    failed = cases(parse_console(PARAM_RUN))[
        "kgen_free.free_orders/order=9,hold=first"]
    assert failed.kind == "expectation"
    assert failed.message == (
        "EXPECTATION FAILED at mm/kgen/free.c:42: Expected nr_free == "
        "before + 1, but nr_free == 5 (0x5), before + 1 == 6 (0x6)"
        " — order 9 buddy not merged")
    assert failed.details[0] == (
        "# free_orders: EXPECTATION FAILED at mm/kgen/free.c:42")
    assert len(failed.details) == 5


def test_skip_reason_is_the_message():
    skipped = cases(parse_console(PARAM_RUN))["kgen_free.free_skip"]
    assert skipped.status is Status.SKIPPED
    assert skipped.message == "needs CONFIG_FOO"


def test_logs_are_per_case_deindented_and_without_totals():
    found = cases(parse_console(PARAM_RUN))
    assert found["kgen_free.free_simple"].log == ["# kgen: time_us=1500"]
    assert found["kgen_free.free_orders/order=0,hold=first"].log == [
        "# free_orders: kgen: time_us=10"]
    last_param = found["kgen_free.free_orders/order=9,hold=first"].log
    assert last_param[-1] == "# free_orders.speed: slow"
    assert "order 9 buddy not merged" in last_param
    assert not any("pass:" in line for case in found.values()
                   for line in case.log)


def test_time_and_suite_attributes():
    result = parse_console(PARAM_RUN)
    found = cases(result)
    assert found["kgen_free.free_simple"].time == pytest.approx(0.0015)
    assert found["kgen_free.free_orders/order=0,hold=first"].time == \
        pytest.approx(0.00001)
    assert found["kgen_free.free_skip"].time is None
    assert result.suites[0].properties == {"kunit.module": "kgen_free_test"}


def test_assertion_and_kunit_fail_and_unary_forms():
    # SYNTHETIC: three failure-block shapes from lib/kunit/assert.c.
    result = parse_console(lines("""
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: s
            1..3
            # a: ASSERTION FAILED at mm/kgen/a.c:7
            Expected page is not null, but is
            not ok 1 a
            # b: EXPECTATION FAILED at mm/kgen/b.c:9
        free list corrupt
            not ok 2 b
            # c: EXPECTATION FAILED at mm/kgen/c.c:11
            Expected PageBuddy(page) to be true, but is false
            # c: kgen: time_us=3
            not ok 3 c
        not ok 1 s
    """))
    found = cases(result)
    assert found["s.a"].message == (
        "ASSERTION FAILED at mm/kgen/a.c:7: Expected page is not null, but is")
    assert found["s.b"].message == (
        "EXPECTATION FAILED at mm/kgen/b.c:9: free list corrupt")
    assert found["s.c"].message == (
        "EXPECTATION FAILED at mm/kgen/c.c:11: Expected PageBuddy(page) "
        "to be true, but is false")
    assert found["s.c"].time == pytest.approx(3e-6)
    assert {c.kind for c in found.values()} == {"expectation"}


def test_not_ok_without_expectation_uses_kunit_reason():
    # SYNTHETIC: KUnit's try-catch timeout and a bare "not ok".
    found = cases(parse_console(lines("""
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: s
            1..2
            # hang: try timed out
            not ok 1 hang
            not ok 2 bare
        not ok 1 s
    """)))
    assert (found["s.hang"].kind, found["s.hang"].message) == (
        "timeout", "try timed out")
    assert found["s.bare"].status is Status.FAILED
    assert found["s.bare"].kind == "not-ok"


def test_interleaved_printk_goes_to_the_running_case():
    # SYNTHETIC: unindented kernel lines between two result lines.
    found = cases(parse_console(lines("""
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: s
            1..2
            ok 1 first
        page_alloc: some kernel message
            # second: doing things
            ok 2 second
        ok 1 s
    """)))
    assert found["s.first"].log == []
    assert found["s.second"].log == ["page_alloc: some kernel message",
                                     "# second: doing things"]


def test_old_tap14_tab_indented_dash_format():
    # SYNTHETIC: the older "TAP version 14" / tab / "ok 1 - name" style.
    result = parse_console([
        "TAP version 14", "1..1", "\t# Subtest: old", "\t1..2",
        "\tok 1 - first", "\tnot ok 2 - second", "not ok 1 - old"])
    assert statuses(result) == {"old.first": "passed", "old.second": "failed"}


def test_splat_fails_a_passing_case_and_is_appended_to_a_failure():
    # SYNTHETIC: a WARNING inside a passing case and a Bad page state
    # inside a failing one.
    found = cases(parse_console(lines("""
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: s
            1..2
        ------------[ cut here ]------------
        WARNING: mm/page_alloc.c:1234 at free_pages_prepare+0x1/0x2, CPU#0: kunit_try_catch/42
        Call Trace:
        ---[ end trace 0000000000000000 ]---
            ok 1 warns
            # fails: EXPECTATION FAILED at mm/kgen/x.c:1
            Expected a == b, but
                a == 1 (0x1)
                b == 2 (0x2)
        BUG: Bad page state in process kunit_try_catch  pfn:01234
        page dumped because: nonzero mapcount
            not ok 2 fails
        not ok 1 s
    """)))
    warns = found["s.warns"]
    assert warns.status is Status.FAILED
    assert warns.kind == "splat:WARNING"
    assert warns.message.startswith("WARNING: mm/page_alloc.c:1234 at ")
    assert warns.details[-1] == "---[ end trace 0000000000000000 ]---"
    fails = found["s.fails"]
    assert fails.kind == "expectation"
    assert fails.message.endswith(
        "; BUG: Bad page state in process kunit_try_catch  pfn:01234")
    assert fails.message.startswith("EXPECTATION FAILED at mm/kgen/x.c:1: ")


def test_expected_splats_hook_suppresses_only_named_kinds():
    # SYNTHETIC: a case whose spec expects a WARNING.
    log = lines("""
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: s
            1..2
        WARNING: at free_one+0x1/0x2, CPU#0: kunit_try_catch/42
            ok 1 expected_warn
        WARNING: at free_two+0x1/0x2, CPU#0: kunit_try_catch/43
            ok 2 other
        ok 1 s
    """)
    calls = []

    def expected(suite: str, case: str) -> set[str]:
        calls.append((suite, case))
        return {"WARNING"} if case == "expected_warn" else set()

    found = cases(parse_console(log, expected_splats=expected))
    assert found["s.expected_warn"].status is Status.PASSED
    assert found["s.other"].kind == "splat:WARNING"
    assert ("s", "expected_warn") in calls


def test_splats_outside_cases_become_run_errors():
    # SYNTHETIC: a WARNING during boot, an Oops between suites and one in
    # a suite's exit (after its last case).
    result = parse_console(lines("""
        WARNING: CPU: 0 PID: 1 at drivers/foo.c:1 foo_init+0x1/0x2
        ---[ end trace 0000000000000000 ]---
        KTAP version 1
        1..2
            KTAP version 1
            # Subtest: a
            1..1
            ok 1 one
        Oops: general protection fault, probably for non-canonical address
        ok 1 a
        Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP
            KTAP version 1
            # Subtest: b
            1..1
            ok 1 one
        ok 2 b
    """))
    found = cases(result)
    assert found["kgen.boot"].kind == "splat:WARNING"
    assert found["kgen.boot"].status is Status.ERROR
    assert found["kgen.between-suites"].kind == "splat:Oops"
    suite_own = found[f"a.{SUITE_CASE}"]
    assert (suite_own.status, suite_own.kind) == (Status.FAILED, "splat:Oops")
    assert found["a.one"].status is Status.PASSED
    assert f"b.{SUITE_CASE}" not in found


# SYNTHETIC: the kernel dies in the second case of the first of two suites.
CRASH = lines("""
    KTAP version 1
    1..2
        KTAP version 1
        # Subtest: kgen_free
        1..4
        ok 1 first
        # second: about to free
    BUG: kernel NULL pointer dereference, address: 0000000000000008
    Oops: 0000 [#1] PREEMPT SMP NOPTI
    Kernel panic - not syncing: Fatal exception
""")


def test_crash_marks_running_case_and_not_run_ones():
    result = parse_console(CRASH)
    found = cases(result)
    assert statuses(result) == {
        "kgen_free.first": "passed",
        "kgen_free.#2": "error",
        "kgen_free.#3": "error",
        "kgen_free.#4": "error",
        "kgen.#2": "error",
    }
    crashed = found["kgen_free.#2"]
    assert crashed.kind == "crash"
    assert "BUG: kernel NULL pointer dereference" in crashed.message
    assert "Kernel panic - not syncing: Fatal exception" in crashed.message
    assert crashed.log[0] == "# second: about to free"
    assert found["kgen_free.#4"].kind == "not-run"
    assert found["kgen_free.#4"].message == \
        "not run: kernel crashed in kgen_free.#2"
    assert found["kgen.#2"].kind == "not-run"


def test_known_cases_name_what_the_kernel_never_reported():
    result = parse_console(CRASH, known_cases={
        "kgen_free": ["first", "second", "third", "fourth"],
        "kgen_alloc": ["a"],
    })
    found = cases(result)
    assert found["kgen_free.second"].kind == "crash"
    assert found["kgen_free.fourth"].message == \
        "not run: kernel crashed in kgen_free.second"
    assert found["kgen.kgen_alloc"].message == \
        "not run: kernel crashed in kgen_free.second"


def test_crash_inside_a_parameterised_case():
    # SYNTHETIC: output ends during the second parameter.
    result = parse_console(lines("""
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: s
            1..2
                KTAP version 1
                # Subtest: orders
                1..3
                ok 1 order=0
        Kernel panic - not syncing: stuck
    """))
    assert statuses(result) == {
        "s.orders/order=0": "passed",
        "s.orders/#2": "error",
        "s.orders/#3": "error",
        "s.#2": "error",
    }
    assert cases(result)["s.#2"].message == \
        "not run: kernel crashed in s.orders/#2"


def test_suite_init_failure_is_a_suite_level_case():
    # SYNTHETIC: suite_init failed, so KUnit printed only the result line.
    result = parse_console(lines("""
        KTAP version 1
        1..1
            # kgen_x:     # failed to initialize (-12)
        not ok 1 kgen_x
    """))
    own = cases(result)[f"kgen_x.{SUITE_CASE}"]
    assert (own.status, own.kind) == (Status.FAILED, "init")
    assert own.message == "failed to initialize (-12)"


def test_no_tap_reports_boot_error_with_console_tail():
    console = [f"[    0.{i:06d}] boot line {i}" for i in range(80)]
    console.append("[    1.000000] Kernel panic - not syncing: VFS: no root")
    result = parse_console(console)
    assert result.suites == []
    [error] = result.errors
    assert (error.name, error.kind, error.status) == ("boot", "boot",
                                                      Status.ERROR)
    assert error.message.startswith(
        "no KTAP output: kernel did not reach the tests")
    assert "Kernel panic - not syncing: VFS: no root" in error.message
    assert error.log == console[-BOOT_TAIL_LINES:]


def test_empty_plan_is_an_error():
    result = parse_console(["KTAP version 1", "1..0"])
    assert [(e.name, e.kind) for e in result.errors] == [("tests", "no-tests")]


def test_line_endings_and_multiple_printk_prefixes():
    # SYNTHETIC: CRLF endings and the "[time][ T1]" caller-id prefix.
    result = parse_console([
        "[    0.1][    T1] KTAP version 1\r\n", "[    0.1][    T1] 1..1\r\n",
        "[    0.1][    T1]     # Subtest: s\r\n", "[    0.1][    T1]     1..1\r\n",
        "[    0.1][    T1]     ok 1 c\r\n", "[    0.1][    T1] ok 1 s\r\n"])
    assert statuses(result) == {"s.c": "passed"}
    assert result.raw_log[0] == "[    0.1][    T1] KTAP version 1"


_VOCABULARY = [
    "KTAP version 1", "TAP version 14", "1..2", "1..0", "1..999999999999",
    "# Subtest: x", "ok 1 a", "not ok 2 b", "ok 3 c # SKIP why", "ok 1",
    "not ok 0 # TODO", "# x: EXPECTATION FAILED at f.c:1",
    "Expected a == b, but", "# kgen: time_us=12", "# kgen: time_us=",
    "WARNING: at x", "---[ end trace 0 ]---", "BUG: Bad page state in y",
    "page dumped because: z", "Kernel panic - not syncing: q", "", "\x00\x1b[0m",
    "[    1.0] ", "# s: pass:1 fail:0 skip:0 total:1", "ok x y", "1..",
]


@pytest.mark.parametrize("seed", range(200))
def test_garbage_never_raises(seed: int):
    rng = random.Random(seed)
    console = [" " * rng.choice([0, 0, 2, 4, 8, 12, 40]) + rng.choice(_VOCABULARY)
               for _ in range(rng.randint(0, 60))]
    result = parse_console(console)
    assert isinstance(result, RunResult)
    assert result.raw_log == console


def test_absurd_nesting_does_not_recurse_forever():
    # Deeper than Python's recursion limit, one more space per level.
    console = ["KTAP version 1", "1..1"]
    console += [" " * depth + "KTAP version 1" for depth in range(1, 1500)]
    console += [" " * depth + "ok 1 x" for depth in range(1500, -1, -1)]
    assert isinstance(parse_console(console), RunResult)


def test_a_skip_after_a_failed_expectation_is_a_failure():
    result = parse_console(lines("""\
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: kgen_s
            1..1
            # kgen_s_c: EXPECTATION FAILED at mm/kgen/kgen_kunit.c:12
            Expected freed == 4, but
                freed == 3 (0x3)
            expect.freed: 1 of 4 pages not in the buddy after drain
            ok 1 kgen_s_c # SKIP needs nothing, skipped late
        ok 1 kgen_s
        """))
    (case,) = result.suites[0].cases
    assert case.status is Status.FAILED
    assert case.message.startswith("expect.freed: 1 of 4 pages not in the buddy")
    assert "then skipped: needs nothing, skipped late" in case.message


# SYNTHETIC: a counter mismatch in attempt 1, then the repeat skipped
# (kgen_confirm.c repeats; the boundary family skips when it cannot take
# its pfns again).  No real run has shown it yet.
REPEAT_SKIPPED = lines("""
    KTAP version 1
    1..1
        KTAP version 1
        # Subtest: kgen_b
        # kgen_b_case: kgen: attempt 1: expect.nr_free_pages: zone Normal node 0 NR_FREE_PAGES changed by +7, expected +8
        # kgen_b_case: cannot take 8 pages each side: pfn 0x1000 is busy
        ok 1 kgen_b_case # SKIP cannot take 8 pages each side: pfn 0x1000 is busy
    ok 1 kgen_b
""")


def test_a_mismatch_whose_repeat_skipped_is_unconfirmed_not_a_skip():
    case = cases(parse_console(REPEAT_SKIPPED))["kgen_b.kgen_b_case"]
    assert case.status is Status.UNCONFIRMED
    assert case.message.startswith("expect.nr_free_pages: zone Normal node 0")
    assert "[mismatch in 1 attempt(s); the repeat skipped: cannot take 8 pages" in case.message
