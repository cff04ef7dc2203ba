"""Parse a kernel console log (kunit.py ``--raw_output=all``) into a RunResult.

kunit.py's own parser reports a crash as "some test crashed", drops the
kernel messages printed while a case ran, and ignores WARNINGs and other
splats.  This parser keeps every console line, attributes it to the test
that was running when it was printed, and turns what it finds there (the
KUnit failure block, splats, the kernel dying mid-case) into results.

It works in two steps:

1. Build a tree of tests from the KTAP lines.  Nesting is taken from the
   indentation of the *structural* lines (version, "# Subtest:", plan,
   result): KUnit indents those exactly, whereas diagnostics and plain
   printk lines are indented arbitrarily (KUnit's own failure messages
   always use 4 spaces, other kernel code none at all).  Every other line
   is attributed to the innermost open test, i.e. to the test whose result
   line comes next.
2. Map the tree onto the results model: top-level tests are suites, their
   children cases, and a parameterised case is flattened to one
   CaseResult per parameter ("<case>/<param>").  Given the plan's TestIds
   for the boot, each case gets its TestId there, from the KTAP names and
   numbers (identify.py).

It never raises on malformed or truncated input; at worst it reports less.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kgen import protocol as P
from kgen.ids import TestId
from kgen.runner.results.attribution import ATTEMPT_LINE, attribute_foreign
from kgen.runner.results.identify import PlannedTests
from kgen.runner.results.model import CaseResult, ResultKind, RunResult, Status, SuiteResult
from kgen.runner.results.splats import Splat, find_splats, splat_kind

# (suite name, CaseResult.name) -> splat kinds the spec expects there, e.g.
# {"WARNING"}; such splats do not fail the case.  The name is the flattened
# one ("<case>/<param>" for parameters, SUITE_CASE for suite-level lines).
ExpectedSplats = Callable[[str, str], set[str]]
# Suite name -> case names in declaration (= execution) order.  KTAP only
# names a case in its result line, so this is how cases the kernel never
# reported get their real names.
KnownCases = Mapping[str, Sequence[str]]

# Name of the pseudo case that carries a suite's own outcome (suite_init
# failure, whole suite skipped, crash or splat outside any case).
SUITE_CASE = "(suite)"
# Names of RunResult.errors entries for splats outside any suite.
BOOT = "boot"
BETWEEN_SUITES = "between-suites"
# Console lines kept when the kernel never got to the tests.
BOOT_TAIL_LINES = 50
# Deepest nesting treated as structure; KUnit uses 3 levels.  Anything
# deeper is garbage and is kept as log text (this also bounds recursion).
_MAX_DEPTH = 8
# Largest plan taken as a plan: a bigger "1..N" is garbage, and believing
# it would mean inventing N "not run" results.
_MAX_PLAN = 10_000
# A KUnit failure block is one printk; cap it in case unrelated lines follow.
_MAX_FAILURE_BLOCK = 24

_PRINTK_PREFIX = re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])? ?")
_VERSION = re.compile(r"^K?TAP version \d+$")
_HEADER = re.compile(r"^# Subtest: (.*)$")
_PLAN = re.compile(r"^1\.\.(\d{1,9})$")
_RESULT = re.compile(r"^(ok|not ok) (\d{1,9})\b ?(?:- )?([^#]*?)\s*(?:#\s*(.*))?$")
_SKIP = re.compile(r"^SKIP\b\s*(.*)$", re.IGNORECASE)
_TOTALS = re.compile(r"^# \S+: pass:\d+ fail:\d+ skip:\d+ total:\d+$")
_ATTRIBUTE = re.compile(r"^# ([\w.-]+): (.*)$")
_TIME = re.compile(r"^# (?:\S+: )?" + re.escape(P.KGEN_PROTO_TIME_US) + r"(\d{1,15})$")
_FAILURE_HEAD = re.compile(
    r"^# (?:\S+: )?((?:EXPECTATION|ASSERTION) FAILED at \S+)")
_EXECUTOR_ERROR = re.compile(r"kunit executor: (.*)$")
# KUnit's own reasons for "not ok" when no expectation failed.
_RUNTIME_FAILURES: list[tuple[str, re.Pattern[str]]] = [
    (ResultKind.TIMEOUT, re.compile(r"(?:try|test case) timed out\b.*")),
    (ResultKind.FAULT, re.compile(r"try faulted\b.*")),
    (ResultKind.INIT, re.compile(r"failed to initialize\b.*")),
    (ResultKind.INTERNAL, re.compile(r"internal error\b.*")),
]

_BAD = (Status.FAILED, Status.ERROR)


@dataclass
class _Node:
    """One test in the KTAP tree: the run, a suite, a case or a parameter.

    ``state`` is "ok"/"not ok" from its result line, "open" while (or if
    it stays) unterminated, "crash" when the output ended inside it
    without a running child to blame, "not-run" when it was planned but
    the output ended before it started.
    """

    name: str = ""
    number: int = 0
    state: str = "open"
    directive: str = ""
    log: list[str] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)
    expected: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Frame:
    """An open test on the parser stack.

    ``indent``: indentation of its own header/plan lines and its
    children's result lines.  ``dedent``: how much indentation to remove
    from its log lines (the case level's, so that KUnit's fixed 4-space
    diagnostics come out alike for plain and parameterised cases).
    ``pending``: log lines since the last result line at this level.
    """

    node: _Node
    indent: int
    dedent: int
    fresh: bool = True
    pending: list[str] = field(default_factory=list)


def _normalize(line: str) -> str:
    """Drop the printk prefix and trailing blanks; expand leading tabs."""
    line = _PRINTK_PREFIX.sub("", line, count=1).rstrip()
    body = line.lstrip(" \t")
    return line[:len(line) - len(body)].replace("\t", "    ") + body


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _dedent(line: str, amount: int) -> str:
    return line[min(amount, _indent(line)):]


class _TreeBuilder:
    """Builds the _Node tree from normalised lines after the first version line."""

    def __init__(self, root_indent: int) -> None:
        self.root = _Node()
        self.stack = [_Frame(self.root, root_indent, root_indent)]
        # Root-level lines outside any suite, by region name.
        self.outside: dict[str, list[str]] = {BOOT: [], BETWEEN_SUITES: []}

    def feed(self, line: str) -> None:
        indent, content = _indent(line), line.lstrip(" ")
        header = _HEADER.match(content)
        if header or _VERSION.match(content):
            if self._on_header(indent, header.group(1) if header else None):
                return
        elif (plan := _PLAN.match(content)) and int(plan.group(1)) <= _MAX_PLAN:
            if self._on_plan(indent, int(plan.group(1))):
                return
        elif result := _RESULT.match(content):
            self._on_result(indent, result)
            return
        if not _TOTALS.match(content):  # totals only restate result lines
            top = self.stack[-1]
            top.pending.append(_dedent(line, top.dedent))

    def finish(self) -> None:
        """End of output: whatever is still open was cut short."""
        innermost = True
        while len(self.stack) > 1:
            self._abandon(self.stack.pop(), innermost)
            innermost = False
        self._flush_outside()

    # -- structural lines --------------------------------------------------

    def _on_header(self, indent: int, name: str | None) -> bool:
        top = self.stack[-1]
        if indent == top.indent and top.fresh:
            if name is not None:
                top.node.name = name.strip()
            return True
        if indent > top.indent and self._push(indent):
            self.stack[-1].node.name = (name or "").strip()
            return True
        return False

    def _on_plan(self, indent: int, count: int) -> bool:
        if indent > self.stack[-1].indent and not self._push(indent):
            return False
        top = self.stack[-1]
        if indent != top.indent or top.node.expected is not None:
            return False
        top.node.expected = count
        top.fresh = False
        if len(self.stack) == 2:
            # Suite header lines ("# module: foo") are the suite's own.
            top.node.attributes = _attributes(top.pending)
            top.node.log.extend(top.pending)
            top.pending = []
        return True

    def _on_result(self, indent: int, match: re.Match[str]) -> None:
        state = match.group(1)
        number = int(match.group(2))
        name = match.group(3).strip()
        directive = (match.group(4) or "").strip()
        top = self.stack[-1]
        if indent > top.indent and self._push(indent):
            top = self.stack[-1]
        closed: _Frame | None = None
        while len(self.stack) > 1 and self.stack[-1].indent > indent:
            closed = self.stack.pop()
            closed.node.log.extend(closed.pending)
            closed.pending = []
        if closed is None:
            node = _Node(name, number, state, directive, top.pending)
            top.pending = []
            top.node.children.append(node)
        else:
            node = closed.node
            node.state, node.number, node.directive = state, number, directive
            node.name = name or node.name
        self.stack[-1].fresh = False

    def _push(self, indent: int) -> bool:
        """Open a nested test at ``indent``; False if nested too deep."""
        if len(self.stack) > _MAX_DEPTH:
            return False
        parent = self.stack[-1]
        node = _Node(number=len(parent.node.children) + 1)
        parent.fresh = False
        if len(self.stack) == 1:
            self._flush_outside()
            frame = _Frame(node, indent, indent)
        else:
            # Lines since the previous sibling's result belong to this test.
            frame = _Frame(node, indent, parent.dedent, pending=parent.pending)
            parent.pending = []
        parent.node.children.append(node)
        self.stack.append(frame)
        return True

    def _flush_outside(self) -> None:
        root = self.stack[0]
        region = BETWEEN_SUITES if self.root.children else BOOT
        self.outside[region].extend(root.pending)
        root.pending = []

    def _abandon(self, frame: _Frame, innermost: bool) -> None:
        """Close a test whose result line never came.

        In the innermost open test the crash is blamed on the next planned
        child (it had started: its log lines are the pending ones), or on
        the test itself if all its children had reported.  Planned
        children after that never ran.
        """
        node = frame.node
        if innermost:
            expected = node.expected
            if (len(node.children) < expected if expected is not None
                    else bool(frame.pending)):
                node.children.append(_Node(number=len(node.children) + 1,
                                           state="crash", log=frame.pending))
            else:
                node.state = "crash"
                node.log.extend(frame.pending)
        else:
            node.log.extend(frame.pending)
        for number in range(len(node.children) + 1, (node.expected or 0) + 1):
            node.children.append(_Node(number=number, state="not-run"))


def _attributes(lines: list[str]) -> dict[str, str]:
    """KUnit suite attributes ("# module: mm_kunit") as properties."""
    found = (_ATTRIBUTE.match(line.strip()) for line in lines)
    return {f"kunit.{m.group(1)}": m.group(2).strip() for m in found if m}


# -- failure messages --------------------------------------------------------

def _compact_failure(head: str, rest: list[str]) -> str:
    """One line from a KUnit failure block.

    "EXPECTATION FAILED at f.c:1" + ["Expected x == y, but", "    x == 1",
    "    y == 2", "custom message"] ->
    "EXPECTATION FAILED at f.c:1: Expected x == y, but x == 1, y == 2 — custom message"
    """
    text = head
    msg_start = 0
    if rest and rest[0].strip().startswith("Expected "):
        base = _indent(rest[0])
        msg_start = 1
        while msg_start < len(rest) and _indent(rest[msg_start]) > base:
            msg_start += 1
        values = ", ".join(line.strip() for line in rest[1:msg_start])
        text += ": " + rest[0].strip() + (" " + values if values else "")
    message = " ".join(line.strip() for line in rest[msg_start:] if line.strip())
    if message:
        text += (" — " if msg_start else ": ") + message
    return text


def _headline(text: str) -> str:
    """Put a kgen expectation name first: it is what a reader needs.

    "EXPECTATION FAILED at f.c:1: Expected a == b, but ... — expect.x: msg"
    -> "expect.x: msg [EXPECTATION FAILED at f.c:1: Expected a == b, but ...]"
    """
    head, sep, custom = text.partition(" — ")
    if sep and custom.startswith("expect."):
        return f"{custom} [{head}]"
    return text


def _label(text: str) -> str:
    """Short name of a failure for the "+N more" list."""
    return text.split(": ", 1)[0] if text.startswith("expect.") else text.split(":")[0]


# The verdict kgen_confirm.c appends to an unconfirmed mismatch.
_REPEAT_NOTE = re.compile(r" \[mismatch in \d+ of \d+ attempts; attempt \d+ matched\]$")


def _kunit_failure(log: list[str]) -> tuple[str, str, list[str]]:
    """(message, kind, details) explaining a KUnit "not ok".

    Every failure block counts: the message leads with the first and names
    the others, so a case that broke two expectations says so.
    """
    texts: list[str] = []
    details: list[str] = []
    for i, line in enumerate(log):
        head = _FAILURE_HEAD.match(line.strip())
        if not head:
            continue
        block = [line]
        window = log[i + 1:i + _MAX_FAILURE_BLOCK]
        for j, following in enumerate(window):
            stripped = following.strip()
            if not stripped:
                # KUnit leaves a blank line before the custom message when
                # the expected value is a literal ("bad == 0"): keep going
                # if a message line follows.
                nxt = window[j + 1].strip() if j + 1 < len(window) else ""
                if nxt and not nxt.startswith("#") and not splat_kind(nxt) \
                        and not _FAILURE_HEAD.match(nxt):
                    continue
                break
            if stripped.startswith("#") or splat_kind(following):
                break
            block.append(following)
        texts.append(_headline(_compact_failure(head.group(1), block[1:])))
        details += block
    if texts:
        message = texts[0]
        if len(texts) > 1:
            message += f" (+{len(texts) - 1} more: " + \
                "; ".join(_label(t) for t in texts[1:]) + ")"
        return message, "expectation", details
    for line in log:
        if not line.lstrip().startswith("#"):
            continue
        for kind, pattern in _RUNTIME_FAILURES:
            found = pattern.search(line)
            if found:
                return found.group(0).strip(), kind, [line]
    return "", "not-ok", []


# -- tree -> results ---------------------------------------------------------

class _Mapper:
    """Turns the _Node tree into SuiteResults and error entries."""

    def __init__(self, known_cases: KnownCases, planned: PlannedTests,
                 expected_splats: ExpectedSplats | None) -> None:
        self.known_cases = known_cases
        self.planned = planned
        self.expected_splats = expected_splats

    def suite(self, node: _Node) -> SuiteResult:
        suite = SuiteResult(name=node.name or f"#{node.number}",
                            log=node.log, properties=dict(node.attributes))
        names = self.known_cases.get(suite.name, ())
        for child in node.children:
            name = child.name or (names[child.number - 1]
                                  if 0 < child.number <= len(names)
                                  else f"#{child.number}")
            suite.cases.extend(self._flatten(child, suite.name, name,
                                             self.planned.find(suite.name, name)))
        own = self._outcome(node, SUITE_CASE)
        splats = self._unexpected_splats(suite.name, SUITE_CASE, node.log)
        cases_failed = any(c.status in _BAD for c in suite.cases)
        if (not node.children or node.state == "crash" or splats
                or (node.state == "not ok" and not cases_failed)):
            self._annotate(own, splats)
            suite.cases.append(own)
        return suite

    def _flatten(self, node: _Node, suite: str, name: str,
                 test: TestId | None) -> list[CaseResult]:
        """node's results; ``test`` is its TestId (None: not planned)."""
        if not node.children:
            return [self._leaf(node, suite, name, test)]
        cases: list[CaseResult] = []
        for child in node.children:
            # The plan knows a parameter by its description, or, when the
            # log never named it (it crashed), by its position.
            param = (self.planned.find(suite, name, child.name) if child.name
                     else self.planned.param_at(suite, name, child.number))
            cases += self._flatten(child, suite,
                                   f"{name}/{child.name or f'#{child.number}'}", param)
        if node.state == "crash" or (node.state == "not ok" and not any(
                c.status in _BAD for c in cases)):
            cases.append(self._leaf(node, suite, name, test))
        else:
            # Trailing lines (attributes, param_exit output) go with the
            # last parameter, so splats there are still reported.
            cases[-1].log.extend(node.log)
            self._annotate(cases[-1], self._unexpected_splats(
                suite, cases[-1].label, node.log))
        return cases

    def _leaf(self, node: _Node, suite: str, name: str,
              test: TestId | None) -> CaseResult:
        case = self._outcome(node, name)
        case.test = test
        self._annotate(case, self._unexpected_splats(suite, name, node.log))
        times = [m for m in (_TIME.match(line.strip()) for line in node.log) if m]
        if times:
            case.time = int(times[-1].group(1)) / 1e6
        return case

    @staticmethod
    def _outcome(node: _Node, name: str) -> CaseResult:
        """Status and message from the KTAP result alone (no splats)."""
        case = CaseResult(label=name, status=Status.ERROR, log=list(node.log))
        skip = _SKIP.match(node.directive)
        failed_first = _kunit_failure(node.log) if skip else ("", "", [])
        if node.state in ("ok", "not ok") and skip and failed_first[0]:
            # kunit_mark_skipped() after a failed expectation overwrites the
            # failure in KTAP; the log still holds it, and it counts.
            case.status = Status.FAILED
            case.message, case.kind, case.details = failed_first
            case.message += f" (then skipped: {skip.group(1).strip()})"
        elif node.state in ("ok", "not ok") and skip:
            case.status, case.message = Status.SKIPPED, skip.group(1).strip()
            attempts = [line.strip() for line in node.log if ATTEMPT_LINE.search(line)]
            if attempts:
                # A repeat skipped (its span could not be taken again) after
                # an attempt mismatched: that mismatch is neither confirmed
                # nor gone.
                case.status, case.kind = Status.UNCONFIRMED, ResultKind.UNCONFIRMED
                first = ATTEMPT_LINE.split(attempts[0], 1)[1]
                case.message = (f"{first} [mismatch in {len(attempts)} attempt(s); "
                                f"the repeat skipped: {skip.group(1).strip()}]")
                case.details = attempts
        elif node.state == "ok":
            case.status = Status.PASSED
            unconfirmed = [line.split(P.KGEN_PROTO_UNCONFIRMED, 1)[1].strip()
                           for line in node.log if P.KGEN_PROTO_UNCONFIRMED in line]
            if unconfirmed:
                case.status, case.kind = Status.UNCONFIRMED, ResultKind.UNCONFIRMED
                case.message = unconfirmed[-1]
                case.details = [line.strip() for line in node.log
                                if ATTEMPT_LINE.search(line)]
        elif node.state == "not ok":
            case.status = Status.FAILED
            case.message, case.kind, case.details = _kunit_failure(node.log)
            case.message = case.message or node.directive or "KUnit reported not ok"
        elif node.state == "crash":
            case.kind = ResultKind.CRASH
            # What the test logged about its own state ("kgen: ...") says
            # what it was doing when the kernel died.
            context = [line.strip().split("kgen: ", 1)[1] for line in node.log
                       if "kgen: " in line and "kgen: result from" not in line]
            case.message = "; ".join(["no result line: kernel output ended while "
                                      "this test was running", *context[-2:]])
        elif node.state == "not-run":
            case.kind = ResultKind.NOT_RUN
            case.message = "not run: kernel output ended before it started"
        else:
            case.kind = ResultKind.PARSE
            case.message = "no result line"
        return case

    def _unexpected_splats(self, suite: str, name: str,
                           lines: list[str]) -> list[Splat]:
        splats = find_splats(lines)
        if splats and self.expected_splats is not None:
            allowed = self.expected_splats(suite, name)
            splats = [s for s in splats if s.kind not in allowed]
        return splats

    @staticmethod
    def _annotate(case: CaseResult, splats: list[Splat]) -> None:
        """A splat of the case's own thread fails a passing case; otherwise it
        is added to the message.  Splats of other tasks are settled by
        attribution.attribute_foreign (failed only when they came back)."""
        attribute_foreign(case, [s for s in splats if s.foreign])
        own = [s for s in splats if not s.foreign]
        if own and case.status is Status.UNCONFIRMED and \
                case.message.startswith(P.KGEN_PROTO_EXPECT + "no_warning:"):
            # The taint check saw the case's own report, and its repeat
            # could not see the sticky taint again: the taint check failed.
            case.status, case.kind = Status.FAILED, ResultKind.EXPECTATION
            case.message = _REPEAT_NOTE.sub("", case.message)
        for splat in own:
            case.details.extend(splat.lines)
            if case.status in (Status.PASSED, Status.SKIPPED, Status.UNCONFIRMED):
                case.status = Status.FAILED
                case.kind = ResultKind.splat(splat.kind)
                case.message = splat.first_line
            else:
                case.message = "; ".join(filter(None, [case.message,
                                                       splat.first_line]))


def _region_error(name: str, lines: list[str]) -> CaseResult | None:
    """An errors entry for splats outside any suite, if there are any."""
    splats = find_splats(lines)
    if not splats:
        return None
    return CaseResult(
        label=name, status=Status.ERROR, kind=ResultKind.splat(splats[0].kind),
        message="; ".join(s.first_line for s in splats), log=lines,
        details=[line for s in splats for line in s.lines])


def _no_tap(raw: list[str], lines: list[str]) -> CaseResult:
    message = "no KTAP output: kernel did not reach the tests"
    executor = [m.group(1) for m in map(_EXECUTOR_ERROR.search, lines) if m]
    splats = find_splats(lines)
    extra = executor[:1] + [s.first_line for s in splats[:1]]
    return CaseResult(
        label=BOOT, status=Status.ERROR, kind=ResultKind.BOOT,
        message="; ".join([message] + extra), log=raw[-BOOT_TAIL_LINES:],
        details=[line for s in splats for line in s.lines])


def _mark_not_run(suites: list[SuiteResult]) -> str | None:
    """Name cases that never ran after the crash; return "suite.case" crashed.

    The crashed case is named as the log names it ("case/#N" for a
    parameter whose result line never came), as it always was.
    """
    crashed = next((f"{s.name}.{c.label}" for s in suites for c in s.cases
                    if c.kind == ResultKind.CRASH), None)
    if crashed:
        for case in (c for s in suites for c in s.cases if c.kind == ResultKind.NOT_RUN):
            case.message = f"not run: kernel crashed in {crashed}"
    return crashed


def _missing_suites(root: _Node, seen: list[str], known: KnownCases,
                    crashed: str | None) -> list[CaseResult]:
    """errors entries for suites that were planned or known but never started."""
    names = [name for name in known if name not in seen]
    # More suites planned than that: the kernel knows their names, we don't.
    planned = root.expected or 0
    unnamed = max(0, planned - len(root.children) - len(names))
    names += [f"#{n}" for n in range(planned - unnamed + 1, planned + 1)]
    message = (f"not run: kernel crashed in {crashed}" if crashed
               else "not run: suite missing from kernel output")
    return [CaseResult(label=name, status=Status.ERROR, kind=ResultKind.NOT_RUN,
                       message=message) for name in names]


def parse_console(lines: Iterable[str], *,
                  expected_splats: ExpectedSplats | None = None,
                  known_cases: KnownCases | None = None,
                  tests: Iterable[TestId] | None = None) -> RunResult:
    """Parse a whole kernel console log into a RunResult.

    ``lines``: console output, with or without line endings and printk
    timestamps.  ``expected_splats(suite, case)``: splat kinds that do not
    fail that case.  ``tests``: the TestIds the plan gave this boot; each
    case the plan has gets its TestId (CaseResult.test), and they name
    the cases and suites the kernel never reported.  ``known_cases``
    (suite -> case names in run order) names those instead, for a log
    read without a plan.
    """
    raw = [line.rstrip("\r\n") for line in lines]
    normalized = [_normalize(line) for line in raw]
    result = RunResult(raw_log=raw)
    start = next((i for i, line in enumerate(normalized)
                  if _VERSION.match(line.strip())), None)
    if start is None:
        result.errors.append(_no_tap(raw, normalized))
        return result

    builder = _TreeBuilder(_indent(normalized[start]))
    builder.outside[BOOT].extend(normalized[:start])
    for line in normalized[start + 1:]:
        builder.feed(line)
    builder.finish()

    planned = PlannedTests(tests or ())
    known = known_cases if known_cases is not None else planned.case_names
    mapper = _Mapper(known, planned, expected_splats)
    result.suites = [mapper.suite(node) for node in builder.root.children]
    crashed = _mark_not_run(result.suites)
    for name in (BOOT, BETWEEN_SUITES):
        error = _region_error(name, builder.outside[name])
        if error:
            result.errors.append(error)
    missing = _missing_suites(
        builder.root, [s.name for s in result.suites], known, crashed)
    result.errors += missing
    if not result.suites and not missing:
        result.errors.append(CaseResult(
            label="tests", status=Status.ERROR, kind=ResultKind.NO_TESTS,
            message="KTAP output contains no test suites"))
    return result
