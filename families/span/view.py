"""Template view of the span family: a split_page, contig or frozen span."""
from __future__ import annotations

from kgen.generator.family_view import FamilyView, SelectorTables
from kgen.spec.model import FREE_APIS, FREE_CONTEXTS, Case, Variant

# Spec span.alloc (+ compound) -> C enum kgen_alloc.
ALLOCS: dict[tuple[str, bool], str] = {
    ("split_page", False): "KGEN_ALLOC_SPLIT",
    ("contig", False): "KGEN_ALLOC_CONTIG",
    ("frozen", False): "KGEN_ALLOC_FROZEN",
    ("frozen", True): "KGEN_ALLOC_FROZEN_COMPOUND",
    ("cma", False): "KGEN_ALLOC_CMA",
    ("cma_frozen", False): "KGEN_ALLOC_CMA_FROZEN",
}
# Spec key -> C enum kgen_spoil: ways to make free_pages_prepare() refuse.
SPOILS: dict[str, str] = {
    "poison": "KGEN_SPOIL_HWPOISON",
    "bad_state": "KGEN_SPOIL_BAD_STATE",
}


def param(case: Case, variant: Variant, sels: SelectorTables) -> dict:
    return {"order": variant.order, "api": FREE_APIS[variant.free],
            "hold": sels.table(variant.hold), "nr_hold": len(variant.hold),
            "refs": variant.hold_refs,
            "spoil": sels.table(variant.spoil), "nr_spoil": len(variant.spoil),
            "batched": case.checks_batching(variant),
            "context": FREE_CONTEXTS[variant.axis("context") or "process"]}


def case_view(case: Case) -> dict:
    return {"alloc": ALLOCS.get((case.alloc, case.compound), ""),
            "guarded": case.guards,
            "any_hold": any(v.hold for v in case.variants),
            "any_spoil": any(v.spoil for v in case.variants),
            "spoil_kind": SPOILS.get(case.spoil_kind or "", ""),
            "bad_state": case.spoil_kind == "bad_state"}


VIEW = FamilyView("kgen_split_param", param, case_view)
