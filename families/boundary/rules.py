"""Loader rules of the boundary family: pages_each_side pages on each side
of a zone, node or memory-section boundary, joined and freed in one call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kgen.arch import TWO_ZONES
from kgen.spec.model import Case, Expect, Need, NeedKind, Variant
from kgen.spec.steps import (
    BOUNDARY_SPAN_KEYS,
    FamilyRules,
    RawCase,
    axis_defaults,
    expand_sweep,
    make_case,
    merged,
    no_variant_check,
    only_keys,
)

# APIs that accept a span joined across a boundary.
BOUNDARY_FREE_APIS = ("__free_contig_range", "free_pages_bulk", "vfree",
                      "free_contig_range")


@dataclass(frozen=True)
class BoundaryOptions:
    """The span keys of a boundary case."""

    boundary: str                      # zone, node or section
    upper_zone: str | None = None      # zone boundary: the zone above it


def _build_boundary_case(c: RawCase) -> Case | None:
    """pages_each_side pages on each side of a zone, node or section boundary."""
    if not _boundary_case_ok(c):   # also checks the free API
        return None
    expanded = expand_sweep(c, axis_defaults(c, 0), no_variant_check)
    if expanded is None:
        return None
    swept, variants = expanded
    options = BoundaryOptions(c.span["boundary"], c.span.get("upper_zone"))
    return make_case(c, swept, variants, _boundary_expect(c), guards=False, options=options)


_BOUNDARY_CASE_KEYS = {"name", "description", "span", "free", "sweep", "expect", "needs",
                       "known_issue"}


_BOUNDARY_EXPECT_KEYS = {"freed", "no_straddle", "zones_kept", "nr_free_pages",
                         "merged", "prepared", "balanced", "no_warning", "pgfree",
                         "batched"}


def _boundary_case_ok(c: RawCase) -> bool:
    raw, span, sweep, problem = c.raw, c.span, c.sweep, c.problem
    ok = only_keys(c, _BOUNDARY_CASE_KEYS, _BOUNDARY_EXPECT_KEYS, "boundary")
    if not isinstance(raw.get("expect", {}).get("nr_free_pages", True), bool):
        problem(("expect", "nr_free_pages"), "boundary spans check nr_free_pages per "
                "zone: true or false")
        ok = False
    if raw.get("expect", {}).get("merged", True) not in (True, False, "max"):
        problem(("expect", "merged"), "boundary spans merge as far as each side's "
                "alignment allows: merged is true (or max) or false")
        ok = False
    for key in sorted(set(sweep) - {"free", "pages_each_side"}):
        problem(("sweep", key), "boundary spans sweep free or pages_each_side only")
        ok = False
    for key in sorted(set(span) - {"alloc", *BOUNDARY_SPAN_KEYS}):
        problem(("span", key), f"{key} does not apply to boundary spans")
        ok = False
    if "boundary" not in span:
        problem(("span",), "a boundary span needs boundary: zone, node or section")
        ok = False
    if "upper_zone" in span and span.get("boundary") != "zone":
        problem(("span", "upper_zone"), "upper_zone applies to boundary: zone")
        ok = False
    if "pages_each_side" not in span and "pages_each_side" not in sweep:
        problem(("span",), "a boundary span needs pages_each_side (or sweep.pages_each_side)")
        ok = False
    frees = sweep.get("free", [raw.get("free")])
    for free in frees:
        if free not in BOUNDARY_FREE_APIS:
            problem(c.swept_or("free", ("free",)),
                    f"a boundary span is freed by one of {', '.join(BOUNDARY_FREE_APIS)}"
                    f", not {free}")
            ok = False
    return ok


def _boundary_expect(c: RawCase) -> Expect:
    """Boundary family: _boundary_case_ok admitted only the keys used here."""
    raw = c.raw.get("expect", {})
    return Expect(freed=raw.get("freed", True),
                  nr_free_pages=raw.get("nr_free_pages", True),
                  no_warning=raw.get("no_warning", True),
                  no_straddle=raw.get("no_straddle", True),
                  zones_kept=raw.get("zones_kept", True),
                  merged=merged(raw.get("merged", "max")),
                  prepared=raw.get("prepared", True),
                  balanced=raw.get("balanced", True),
                  pgfree=raw.get("pgfree", True),
                  batched=raw.get("batched", True), guards=False)



# A boundary of each kind, and what a tree or guest needs to have one.
_BOUNDARY_NEEDS = {
    "node": Need(NeedKind.KCONFIG, "NUMA", "a node boundary"),
    "zone": Need(NeedKind.GUEST, TWO_ZONES, "a zone boundary"),
    "section": Need(NeedKind.KCONFIG, "SPARSEMEM", "a memory section boundary"),
}


def needs_of(case: Case, variant: Variant) -> set[Need]:
    """The boundary itself; each side comes from alloc_contig_range()."""
    return {_BOUNDARY_NEEDS[case.options.boundary],
            Need(NeedKind.KCONFIG, "CONTIG_ALLOC", "contiguous allocation")}


def nr_pages(values: dict[str, Any]) -> int:
    return 2 * values["pages_each_side"]


RULES = FamilyRules("boundary", build=_build_boundary_case, needs_of=needs_of,
                    nr_pages=nr_pages, sweep_keys={"pages_each_side": "each"})
