"""Cases that ran while bad_page() was not printing.

bad_page() (mm/page_alloc.c) prints a burst of 60 "BUG: Bad page state"
reports, then nothing for the rest of that minute; it still sets
TAINT_BAD_PAGE, but by then the taint is set already.  A case that frees a
bad page in that window leaves no trace: not in its log, not in its taint
check.  So once a boot has printed its 60th report, no case from that one
on can be called clean.

The count kgen sees can be short of what the kernel printed.  UML writes
its console to a non-blocking pipe that kunit.py reads, and drops what
does not fit when kunit.py falls behind (a loaded host): no "printk
messages dropped" line says so.  Measured on this 2-core machine with
three busy loops beside it: one report of a boot's 60 missing, the next
cases unmuted and passing.  So kgen mutes from MUTED_FROM reports seen,
LOST_REPORTS_ALLOWED short of the burst.

kgen keeps healthy boots below that: the main boot expects no report at
all, and each complaint boot expects at most COMPLAINT_BOOT_BAD_PAGES
(kgen.generator.decisions, below MUTED_FROM).  Reaching it therefore means
a kernel that reports more than the specs declare, and a case that started
failing there already failed.  Every case from there on that would
otherwise pass is an error of kind "muted", which recovery boots again in
a fresh kernel (kgen.runner.run.recovery).

Printk timestamps are not used: counting from the start of the boot can
only call a case muted too early, never too late.
"""
from __future__ import annotations

from kgen.runner.results.ktap import BETWEEN_SUITES, BOOT
from kgen.runner.results.model import ResultKind, RunResult, Status
from kgen.runner.results.splats import BAD_PAGE_STATE, find_splats

# bad_page(): "Allow a burst of 60 reports, then keep quiet for that minute".
BAD_PAGE_BURST = 60
# Reports a boot's console may lose unseen (UML's console pipe, see above).
LOST_REPORTS_ALLOWED = 15
MUTED_FROM = BAD_PAGE_BURST - LOST_REPORTS_ALLOWED


def _reports(lines: list[str]) -> int:
    return sum(1 for s in find_splats(lines) if s.kind == BAD_PAGE_STATE)


def mark_muted(result: RunResult) -> None:
    """Make every would-be passing case from the boot's MUTED_FROMth
    bad-page report on an error of kind MUTED, naming where it was printed."""
    # Reports outside any suite are counted first: earlier, never later.
    shown = sum(_reports(e.log) for e in result.errors if e.name in (BOOT, BETWEEN_SUITES))
    where = "outside the suites" if shown >= MUTED_FROM else ""
    for suite in result.suites:
        # Suite-level lines are counted first: earlier, never later.
        shown += _reports(suite.log)
        if shown >= MUTED_FROM and not where:
            where = f"in suite {suite.name}"
        for case in suite.cases:
            shown += _reports(case.log)
            if shown >= MUTED_FROM and not where:
                where = f"in {suite.name}.{case.name}"
            if where and case.status in (Status.PASSED, Status.UNCONFIRMED):
                case.status = Status.ERROR
                case.kind = ResultKind.MUTED
                case.message = (
                    f"not checked: this boot printed its {MUTED_FROM}th bad-page "
                    f"report {where}; bad_page() prints nothing after its "
                    f"{BAD_PAGE_BURST}th for the rest of the minute (mm/page_alloc.c), "
                    f"and a console may lose up to {LOST_REPORTS_ALLOWED} unseen: a "
                    "bad page freed by this case would not have been seen")
