"""Template view of the concurrency family (struct kgen_race_param,
kgen_race.h)."""
from __future__ import annotations

from kgen.generator.family_view import FamilyView, SelectorTables
from kgen.spec.model import FREE_APIS, FREE_CONTEXTS, Case, Variant

ALLOCS: dict[str, str] = {
    "split_page": "KGEN_ALLOC_SPLIT",
    "contig": "KGEN_ALLOC_CONTIG",
    "frozen": "KGEN_ALLOC_FROZEN",
}
# Spec actor -> C enum kgen_actor bit.
ACTORS: dict[str, str] = {
    "scanner": "KGEN_ACTOR_SCANNER",
    "churn": "KGEN_ACTOR_CHURN",
    "drain": "KGEN_ACTOR_DRAIN",
}


def param(case: Case, variant: Variant, sels: SelectorTables) -> dict:
    actors = " | ".join(ACTORS[a] for a in case.options.actors) or "0"
    return {"alloc": ALLOCS[case.alloc], "order": variant.order, "api": FREE_APIS[variant.free],
            "context": FREE_CONTEXTS[variant.axis("context") or "process"], "actors": actors,
            "iterations": case.options.iterations, "hold_ns": case.options.hold_ns,
            "hold": sels.table(variant.hold), "nr_hold": len(variant.hold),
            "refs": variant.hold_refs,
            "balanced": case.expect.balanced, "no_warning": case.expect.no_warning}


def case_view(case: Case) -> dict:
    return {}


# Its expectations are made per iteration inside kgen_race_run().
VIEW = FamilyView("kgen_race_param", param, case_view, skip_unchecked=False)
