"""Template view of the boundary family: a span across a zone, node or
section boundary (struct kgen_boundary_param, kgen_boundary.h)."""
from __future__ import annotations

from kgen.generator.family_view import FamilyView, SelectorTables
from kgen.spec.model import FREE_APIS, Case, Variant

# Spec span.boundary -> C enum kgen_boundary_kind.
BOUNDARIES: dict[str, str] = {
    "zone": "KGEN_BOUNDARY_ZONE",
    "node": "KGEN_BOUNDARY_NODE",
    "section": "KGEN_BOUNDARY_SECTION",
}


def param(case: Case, variant: Variant, _sels: SelectorTables) -> dict:
    return {"kind": BOUNDARIES[case.options.boundary],
            # The loader admits only fixed zone names, never free text.
            "upper_zone": case.options.upper_zone, "nr_each": variant.axis("pages_each_side"),
            "api": FREE_APIS[variant.free], "batched": case.checks_batching(variant)}


def case_view(_case: Case) -> dict:
    return {}


# Its suites give back the pages held around the boundary between cases.
VIEW = FamilyView("kgen_boundary_param", param, case_view,
                  suite_exit="kgen_boundary_suite_exit")
