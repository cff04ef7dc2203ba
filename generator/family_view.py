"""What the generator asks of a family (its view.py VIEW): the C struct of
its parameters, each parameter's fields and the case's own view data, for
its template part (families/<name>/suite.c.j2).  Plain data only: the C
spelling is in the templates."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kgen.spec.model import Case, Selector, Variant


class SelectorTables(Protocol):
    """The static kgen_sel tables of one case (render._Selectors)."""

    def table(self, sels: tuple[Selector, ...]) -> str | None: ...


@dataclass(frozen=True)
class FamilyView:
    """param_type: the C struct of a parameter (kgen_kunit.h or the family's
    header).  param: one variant's fields for the part's fields() macro.
    case: the case's own data for the part's attempt() macro.
    skip_unchecked: its parameters carry .unchecked (expectations a tree
    cannot check end the case as a skip).
    suite_exit: C function (struct kunit_suite *) a suite with cases of the
    family calls when it ends: it gives back what the family kept between
    cases."""

    param_type: str
    param: Callable[[Case, Variant, SelectorTables], dict[str, Any]]
    case: Callable[[Case], dict[str, Any]]
    skip_unchecked: bool = True
    suite_exit: str | None = None
