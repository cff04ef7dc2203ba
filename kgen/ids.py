"""How kgen names one test: a suite, a case of it, a parameter of that case.

The same identity is spelled four ways, each built here and nowhere else:
the C test function and KUnit case name (``suite_case``), the JUnit/KTAP
leaf (``suite_case/param``), and kunit.py's filter glob (``suite.suite_case``).
"""
from __future__ import annotations

from dataclasses import dataclass

PARAM_SEP = "/"


@dataclass(frozen=True, order=True)
class TestId:
    """One KUnit test case, or one parameter of a parameterised case."""

    suite: str
    case: str          # the spec's case name, without the suite prefix
    param: str = ""    # KUnit parameter description; "" for a plain case

    __test__ = False   # not a pytest test class

    @property
    def function(self) -> str:
        """The generated C test function, which KUnit prints as the case name."""
        return f"{self.suite}_{self.case}"

    @property
    def leaf(self) -> str:
        """The name KTAP results and JUnit test cases carry."""
        return f"{self.function}{PARAM_SEP}{self.param}" if self.param else self.function

    @property
    def glob(self) -> str:
        """kunit.py's filter_glob selecting this case (all its parameters)."""
        return f"{self.suite}.{self.function}"


def split_leaf(leaf: str) -> tuple[str, str]:
    """("suite_case", "param") from a result leaf name; param "" if none."""
    function, _, param = leaf.partition(PARAM_SEP)
    return function, param
