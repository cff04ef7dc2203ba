"""How kgen names one test: a suite, a case of it, a parameter of that case.

The same identity is spelled four ways, each built here and nowhere else:
the C test function and KUnit case name (``suite_case``), the JUnit/KTAP
leaf (``suite_case/param``), and kunit.py's filter glob (``suite.suite_case``).
A user's selection (``kgen run 'suite.case*/param'``) is a ``TestGlob``.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from kgen.errors import UsageError

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


@dataclass(frozen=True)
class TestGlob:
    """A selection as kunit.py takes it: ``suite``, ``suite.case`` or
    ``suite.case/param``, each part a shell glob (``*``, ``?``, ``[...]``).

    The case part matches the KUnit case name (``kgen_hwpoison_bad_state``,
    as kunit.py's filter does) or the spec's case name (``bad_state``).
    A part that is left out matches everything.
    """

    text: str
    suite: str
    case: str = "*"
    param: str = "*"

    __test__ = False   # not a pytest test class

    @classmethod
    def parse(cls, text: str) -> TestGlob:
        suite, dot, rest = text.partition(".")
        case, slash, param = rest.partition(PARAM_SEP)
        if not suite or (dot and not case) or (slash and not param):
            raise UsageError(f"test glob {text!r}: expected SUITE, SUITE.CASE or "
                             "SUITE.CASE/PARAM (each may hold * ? [...])")
        return cls(text, suite, case or "*", param or "*")

    def matches_suite(self, suite: str) -> bool:
        return fnmatchcase(suite, self.suite)

    def matches_case(self, test: TestId) -> bool:
        return self.matches_suite(test.suite) and (
            fnmatchcase(test.function, self.case) or fnmatchcase(test.case, self.case))

    def matches(self, test: TestId) -> bool:
        # A parameter is compared as written too: "[" in "hold=[0]" is literal.
        return self.matches_case(test) and (
            test.param == self.param or fnmatchcase(test.param, self.param))


def split_leaf(leaf: str) -> tuple[str, str]:
    """("suite_case", "param") from a result leaf name; param "" if none.

    Only for a result the plan has no TestId for (CaseResult.function and
    .param of a case the kernel named but kgen never generated): every
    other result carries its TestId from the moment it is parsed.
    """
    function, _, param = leaf.partition(PARAM_SEP)
    return function, param
