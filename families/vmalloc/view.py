"""Template view of the vmalloc family: vmalloc and vmap areas, page arrays.
Its parameters share the span family's struct (kgen_split_param), whose
nr_pages, layout and merge_order fields are this family's."""
from __future__ import annotations

from kgen.generator.family_view import FamilyView, SelectorTables
from kgen.spec.model import Case, Variant

# Spec page_array layout -> C enum kgen_array_layout.
LAYOUTS: dict[str, str] = {
    "sorted": "KGEN_ARRAY_SORTED",
    "reversed": "KGEN_ARRAY_REVERSED",
    "gaps": "KGEN_ARRAY_GAPS",
    "interleaved": "KGEN_ARRAY_INTERLEAVED",
}


def param(case: Case, variant: Variant, _sels: SelectorTables) -> dict:
    return {"nr_pages": variant.nr_pages,
            "layout": LAYOUTS.get(variant.axis("layout") or "", "KGEN_ARRAY_SORTED"),
            "merge_order": _merge_order(case, variant),
            "batched": case.checks_batching(variant),
            "realloc_to": variant.axis("realloc_to") or 0}


def _merge_order(case: Case, variant: Variant) -> int:
    """Order every freed page of a vmalloc-family case must be back in.

    -1 means the vmalloc area's own page order (PMD order when vmalloc_huge()
    got huge pages, else 0).  A page array freed whole merges back to its
    block's order; gaps keep every page's buddy allocated.
    """
    if case.expect.merged is None:
        return 0
    if case.alloc == "vmalloc" or case.options.contiguous:
        return -1     # the area's page order; a contiguous range's own order
    if case.alloc == "vmap":
        return 0      # separately allocated order-0 pages
    size_order = variant.nr_pages.bit_length() - 1
    return {"sorted": size_order, "reversed": size_order, "gaps": 0,
            "interleaved": size_order - 1}[variant.axis("layout") or "sorted"]


def case_view(case: Case) -> dict:
    options = case.options
    return {"span_alloc": case.alloc, "huge": options.huge,
            "contiguous": options.contiguous, "reset_perms": options.reset_perms,
            "bh_disabled": options.bh_disabled, "remote_node": options.remote_node,
            "realloc": any(v.axis("realloc_to") for v in case.variants)}


VIEW = FamilyView("kgen_split_param", param, case_view)
