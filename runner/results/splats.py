"""Recognise kernel "splats" (WARNING, BUG, Oops, panic, ...) in console lines.

A KUnit test can pass every expectation and still have made the kernel
complain: a WARN_ON in the page allocator, a "Bad page state", a KASAN
report.  kunit.py ignores those; kgen turns them into failures, so this
module finds them and says which lines belong to each one.

The rules are a table so that adding a splat kind is one line.  Order
matters: the first matching rule wins, so specific ones ("BUG: KASAN:")
come before generic ones ("BUG:").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kgen import protocol as P

# Optional printk decorations in front of a message: "[    1.234567] " and
# the caller id "[    T1] ".  Callers normally strip these already; the
# rules tolerate them so raw console lines work too.
_PREFIX = r"^(?:\[[^\]]*\])*\s*"

# A line that closes the splat it belongs to (and is part of it).
_END_TRACE = re.compile(r"---\[ end (?:trace|Kernel panic)\b.*\]---")
# KASAN/KFENCE (and old UBSAN) reports are framed by a row of "=".
_END_RULER = re.compile(_PREFIX + r"={20,}\s*$")
# A KTAP result line ends whatever splat is open (it is not part of it).
_KTAP_RESULT = re.compile(_PREFIX + r"(?:not )?ok \d+\b")


@dataclass(frozen=True)
class SplatRule:
    """How to recognise one kind of splat.

    ``within``: kinds of an *open* splat inside which a match of this rule
    is a continuation line rather than a new splat (the "Oops:" line that
    follows "kernel BUG at ...", the "page dumped because:" line inside a
    "Bad page state" report).
    """

    kind: str
    start: re.Pattern[str]
    ends_with_ruler: bool = False
    within: frozenset[str] = frozenset()


def _rule(kind: str, pattern: str, *, ruler: bool = False,
          within: tuple[str, ...] = ()) -> SplatRule:
    return SplatRule(kind, re.compile(_PREFIX + pattern), ruler,
                     frozenset(within))


# Splat kinds other modules name.
BAD_PAGE_STATE = "Bad page state"
DROPPED = "printk dropped"

SPLAT_RULES: list[SplatRule] = [
    _rule("KASAN", r"BUG: KASAN: ", ruler=True),
    _rule("KFENCE", r"BUG: KFENCE: ", ruler=True),
    _rule(BAD_PAGE_STATE, r"BUG: Bad page state\b"),
    _rule("soft lockup", r"(?:watchdog: )?BUG: soft lockup\b"),
    _rule("BUG", r"(?:BUG: |kernel BUG at )"),
    _rule("WARNING", r"WARNING: "),
    _rule("UBSAN", r"UBSAN: ", ruler=True),
    _rule("Oops", r"(?:Internal error: )?Oops\b", within=("BUG",)),
    _rule("panic", r"Kernel panic - not syncing\b"),
    _rule("page dump", r"page dumped because\b",
          within=("Bad page state", "KASAN", "KFENCE", "BUG")),
    # The console fell behind and printk threw messages away: a report
    # among them would go unseen, so the case this lands in fails.
    _rule(DROPPED, r"\*\* \d+ printk messages dropped \*\*"),
]

# Lines that look like a splat's first line but are not one.  bad_page()
# prints its 60 reports a minute, stays silent for the rest of the minute,
# and with the next report after that says how many it did not print:
# "BUG: Bad page state: 12 messages suppressed".  That is a count, not a
# report (the report follows it); kgen.runner.results.ratelimit tells the
# cases that ran while bad_page() was silent.
_NOT_SPLATS = re.compile(_PREFIX + r"BUG: Bad page state: \d+ messages suppressed")


# The task line dump_stack() prints in a report:
#   "CPU: 1 UID: 0 PID: 57 Comm: kworker/1:1 Not tainted 7.3.4 #1"
# (older kernels print no "UID:").
_TASK = re.compile(r"\bCPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (\S+)")
# The kthread KUnit runs each case in (lib/kunit/try-catch.c): a report
# made by this task was made by the case itself.
CASE_TASK = "kunit_try_catch"


@dataclass(frozen=True)
class Origin:
    """The task that was running when the kernel printed a report."""

    comm: str
    pid: int
    cpu: int

    def describe(self) -> str:
        return f"{self.comm} (pid {self.pid}, CPU {self.cpu})"


@dataclass
class Splat:
    """One kernel complaint and the console lines that make it up."""

    kind: str
    first_line: str          # the matching line, printk prefix removed
    lines: list[str] = field(default_factory=list)

    @property
    def origin(self) -> Origin | None:
        """Who complained, from the report's task line; None when it has none."""
        for line in self.lines:
            found = _TASK.search(line)
            if found:
                return Origin(found.group(3), int(found.group(2)), int(found.group(1)))
        return None

    @property
    def foreign(self) -> bool:
        """Made by another task than the case's own thread.

        A report without a task line counts as the case's own: nothing
        says otherwise.  An interrupt taken on the case's CPU shows the
        case's task too, so it is the case's own here as well.  So is a
        report of an actor the case started on another CPU (concurrency
        family: its task name says so).
        """
        origin = self.origin
        return origin is not None and origin.comm != CASE_TASK \
            and not origin.comm.startswith(P.KGEN_PROTO_ACTOR_PREFIX)


def _match(line: str) -> SplatRule | None:
    if _NOT_SPLATS.match(line):
        return None
    for rule in SPLAT_RULES:
        if rule.start.match(line):
            return rule
    return None


def splat_kind(line: str) -> str | None:
    """The kind of splat ``line`` would start, or None.

    For callers that must not swallow a splat's first line into other
    text (e.g. a KUnit failure message followed by a kernel report).
    """
    rule = _match(line)
    return rule.kind if rule else None


def _strip_prefix(line: str) -> str:
    return re.sub(_PREFIX, "", line, count=1).strip()


def find_splats(lines: list[str]) -> list[Splat]:
    """Return the splats in ``lines``, in order.

    A splat runs from its first line through its "---[ end trace ... ]---"
    line (or closing "====" ruler for KASAN-style reports) if there is
    one, otherwise up to the next KTAP result line, the next splat, or
    the end of ``lines``.
    """
    splats: list[Splat] = []
    open_: tuple[Splat, SplatRule] | None = None
    for line in lines:
        if _KTAP_RESULT.match(line):
            open_ = None
            continue
        rule = _match(line)
        if rule is not None and not (open_ and open_[1].kind in rule.within):
            open_ = (Splat(rule.kind, _strip_prefix(line), [line]), rule)
            splats.append(open_[0])
            continue
        if open_ is None:
            continue
        splat, rule_open = open_
        splat.lines.append(line)
        if _END_TRACE.search(line) or (rule_open.ends_with_ruler
                                        and _END_RULER.match(line)):
            open_ = None
    return splats
