"""Loader rules of the concurrency family: a case with `race:` frees a
fresh split_page, contig or frozen span in each of its iterations, while
actors on another CPU work on the same pages and zone, and from the
context the case names (process, spinlock, irqs_off, bh_off)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kgen.spec.model import (
    CMA_APIS,
    FREE_CONTIG_RANGE_WARNS_IN_USE,
    FROZEN_APIS,
    Case,
    Expect,
    Need,
    NeedKind,
    Variant,
    context_refusal,
)
from kgen.spec.steps import (
    FamilyRules,
    RawCase,
    axis_defaults,
    boundary_keys_misplaced,
    expand_sweep,
    make_case,
    only_keys,
)

ALLOCS = ("split_page", "contig", "frozen")
ACTORS = ("scanner", "churn", "drain")
DEFAULT_ITERATIONS = 20


@dataclass(frozen=True)
class RaceOptions:
    """The race: keys of a case."""

    actors: tuple[str, ...] = ()
    iterations: int = DEFAULT_ITERATIONS
    hold_ns: int = 0


_CASE_KEYS = {"name", "description", "span", "free", "sweep", "expect", "needs",
              "known_issue", "race", "hold", "hold_refs"}
_EXPECT_KEYS = {"balanced", "no_warning"}


def build(c: RawCase) -> Case | None:
    if not _race_case_ok(c):
        return None
    expanded = expand_sweep(c, axis_defaults(c, c.span.get("order")), _check_variant)
    if expanded is None:
        return None
    swept, variants = expanded
    race = c.raw["race"]
    options = RaceOptions(actors=tuple(a for a in ACTORS if a in race.get("actors", [])),
                          iterations=race.get("iterations", DEFAULT_ITERATIONS),
                          hold_ns=race.get("hold_ns", 0))
    if race.get("hold_ns") and "scanner" not in options.actors:
        c.problem(("race", "hold_ns"), "hold_ns is how long the scanner holds a "
                  "reference: it needs actors: [scanner]")
    raw = c.raw.get("expect", {})
    expect = Expect(balanced=raw.get("balanced", True), no_warning=raw.get("no_warning", True),
                    freed=True, guards=False, retained=False, released=False, leaked=False,
                    merged=None, nr_free_pages=False, prepared=False, batched=False,
                    nr_vmalloc=False, no_straddle=False, zones_kept=False, pgfree=False)
    return make_case(c, swept, variants, expect, guards=True, options=options)


def _race_case_ok(c: RawCase) -> bool:
    ok = only_keys(c, _CASE_KEYS, _EXPECT_KEYS, "race")
    if boundary_keys_misplaced(c):
        return False
    if c.alloc not in ALLOCS:
        c.problem(("span", "alloc"), f"race cases free split_page, contig or frozen "
                  f"spans, not {c.alloc}")
        return False
    for key in sorted(set(c.span) - {"alloc", "order", "context"}):
        c.problem(("span", key), f"{key} does not apply to race cases")
        ok = False
    for key in sorted(set(c.sweep) - {"order", "free", "context", "hold", "hold_refs"}):
        c.problem(("sweep", key), "race cases sweep order, free, context or hold only")
        ok = False
    if c.span.get("order") is None and "order" not in c.sweep:
        c.problem(("span",), "span needs an order (or sweep.order)")
        ok = False
    if c.raw.get("free") is None and "free" not in c.sweep:
        c.problem((), "case needs a free API: free: or sweep.free")
        ok = False
    return ok


def _check_variant(c: RawCase, variant: Variant) -> None:
    context = variant.axis("context") or "process"
    if variant.free == "vfree":
        c.problem(c.swept_or("free", ("free",)), "vfree() frees vmalloc spans: the vmalloc "
                  "family's bh_disabled covers vfree() from interrupt context")
    elif variant.free in CMA_APIS:
        c.problem(c.swept_or("free", ("free",)), f"{variant.free}() gives pages back to a "
                  "CMA area: the span family's cma spans")
    elif variant.hold and c.alloc == "frozen":
        c.problem(c.given("hold"), "frozen pages have refcount 0: "
                  "get_page_unless_zero() cannot hold them")
    elif (variant.free in FROZEN_APIS) != (c.alloc == "frozen"):
        c.problem(c.swept_or("free", ("free",)),
                  "free_contig_frozen_range() and free_frozen_pages_nolock() free frozen "
                  "spans, and frozen spans need one of them")
    refusal = context_refusal(variant.free, context)
    if refusal:
        c.problem(c.swept_or("context", ("span", "context")), refusal)


def needs_of(case: Case, variant: Variant) -> set[Need]:
    """A contig or frozen block comes from the contiguous allocator."""
    needs = set()
    if case.alloc in ("contig", "frozen"):
        needs.add(Need(NeedKind.KCONFIG, "CONTIG_ALLOC", "contiguous allocation"))
    if case.alloc == "frozen":
        needs.add(Need(NeedKind.API, "alloc_contig_frozen_pages", "frozen span"))
    if case.options.actors:
        needs.add(Need(NeedKind.CPUS, "2", "its actors run on a CPU other than the free's"))
    # A scanner's reference is a holder too (held pages are covered by
    # Case.needs_of): the old per-page free_contig_range() WARNs at it.
    if variant.free == "free_contig_range" and "scanner" in case.options.actors:
        needs.add(Need(NeedKind.BEHAVIOUR, FREE_CONTIG_RANGE_WARNS_IN_USE,
                       "a free_contig_range() that leaves referenced pages to their holders"))
    return needs


def nr_pages(values: dict[str, Any]) -> int:
    return 1 << values["order"]


RULES = FamilyRules("race", build, needs_of, nr_pages, sweep_keys={"context": "context"},
                    span_and_swept=("order", "context"))
