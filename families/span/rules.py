"""Loader rules of the span family: split_page, contig and frozen spans,
one pfn span inside a block the test allocates.  Pages may be held,
HWPoisoned or given a bad state; a compound frozen span may be misused."""
from __future__ import annotations

from typing import Any

from kgen.spec.model import CMA_APIS, FROZEN_APIS, Case, Expect, Need, NeedKind, Variant, context_refusal
from kgen.spec.steps import (
    FamilyRules,
    RawCase,
    axis_defaults,
    bad_page_budget,
    boundary_keys_misplaced,
    expand_sweep,
    make_case,
    merged,
    splats,
)


# Spans taken from the default CMA area; cma_frozen ones have refcount 0.
CMA_ALLOCS = ("cma", "cma_frozen")
FROZEN_ALLOCS = ("frozen", "cma_frozen")


def build(c: RawCase) -> Case | None:
    """split_page and contig spans, frozen ones, or spans from a CMA area."""
    if c.alloc in CMA_ALLOCS:
        return _build_cma_case(c)
    return (_build_frozen_case if c.alloc == "frozen" else _build_split_case)(c)


def _build_cma_case(c: RawCase) -> Case | None:
    """A span from the default CMA area, given back with cma_release() or
    cma_release_frozen(): nothing held, nothing spoiled."""
    if not _span_shape_ok(c):
        return None
    if c.compound:
        c.problem(("span", "compound"), "compound spans are frozen: alloc: frozen")
    if c.raw.get("hold") or "hold" in c.sweep:
        # cma_release() WARNs "pages are still in use" and frees the range
        # as frozen anyway (mm/cma.c): a held page would be freed under
        # its holder.  That is the kernel's contract, not a free-path bug.
        c.problem(c.given("hold"), "cma_release() frees held pages under their holder "
                  "(it WARNs and frees the range anyway): CMA spans cannot be held")
    if c.spoil_kind or c.misuse:
        c.problem(c.given(c.spoil_kind) if c.spoil_kind else ("misuse",),
                  "CMA spans are not spoiled or misused: the frozen spans cover that path")
    return _finish_span_case(c, _span_guards(c))


def _build_split_case(c: RawCase) -> Case | None:
    """split_page and contig spans: pages may be held, HWPoisoned or bad."""
    if not _span_shape_ok(c):
        return None
    if c.compound:
        c.problem(("span", "compound"), "compound spans are frozen: alloc: frozen")
    guards = _span_guards(c)
    _spoil_and_misuse_rules(c)
    return _finish_span_case(c, guards)


def _build_frozen_case(c: RawCase) -> Case | None:
    """frozen spans (refcount 0), maybe one compound folio, maybe misused."""
    if not _span_shape_ok(c):
        return None
    guards = _span_guards(c)
    if c.raw.get("hold") or "hold" in c.sweep:
        c.problem(c.given("hold"),
                  "frozen pages have refcount 0: get_page_unless_zero() cannot hold them")
    _spoil_and_misuse_rules(c)
    return _finish_span_case(c, guards)


def _span_shape_ok(c: RawCase) -> bool:
    """A split_page, contig or frozen span has an order and a free API."""
    if boundary_keys_misplaced(c):
        return False
    span, sweep = c.span, c.sweep
    if (span.get("pages") is not None or "pages" in sweep or span.get("layout")
            or "layout" in sweep or "huge" in span or "reset_perms" in span
            or "bh_disabled" in span):
        c.problem(("span",), "pages, layout, huge, reset_perms and bh_disabled belong to "
                  "vmalloc/page_array spans")
    if span.get("order") is None and "order" not in sweep:
        c.problem(("span",), "span needs an order (or sweep.order)")
        return False
    if c.raw.get("free") is None and "free" not in sweep:
        c.problem((), "case needs a free API: free: or sweep.free")
        return False
    return True


def _span_guards(c: RawCase) -> bool:
    """Guard pages around the span: by default unless it is one folio."""
    guards = c.span.get("guards", not c.compound)
    if c.compound and guards:
        c.problem(("span", "guards"), "a compound span is one folio: it cannot have guards")
    return guards


def _spoil_and_misuse_rules(c: RawCase) -> None:
    """Only a compound frozen span is misused; none of its pages is spoiled."""
    if c.compound and c.spoil_kind:
        c.problem(c.given(c.spoil_kind), "spoiling a page of a compound span is not supported")
    if c.raw.get("force") and c.misuse != "order_mismatch":
        c.problem(("force",), "force only applies to misuse: order_mismatch")
    if c.misuse == "not_vmalloc":
        c.problem(("misuse",), "misuse: not_vmalloc is a vfree() misuse: "
                  "span: {alloc: vmalloc} or {alloc: vmap}")
    elif c.misuse and not c.compound:
        c.problem(("misuse",), "misuse cases need a compound frozen span "
                  "(span: {alloc: frozen, compound: true})")


def _finish_span_case(c: RawCase, guards: bool) -> Case | None:
    """split_page, contig, frozen: variants, bad-state budget, expectations."""
    expanded = expand_sweep(c, axis_defaults(c, c.span.get("order")), _check_span_free)
    if expanded is None:
        return None
    swept, variants = expanded
    expect = _span_expect(c, guards, variants)
    bad_page_budget(c, variants, expect)
    return make_case(c, swept, variants, expect, guards)


def _check_span_free(c: RawCase, variant: Variant) -> None:
    """split_page/contig spans and frozen spans each have their free APIs,
    and each API its contexts."""
    if variant.free == "vfree":
        c.problem(("free",), "vfree() frees vmalloc spans only")
    elif (variant.free in CMA_APIS) != (c.alloc in CMA_ALLOCS):
        c.problem(c.swept_or("free", ("free",)),
                  "a span from the CMA area goes back with cma_release() (cma) or "
                  "cma_release_frozen() (cma_frozen), and only such a span: the area's "
                  "bitmap must be cleared too")
    elif (variant.free in FROZEN_APIS) != (c.alloc in FROZEN_ALLOCS):
        c.problem(c.swept_or("free", ("free",)),
                  "free_contig_frozen_range() and free_frozen_pages_nolock() free frozen "
                  "spans, and frozen spans need one of them")
    elif c.compound and variant.free != "free_contig_frozen_range":
        c.problem(c.swept_or("free", ("free",)),
                  "a compound frozen span is one folio: free_contig_frozen_range() frees it")
    refusal = context_refusal(variant.free, variant.axis("context") or "process")
    if refusal:
        c.problem(c.swept_or("context", ("span", "context")), refusal)


def _span_expect(c: RawCase, guards: bool, variants: list[Variant]) -> Expect:
    """Expectations of a split_page, contig or frozen span, checked."""
    raw = c.raw.get("expect", {})
    expect = Expect(
        freed=raw.get("freed", True),
        retained=raw.get("retained", True),
        held_refcount=raw.get("held_refcount"),
        released=raw.get("released", True),
        merged=merged(raw.get("merged", "max")),
        nr_free_pages=raw.get("nr_free_pages", True),
        balanced=raw.get("balanced", True),
        guards=raw.get("guards", guards),
        no_warning=raw.get("no_warning", True),
        no_straddle=raw.get("no_straddle", False),
        zones_kept=raw.get("zones_kept", False),
        leaked=raw.get("leaked", True),
        nr_vmalloc=raw.get("nr_vmalloc", False),
        warnings=raw.get("warnings", 1 if c.misuse else None),
        splats=splats(c),
        prepared=raw.get("prepared", True),
        batched=raw.get("batched", True),
        pgfree=raw.get("pgfree", True),
        nr_free_cma=raw.get("nr_free_cma", c.alloc in CMA_ALLOCS),
    )
    if expect.nr_free_cma and c.alloc not in CMA_ALLOCS:
        c.problem(("expect", "nr_free_cma"), "expect.nr_free_cma applies to spans from "
                  "the CMA area (alloc: cma or cma_frozen)")
    if expect.guards and not guards:
        c.problem(("expect", "guards"), "expect.guards needs span.guards: true")
    if expect.held_refcount is not None and not any(v.hold for v in variants):
        c.problem(("expect", "held_refcount"), "held_refcount without any held pages")
    if expect.warnings is not None and not c.misuse:
        c.problem(("expect", "warnings"), "expect.warnings counts the WARNs of a misuse: case")
    if raw.get("batched") and all(v.free == "free_page_loop" for v in variants):
        c.problem(("expect", "batched"), "free_page_loop frees page by page: "
                  "expect.batched applies to the batched free APIs")
    return expect



def needs_of(case: Case, variant: Variant) -> set[Need]:
    """A contig or frozen block comes from the contiguous allocator."""
    needs = set()
    if case.alloc in ("contig", "frozen"):
        needs.add(Need(NeedKind.KCONFIG, "CONTIG_ALLOC", "contiguous allocation"))
    if case.alloc in CMA_ALLOCS:
        needs.add(Need(NeedKind.KCONFIG, "DMA_CMA", "the default CMA area (cma=)"))
        needs.add(Need(NeedKind.API, "cma_alloc_frozen" if case.alloc == "cma_frozen"
                       else "cma_alloc", "a span from the CMA area"))
        return needs
    if case.frozen:
        needs.add(Need(NeedKind.API, "alloc_frozen_pages" if case.compound
                       else "alloc_contig_frozen_pages", "frozen span"))
    return needs


def nr_pages(values: dict[str, Any]) -> int:
    return 1 << values["order"]


RULES = FamilyRules("span", build, needs_of, nr_pages, sweep_keys={"context": "context"},
                    span_and_swept=("order", "context"))
