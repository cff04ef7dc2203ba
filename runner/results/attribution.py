"""Whose complaint a kernel report is, and whether it came back.

A report (WARNING, BUG, bad page ...) that the console prints while a case
runs used to fail that case.  On a busy kernel another task can WARN in
the same window: a kworker, an RCU callback, another CPU.  Pinning that on
the case is a false alarm.  So a report made by the case's own thread
(KUnit's "kunit_try_catch") fails the case as before; a report made by
another task fails it only when it came back in every attempt of the case
(kgen_confirm.c repeats a case whose taint check saw a new complaint,
which a deterministic bug in a deferred path, say a pcp drain in a
kworker, does every time).  Otherwise the case is UNCONFIRMED, and its
message names the task that complained.

The attempts are read from the case's log: kgen_confirm.c ends each
attempt that mismatched with a "kgen: attempt N: ..." line.
"""
from __future__ import annotations

import re

from kgen import protocol as P
from kgen.runner.results.model import CaseResult, ResultKind, Status
from kgen.runner.results.splats import Splat, find_splats

# "kgen: attempt 2: expect...." closes attempt 2's lines: it mismatched.
ATTEMPT_LINE = re.compile(re.escape(P.KGEN_PROTO_LOG) + r"attempt \d+: ")
_NO_WARNING = P.KGEN_PROTO_EXPECT + "no_warning:"


def attempt_windows(case: CaseResult) -> list[list[str]]:
    """The case's log cut into its attempts, in order; one window when the
    case ran its body once.  The lines after the last attempt (its verdict,
    its time) go with the last window."""
    segments: list[list[str]] = [[]]
    for line in case.log:
        segments[-1].append(line)
        if ATTEMPT_LINE.search(line):
            segments.append([])
    windows = segments[:case.attempts]
    windows[-1] = [line for segment in segments[len(windows) - 1:] for line in segment]
    return windows


def _only_taint_failed(case: CaseResult) -> bool:
    """The case's only complaint is the taint check (or none at all)."""
    if case.status in (Status.PASSED, Status.SKIPPED, Status.UNCONFIRMED):
        return True
    return (case.status is Status.FAILED and case.kind == ResultKind.EXPECTATION
            and case.message.startswith(_NO_WARNING) and "(+" not in case.message)


def attribute_foreign(case: CaseResult, foreign: list[Splat]) -> None:
    """Settle a case whose window holds reports made by other tasks."""
    if not foreign:
        return
    case.details.extend(line for splat in foreign for line in splat.lines)
    first = foreign[0]
    origin = first.origin
    said = f"{first.first_line} [by {origin.describe() if origin else 'another task'}, " \
           "not this case's thread]"
    if not _only_taint_failed(case):
        case.message = "; ".join(filter(None, [case.message, said]))
        return
    windows = attempt_windows(case)
    kinds = {splat.kind for splat in foreign}
    seen = sum(1 for window in windows
               if any(s.kind in kinds and s.foreign for s in find_splats(window)))
    if len(windows) > 1 and seen == len(windows):
        case.status, case.kind = Status.FAILED, ResultKind.splat(first.kind)
        case.message = f"{said}: reproduced in {seen} of {len(windows)} attempts"
        return
    if case.status is Status.SKIPPED:
        said = f"{said}, while the case skipped ({case.message})"
    case.status, case.kind = Status.UNCONFIRMED, ResultKind.UNCONFIRMED
    if len(windows) > 1:
        case.message = f"{said}: in {seen} of {len(windows)} attempts"
    else:
        # Taints are sticky: once a report set TAINT_WARN, a later case's
        # taint check sees nothing new and does not repeat to confirm.
        case.message = f"{said}: seen in the case's only attempt, not repeated " \
                       "(its own checks matched; an earlier report may have set the taint)"
