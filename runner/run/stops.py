"""Name what happened when kgen stopped a boot (harness/console_watch.py).

The KTAP parser sees only that the output ended inside some case (kind
CRASH).  The stop says why, and that changes who is to blame:

- the kernel printed a wedge note (a task died holding a lock) inside the
  case that was running: that case crashed, and the message says so;
- the note sits in a case that already has its result (KUnit's try-catch
  caught the fault, printed "not ok", and went on): the case the output
  ended in did nothing wrong, it waited for the lock the dead task held.
  It is BLOCKED, and recovery boots again for it;
- no output for too long: the running case hung (TIMEOUT);
- a panic: the running case crashed the kernel.

Either way the message carries the kernel's own line and the console tail.
Cases are named here as the log names them (``label``: "case/#N" for a
parameter whose result line never came), like the parser's own messages.
"""
from __future__ import annotations

from kgen.runner.harness.console_watch import Stop, StopKind
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status

# Console lines kept with a stopped case, so its report holds the kernel's
# own account (backtrace, the lock, the last test output).
TAIL_LINES = 30


def apply_stop(result: RunResult, stop: Stop, console: list[str]) -> None:
    """Rewrite the parsed boot's CRASH case (or add an error) for stop."""
    tail = [line for line in console if not line.startswith("kgen: ")][-TAIL_LINES:]
    running = next(((s.name, c) for s in result.suites for c in s.cases
                    if c.kind == ResultKind.CRASH), None)
    culprit = _culprit(result, stop)
    if running is None:
        result.errors.append(CaseResult(
            label="stopped", status=Status.ERROR,
            kind=ResultKind.TIMEOUT if stop.kind is StopKind.STALLED else ResultKind.CRASH,
            message=stop.describe(), log=tail, details=tail))
        return
    suite, case = running
    # The parser's message names what the kernel printed (BUG, Oops ...);
    # it stays, after what the stop says.
    parsed = case.message
    if stop.kind is StopKind.WEDGED and culprit and culprit != (suite, case.label):
        case.kind = ResultKind.BLOCKED
        case.message = (f"blocked: {culprit[0]}.{culprit[1]} died holding a lock; "
                        f"{stop.describe()}")
        _name_blocker(result, culprit, stop)
    elif stop.kind is StopKind.STALLED:
        case.kind = ResultKind.TIMEOUT
        case.message = f"hung: {stop.describe()}; {parsed}"
    elif stop.kind is StopKind.WEDGED:
        case.kind = ResultKind.WEDGED
        case.message = f"died holding a lock: {stop.describe()}; {parsed}"
    else:
        case.message = f"crashed: {stop.describe()}; {parsed}"
    case.details = case.details + ["--- last console lines ---"] + tail
    for other in (c for s in result.suites for c in s.cases):
        if other.kind == ResultKind.NOT_RUN:
            other.message = f"not run: the kernel was stopped in {suite}.{case.label}"


def _culprit(result: RunResult, stop: Stop) -> tuple[str, str] | None:
    """(suite, case) whose log holds the stop's kernel line."""
    if not stop.line:
        return None
    needle = stop.line.strip()
    for suite in result.suites:
        for case in suite.cases:
            if any(needle in line for line in case.log):
                return suite.name, case.label
    return None


def _name_blocker(result: RunResult, culprit: tuple[str, str], stop: Stop) -> None:
    """The case that died with the lock gets the wedge note in its message."""
    for suite in result.suites:
        for case in suite.cases:
            if (suite.name, case.label) == culprit:
                case.status = Status.ERROR
                case.kind = ResultKind.WEDGED
                case.message = (f"died holding a lock ({stop.line.strip()}); "
                                f"{case.message or 'no KUnit result'}")
