"""Unit tests for kgen.runner.results.splats.

The console excerpts here are SYNTHETIC: shortened to the lines that
matter, in the formats the 7.3 kernel prints (kernel/panic.c __warn,
mm/page_alloc.c bad_page, mm/kasan/report.c, ...).
"""
from __future__ import annotations

import pytest

from kgen.runner.results.splats import find_splats, splat_kind


@pytest.mark.parametrize("line, kind", [
    ("WARNING: mm/page_alloc.c:1234 at __free_pages_ok+0x1/0x2, CPU#0: kunit_try_catch/42",
     "WARNING"),
    ("WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:123 free_pcppages_bulk+0x1f/0x30",
     "WARNING"),
    ("BUG: Bad page state in process kunit_try_catch  pfn:01234", "Bad page state"),
    ("BUG: KASAN: use-after-free in kgen_free_test+0x12/0x40", "KASAN"),
    ("BUG: KFENCE: out-of-bounds read in kgen_case+0x1/0x2", "KFENCE"),
    ("BUG: kernel NULL pointer dereference, address: 0000000000000008", "BUG"),
    ("kernel BUG at mm/page_alloc.c:1234!", "BUG"),
    ("Oops: general protection fault, probably for non-canonical address", "Oops"),
    ("Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP", "Oops"),
    ("Kernel panic - not syncing: Fatal exception", "panic"),
    ("UBSAN: shift-out-of-bounds in mm/page_alloc.c:77:9", "UBSAN"),
    ("watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [kunit_try_catch:42]",
     "soft lockup"),
    ("page dumped because: nonzero mapcount", "page dump"),
    ("[   12.345678] WARNING: at f+0x1/0x2, CPU#1: swapper/1", "WARNING"),
    ("[   12.345678][    T1] Kernel panic - not syncing: x", "panic"),
])
def test_kinds(line: str, kind: str):
    assert splat_kind(line) == kind
    [splat] = find_splats([line])
    assert splat.kind == kind
    assert splat.lines == [line]
    assert not splat.first_line.startswith("[")


@pytest.mark.parametrize("line", [
    "    # free_orders: kgen: time_us=10",
    "    # case: EXPECTATION FAILED at mm/kgen/a.c:1",
    "    ok 1 case",
    "Memory: 1024K/2048K available",
    "kunit: this is not a WARNING: at all",
    "",
])
def test_ordinary_lines_are_not_splats(line: str):
    assert splat_kind(line) is None
    assert find_splats([line]) == []


def test_warning_runs_through_end_trace_only():
    log = [
        "------------[ cut here ]------------",
        "WARNING: mm/page_alloc.c:1 at f+0x1/0x2, CPU#0: t/1",
        "Modules linked in:",
        "Call Trace:",
        " <TASK>",
        "---[ end trace 0000000000000000 ]---",
        "# case: after the warning",
    ]
    [splat] = find_splats(log)
    assert splat.lines == log[1:6]
    assert splat.first_line == "WARNING: mm/page_alloc.c:1 at f+0x1/0x2, CPU#0: t/1"


def test_bad_page_state_keeps_its_page_dump():
    log = [
        "BUG: Bad page state in process kunit_try_catch  pfn:01234",
        "page: refcount:0 mapcount:1 mapping:0000000000000000 index:0x0 pfn:0x1234",
        "flags: 0x0(zone=0)",
        "page dumped because: nonzero mapcount",
        "Call Trace:",
    ]
    [splat] = find_splats(log)
    assert splat.kind == "Bad page state"
    assert splat.lines == log


def test_kernel_bug_and_its_oops_are_one_splat_then_panic():
    log = [
        "kernel BUG at mm/page_alloc.c:1234!",
        "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
        "RIP: 0010:free_one_page+0x1/0x2",
        "---[ end trace 0000000000000000 ]---",
        "Kernel panic - not syncing: Fatal exception",
        "---[ end Kernel panic - not syncing: Fatal exception ]---",
    ]
    bug, panic = find_splats(log)
    assert (bug.kind, bug.lines) == ("BUG", log[:4])
    assert (panic.kind, panic.lines) == ("panic", log[4:])


def test_oops_after_an_unrelated_splat_is_its_own():
    log = [
        "BUG: Bad page state in process t  pfn:01234",
        "Call Trace:",
        "Oops: general protection fault [#1] SMP",
    ]
    assert [s.kind for s in find_splats(log)] == ["Bad page state", "Oops"]


def test_kasan_report_ends_at_its_ruler():
    log = [
        "==================================================================",
        "BUG: KASAN: use-after-free in kgen_case+0x12/0x40",
        "Read of size 8 at addr ffff888000000000 by task kunit_try_catch/42",
        "page dumped because: kasan: bad access detected",
        "==================================================================",
        "some later line",
    ]
    [splat] = find_splats(log)
    assert splat.kind == "KASAN"
    assert splat.lines == log[1:5]


def test_splat_without_end_stops_at_ktap_result_and_next_splat():
    log = [
        "BUG: sleeping function called from invalid context at mm/x.c:1",
        "in_atomic(): 1",
        "    ok 3 some_case",
        "not part of any splat",
        "UBSAN: array-index-out-of-bounds in mm/x.c:2:3",
        "index 5 is out of range",
        "WARNING: at g+0x1/0x2, CPU#0: t/1",
    ]
    bug, ubsan, warning = find_splats(log)
    assert bug.lines == log[:2]
    assert ubsan.lines == log[4:6]
    assert warning.lines == log[6:]
