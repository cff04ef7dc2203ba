"""Template view of the concurrency family (struct kgen_race_param,
kgen_race.h)."""
from __future__ import annotations

from kgen.generator.family_view import FamilyView, SelectorTables
from kgen.spec.model import FREE_APIS, Case, Variant

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
# Spec context -> C enum kgen_free_context.
CONTEXTS: dict[str, str] = {
    "process": "KGEN_CTX_PROCESS",
    "spinlock": "KGEN_CTX_SPINLOCK",
    "irqs_off": "KGEN_CTX_IRQS_OFF",
    "bh_off": "KGEN_CTX_BH_OFF",
}


def param(case: Case, variant: Variant, sels: SelectorTables) -> dict:
    actors = " | ".join(ACTORS[a] for a in case.options.actors) or "0"
    return {"alloc": ALLOCS[case.alloc], "order": variant.order, "api": FREE_APIS[variant.free],
            "context": CONTEXTS[variant.axis("context") or "process"], "actors": actors,
            "iterations": case.options.iterations, "hold_ns": case.options.hold_ns,
            "hold": sels.table(variant.hold), "nr_hold": len(variant.hold),
            "refs": variant.hold_refs,
            "balanced": case.expect.balanced, "no_warning": case.expect.no_warning}


def case_view(case: Case) -> dict:
    return {}


# Its expectations are made per iteration inside kgen_race_run().
VIEW = FamilyView("kgen_race_param", param, case_view, skip_unchecked=False)
