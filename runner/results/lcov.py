"""lcov tracefiles (.info) -> line and branch coverage of named functions.

lcov 1.16 (Debian 12) records, per source file (``SF:``), hit counts per
line (``DA:line,count``), per branch (``BRDA:line,block,branch,taken``,
``-`` when the branch's condition was never evaluated) and, per function
that has an out-of-line copy, its first line (``FN:line,name``).  It does
not record where a function ends, and a static function that the compiler
inlined everywhere has no ``FN:`` record at all, although its lines still
carry counts.  So a function's extent is read from the source it was built
from (``function_extent``): the definition at column 0, to its closing
brace.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class FileCoverage:
    """One source file's counts, summed over every record for it."""

    path: str
    lines: dict[int, int] = field(default_factory=dict)
    # line -> the taken count of each branch there; None: never evaluated.
    branches: dict[int, list[int | None]] = field(default_factory=dict)
    # function name -> (first line, calls)
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)


class InfoError(ValueError):
    """A tracefile line kgen cannot read."""


def parse_info(text: str) -> dict[str, FileCoverage]:
    """Every file's coverage in an lcov tracefile, keyed by its SF: path."""
    files: dict[str, FileCoverage] = {}
    cur: FileCoverage | None = None
    # (file, line, block, branch) -> index into that file's branches[line]:
    # a file's records may come more than once (one per test name).
    slots: dict[tuple[str, int, str, str], int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        key, _, value = line.partition(":")
        try:
            if key == "SF":
                cur = files.setdefault(value, FileCoverage(value))
            elif line == "end_of_record":
                cur = None
            elif cur is None:
                continue        # TN: and anything between records
            elif key == "DA":
                lineno, count = value.split(",")[:2]
                cur.lines[int(lineno)] = cur.lines.get(int(lineno), 0) + int(count)
            elif key == "BRDA":
                lineno, block, branch, taken = value.split(",")
                _add_branch(cur, slots, int(lineno), block, branch, taken)
            elif key == "FN":
                lineno, name = value.split(",", 1)
                old = cur.functions.get(name, (int(lineno), 0))
                cur.functions[name] = (old[0], old[1])
            elif key == "FNDA":
                count, name = value.split(",", 1)
                first, calls = cur.functions.get(name, (0, 0))
                cur.functions[name] = (first, calls + int(count))
        except ValueError:
            raise InfoError(f"line {number}: cannot read {line!r}") from None
    return files


def _add_branch(cur: FileCoverage, slots: dict, lineno: int, block: str, branch: str,
                taken: str) -> None:
    count = None if taken == "-" else int(taken)
    at = cur.branches.setdefault(lineno, [])
    key = (cur.path, lineno, block, branch)
    slot = slots.get(key)
    if slot is None:
        slots[key] = len(at)
        at.append(count)
    elif count is not None:
        at[slot] = (at[slot] or 0) + count


def _strip_comments_and_strings(source: str) -> str:
    """The source with comments and string/char literals blanked, newlines
    kept, so braces inside them are not counted and line numbers hold."""
    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                  blank, source, flags=re.DOTALL)


def function_extent(source: str, name: str) -> tuple[int, int] | None:
    """(first, last) line, 1-based, of the definition of C function name.

    Kernel style puts a definition's declarator at column 0; a prototype
    ends in ';' before any '{'.  The first line is the one with the name,
    the line gcc reports for the function; the last holds its closing brace.
    """
    clean = _strip_comments_and_strings(source)
    lines = clean.split("\n")
    head = re.compile(r"^[A-Za-z_][^;=(]*[\s*]" + re.escape(name) + r"\(")
    for index, text in enumerate(lines):
        if not head.match(text):
            continue
        end = _body_end(lines, index)
        if end is not None:
            return index + 1, end + 1
    return None


def _body_end(lines: list[str], start: int) -> int | None:
    """Index of the line closing the body that follows lines[start], or
    None when a ';' comes first (a prototype)."""
    depth = 0
    opened = False
    for index in range(start, len(lines)):
        for char in lines[index]:
            if char == ";" and not opened:
                return None
            if char == "{":
                depth += 1
                opened = True
            elif char == "}":
                depth -= 1
                if opened and depth == 0:
                    return index
    return None


@dataclass
class FunctionCoverage:
    """One function's coverage: its lines and branches between first and last."""

    name: str
    path: str
    first: int
    last: int
    lines_hit: int
    lines_total: int
    branches_hit: int
    branches_total: int
    uncovered: list[int]
    # Lines with a branch never taken (or never evaluated).
    untaken_branches: list[int]
    # Calls of the out-of-line copy; None when the compiler inlined it everywhere.
    calls: int | None


def function_coverage(cov: FileCoverage, name: str, first: int, last: int) -> FunctionCoverage:
    lines = {n: c for n, c in cov.lines.items() if first <= n <= last}
    branches = {n: b for n, b in cov.branches.items() if first <= n <= last}
    taken = [c for b in branches.values() for c in b]
    fn = cov.functions.get(name)
    return FunctionCoverage(
        name=name, path=cov.path, first=first, last=last,
        lines_hit=sum(1 for c in lines.values() if c > 0), lines_total=len(lines),
        branches_hit=sum(1 for c in taken if c), branches_total=len(taken),
        uncovered=sorted(n for n, c in lines.items() if c == 0),
        untaken_branches=sorted(n for n, b in branches.items() if not all(b)),
        calls=fn[1] if fn else None)


def _ratio(hit: int, total: int) -> str:
    if not total:
        return "-"
    return f"{hit}/{total} {100 * hit // total}%"


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs) or "-"


def render_table(rows: list[FunctionCoverage]) -> str:
    """The terminal table: one row per function, then the lines to look at."""
    header = ("function", "file:lines", "calls", "lines", "branches",
              "uncovered lines", "branches not taken at")
    body = [(r.name, "/".join(r.path.split("/")[-2:]) + f":{r.first}-{r.last}",
             "inlined" if r.calls is None else str(r.calls),
             _ratio(r.lines_hit, r.lines_total), _ratio(r.branches_hit, r.branches_total),
             _ranges(r.uncovered), _ranges(r.untaken_branches)) for r in rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row).rstrip() for row in body]
    hit = sum(r.lines_hit for r in rows), sum(r.lines_total for r in rows)
    br = sum(r.branches_hit for r in rows), sum(r.branches_total for r in rows)
    lines.append(f"total: lines {_ratio(*hit)}, branches {_ratio(*br)}")
    return "\n".join(lines)
