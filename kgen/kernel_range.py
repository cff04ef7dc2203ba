"""Kernel version constraints, as a spec's `known_issue.kernels` writes them.

A constraint is one or more comma-separated clauses, all of which must
hold: ``>=7.2``, ``<7.4``, ``>=7.2, <7.4``, ``==7.3`` or a bare ``7.3``.
``==`` and a bare version name a release with its stable updates (``7.3``
matches 7.3, 7.3.4 and 7.3-rc7); with three numbers they name one update.
The ordered operators compare release numbers, so ``>=7.3`` holds for
7.3-rc7 too: a known issue is about the code in a release, and its release
candidates carry that code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<)?\s*(\d+)\.(\d+)(?:\.(\d+))?$")
# The numbers a kernel version starts with: "7.3.4", "7.3.0-rc7", "6.12.117".
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


class BadConstraint(ValueError):
    """A constraint that does not parse; the message says why."""


@dataclass(frozen=True)
class _Clause:
    op: str                         # one of >=, <=, >, <, ==, !=
    version: tuple[int, ...]        # two or three numbers, as written

    def holds(self, kernel: tuple[int, int, int]) -> bool:
        if self.op in ("==", "!="):
            same = kernel[:len(self.version)] == self.version
            return same if self.op == "==" else not same
        mine = kernel[:len(self.version)]
        return {">=": mine >= self.version, "<=": mine <= self.version,
                ">": mine > self.version, "<": mine < self.version}[self.op]


@dataclass(frozen=True)
class KernelRange:
    """A parsed constraint; ``str()`` gives it back in a normal form."""

    clauses: tuple[_Clause, ...]

    def __str__(self) -> str:
        return ", ".join(f"{c.op}{'.'.join(map(str, c.version))}" for c in self.clauses)

    def matches(self, kernel_version: str) -> bool:
        """Whether a kernel (``kernel_tree.kernel_version()``) is in range.

        A version that does not start with numbers matches nothing: a known
        issue whose kernel kgen cannot tell is not assumed to apply.
        """
        kernel = parse_version(kernel_version)
        return kernel is not None and all(c.holds(kernel) for c in self.clauses)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a kernel version string, or None."""
    found = _VERSION.match(text.strip())
    if not found:
        return None
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch or 0)


def parse_range(text: str) -> KernelRange:
    """Parse a constraint; BadConstraint names the clause that is wrong."""
    clauses = []
    for raw in text.split(","):
        clause = raw.strip()
        found = _CLAUSE.match(clause)
        if not found:
            raise BadConstraint(
                f"{clause!r} is not a kernel version constraint: use OP VERSION with OP "
                "one of >= <= > < == != (or none, meaning ==) and VERSION like 7.3 or "
                "7.3.4, several joined by commas, e.g. '>=7.2, <7.4'")
        op, major, minor, patch = found.groups()
        version = (int(major), int(minor)) + ((int(patch),) if patch is not None else ())
        clauses.append(_Clause(op or "==", version))
    return KernelRange(tuple(clauses))
