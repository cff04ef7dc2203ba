"""Loader rules of the vmalloc family: vmalloc and vmap areas freed by
vfree(), and page arrays freed by free_pages_bulk().  The pages are
tracked as an array, order 0, not as one pfn span."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kgen.spec.model import VREALLOC_FREES_TAIL, Case, Expect, Need, NeedKind, Variant
from kgen.spec.steps import (
    FamilyRules,
    RawCase,
    axis_defaults,
    boundary_keys_misplaced,
    expand_sweep,
    make_case,
    merged,
    only_keys,
)

ALLOCS = ("vmalloc", "vmap", "page_array")


@dataclass(frozen=True)
class VmallocOptions:
    """The span keys of a vmalloc, vmap or page_array case."""

    huge: bool = False                 # vmalloc_huge()
    contiguous: bool = False           # vmap of one alloc_contig_pages() range
    reset_perms: bool = False          # VM_FLUSH_RESET_PERMS: vfree() runs vm_reset_perms()
    bh_disabled: bool = False          # vfree() with bottom halves off: vfree_atomic()
    remote_node: bool = False          # vmalloc_node() on a node other than this CPU's


def _build_array_case(c: RawCase) -> Case | None:
    """vmalloc, vmap and page_array: pages tracked as an array, order 0."""
    if not _array_case_ok(c) or boundary_keys_misplaced(c):
        return None
    expanded = expand_sweep(c, axis_defaults(c, 0), _check_array_size)
    if expanded is None:
        return None
    swept, variants = expanded
    options = VmallocOptions(**{key: c.span.get(key, False) for key in
                               ("huge", "contiguous", "reset_perms", "bh_disabled",
                                "remote_node")})
    return make_case(c, swept, variants, _array_expect(c), guards=False, options=options)


def _check_array_size(c: RawCase, variant: Variant) -> None:
    """free_pages_bulk() takes a page_array of a power-of-two size; a
    contiguous vmap is one aligned alloc_contig_pages() range; a vrealloc()
    changes the size."""
    pages = variant.axis("pages")
    if variant.axis("realloc_to") == pages:
        c.problem(c.swept_or("realloc_to", ("span", "realloc_to")),
                  f"realloc_to {pages} is the area's size: vrealloc() would change nothing")
    if c.alloc == "page_array" and (pages < 2 or pages & (pages - 1) or pages > 1024):
        c.problem(c.swept_or("pages", ("span", "pages")),
                  f"a page_array needs a power-of-two size from 2 to 1024, not {pages}")
    if c.span.get("contiguous") and pages & (pages - 1):
        c.problem(c.swept_or("pages", ("span", "pages")),
                  f"a contiguous vmap needs a power-of-two size, not {pages}")


# What a vmalloc-family case may use: these specs track pages as an array.
_ARRAY_CASE_KEYS = {"name", "description", "span", "free", "sweep", "expect", "needs",
                    "known_issue", "misuse"}


_ARRAY_EXPECT_KEYS = {"freed", "merged", "nr_vmalloc", "prepared", "batched",
                      "balanced", "no_warning", "warnings", "pgfree"}


def _array_case_ok(c: RawCase) -> bool:
    raw, span, sweep, alloc, problem = c.raw, c.span, c.sweep, c.alloc, c.problem
    ok = only_keys(c, _ARRAY_CASE_KEYS, _ARRAY_EXPECT_KEYS, alloc)
    for key in sorted(set(sweep) - {"pages", "layout", "realloc_to"}):
        problem(("sweep", key), f"{alloc} spans sweep pages, layout or realloc_to only")
        ok = False
    for key in ("order", "guards", "compound"):
        if key in span:
            problem(("span", key), f"{key} does not apply to {alloc} spans (use pages)")
            ok = False
    if "pages" not in span and "pages" not in sweep:
        problem(("span",), f"a {alloc} span needs pages (or sweep.pages)")
        ok = False
    want = "free_pages_bulk" if alloc == "page_array" else "vfree"
    if raw.get("free") != want:
        problem(("free",) if "free" in raw else (), f"{alloc} spans are freed by {want}")
        ok = False
    if alloc != "page_array" and ("layout" in span or "layout" in sweep):
        problem(("span",), "layout applies to page_array spans")
        ok = False
    if alloc == "page_array" and "layout" not in span and "layout" not in sweep:
        problem(("span",), "a page_array span needs a layout (or sweep.layout)")
        ok = False
    if alloc != "vmalloc" and "huge" in span:
        problem(("span", "huge"), "huge applies to vmalloc spans")
        ok = False
    if alloc != "vmap" and "contiguous" in span:
        problem(("span", "contiguous"), "contiguous applies to vmap spans")
        ok = False
    if alloc != "vmalloc" and ("realloc_to" in span or "realloc_to" in sweep):
        problem(("span",), "realloc_to applies to vmalloc spans (vrealloc() of the area)")
        ok = False
    if span.get("remote_node") and (alloc != "vmalloc" or span.get("huge")):
        problem(("span", "remote_node"), "remote_node applies to vmalloc spans "
                "that are not huge (vmalloc_node())")
        ok = False
    for key in ("reset_perms", "bh_disabled"):
        if alloc == "page_array" and key in span:
            problem(("span", key), f"{key} applies to vmalloc and vmap spans "
                    "(it is about the vfree() of the area)")
            ok = False
    return _array_misuse_ok(c) and ok


def _array_misuse_ok(c: RawCase) -> bool:
    """An area's only misuse: vfree() of an address vmalloc never gave out."""
    if c.misuse is None:
        return True
    if c.misuse != "not_vmalloc" or c.alloc == "page_array":
        c.problem(("misuse",), "vmalloc and vmap spans take misuse: not_vmalloc only; "
                  "page arrays take none")
        return False
    if c.span.get("bh_disabled"):
        # vfree_atomic() would WARN later, in a work item, outside the
        # case's warning suppression.
        c.problem(("span", "bh_disabled"), "misuse: not_vmalloc counts the WARN in the "
                  "case itself: it cannot defer vfree() with bh_disabled")
        return False
    return True


def _array_expect(c: RawCase) -> Expect:
    """vmalloc family: _array_case_ok admitted only the keys used here."""
    raw = c.raw.get("expect", {})
    if "warnings" in raw and not c.misuse:
        c.problem(("expect", "warnings"), "expect.warnings counts the WARNs of a misuse: case")
    return Expect(freed=raw.get("freed", True), merged=merged(raw.get("merged", "max")),
                  no_warning=raw.get("no_warning", True),
                  nr_vmalloc=raw.get("nr_vmalloc", c.alloc in ("vmalloc", "vmap")),
                  prepared=raw.get("prepared", True), batched=raw.get("batched", True),
                  balanced=raw.get("balanced", True), guards=False,
                  pgfree=raw.get("pgfree", True),
                  warnings=raw.get("warnings", 1 if c.misuse else None))



def needs_of(case: Case, variant: Variant) -> set[Need]:
    """NR_VMALLOC (or what stands for it) to count; a contiguous vmap's range."""
    needs = set()
    if case.expect.nr_vmalloc:
        needs.add(Need(NeedKind.SYMBOL, "NR_VMALLOC", "expect.nr_vmalloc"))
    if case.options.contiguous:
        needs.add(Need(NeedKind.KCONFIG, "CONTIG_ALLOC", "contiguous allocation"))
    if case.options.remote_node:
        needs.add(Need(NeedKind.KCONFIG, "NUMA", "an area on another node"))
    to = variant.axis("realloc_to")
    if to is not None:
        needs.add(Need(NeedKind.API, "vrealloc", "span.realloc_to"))
        if to < variant.nr_pages:
            needs.add(Need(NeedKind.BEHAVIOUR, VREALLOC_FREES_TAIL,
                           "a vrealloc() that frees a shrunk area's tail pages"))
    return needs


def nr_pages(values: dict[str, Any]) -> int:
    return values["pages"]


RULES = FamilyRules("vmalloc", build=_build_array_case, needs_of=needs_of, nr_pages=nr_pages,
                    sweep_keys={"pages": "pages", "layout": "layout", "realloc_to": "to"},
                    span_and_swept=("pages", "layout", "realloc_to"))
