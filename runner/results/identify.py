"""The TestIds a boot's plan gave it, looked up by what KTAP prints.

KTAP names a test by its suite, its KUnit case (the C function,
"<suite>_<case>") and, for a parameter, the description KUnit prints with
the parameter's result line.  The plan generated each of those names from
a TestId, so the KTAP parser (ktap.py) matches every case it reads to its
TestId here, once, from those parts, right after parsing.  From then on
results are matched by TestId (run/reconcile.py) and no name is split
again.

One thing KUnit prints is not the plan's: a parameter whose result line
never came (the kernel died in it) has no description in the log, only
its position, which the parser shows as "#N".  KUnit runs a case's
parameters in the order the generator wrote them, the plan's order, so
parameter N is the plan's Nth parameter of that case.  This is the one
place that maps a position to a TestId.
"""
from __future__ import annotations

from collections.abc import Iterable

from kgen.ids import TestId


class PlannedTests:
    """One boot's share of the plan's TestIds, by suite, KUnit case and
    parameter description."""

    def __init__(self, tests: Iterable[TestId] = ()) -> None:
        self._by_name: dict[tuple[str, str, str], TestId] = {}
        self._params: dict[tuple[str, str], list[TestId]] = {}
        # Suite -> KUnit case names in run order: how the parser names the
        # cases a crash kept from starting (KTAP names a case only in its
        # result line).
        self.case_names: dict[str, list[str]] = {}
        for test in tests:
            self._by_name[(test.suite, test.function, test.param)] = test
            if test.param:
                self._params.setdefault((test.suite, test.function), []).append(test)
            names = self.case_names.setdefault(test.suite, [])
            if test.function not in names:
                names.append(test.function)

    def find(self, suite: str, function: str, param: str = "") -> TestId | None:
        """The planned test KTAP names so; None if the plan does not have it."""
        return self._by_name.get((suite, function, param))

    def param_at(self, suite: str, function: str, number: int) -> TestId | None:
        """The case's parameter KTAP numbers ``number`` (from 1), when the
        log never named it: the plan's parameter in that position."""
        params = self._params.get((suite, function), [])
        return params[number - 1] if 0 < number <= len(params) else None
